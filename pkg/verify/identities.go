package verify

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/labels"

	"github.com/netpolgen/netpolgen/pkg/synth"
)

// Cilium's label for a pod's namespace, and the label it derives from the
// namespace's own kubernetes.io/metadata.name label, which a NetworkPolicy
// namespaceSelector matches.
const (
	podNamespaceLabel  = "io.kubernetes.pod.namespace"
	namespaceNameLabel = "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name"
	// firstWorkloadID is where cluster identities start, above Cilium's
	// reserved range.
	firstWorkloadID = 1000
)

// identities gives every peer of a graph a Cilium identity.
type identities struct {
	byPeer map[synth.Peer]*identity.Identity
	all    identity.IdentityMap
}

// newIdentities allocates identities for the peers in the order given,
// so the same graph always gets the same numbers.
func newIdentities(g *synth.Graph, peers []synth.Peer) (*identities, error) {
	ids := &identities{byPeer: map[synth.Peer]*identity.Identity{}, all: identity.IdentityMap{}}
	selectors := map[synth.WorkloadRef]map[string]string{}
	for _, w := range g.Workloads {
		selectors[w.WorkloadRef] = w.Selector
	}
	nextCluster := identity.NumericIdentity(firstWorkloadID)
	nextLocal := identity.IdentityScopeLocal | 1
	for _, p := range peers {
		if ids.byPeer[p] != nil {
			continue
		}
		var id *identity.Identity
		switch p.Kind {
		case synth.PeerWorkload:
			id = identity.NewIdentityFromLabelArray(nextCluster, workloadLabels(p.Workload, selectors[p.Workload]))
			nextCluster++
		case synth.PeerEntity:
			num := identity.GetReservedID(string(p.Entity))
			if num == identity.IdentityUnknown {
				return nil, fmt.Errorf("verify: peer %s: Cilium has no reserved identity of that name", p)
			}
			id = identity.LookupReservedIdentity(num)
			if id == nil {
				return nil, fmt.Errorf("verify: peer %s: reserved identity %d is not registered", p, num)
			}
		case synth.PeerCIDR:
			id = identity.NewIdentityFromLabelArray(nextLocal, labels.GetCIDRLabelArray(p.Prefix))
			nextLocal++
		case synth.PeerFQDN:
			id = identity.NewIdentityFromLabelArray(nextLocal, fqdnLabels(p.FQDN, g.NameIPs[p.FQDN]))
			nextLocal++
		default:
			return nil, fmt.Errorf("verify: peer %s has an unknown kind", p)
		}
		ids.byPeer[p] = id
		ids.all[id.ID] = id.LabelArray
	}
	return ids, nil
}

// workloadLabels are the identity labels of a workload's pods as far as
// any selector netpolgen writes can see: its selector labels and its
// namespace.
func workloadLabels(ref synth.WorkloadRef, selector map[string]string) labels.LabelArray {
	lbls := labels.LabelArray{
		labels.NewLabel(podNamespaceLabel, ref.Namespace, labels.LabelSourceK8s),
		labels.NewLabel(namespaceNameLabel, ref.Namespace, labels.LabelSourceK8s),
	}
	keys := make([]string, 0, len(selector))
	for k := range selector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lbls = append(lbls, labels.NewLabel(k, selector[k], labels.LabelSourceK8s))
	}
	return lbls.Sort()
}

// fqdnLabels are what Cilium's DNS proxy gives an address it saw answer a
// name: the address's CIDR labels plus fqdn:<name>. A name with no known
// address gets only the world label, which no CIDR selector matches.
func fqdnLabels(name string, ips []netip.Addr) labels.LabelArray {
	var lbls labels.LabelArray
	if len(ips) > 0 {
		lbls = labels.GetCIDRLabelArray(netip.PrefixFrom(ips[0], ips[0].BitLen()))
	} else {
		lbls = labels.LabelArray{labels.NewLabel(labels.IDNameWorld, "", labels.LabelSourceReserved)}
	}
	lbls = append(lbls, labels.NewLabel(name, "", labels.LabelSourceFQDN))
	return lbls.Sort()
}
