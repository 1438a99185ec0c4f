package synth

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Verification is the outcome of verify, as the report states it.
type Verification struct {
	Observed, Allowed int
	Candidates        int
	Denied            []string
	Inexpressible     []string
	Excess            []string
	ByDesign          []string
	// Public are never-observed outside peers allowed into public
	// endpoints, as decided.
	Public []string
	// HostAllowed counts never-observed node-to-pod connections Cilium's
	// allow-localhost allows whatever the policy says.
	HostAllowed int
	// IdentityNote, when set, says which workloads were checked with
	// identities made from their selectors, not the labels Cilium saw.
	IdentityNote string
}

// ReportInput is everything REPORT.md is written from.
type ReportInput struct {
	Graph    *Graph
	Plan     *Plan
	Format   Format
	Warnings []string
	// Verify is nil when verification did not run.
	Verify *Verification
	// LearningMode is nil when learn did not read the cluster.
	LearningMode *LearningMode
}

// Report writes REPORT.md, meant to be pasted as a pull-request body.
func Report(in ReportInput) []byte {
	var b bytes.Buffer
	g, pl := in.Graph, in.Plan
	rules, conns := 0, 0
	for _, wp := range pl.Policies {
		rules += len(wp.Ingress) + len(wp.Egress)
		conns += len(wp.Evidence)
	}
	fmt.Fprintf(&b, "# netpolgen: least-privilege network policy\n\n")
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Format | %s |\n", in.Format)
	fmt.Fprintf(&b, "| Namespaces | %d (%s) |\n", len(pl.Namespaces), strings.Join(pl.Namespaces, ", "))
	fmt.Fprintf(&b, "| Workload policies | %d, with %d rules |\n", len(pl.Policies), rules)
	fmt.Fprintf(&b, "| Observed connections | %d |\n", len(g.Edges))
	fmt.Fprintf(&b, "| Flows | %d |\n", g.Window.Flows)
	if !g.Window.Start.IsZero() {
		fmt.Fprintf(&b, "| Learning window | %s .. %s (%s) |\n", g.Window.Start.UTC().Format(time.RFC3339), g.Window.End.UTC().Format(time.RFC3339), g.Window.End.Sub(g.Window.Start).Round(time.Second))
	}
	writeVerification(&b, in.Verify)
	writeConvergence(&b, g)
	writeWarnings(&b, in)
	writeOutside(&b, g, pl, in.Format, in.LearningMode)
	writeL7(&b, pl, in.Format)
	writePublic(&b, pl)
	writeServiceMap(&b, g)
	writeEvidence(&b, pl)
	return b.Bytes()
}

func writeVerification(b *bytes.Buffer, v *Verification) {
	b.WriteString("\n## Verification\n\n")
	if v == nil {
		b.WriteString("Not run.\n")
		return
	}
	verdict := "PASS: every observed connection is allowed"
	if len(v.Denied) > 0 {
		verdict = fmt.Sprintf("FAIL: %d observed connections are denied", len(v.Denied))
	}
	fmt.Fprintf(b, "Checked offline with Cilium's own policy engine (`pkg/policy`, the steps of `LookupFlow`).\n\n**%s.**\n\n", verdict)
	fmt.Fprintf(b, "- Observed connections allowed: %d of %d\n", v.Allowed, v.Observed)
	fmt.Fprintf(b, "- Never-observed connections between the same identities and ports checked: %d; allowed (excess): %d\n", v.Candidates, len(v.Excess))
	fmt.Fprintf(b, "- Allowed by design (DNS over both UDP and TCP): %d\n", len(v.ByDesign))
	if len(v.Public) > 0 {
		fmt.Fprintf(b, "- Outside peers never seen on a public endpoint, allowed because it takes any outside address (see \"Ingress from outside the cluster\"): %d\n", len(v.Public))
	}
	if v.HostAllowed > 0 {
		fmt.Fprintf(b, "- Node to its own pods, allowed by Cilium's allow-localhost whatever the policy says: %d\n", v.HostAllowed)
	}
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(b, "\n%s:\n\n", title)
		for _, s := range items {
			fmt.Fprintf(b, "- `%s`\n", s)
		}
	}
	if v.IdentityNote != "" {
		fmt.Fprintf(b, "- Identities: %s\n", v.IdentityNote)
	}
	list("Denied observed connections", v.Denied)
	list("Observed connections the NetworkPolicy format cannot express (see warnings)", v.Inexpressible)
	list("Excess", v.Excess)
}

// writeConvergence says how many new connections each hour brought and
// whether discovery has stopped.
func writeConvergence(b *bytes.Buffer, g *Graph) {
	b.WriteString("\n## Learning convergence\n\n")
	w := g.Window
	if len(g.Edges) == 0 || w.Start.IsZero() {
		b.WriteString("No connections were observed.\n")
		return
	}
	firsts := make([]time.Time, 0, len(g.Edges))
	for _, e := range g.Edges {
		firsts = append(firsts, e.First)
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i].Before(firsts[j]) })
	span := w.End.Sub(w.Start)
	// Hours, as the reviewer thinks of a learning window; a window of a
	// few hours is shown in 10-minute steps so the trend is visible.
	step, unit := time.Hour, "h"
	if span < 3*time.Hour {
		step, unit = 10*time.Minute, "m"
	}
	per := int(step / time.Minute)
	if unit == "h" {
		per = 1
	}
	bins := make([]int, int(span/step)+1)
	for _, t := range firsts {
		if i := int(t.Sub(w.Start) / step); i >= 0 && i < len(bins) {
			bins[i]++
		}
	}
	fmt.Fprintf(b, "| From start | New connections |\n|---|---|\n")
	for i, n := range bins {
		fmt.Fprintf(b, "| +%d%s | %d |\n", i*per, unit, n)
	}
	since := w.End.Sub(firsts[len(firsts)-1]).Round(time.Second)
	fmt.Fprintf(b, "\nLast new connection: %s before the end of the window.\n\n", since)
	fmt.Fprintf(b, "Verdict: **%s**\n", convergenceVerdict(span, since))
}

