package diff

import (
	"context"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// Inputs say what to compare.
type Inputs struct {
	// Proposed are the policies to diff, from LoadDir or ParseManifests.
	Proposed []*unstructured.Unstructured
	// AgainstDir reads the current policies from manifests; empty means
	// the live cluster that Cluster reaches.
	AgainstDir string
	Cluster    cluster.Options
	// Captures are flow files for the semantic diff ("-" reads Stdin).
	// Graph, when set, is used instead (learn --diff passes what it
	// learned). With neither, only objects are diffed.
	Captures []string
	Stdin    io.Reader
	Graph    *synth.Graph
	// GraphOptions are the identity options the captures are folded
	// with: those the proposed policies were learned with.
	GraphOptions graph.Options
}

// Run gathers the current policies, diffs the objects and, given
// observed traffic, the verdicts. Against a cluster, flows are enriched
// with its pods and the graph with the kube-apiserver's addresses, as
// learn does.
func Run(ctx context.Context, in Inputs) (*Report, error) {
	report := &Report{}
	var (
		current   []*unstructured.Unstructured
		normalize Normalizer
		snap      *cluster.Snapshot
	)
	if in.AgainstDir != "" {
		var err error
		if current, err = LoadDir(in.AgainstDir); err != nil {
			return nil, err
		}
		report.Against = in.AgainstDir
	} else {
		c, err := cluster.Connect(ctx, in.Cluster)
		if err != nil {
			return nil, err
		}
		if snap, err = c.Read(ctx); err != nil {
			return nil, err
		}
		current, report.Absent, report.Against = snap.Policies, snap.Absent, c.Server()
		normalize = c.DryRunApply
	}
	current, learning := splitLearningMode(current)
	proposed, _ := splitLearningMode(in.Proposed)
	var err error
	if report.Objects, err = Objects(ctx, proposed, current, normalize); err != nil {
		return nil, err
	}
	report.Objects.Notes = append(report.Objects.Notes, learningModeNotes(learning)...)
	g := in.Graph
	if g == nil && len(in.Captures) > 0 {
		var enrich *cluster.Enricher
		if snap != nil {
			enrich = cluster.NewEnricher(snap.Pods)
		}
		if g, err = ObservedGraph(ctx, in.Captures, in.Stdin, enrich, in.GraphOptions); err != nil {
			return nil, err
		}
	}
	if g == nil {
		return report, nil
	}
	if snap != nil {
		cluster.FillAPIServer(g, snap)
	}
	if report.Semantic, err = Semantic(g, current, proposed); err != nil {
		return nil, err
	}
	return report, nil
}

// ObservedGraph folds captures into synthesis's graph as learn does, with
// learn's identity options; a non-nil enricher names pods the flows show
// only as addresses.
func ObservedGraph(ctx context.Context, files []string, stdin io.Reader, enrich *cluster.Enricher, opts graph.Options) (*synth.Graph, error) {
	var src observe.Source = capture.NewSource(files, capture.Options{Stdin: stdin})
	defer src.Close()
	if enrich != nil {
		src = enrich.Source(src)
	}
	g, err := graph.Build(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	return synth.FromGraph(g), nil
}
