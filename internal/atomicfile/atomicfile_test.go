package atomicfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// failingWriter accepts limit bytes, then fails like a full disk.
type failingWriter struct {
	w     io.Writer
	limit int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.w.Write(p[:f.limit])
		f.limit = 0
		return n, &os.PathError{Op: "write", Path: "/tmp/.x.tmp-1", Err: syscall.ENOSPC}
	}
	f.limit -= len(p)
	return f.w.Write(p)
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, data := range []string{"first\n", "second, longer\n", "3\n"} {
		if err := WriteFile(path, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read back %q, %v; want %q", got, err, data)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, %v; want 0640", fi.Mode(), err)
	}
	assertOnly(t, dir, "state.json")
	// A file the user restricted stays restricted.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want the user's 0600 kept", fi.Mode(), err)
	}
}

func TestFullDiskMidWriteKeepsThePreviousFile(t *testing.T) {
	previous := bytes.Repeat([]byte("previous checkpoint\n"), 1000)
	next := bytes.Repeat([]byte("next checkpoint, a bigger one\n"), 10000)
	for _, limit := range []int{0, 1, 64 << 10, len(next) - 1} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "learn.graph.json")
			if err := WriteFile(path, previous, 0o644); err != nil {
				t.Fatal(err)
			}
			err := write(path, 0o644, func(w io.Writer) error {
				_, err := w.Write(next)
				return err
			}, func(w io.Writer) io.Writer { return &failingWriter{w: w, limit: limit} })
			var ae *Error
			if !errors.As(err, &ae) || !errors.Is(err, syscall.ENOSPC) || !ae.Existed {
				t.Fatalf("got %v, want an *Error wrapping ENOSPC with the previous file kept", err)
			}
			want := path + ": write: no space left on device; the previous file is intact"
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, previous) {
				t.Errorf("previous file changed (%d bytes, %v)", len(got), err)
			}
			assertOnly(t, dir, "learn.graph.json")
		})
	}
}

func TestFailedFirstWriteLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	boom := errors.New("encoder failed")
	err := Write(path, 0o644, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) || !strings.HasSuffix(err.Error(), "no file was written") {
		t.Fatalf("got %v", err)
	}
	assertOnly(t, dir)
}

func TestMissingDirectoryNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notadir"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "notadir", "state.json")
	err := WriteFile(path, []byte("new"), 0o644)
	want := path + ": create a temporary file in " + filepath.Dir(path) + ": not a directory; no file was written"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// TestKilledMidWriteKeepsThePreviousFile kills a writer process (this
// test binary, re-run as a helper) while its temporary file is half
// written, then checks the previous file is whole.
func TestKilledMidWriteKeepsThePreviousFile(t *testing.T) {
	if path := os.Getenv("ATOMICFILE_HELPER_PATH"); path != "" {
		helperWriteForever(path)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "learn.graph.json")
	previous := bytes.Repeat([]byte("previous checkpoint\n"), 1000)
	if err := WriteFile(path, previous, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledMidWriteKeepsThePreviousFile$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_HELPER_PATH="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "mid-write\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, previous) {
		t.Fatalf("after the kill the file has %d bytes (%v), want the previous %d", len(got), err, len(previous))
	}
	// The kill really came mid-write: the half-written temporary file
	// is still there, and its name keeps it out of "*.json" globs.
	temps, _ := filepath.Glob(filepath.Join(dir, TempPattern(path)))
	if len(temps) != 1 {
		t.Fatalf("want the killed writer's temporary file left behind, found %v", temps)
	}
	if fi, err := os.Stat(temps[0]); err != nil || fi.Size() == 0 {
		t.Errorf("temporary file %v, %v: want it half written", fi, err)
	}
	if err := WriteFile(path, []byte("next\n"), 0o644); err != nil {
		t.Fatalf("a later write fails: %v", err)
	}
}

// helperWriteForever writes half of a new version, says so, and waits to
// be killed (bounded, so a lost parent does not leave it running).
func helperWriteForever(path string) {
	err := Write(path, 0o644, func(w io.Writer) error {
		if _, err := w.Write(bytes.Repeat([]byte("next checkpoint, half written\n"), 10000)); err != nil {
			return err
		}
		if f, ok := w.(interface{ Flush() error }); ok {
			if err := f.Flush(); err != nil {
				return err
			}
		}
		fmt.Println("mid-write")
		time.Sleep(time.Minute)
		return errors.New("not killed")
	})
	fmt.Println(err)
	os.Exit(1)
}

// assertOnly checks dir holds exactly names: no temporary file is left.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}

// What a killed writer left beside the file goes with the next
// successful write once it is old; a recent one, which may be another
// writer's, stays, and so do files of other names.
func TestWriteRemovesStaleLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "learn.graph.json")
	stale := filepath.Join(dir, ".learn.graph.json.tmp-111")
	recent := filepath.Join(dir, ".learn.graph.json.tmp-222")
	other := filepath.Join(dir, ".other.json.tmp-333")
	for _, f := range []string{stale, recent, other} {
		if err := os.WriteFile(f, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleAfter)
	for _, f := range []string{stale, other} {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale leftover is still there (%v)", err)
	}
	for _, f := range []string{recent, other} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(f), err)
		}
	}
}
