package synth

import (
	"net/netip"

	"github.com/netpolgen/netpolgen/pkg/graph"
)

// addresses carries over what rendering needs beyond edges: the
// kube-apiserver's addresses the flows showed, so a NetworkPolicy can keep
// workloads' access to it, and the cluster's ranges, which an ipBlock for
// any outside address excepts.
func (c *converter) addresses() {
	if addrs := c.g.EntityAddrs(graph.EntityKubeAPIServer); len(addrs) > 0 {
		c.out.EntityIPs = map[Entity][]netip.Addr{EntityKubeAPIServer: addrs}
	}
	c.out.ClusterCIDRs = append([]netip.Prefix(nil), c.g.Options.ClusterCIDRs...)
}
