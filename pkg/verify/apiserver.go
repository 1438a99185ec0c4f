package verify

import (
	"net/netip"

	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/labels"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

// apiServerIdentities gives the kube-apiserver, when its addresses are
// known, the identities Cilium gives an API server outside the cluster
// (a managed control plane): one per address, labelled
// reserved:kube-apiserver and with the address's CIDR labels, so both a
// toEntities kube-apiserver rule and a NetworkPolicy ipBlock of the
// address select it. Any other peer, or unknown addresses, get nil.
func apiServerIdentities(p synth.Peer, g *synth.Graph, next *identity.NumericIdentity) []*identity.Identity {
	if p.Kind != synth.PeerEntity || p.Entity != synth.EntityKubeAPIServer {
		return nil
	}
	var out []*identity.Identity
	for _, a := range g.EntityIPs[synth.EntityKubeAPIServer] {
		lbls := labels.GetCIDRLabelArray(netip.PrefixFrom(a, a.BitLen()))
		lbls = append(lbls, labels.NewLabel(labels.IDNameKubeAPIServer, "", labels.LabelSourceReserved))
		out = append(out, identity.NewIdentityFromLabelArray(*next, lbls.Sort()))
		*next++
	}
	return out
}