// convergenceVerdict is plain words for the reviewer: a window shorter
// than a day, or new connections in its last quarter, is not enough.
func convergenceVerdict(span, quiet time.Duration) string {
	switch {
	case quiet < span/4:
		return "still discovering: keep learning"
	case span < 24*time.Hour:
		return "quiet lately, but the window is shorter than a day: daily and weekly jobs may be missing"
	}
	return "converged: no new connection in the last quarter of the window"
}

func writeWarnings(b *bytes.Buffer, in ReportInput) {
	var ws []string
	g, pl := in.Graph, in.Plan
	if g.Window.LostEvents > 0 {
		ws = append(ws, fmt.Sprintf("Hubble lost %d events during learning: connections may be missing.", g.Window.LostEvents))
	}
	if n := g.Window.NoDirection; n > 0 {
		ws = append(ws, fmt.Sprintf("%d flows said nothing about their direction (no is_reply, no handshake): %d were oriented by the rest of the capture, %d guessed from port numbers.",
			n, n-g.Window.Guessed, g.Window.Guessed))
	}
	ws = append(ws, g.Window.Notes...)
	for _, ns := range pl.Namespaces {
		switch {
		case ns == "default":
			ws = append(ws, "Workloads run in the `default` namespace: give them a namespace of their own.")
		case strings.HasPrefix(ns, "kube-"):
			ws = append(ws, fmt.Sprintf("Policies for the system namespace `%s`: its components keep long-lived connections (watches on the API server) that a short window may not show; exclude it with --exclude-namespace unless the window covered restarts.", ns))
		}
	}
	for _, wp := range pl.Policies {
		for _, e := range wp.Evidence {
			ref := wp.Workload.WorkloadRef
			switch {
			case e.From == WorkloadPeer(ref.Namespace, ref.Name) && e.To == EntityPeer(EntityKubeAPIServer):
				ws = append(ws, fmt.Sprintf("%s reaches the kube-apiserver on %s.", ref, e.Key().Port))
			}
			if e.Dropped > 0 && e.From != e.To {
				ws = append(ws, fmt.Sprintf("%s -> %s %s: %d flows were dropped during learning.", e.From, e.To, e.Key().Port, e.Dropped))
			}
		}
	}
	ws = append(ws, pl.Warnings...)
	for _, s := range pl.Skipped {
		ws = append(ws, fmt.Sprintf("%s -> %s %s: not in policy: %s.", s.Edge.From, s.Edge.To, s.Edge.Key().Port, s.Reason))
	}
	ws = append(ws, in.Warnings...)
	b.WriteString("\n## Warnings\n\n")
	if len(ws) == 0 {
		b.WriteString("None.\n")
		return
	}
	ws = dedup(ws)
	for _, w := range ws {
		fmt.Fprintf(b, "- %s\n", w)
	}
}

// writePublic states, per workload port that took ingress from outside
// the cluster, whether it is open to any address, the evidence, and the
// flag that reverses the decision.
func writePublic(b *bytes.Buffer, pl *Plan) {
	if len(pl.Public) == 0 && len(pl.EgressHints) == 0 {
		return
	}
	b.WriteString("\n## Ingress from outside the cluster\n\n")
	if len(pl.Public) > 0 {
		b.WriteString("Decided per workload port from the sources seen (see docs/synth.md, \"Public endpoints\"):\n\n")
		b.WriteString("| Workload port | Decision | Evidence | Reverse with |\n|---|---|---|---|\n")
		public := false
		for _, d := range pl.Public {
			decision := "exact addresses"
			if d.Public {
				decision, public = "**public**: any outside address", true
			}
			fmt.Fprintf(b, "| %s %s | %s | %s | `%s` |\n", d.Endpoint.Workload, d.Endpoint.Port, decision, d.Why, d.Reverse)
		}
		if public {
			b.WriteString("\nA public port takes any outside address on that port only; verification counts the other outside peers it saw reaching a public port as excess, which is this decision.\n")
		}
	}
	if len(pl.EgressHints) > 0 {
		b.WriteString("\nEgress to outside addresses without a DNS name stays exact; the evidence suggests:\n\n")
		for _, h := range pl.EgressHints {
			fmt.Fprintf(b, "- %s\n", h)
		}
	}
}

func dedup(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// writeEvidence lists, per policy, the observed connections it allows.
func writeEvidence(b *bytes.Buffer, pl *Plan) {
	b.WriteString("\n## Evidence per policy\n")
	for _, wp := range pl.Policies {
		fmt.Fprintf(b, "\n### %s/%s\n\n", wp.Workload.Namespace, policyFileName(wp.Workload.Name))
		if len(wp.Evidence) == 0 {
			b.WriteString("No traffic observed: the policy allows nothing.\n")
			continue
		}
		b.WriteString("| From | To | Port | Service | Flows | First seen | Last seen |\n|---|---|---|---|---|---|---|\n")
		for _, e := range wp.Evidence {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s | %s |\n", e.From, e.To, e.Key().Port,
				strings.Join(e.Services, ", "), e.Flows, stamp(e.First), stamp(e.Last))
		}
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
