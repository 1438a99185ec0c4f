package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Report is everything `netpolgen diff` shows.
type Report struct {
	// Against says what the proposal was compared with: the cluster's
	// address or a directory.
	Against string         `json:"against"`
	Objects *ObjectsResult `json:"objects"`
	// Semantic is nil when no observed connections were given.
	Semantic *SemanticResult `json:"semantic,omitempty"`
	// Absent names policy kinds the cluster does not serve.
	Absent []string `json:"absent,omitempty"`
}

// Changed reports whether applying would change anything, which makes
// `netpolgen diff` exit 1.
func (r *Report) Changed() bool {
	return r.Objects.Changed() || (r.Semantic != nil && r.Semantic.Changed())
}

// Write renders the report as text, markdown or json.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "text":
		return r.WriteText(w)
	case "markdown":
		return r.WriteMarkdown(w)
	case "json":
		return r.WriteJSON(w)
	}
	return fmt.Errorf("unknown output format %q: use text, markdown or json", format)
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the unified diffs, then the listed and semantic
// findings, for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Objects.Changes {
		if c.Diff != "" {
			b.WriteString(c.Diff)
		}
	}
	for _, c := range r.Objects.Changes {
		if c.Action == ActionRejected {
			fmt.Fprintf(&b, "rejected: %s: %s\n", c.Key(), c.Message)
		}
	}
	fmt.Fprintf(&b, "\nAgainst %s: %s\n", r.Against, r.objectSummary())
	for _, c := range r.Objects.Changes {
		if c.Action == ActionKept {
			fmt.Fprintf(&b, "  kept (in force, not proposed, not deleted): %s\n", c.Key())
		}
	}
	for _, n := range append(append([]string{}, r.Absent...), r.Objects.Notes...) {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if s := r.Semantic; s != nil {
		fmt.Fprintf(&b, "\nObserved connections: %d checked: %d newly denied (would break), %d newly allowed, %d unchanged (%d allowed, %d denied)\n",
			s.Observed, len(s.NewlyDenied), len(s.NewlyAllowed), s.UnchangedAllowed+s.UnchangedDenied, s.UnchangedAllowed, s.UnchangedDenied)
		for _, c := range s.NewlyDenied {
			fmt.Fprintf(&b, "  - newly denied: %s (%s)", c, c.Side)
			if c.Reason != "" {
				fmt.Fprintf(&b, ": %s", c.Reason)
			}
			b.WriteString("\n")
		}
		for _, c := range s.NewlyAllowed {
			fmt.Fprintf(&b, "  + newly allowed: %s\n", c)
		}
		if s.Unchecked > 0 {
			fmt.Fprintf(&b, "  %d connections no rule names (ICMP errors, port-less protocols) not checked\n", s.Unchecked)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "note: %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the report for a pull-request comment.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Policy diff against %s\n\n%s\n\n", r.Against, r.objectSummary())
	if r.Semantic != nil {
		s := r.Semantic
		b.WriteString("### Observed connections\n\n| verdict change | connections |\n| --- | ---: |\n")
		fmt.Fprintf(&b, "| newly denied (would break) | %d |\n| newly allowed | %d |\n| unchanged | %d |\n\n",
			len(s.NewlyDenied), len(s.NewlyAllowed), s.UnchangedAllowed+s.UnchangedDenied)
		writeConnTable(&b, "Newly denied", s.NewlyDenied, true)
		writeConnTable(&b, "Newly allowed", s.NewlyAllowed, false)
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "> %s\n\n", n)
		}
	}
	var kept, rejected []ObjectChange
	for _, c := range r.Objects.Changes {
		switch c.Action {
		case ActionKept:
			kept = append(kept, c)
		case ActionRejected:
			rejected = append(rejected, c)
		}
	}
	if len(rejected) > 0 {
		b.WriteString("### Rejected by the API server\n\n")
		for _, c := range rejected {
			fmt.Fprintf(&b, "- `%s`: %s\n", c.Key(), c.Message)
		}
		b.WriteString("\n")
	}
	if len(kept) > 0 {
		b.WriteString("### In force, not proposed (kept, never deleted)\n\n")
		for _, c := range kept {
			fmt.Fprintf(&b, "- `%s`\n", c.Key())
		}
		b.WriteString("\n")
	}
	for _, c := range r.Objects.Changes {
		if c.Diff != "" {
			fmt.Fprintf(&b, "<details><summary>%s %s</summary>\n\n```diff\n%s```\n\n</details>\n\n", c.Action, c.Key(), c.Diff)
		}
	}
	for _, n := range append(append([]string{}, r.Absent...), r.Objects.Notes...) {
		fmt.Fprintf(&b, "> %s\n\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeConnTable(b *strings.Builder, title string, cs []Connection, side bool) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(b, "#### %s\n\n| from | to | port |", title)
	if side {
		b.WriteString(" denied by |\n| --- | --- | --- | --- |\n")
	} else {
		b.WriteString("\n| --- | --- | --- |\n")
	}
	for _, c := range cs {
		fmt.Fprintf(b, "| `%s` | `%s` | %s |", c.From, c.To, c.Port)
		if side {
			fmt.Fprintf(b, " %s |", c.Side)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func (r *Report) objectSummary() string {
	o := r.Objects
	return fmt.Sprintf("%d to create, %d to update, %d unchanged, %d rejected, %d in force and not proposed (kept)",
		o.Count(ActionCreate), o.Count(ActionUpdate), o.Count(ActionUnchanged), o.Count(ActionRejected), o.Count(ActionKept))
}
