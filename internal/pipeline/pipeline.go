// Package pipeline is what happens to a learned graph, the same for every
// caller (learn, and the benchmarks that time it): synthesize the
// policies, prove them with Cilium's engine against the observed
// connections, and write REPORT.md. Reading the flows is observe.Feed's
// job; writing the files is the caller's.
package pipeline

import (
	"fmt"
	"sort"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// Learned is a graph turned into policies, verified or not yet.
type Learned struct {
	Options  synth.Options
	Graph    *synth.Graph
	Plan     *synth.Plan
	Files    []synth.File // the policies, kustomization and README files
	Warnings []string
	// Verified and VerifiedL7 are set by Verify (VerifiedL7 only when
	// the plan has L7 rules).
	Verified   *verify.Result
	VerifiedL7 *verify.L7Result
	// snap is the cluster learn read, nil when it read none.
	snap *cluster.Snapshot
}

// Synthesize turns g into policies. A cluster snapshot, when given,
// supplies the kube-apiserver's addresses and the Services exposing
// workloads (public endpoints).
func Synthesize(g *graph.Graph, opts synth.Options, snap *cluster.Snapshot) (*Learned, error) {
	sg := synth.FromGraph(g)
	if snap != nil {
		cluster.FillAPIServer(sg, snap)
		sg.Window.Notes = append(sg.Window.Notes, cluster.FillExposures(sg, snap)...)
	}
	plan, err := synth.Build(sg, opts)
	if err != nil {
		return nil, err
	}
	files, warnings, err := plan.Files(opts.Format)
	if err != nil {
		return nil, err
	}
	return &Learned{Options: opts, Graph: sg, Plan: plan, Files: files, Warnings: warnings, snap: snap}, nil
}

// Verify replays every observed connection (and, with L7 rules, every
// observed request) through Cilium's policy engine against the files,
// for the workloads the options manage.
func (l *Learned) Verify() error {
	ps, err := verify.FromFiles(l.Files)
	if err != nil {
		return err
	}
	manages := func(r synth.WorkloadRef) bool { return l.Options.Manages(r.Namespace) }
	if l.Verified, err = verify.Verify(l.Graph, ps, verify.Options{Subjects: manages}); err != nil {
		return err
	}
	if l.Plan.L7 == nil {
		return nil
	}
	if l.VerifiedL7, err = verify.VerifyL7(l.Graph, ps, verify.ObservedL7(l.Graph), verify.NeverObservedL7(l.Graph), verify.Options{}); err != nil {
		return fmt.Errorf("verify L7 rules: %w", err)
	}
	l.Plan.L7.Verification = l.VerifiedL7.Summary()
	return nil
}

// Report is REPORT.md: the decisions, the evidence, and the verification
// when Verify ran.
func (l *Learned) Report() synth.File {
	in := synth.ReportInput{Graph: l.Graph, Plan: l.Plan, Format: l.Options.Format, Warnings: l.Warnings, LearningMode: LearningMode(l.snap)}
	if l.Verified != nil {
		in.Verify = l.Verified.Summary()
	}
	return synth.File{Path: "REPORT.md", Data: synth.Report(in)}
}

// Learn is the whole step: synthesize, verify, and add REPORT.md to the
// files.
func Learn(g *graph.Graph, opts synth.Options, snap *cluster.Snapshot) (*Learned, error) {
	l, err := Synthesize(g, opts, snap)
	if err != nil {
		return nil, err
	}
	if err := l.Verify(); err != nil {
		return nil, err
	}
	l.Files = append(l.Files, l.Report())
	return l, nil
}

// LearningMode says where the cluster has netpolgen's learning-mode
// policies in force, or nil when no cluster was read.
func LearningMode(snap *cluster.Snapshot) *synth.LearningMode {
	if snap == nil {
		return nil
	}
	lm := &synth.LearningMode{}
	seen := map[string]bool{}
	for _, p := range snap.Policies {
		if ns := p.GetNamespace(); synth.IsVisibility(p.GetLabels()) && !seen[ns] {
			seen[ns] = true
			lm.Namespaces = append(lm.Namespaces, ns)
		}
	}
	sort.Strings(lm.Namespaces)
	return lm
}
