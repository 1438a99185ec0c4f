package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/cilium/cilium/pkg/policy/api"
	"github.com/spf13/cobra"

	"github.com/netpolgen/netpolgen/internal/l7/routes"
	"github.com/netpolgen/netpolgen/pkg/graph"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// l7Flags are learn's L7 options.
type l7Flags struct {
	enabled   bool
	exactDNS  bool
	maxRoutes int
}

func (f *l7Flags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.enabled, "l7", false, "write L7 rules (CiliumNetworkPolicy only): HTTP routes for ports Hubble saw HTTP requests on, and DNS rules listing the names each workload resolved")
	fl.BoolVar(&f.exactDNS, "l7-exact-dns", false, "with --l7: list every resolved name with matchName, never a matchPattern for a family of names")
	fl.IntVar(&f.maxRoutes, "l7-max-routes", routes.DefaultMaxRoutes, "routes kept per client and port; above it routes collapse to common prefixes, with a warning")
}

// apply puts the L7 options into the synthesis and graph options.
func (f *l7Flags) apply(s *synth.Options, g *graph.Options) error {
	if f.maxRoutes < 1 {
		return fmt.Errorf("--l7-max-routes %d: must be at least 1", f.maxRoutes)
	}
	g.MaxRoutes = f.maxRoutes
	if !f.enabled {
		if f.exactDNS {
			return errors.New("--l7-exact-dns needs --l7")
		}
		return nil
	}
	if !s.Format.Cilium() {
		return errors.New("--l7 writes CiliumNetworkPolicy rules; NetworkPolicy has no L7: use --format cilium or both")
	}
	s.L7 = synth.L7Options{Enabled: true, ExactDNS: f.exactDNS}
	return nil
}

func writeL7Summary(w io.Writer, r *verify.L7Result) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "verify L7: %d of %d observed requests allowed; excess %d of %d never-observed requests\n", r.Allowed, r.Observed, len(r.Excess), r.Candidates)
	for _, d := range r.Denied {
		fmt.Fprintf(w, "  DENIED %s\n", d)
	}
	for _, e := range r.Excess {
		fmt.Fprintf(w, "  EXCESS %s\n", e)
	}
}

// writeMalformedL7 tells the user which L7 records were left out of the
// routes, and where they are.
func logMalformedL7(log *slog.Logger, g *graph.Graph) {
	if g.Coverage.MalformedL7 == 0 {
		return
	}
	log.Warn("L7 requests with a malformed method or URL were left out of the routes", "count", g.Coverage.MalformedL7)
	for _, n := range g.Coverage.MalformedL7Notes {
		log.Warn("left out an L7 request", "request", n)
	}
}

// verifyL7Policies checks the L7 requests a graph kept against policies
// read from a directory; nil when the graph holds no L7 requests or the
// policies no L7 rules (L3/L4 policies allow any request by design).
func verifyL7Policies(sg *synth.Graph, ps *verify.Policies) (*verify.L7Result, error) {
	observed := verify.ObservedL7(sg)
	if len(observed) == 0 || !hasL7Rules(ps) {
		return nil, nil
	}
	res, err := verify.VerifyL7(sg, ps, observed, verify.NeverObservedL7(sg), verify.Options{})
	if err != nil {
		return nil, fmt.Errorf("verify L7 requests: %w", err)
	}
	return res, nil
}

// hasL7Rules says whether any CiliumNetworkPolicy has HTTP rules or a DNS
// rule narrower than any name.
func hasL7Rules(ps *verify.Policies) bool {
	for _, cnp := range ps.Cilium {
		specs := cnp.Specs
		if cnp.Spec != nil {
			specs = append(api.Rules{cnp.Spec}, specs...)
		}
		for _, r := range specs {
			var prs []api.PortRules
			for _, in := range r.Ingress {
				prs = append(prs, in.ToPorts)
			}
			for _, out := range r.Egress {
				prs = append(prs, out.ToPorts)
			}
			for _, ports := range prs {
				for _, pr := range ports {
					if pr.Rules == nil {
						continue
					}
					if len(pr.Rules.HTTP) > 0 {
						return true
					}
					for _, d := range pr.Rules.DNS {
						if d.MatchName != "" || d.MatchPattern != "*" {
							return true
						}
					}
				}
			}
		}
	}
	return false
}
