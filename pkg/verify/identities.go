package verify

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/labels"

	"github.com/netpolgen/netpolgen/pkg/graph"
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

// identities gives every peer of a graph its Cilium identities: a
// workload one per identity label set its pods were seen with, any other
// peer one.
type identities struct {
	byPeer map[synth.Peer][]*identity.Identity
	// worldProbes are outside addresses no graph names, to tell a port
	// open to the whole internet.
	worldProbes []identity.NumericIdentity
	all         identity.IdentityMap
	// fallback are the workloads the graph recorded no label sets for (a
	// snapshot from before they were recorded): each gets one identity
	// made from its selector and namespace, which shares the generator's
	// assumptions and proves less.
	fallback []synth.WorkloadRef
	// truncated are the workloads seen with more label sets than the
	// graph keeps: only the kept ones are checked.
	truncated []synth.WorkloadRef
}

// newIdentities allocates identities for the peers in the order given,
// so the same graph always gets the same numbers.
func newIdentities(g *synth.Graph, peers []synth.Peer) (*identities, error) {
	ids := &identities{byPeer: map[synth.Peer][]*identity.Identity{}, all: identity.IdentityMap{}}
	workloads := map[synth.WorkloadRef]*synth.Workload{}
	for i := range g.Workloads {
		workloads[g.Workloads[i].WorkloadRef] = &g.Workloads[i]
	}
	// Two peers seen with the same labels are one identity to Cilium.
	bySet := map[string]*identity.Identity{}
	nextCluster := identity.NumericIdentity(firstWorkloadID)
	cluster := func(lbls labels.LabelArray) *identity.Identity {
		key := lbls.String()
		if id := bySet[key]; id != nil {
			return id
		}
		id := identity.NewIdentityFromLabelArray(nextCluster, lbls)
		nextCluster++
		bySet[key] = id
		return id
	}
	nextLocal := identity.IdentityScopeLocal | 1
	for _, p := range peers {
		if ids.byPeer[p] != nil {
			continue
		}
		var peerIDs []*identity.Identity
		switch p.Kind {
		case synth.PeerWorkload:
			w := workloads[p.Workload]
			if w == nil || len(w.Identities) == 0 {
				var sel map[string]string
				if w != nil {
					sel = w.Selector
				}
				ids.fallback = append(ids.fallback, p.Workload)
				peerIDs = append(peerIDs, cluster(workloadLabels(p.Workload, sel)))
				break
			}
			if w.IdentitiesTruncated {
				ids.truncated = append(ids.truncated, p.Workload)
			}
			for _, set := range w.Identities {
				peerIDs = append(peerIDs, cluster(labels.ParseLabelArray(set...)))
			}
		case synth.PeerEntity:
			if outside := apiServerIdentities(p, g, &nextLocal); len(outside) > 0 {
				peerIDs = outside
				break
			}
			num := identity.GetReservedID(string(p.Entity))
			if num == identity.IdentityUnknown {
				return nil, fmt.Errorf("verify: peer %s: Cilium has no reserved identity of that name", p)
			}
			id := identity.LookupReservedIdentity(num)
			if id == nil {
				return nil, fmt.Errorf("verify: peer %s: reserved identity %d is not registered", p, num)
			}
			peerIDs = append(peerIDs, id)
		case synth.PeerCIDR:
			peerIDs = append(peerIDs, identity.NewIdentityFromLabelArray(nextLocal, labels.GetCIDRLabelArray(p.Prefix)))
			nextLocal++
		case synth.PeerFQDN:
			peerIDs = append(peerIDs, identity.NewIdentityFromLabelArray(nextLocal, fqdnLabels(p.FQDN, g.NameIPs[p.FQDN])))
			nextLocal++
		default:
			return nil, fmt.Errorf("verify: peer %s has an unknown kind", p)
		}
		ids.byPeer[p] = peerIDs
		for _, id := range peerIDs {
			ids.all[id.ID] = id.LabelArray
		}
	}
	// The sweep asks whether a port is open to any outside address: whether
	// addresses no policy names, spread over the IPv4 space, may reach it.
	// Cilium gives such an address the identity of the widest prefix a
	// policy names, so a CIDR identity of the address itself is what an
	// ipBlock 0.0.0.0/0 (with its except ranges) or fromEntities world
	// meets, where the bare reserved:world identity would miss the first.
	for _, a := range [...]string{"12.0.0.1", "99.0.0.1", "151.0.0.1", "223.255.0.1"} {
		id := identity.NewIdentityFromLabelArray(nextLocal, labels.GetCIDRLabelArray(netip.MustParsePrefix(a+"/32")))
		nextLocal++
		ids.worldProbes = append(ids.worldProbes, id.ID)
		ids.all[id.ID] = id.LabelArray
	}
	return ids, nil
}

// note says which workloads were checked with identities made from their
// selectors, and which with only some of the label sets they were seen
// with; "" when every workload was checked with all it was seen with.
func (ids *identities) note() string {
	var notes []string
	if len(ids.fallback) > 0 {
		notes = append(notes, fmt.Sprintf("%d workloads had no observed identity labels (a graph saved before netpolgen recorded them) and were checked with identities made from their selectors, which prove less: %s; learn again from flows to check with the labels Cilium saw",
			len(ids.fallback), refList(ids.fallback)))
	}
	if len(ids.truncated) > 0 {
		notes = append(notes, fmt.Sprintf("%d workloads were seen with more than %d identity label sets and were checked with the %d the graph keeps: %s",
			len(ids.truncated), graph.MaxIdentities, graph.MaxIdentities, refList(ids.truncated)))
	}
	return strings.Join(notes, "; ")
}

// refList names workloads, sorted, the first ten of them.
func refList(refs []synth.WorkloadRef) string {
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		names = append(names, r.String())
	}
	sort.Strings(names)
	const show = 10
	list := strings.Join(names[:min(show, len(names))], ", ")
	if len(names) > show {
		list += fmt.Sprintf(" and %d more", len(names)-show)
	}
	return list
}

// workloadLabels are the identity labels of a workload's pods as far as
// any selector netpolgen writes can see: its selector labels and its
// namespace. Only used when the flows' own labels were not recorded.
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
