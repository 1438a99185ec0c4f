package cluster

import (
	"net/netip"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

// FillAPIServer gives the graph the kube-apiserver's addresses from the
// cluster when the flows did not show them, so NetworkPolicy can write
// the kube-apiserver entity as ipBlocks. It reports whether it added any.
func FillAPIServer(g *synth.Graph, s *Snapshot) bool {
	addrs := s.APIServerAddrs()
	if len(addrs) == 0 || len(g.EntityIPs[synth.EntityKubeAPIServer]) > 0 {
		return false
	}
	if g.EntityIPs == nil {
		g.EntityIPs = map[synth.Entity][]netip.Addr{}
	}
	g.EntityIPs[synth.EntityKubeAPIServer] = addrs
	return true
}
