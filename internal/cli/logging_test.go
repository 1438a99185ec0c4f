package cli

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// A command's logger follows the root's flags: text lines for a person,
// JSON for a collector, debug lines only with -v, and a wrong format is an
// error before any work.
func TestCommandLoggerFollowsTheRootFlags(t *testing.T) {
	for _, tt := range []struct {
		args      []string
		cmd       string
		wantJSON  bool
		wantDebug bool
	}{
		{args: nil, cmd: "learn"},
		{args: []string{"-v"}, cmd: "learn", wantDebug: true},
		{args: []string{"--log-format", "json"}, cmd: "learn", wantJSON: true},
		{args: nil, cmd: "drift", wantJSON: true}, // auto: drift runs as a service
		{args: []string{"--log-format", "text"}, cmd: "drift"},
	} {
		root := NewRootCommand(Streams{})
		cmd, _, err := root.Find([]string{tt.cmd})
		if err != nil {
			t.Fatal(err)
		}
		if err := root.PersistentFlags().Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		cmd.Flags().AddFlagSet(root.PersistentFlags())
		var buf bytes.Buffer
		log, err := commandLogger(cmd, &buf)
		if err != nil {
			t.Fatalf("%s %v: %v", tt.cmd, tt.args, err)
		}
		log.Debug("a debug line")
		log.Warn("a warning", "file", "a b.yaml", "count", 3)
		out := buf.String()
		if got := strings.Contains(out, "a debug line"); got != tt.wantDebug {
			t.Errorf("%s %v: debug line shown %v, want %v:\n%s", tt.cmd, tt.args, got, tt.wantDebug, out)
		}
		last := out[strings.LastIndex(strings.TrimSuffix(out, "\n"), "\n")+1:]
		if tt.wantJSON {
			var rec map[string]any
			if err := json.Unmarshal([]byte(last), &rec); err != nil || rec["msg"] != "a warning" || rec["file"] != "a b.yaml" || rec["level"] != "WARN" {
				t.Errorf("%s %v: want a JSON line, got %q (%v)", tt.cmd, tt.args, last, err)
			}
		} else if want := "netpolgen: warning: a warning file=\"a b.yaml\" count=3\n"; last != want {
			t.Errorf("%s %v: got %q, want %q", tt.cmd, tt.args, last, want)
		}
	}
}

func TestWrongLogFormatFailsFirst(t *testing.T) {
	code, _, stderr := run(t, "", "gen", "--log-format", "xml", "--out", t.TempDir()+"/never.json")
	if code != 2 || !strings.Contains(stderr, `--log-format "xml": want text, json or auto`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// Groups and attributes given ahead are kept, as slog's own handlers do.
func TestLineHandlerGroupsAndAttrs(t *testing.T) {
	var buf bytes.Buffer
	h := &lineHandler{mu: new(sync.Mutex), w: &buf, level: slog.LevelInfo}
	slog.New(h).With("run", 2).WithGroup("src").Info("read", "flows", 10, slog.Group("lost", "ring", 1))
	if want := "netpolgen: read run=2 src.flows=10 src.lost.ring=1\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
