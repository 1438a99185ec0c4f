package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every command logs in one style: through a *slog.Logger built from the
// root's -v and --log-format, handed down to what logs (drift, Cilium's
// policy engine in verify). No package sets slog's default logger.
const (
	flagVerbose   = "verbose"
	flagLogFormat = "log-format"
)

func registerLogFlags(fs *pflag.FlagSet) {
	fs.CountP(flagVerbose, "v", "log more: debug lines, Cilium's policy engine included")
	fs.String(flagLogFormat, "auto", "log lines on standard error: text, json, or auto (json for drift, which runs as a service; text otherwise)")
}

// commandLogger is the logger of cmd, writing to w.
func commandLogger(cmd *cobra.Command, w io.Writer) (*slog.Logger, error) {
	verbose, _ := cmd.Flags().GetCount(flagVerbose)
	format, _ := cmd.Flags().GetString(flagLogFormat)
	level := slog.LevelInfo
	if verbose > 0 {
		level = slog.LevelDebug
	}
	if format == "auto" || format == "" {
		format = "text"
		if cmd.Name() == "drift" {
			format = "json"
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
	case "text":
		return textLogger(w, level), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text, json or auto", format)
}

// logger is cmd's logger on standard error. The root has checked the
// flags (PersistentPreRunE); should they still be wrong, as when a command
// line fails to parse, it logs text.
func logger(cmd *cobra.Command, streams Streams) *slog.Logger {
	log, err := commandLogger(cmd, streams.Err)
	if err != nil {
		return textLogger(streams.Err, slog.LevelInfo)
	}
	return log
}

func textLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(&lineHandler{mu: &sync.Mutex{}, w: w, level: level, clear: isTerminal(w)})
}

// engineLogger is what Cilium's policy engine may say: only with -v (the
// logger then keeps debug lines), as its own lines are about its
// internals, not the user's policies.
func engineLogger(log *slog.Logger) *slog.Logger {
	if log.Enabled(context.Background(), slog.LevelDebug) {
		return log
	}
	return nil
}

// lineHandler writes a record as one line for a person: "netpolgen: ",
// "warning: " or "error: " when it is one, the message, then key=value
// pairs. It leaves out the time, which a terminal does not need; --log-format
// json keeps it.
type lineHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Leveler
	// clear wipes the terminal line first, so a line logged while the
	// live progress line is drawn replaces it (the next redraw brings
	// the progress line back below).
	clear  bool
	attrs  string // WithAttrs' pairs, already formatted
	prefix string // WithGroup's names, "a.b."
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if h.clear {
		b.WriteString("\r\033[K")
	}
	b.WriteString("netpolgen: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	case r.Level < slog.LevelInfo:
		b.WriteString("debug: ")
	}
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.prefix, a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	for _, a := range attrs {
		writeAttr(&b, h.prefix, a)
	}
	c := *h
	c.attrs += b.String()
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix += name + "."
	return &c
}

func writeAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			writeAttr(b, prefix+a.Key+".", g)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(prefix + a.Key)
	b.WriteByte('=')
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " \t\n\"=") {
		v = strconv.Quote(v)
	}
	b.WriteString(v)
}
