package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/netpolgen/netpolgen/pkg/observe/hubble"
)

// hubbleOptionFields are the hubble.Options fields the library's errors
// name, read from its source so a new one cannot reach users unnamed.
func hubbleOptionFields(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "pkg", "observe", "hubble", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources of pkg/observe/hubble: %v", err)
	}
	field := regexp.MustCompile(`Field: "([A-Za-z.]+)"|\{([A-Z][A-Za-z.]*)\}`)
	seen := map[string]bool{}
	var fields []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range field.FindAllStringSubmatch(string(src), -1) {
			name := m[1] + m[2]
			if !seen[name] {
				seen[name] = true
				fields = append(fields, name)
			}
		}
	}
	if len(fields) < 5 {
		t.Fatalf("found only %v in pkg/observe/hubble; is the pattern stale?", fields)
	}
	return fields
}

// Every field the Hubble client's errors name is said as a flag that
// learn really has, or (for the query fields learn does not offer, such as
// First) one of the hubble CLI's query flags.
func TestHubbleOptionFieldsAreSaidAsFlags(t *testing.T) {
	learn, _, err := NewRootCommand(Streams{}).Find([]string{"learn"})
	if err != nil {
		t.Fatal(err)
	}
	query := pflag.NewFlagSet("query", pflag.ContinueOnError)
	(&hubbleFlags{}).registerQuery(query, "namespace")
	for _, field := range hubbleOptionFields(t) {
		flag := strings.TrimPrefix(hubbleFlagName(field), "--")
		if flag == field || (learn.Flags().Lookup(flag) == nil && query.Lookup(flag) == nil) {
			t.Errorf("hubble.Options.%s is said as %q, which is not a flag of learn or hubble observe", field, hubbleFlagName(field))
		}
	}
}

// Every problem reaching Hubble that a flag can fix comes with the flags
// to try, and they are flags learn has.
func TestHubbleProblemsComeWithAdvice(t *testing.T) {
	learn, _, err := NewRootCommand(Streams{}).Find([]string{"learn"})
	if err != nil {
		t.Fatal(err)
	}
	flag := regexp.MustCompile(`--[a-z-]+`)
	for p := hubble.ProblemOther + 1; p <= hubble.ProblemRejected; p++ {
		advice := hubbleAdvice(p)
		if p == hubble.ProblemRejected {
			if advice != "" {
				t.Errorf("a rejected request has advice %q; no flag fixes it", advice)
			}
			continue
		}
		if advice == "" {
			t.Errorf("problem %d has no advice", p)
		}
		for _, f := range flag.FindAllString(advice, -1) {
			if learn.Flags().Lookup(strings.TrimPrefix(f, "--")) == nil {
				t.Errorf("advice for problem %d names %s, which learn does not have", p, f)
			}
		}
	}
}

// The library's errors reach the user in flags, through the command line.
func TestHubbleErrorsAreSaidInFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-allow-insecure"}, "--tls is off but other TLS settings were given: set --tls to use them"},
		{[]string{"--tls-client-cert-file", "client.pem"}, "--tls-client-cert-file and --tls-client-key-file go together: give both or neither"},
		{[]string{"--tls", "--tls-ca-cert-files", filepath.Join(t.TempDir(), "absent.pem")}, "--tls-ca-cert-files cannot be read: open "},
		{[]string{"--timeout", "300ms"}, "cannot reach Hubble at 127.0.0.1:1: connection refused; is hubble-relay port-forwarded? try -P (--port-forward)"},
	} {
		args := append([]string{"learn", "--out", t.TempDir(), "--server", "127.0.0.1:1", "--duration", "1s", "--quiet"}, tt.args...)
		code, _, stderr := run(t, "", args...)
		if code != 2 || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "Options.") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 saying %q", tt.args, code, stderr, tt.want)
		}
	}
}
