package graph

import (
	"hash/maphash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// endpointInfo is what an endpoint's namespace and labels say about the
// peer, worked out once per distinct label set.
type endpointInfo struct {
	// namespace and labels are the endpoint's as given, for verifying a
	// hash hit.
	namespace string
	labels    []string

	// skip is why flows touching this endpoint are left out ("health").
	skip string
	// byAddress: the peer is the endpoint's address (world, unidentified).
	byAddress bool
	// world: without an address the peer is reserved:world.
	world bool
	// ownerNamed: the workload's display name comes from its pod name.
	ownerNamed bool
	peer       int32
}

// identities interns endpoints into small peer ids.
type identities struct {
	rules labelRules
	opts  Options
	seed  maphash.Seed

	peers     []Peer
	peerIndex map[string]int32
	infos     map[uint64][]*endpointInfo
	byAddress map[netip.Prefix]int32
	// world is reserved:world's peer once a world endpoint without an
	// address was seen, else -1.
	world int32

	// recent is a fixed-size cache from a labels slice's backing array
	// to its info: decoders share one slice per distinct endpoint, so
	// most flows skip hashing their labels. Holding the pointer keeps
	// the array alive, so an address is never reused for other labels.
	recent [recentSize]recentInfo
}

const (
	recentBits = 9
	recentSize = 1 << recentBits
)

type recentInfo struct {
	labels    *string
	n         int
	namespace string
	info      *endpointInfo
}

func newIdentities(opts Options) *identities {
	return &identities{
		rules:     newLabelRules(opts),
		opts:      opts,
		seed:      maphash.MakeSeed(),
		peerIndex: map[string]int32{},
		infos:     map[uint64][]*endpointInfo{},
		byAddress: map[netip.Prefix]int32{},
		world:     -1,
	}
}

// resolve returns the peer id for one side of a flow, or -1 and why the
// flow should be skipped.
func (ids *identities) resolve(ep *observe.Endpoint, addr netip.Addr) (int32, string) {
	if len(ep.Labels) == 0 && ep.Identity > 0 && ep.Identity < minClusterIdentity {
		// Some Hubble versions give a reserved identity's number
		// without its label.
		ep = &observe.Endpoint{Namespace: ep.Namespace, Labels: reservedLabel(ep.Identity)}
	}
	info := ids.info(ep)
	switch {
	case info.skip != "":
		return -1, info.skip
	case info.byAddress:
		if !addr.IsValid() {
			if info.world {
				if ids.world < 0 {
					ids.world = ids.intern(Peer{Kind: KindReserved, Entity: EntityWorld, SeenAs: NoPeer})
				}
				return ids.world, ""
			}
			return -1, "no-address"
		}
		return ids.addressPeer(addr), ""
	case info.ownerNamed:
		ids.offerName(info.peer, ep)
	}
	return info.peer, ""
}

// minClusterIdentity is the first identity number Cilium allocates for
// workloads; the ones below are reserved.
const minClusterIdentity = 256

// reservedLabel is the label of a reserved identity number (Cilium's
// pkg/identity numbering).
func reservedLabel(id uint32) []string {
	names := [...]string{1: "host", 2: "world", 3: "unmanaged", 4: "health", 5: "init", 6: "remote-node", 7: "kube-apiserver", 8: "ingress", 9: "world-ipv4", 10: "world-ipv6"}
	if int(id) < len(names) && names[id] != "" {
		return []string{"reserved:" + names[id]}
	}
	return []string{"reserved:unknown-" + strconv.Itoa(int(id))}
}

// offerName keeps the smallest owner name seen, so the display name does
// not depend on the order flows arrive in.
func (ids *identities) offerName(id int32, ep *observe.Endpoint) {
	name := ""
	if len(ep.Workloads) > 0 && ep.Workloads[0].Name != "" {
		name = ep.Workloads[0].Name
	} else if ep.PodName != "" {
		name = ownerFromPodName(ep.PodName)
	}
	if p := &ids.peers[id]; name != "" && (p.Name == "" || name < p.Name) {
		p.Name = name
	}
}

func (ids *identities) info(ep *observe.Endpoint) *endpointInfo {
	var slot *recentInfo
	if len(ep.Labels) > 0 {
		p := unsafe.SliceData(ep.Labels)
		// Fibonacci hashing spreads allocation-aligned addresses.
		slot = &ids.recent[(uint64(uintptr(unsafe.Pointer(p)))*0x9E3779B97F4A7C15)>>(64-recentBits)]
		if slot.labels == p && slot.n == len(ep.Labels) && slot.namespace == ep.Namespace {
			return slot.info
		}
	}
	in := ids.lookupInfo(ep)
	if slot != nil {
		*slot = recentInfo{labels: unsafe.SliceData(ep.Labels), n: len(ep.Labels), namespace: ep.Namespace, info: in}
	}
	return in
}

func (ids *identities) lookupInfo(ep *observe.Endpoint) *endpointInfo {
	var h maphash.Hash
	h.SetSeed(ids.seed)
	h.WriteString(ep.Namespace)
	for _, l := range ep.Labels {
		h.WriteByte(0)
		h.WriteString(l)
	}
	sum := h.Sum64()
	for _, in := range ids.infos[sum] {
		if in.namespace == ep.Namespace && slices.Equal(in.labels, ep.Labels) {
			return in
		}
	}
	in := ids.newInfo(ep.Namespace, ep.Labels)
	ids.infos[sum] = append(ids.infos[sum], in)
	return in
}

func (ids *identities) newInfo(namespace string, labels []string) *endpointInfo {
	in := &endpointInfo{namespace: namespace, labels: slices.Clone(labels), peer: -1}
	var reserved []string
	kv := map[string]string{}
	sa := ""
	for _, l := range labels {
		source, rest, ok := strings.Cut(l, ":")
		if !ok {
			source, rest = "", l
		}
		key, value, _ := strings.Cut(rest, "=")
		switch source {
		case "reserved":
			switch key {
			case "world-ipv4", "world-ipv6":
				key = EntityWorld
			}
			reserved = append(reserved, key)
			continue
		case "cidr", "fqdn":
			continue
		}
		switch key {
		case "io.kubernetes.pod.namespace":
			if namespace == "" {
				namespace = value
			}
		case "io.cilium.k8s.policy.serviceaccount":
			sa = value
		}
		if !ids.rules.ignored(key) {
			kv[key] = value
		}
	}
	if len(reserved) > 0 {
		return ids.reservedInfo(in, reserved)
	}
	if len(labels) == 0 {
		// Cilium did not identify the endpoint: only its address is known.
		in.byAddress = true
		return in
	}
	p := Peer{Kind: KindWorkload, Namespace: namespace, ServiceAccount: sa, SeenAs: NoPeer}
	p.Labels, p.Name = ids.selector(kv)
	if p.Name == "" {
		in.ownerNamed = true
		p.SelectorIncomplete = len(p.Labels) == 0
	}
	in.peer = ids.intern(p)
	// Once per distinct label set, not per flow.
	q := &ids.peers[in.peer]
	var cut bool
	q.Identities, cut = addLabelSet(q.Identities, identityLabels(labels), MaxIdentities)
	q.IdentitiesTruncated = q.IdentitiesTruncated || cut
	return in
}

func (ids *identities) reservedInfo(in *endpointInfo, reserved []string) *endpointInfo {
	// The API server also carries reserved:host or reserved:world, so
	// the most specific entity wins.
	precedence := [...]string{"health", "init", EntityKubeAPIServer, EntityHost, EntityRemoteNode, EntityIngress, EntityUnmanaged, EntityWorld}
	entity := ""
	for _, want := range precedence {
		if slices.Contains(reserved, want) {
			entity = want
			break
		}
	}
	if entity == "" {
		slices.Sort(reserved)
		entity = reserved[0]
	}
	switch entity {
	case "health", "init":
		in.skip = entity
	case EntityKubeAPIServer, EntityHost, EntityRemoteNode, EntityIngress, EntityUnmanaged:
		in.peer = ids.intern(Peer{Kind: KindReserved, Entity: entity, SeenAs: NoPeer})
	case EntityWorld:
		in.byAddress, in.world = true, true
	default:
		// reserved:unknown (IPv6 router solicitations to ff02::2 in every
		// live cluster) and identities newer than this code: no policy can
		// name them, and a peer no rule can name would fail verification
		// of the whole learn.
		in.skip = "reserved:" + entity
	}
	return in
}

// selector picks the selector labels and display name from the labels
// left after dropping ignored ones; the name is "" when no preferred key
// is present and every remaining label is the selector.
func (ids *identities) selector(kv map[string]string) (map[string]string, string) {
	sel := map[string]string{}
	name := ""
	for _, k := range ids.rules.selector {
		if v, ok := kv[k]; ok {
			sel[k], name = v, v
			if k == "app.kubernetes.io/name" {
				for _, c := range companionLabels() {
					if cv, ok := kv[c]; ok {
						sel[c] = cv
					}
				}
			}
			break
		}
	}
	if name == "" {
		return kv, ""
	}
	for _, k := range ids.rules.keepOrder {
		if v, ok := kv[k]; ok {
			sel[k] = v
		}
	}
	return sel, name
}

func (ids *identities) addressPeer(addr netip.Addr) int32 {
	prefix := ids.aggregate(addr)
	if id, ok := ids.byAddress[prefix]; ok {
		return id
	}
	id := ids.intern(Peer{Kind: KindExternal, CIDR: prefix, SeenAs: NoPeer})
	ids.byAddress[prefix] = id
	return id
}

func (ids *identities) aggregate(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := addr.BitLen()
	if addr.Is4() && ids.opts.CIDRPrefixV4 > 0 && ids.opts.CIDRPrefixV4 < bits {
		bits = ids.opts.CIDRPrefixV4
	}
	if addr.Is6() && ids.opts.CIDRPrefixV6 > 0 && ids.opts.CIDRPrefixV6 < bits {
		bits = ids.opts.CIDRPrefixV6
	}
	p, _ := addr.Prefix(bits)
	return p
}

func (ids *identities) intern(p Peer) int32 {
	key := p.Key()
	if id, ok := ids.peerIndex[key]; ok {
		// Label sets that differ only in dropped labels meet here; keep
		// what does not depend on which came first.
		ids.peers[id] = mergePeer(ids.peers[id], p, ids.opts.MaxL7)
		return id
	}
	id := int32(len(ids.peers))
	ids.peers = append(ids.peers, p)
	ids.peerIndex[key] = id
	return id
}
