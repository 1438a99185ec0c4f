package drift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Report file names in the report directory.
const (
	MarkdownReport = "drift-report.md"
	JSONReport     = "drift-report.json"
)

// Report is one evaluation, as written to the report directory.
type Report struct {
	// Generated is the wall-clock time of the evaluation; FlowTime the
	// latest flow time seen, drift's clock for first-seen and stale.
	Generated  time.Time  `json:"generated"`
	FlowTime   time.Time  `json:"flowTime,omitzero"`
	StaleAfter string     `json:"staleAfter"`
	Source     SourceInfo `json:"source"`
	Policies   PolicyInfo `json:"policies"`
	// Connections counts the learned connections checked.
	Connections int `json:"connections"`

	Uncovered   []Finding `json:"uncovered"`
	Stale       []Finding `json:"stale"`
	Unprotected []Finding `json:"unprotected"`
	// Inexpressible are denied connections a NetworkPolicy cannot name
	// a peer of (verify leaves them out the same way).
	Inexpressible []string `json:"inexpressible,omitempty"`
	Gaps          []Gap    `json:"gaps"`
	// IdentityNote says which workloads were checked with identities
	// made from their selectors, not the labels the flows carried.
	IdentityNote string `json:"identityNote,omitempty"`
}

// SourceInfo is what the flow source has delivered.
type SourceInfo struct {
	Name string `json:"name"`
	// Flows counts flows folded in over every run (from the state).
	Flows      uint64 `json:"flows"`
	LostEvents uint64 `json:"lostEvents"`
	Reconnects uint64 `json:"reconnects"`
	Connected  bool   `json:"connected"`
}

// PolicyInfo is the policy set checked against.
type PolicyInfo struct {
	Source                string `json:"source"`
	NetworkPolicies       int    `json:"networkPolicies"`
	CiliumNetworkPolicies int    `json:"ciliumNetworkPolicies"`
	Rules                 int    `json:"rules"`
	// Error is why the policy set could not be read; the findings are
	// then the previous evaluation's.
	Error string `json:"error,omitempty"`
}

// Findings lists every finding, uncovered first.
func (r *Report) Findings() []Finding {
	out := append([]Finding(nil), r.Uncovered...)
	out = append(out, r.Stale...)
	return append(out, r.Unprotected...)
}

// Write writes the report to dir as Markdown and JSON, each atomically.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("drift report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return fmt.Errorf("drift report: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, JSONReport), append(js, '\n')); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, MarkdownReport), r.Markdown())
}

// Markdown renders the report for people.
func (r *Report) Markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Policy drift report\n\n")
	fmt.Fprintf(&b, "Generated %s from %s; flows up to %s.\n\n", stamp(r.Generated), r.Source.Name, stampOr(r.FlowTime, "none yet"))
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Uncovered connections | %d |\n| Stale rules (not exercised for %s) | %d |\n| Unprotected | %d |\n", len(r.Uncovered), r.StaleAfter, len(r.Stale), len(r.Unprotected))
	fmt.Fprintf(&b, "| Flows processed | %d |\n| Connections checked | %d |\n| Lost events | %d |\n| Stream reconnects | %d |\n", r.Source.Flows, r.Connections, r.Source.LostEvents, r.Source.Reconnects)
	fmt.Fprintf(&b, "| Policies | %d CiliumNetworkPolicies, %d NetworkPolicies, %d allow rules, from %s |\n\n", r.Policies.CiliumNetworkPolicies, r.Policies.NetworkPolicies, r.Policies.Rules, r.Policies.Source)
	if r.Policies.Error != "" {
		fmt.Fprintf(&b, "> **The policy set could not be read:** %s. Findings are from the last set that could.\n\n", r.Policies.Error)
	}
	writeGaps(&b, r.Gaps)

	fmt.Fprintf(&b, "## Uncovered traffic\n\n")
	if len(r.Uncovered) == 0 {
		b.WriteString("None: the policies allow every connection observed.\n\n")
	}
	for _, f := range r.Uncovered {
		c := f.Connection
		fmt.Fprintf(&b, "### %s → %s on %s\n\n", c.From, c.To, c.Port)
		fmt.Fprintf(&b, "Denied by %s policy. %d flows (%d dropped by Hubble), first %s, last %s.\n\n", sideWords(c.Side), c.Flows, c.Dropped, stampOr(c.FirstSeen, "?"), stampOr(c.LastSeen, "?"))
		if f.Patch != "" {
			b.WriteString("Smallest change that allows it:\n\n```yaml\n")
			b.WriteString(f.Patch)
			b.WriteString("```\n\n")
		}
		if f.PatchNote != "" {
			fmt.Fprintf(&b, "Note: %s.\n\n", f.PatchNote)
		}
	}
	if r.IdentityNote != "" {
		fmt.Fprintf(&b, "Identities: %s.\n\n", r.IdentityNote)
	}
	if len(r.Inexpressible) > 0 {
		b.WriteString("Denied connections a NetworkPolicy cannot name a peer of (use CiliumNetworkPolicy for them):\n\n")
		for _, s := range r.Inexpressible {
			fmt.Fprintf(&b, "- %s\n", s)
		}
		b.WriteString("\n")
	}

	fmt.Fprintf(&b, "## Stale rules\n\n")
	if len(r.Stale) == 0 {
		fmt.Fprintf(&b, "None: every allow rule was exercised within %s.\n\n", r.StaleAfter)
	} else {
		b.WriteString("| Policy | Direction | Rule | Peers | Ports | Last exercised |\n|---|---|---|---|---|---|\n")
		for _, f := range r.Stale {
			ru := f.Rule
			last := "never since " + stamp(ru.Since)
			if !ru.LastExercised.IsZero() {
				last = stamp(ru.LastExercised)
			}
			fmt.Fprintf(&b, "| %s %s/%s | %s | %d | %s | %s | %s |\n", ru.PolicyKind, ru.Namespace, ru.Name, ru.Direction, ru.Index, cell(ru.Peers), cell(ru.Ports), last)
		}
		b.WriteString("\n")
	}

	fmt.Fprintf(&b, "## Unprotected workloads\n\n")
	if len(r.Unprotected) == 0 {
		b.WriteString("None: a policy selects every workload with traffic.\n\n")
	}
	for _, f := range r.Unprotected {
		fmt.Fprintf(&b, "- %s\n", f.Summary)
	}
	if len(r.Unprotected) > 0 {
		b.WriteString("\n")
	}
	return b.Bytes()
}

func writeGaps(b *bytes.Buffer, gaps []Gap) {
	if len(gaps) == 0 {
		return
	}
	b.WriteString("## Gaps in observation\n\nTraffic in these stretches may be missing from this report.\n\n")
	b.WriteString("| Cause | From | To | Last flow before | First flow after | Detail |\n|---|---|---|---|---|---|\n")
	for _, g := range gaps {
		end := stampOr(g.End, "ongoing")
		detail := g.LastError
		if g.LostEvents > 0 {
			detail = fmt.Sprintf("%d events lost", g.LostEvents)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", cell(g.Cause), stamp(g.Start), end, stampOr(g.LastFlowBefore, "-"), stampOr(g.FirstFlowAfter, "-"), cell(detail))
	}
	b.WriteString("\n")
}

func stampOr(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return stamp(t)
}

// cell keeps a value from breaking a Markdown table.
func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
