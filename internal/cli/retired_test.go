package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLearnAgainRetiresFilesAndKeepsTheUsers is the pull-request workflow:
// learn into a directory, add a file of one's own, learn again into it
// with one namespace left out. The left-out namespace's files go, learn
// and REPORT.md say which, and the user's file is untouched.
func TestLearnAgainRetiresFilesAndKeepsTheUsers(t *testing.T) {
	out := t.TempDir()
	if code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--format", "both", "--out", out); code != 0 {
		t.Fatalf("learn exit %d: %s%s", code, stdout, stderr)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var namespaces []string
	for _, e := range entries {
		if e.IsDir() {
			namespaces = append(namespaces, e.Name())
		}
	}
	if len(namespaces) < 2 {
		t.Fatalf("the example gave namespaces %v; need two", namespaces)
	}
	keep, retire := namespaces[0], namespaces[1]
	mine := filepath.Join(out, retire, "our-own.yaml")
	mineData := []byte("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: our-own\n")
	if err := os.WriteFile(mine, mineData, 0o644); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	os.Chtimes(mine, past, past)

	code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--format", "both", "--namespace", keep, "--out", out)
	if code != 0 {
		t.Fatalf("second learn exit %d: %s%s", code, stdout, stderr)
	}
	gone := retire + "/default-deny.yaml"
	if !strings.Contains(stdout, "retired policy files: ") || !strings.Contains(stdout, gone) {
		t.Errorf("learn does not say it removed %s:\n%s", gone, stdout)
	}
	if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(gone))); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", gone, err)
	}
	report, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	if err != nil || !bytes.Contains(report, []byte("## Retired policy files")) || !bytes.Contains(report, []byte("`"+gone+"`")) {
		t.Errorf("REPORT.md does not list the retired files (%v):\n%s", err, report)
	}
	if data, err := os.ReadFile(mine); err != nil || !bytes.Equal(data, mineData) {
		t.Errorf("the user's file changed: %q, %v", data, err)
	}
	if fi, err := os.Stat(mine); err != nil || !fi.ModTime().Equal(past) {
		t.Errorf("the user's file was rewritten: %v, %v", fi.ModTime(), err)
	}
	if _, err := os.Stat(filepath.Join(out, keep, "kustomization.yaml")); err != nil {
		t.Errorf("the kept namespace lost its files: %v", err)
	}

	// The same run again removes nothing more and says nothing about it.
	code, stdout, stderr = run(t, "", "learn", "--from-file", shopExample, "--format", "both", "--namespace", keep, "--out", out)
	if code != 0 || strings.Contains(stdout, "retired") {
		t.Errorf("third learn exit %d: %s%s", code, stdout, stderr)
	}
}

// TestLearnNeverOverwritesTheUsersFile: with a user's REPORT.md in --out,
// learn writes nothing and says which file is in the way.
func TestLearnNeverOverwritesTheUsersFile(t *testing.T) {
	out := t.TempDir()
	notes := []byte("# Our review notes\n")
	if err := os.WriteFile(filepath.Join(out, "REPORT.md"), notes, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "", "learn", "--from-file", shopExample, "--out", out)
	if code == 0 || !strings.Contains(stderr, "REPORT.md exists and netpolgen did not write it") || !strings.Contains(stderr, out) {
		t.Fatalf("exit %d, want a failure naming the file:\n%s%s", code, stdout, stderr)
	}
	entries, _ := os.ReadDir(out)
	if data, _ := os.ReadFile(filepath.Join(out, "REPORT.md")); len(entries) != 1 || !bytes.Equal(data, notes) {
		t.Errorf("the directory changed: %v entries, REPORT.md %q", len(entries), data)
	}
}
