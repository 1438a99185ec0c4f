package graph

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/netpolgen/netpolgen/internal/atomicfile"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// SnapshotVersion is the snapshot format this package writes. Version 2
// added the identity label sets workloads were seen with; version 1
// snapshots still load, their workloads without identities. Version 3
// added the edges' L7 tables (routes, lookups, Kafka topics); older
// snapshots load without them.
const SnapshotVersion = 3

// oldestSnapshotVersion is the oldest format Load reads.
const oldestSnapshotVersion = 1

// snapshot is the file form of a Graph. Peers are named by Key so files
// diff and merge by meaning; fields marked derived are written for
// readers and recomputed on load.
type snapshot struct {
	Version     int          `json:"version"`
	Options     Options      `json:"options"`
	Coverage    Coverage     `json:"coverage"`
	Peers       []peerRecord `json:"peers"`
	Edges       []edgeRecord `json:"edges"`
	DNS         []dnsRecord  `json:"dns,omitempty"`
	WorkloadIPs []ipOwners   `json:"workload_ips,omitempty"`
}

type peerRecord struct {
	Key                string            `json:"key"`
	Kind               string            `json:"kind"`
	Namespace          string            `json:"namespace,omitempty"`
	Labels             map[string]string `json:"labels,omitempty"`
	Name               string            `json:"name,omitempty"`
	ServiceAccount     string            `json:"service_account,omitempty"`
	Entity             string            `json:"entity,omitempty"`
	CIDR               string            `json:"cidr,omitempty"`
	SelectorIncomplete bool              `json:"selector_incomplete,omitempty"`
	SeenNames          []string          `json:"seen_names,omitempty"`
	// Identities are the label sets the workload's pods were seen with
	// (version 2).
	Identities          [][]string `json:"identities,omitempty"`
	IdentitiesTruncated bool       `json:"identities_truncated,omitempty"`
	// Derived.
	DNSNames    []string `json:"dns_names,omitempty"`
	InClusterIP bool     `json:"in_cluster_ip,omitempty"`
	InCluster   string   `json:"in_cluster_reason,omitempty"`
	SeenAs      string   `json:"seen_as,omitempty"`
}

type edgeRecord struct {
	From        string    `json:"from"`
	To          string    `json:"to"`
	Protocol    string    `json:"protocol"`
	Port        uint16    `json:"port,omitempty"`
	ICMPType    uint8     `json:"icmp_type,omitempty"`
	Count       uint64    `json:"count"`
	Dropped     uint64    `json:"dropped,omitempty"`
	Answered    uint64    `json:"answered,omitempty"`
	FirstSeen   string    `json:"first_seen,omitempty"`
	LastSeen    string    `json:"last_seen,omitempty"`
	Verdicts    []string  `json:"verdicts"`
	Direction   string    `json:"direction"`
	Services    []string  `json:"services,omitempty"`
	HTTP        []string  `json:"http,omitempty"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	DNSQueries  []string  `json:"dns_queries,omitempty"`
	L7Truncated bool      `json:"l7_truncated,omitempty"`
	L7          *l7Record `json:"l7,omitempty"`
	Sample      []uint64  `json:"sample,omitempty"`
	// Derived.
	Uncertain bool   `json:"uncertain,omitempty"`
	MirrorOf  string `json:"mirror_of,omitempty"`
}

type dnsRecord struct {
	Name      string   `json:"name"`
	IPs       []string `json:"ips"`
	TTL       uint32   `json:"ttl"`
	FirstSeen string   `json:"first_seen,omitempty"`
	LastSeen  string   `json:"last_seen,omitempty"`
}

// Save writes the graph as a versioned JSON snapshot. The same graph
// always gives the same bytes.
func (g *Graph) Save(w io.Writer) error {
	s := snapshot{Version: SnapshotVersion, Options: g.Options, Coverage: g.Coverage, WorkloadIPs: g.workloadIPs}
	keys := make([]string, len(g.Peers))
	for i := range g.Peers {
		p := &g.Peers[i]
		keys[i] = p.Key()
		r := peerRecord{
			Key: keys[i], Kind: p.Kind.String(), Namespace: p.Namespace, Labels: p.Labels, Name: p.Name,
			ServiceAccount: p.ServiceAccount, Entity: p.Entity, SelectorIncomplete: p.SelectorIncomplete,
			SeenNames: p.names, DNSNames: p.DNSNames, InClusterIP: p.InClusterIP, InCluster: p.InClusterReason.String(),
			Identities: p.Identities, IdentitiesTruncated: p.IdentitiesTruncated,
		}
		if p.Kind == KindExternal {
			r.CIDR = p.CIDR.String()
		}
		if p.SeenAs != NoPeer {
			r.SeenAs = g.Peers[p.SeenAs].Key()
		}
		s.Peers = append(s.Peers, r)
	}
	for _, e := range g.Edges {
		r := edgeRecord{
			From: keys[e.From], To: keys[e.To], Protocol: e.Protocol.String(), Port: e.Port, ICMPType: e.ICMPType,
			Count: e.Count, Dropped: e.Dropped, Answered: e.Answered, FirstSeen: formatTime(e.FirstSeen), LastSeen: formatTime(e.LastSeen),
			Verdicts: e.Verdicts.Names(), Direction: e.Direction.String(), Services: e.Services, HTTP: e.HTTP,
			DNSNames: e.DNSNames, DNSQueries: e.DNSQueries, L7Truncated: e.L7Truncated, L7: e.L7.record(), Sample: e.sample, Uncertain: e.Uncertain,
		}
		if r.Verdicts == nil {
			r.Verdicts = []string{}
		}
		if e.Mirror {
			r.MirrorOf = keys[e.MirrorOf]
		}
		s.Edges = append(s.Edges, r)
	}
	for _, d := range g.DNS {
		s.DNS = append(s.DNS, dnsRecord{Name: d.Name, IPs: d.IPs, TTL: d.TTL, FirstSeen: formatTime(d.FirstSeen), LastSeen: formatTime(d.LastSeen)})
	}
	if s.Peers == nil {
		s.Peers = []peerRecord{}
	}
	if s.Edges == nil {
		s.Edges = []edgeRecord{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(s)
}

// SaveFile checkpoints the graph's snapshot to path. The write is atomic:
// a kill, a crash or a full disk part way leaves the previous checkpoint
// readable, so a day of learning is never lost to one bad moment.
func SaveFile(path string, g *Graph) error {
	if err := atomicfile.Write(path, 0o644, g.Save); err != nil {
		return fmt.Errorf("save checkpoint %w", err)
	}
	return nil
}

// LoadFile reads a snapshot written by SaveFile.
func LoadFile(path string) (*Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load graph snapshot: %w", err)
	}
	defer f.Close()
	return Load(f, path)
}

// Load reads a snapshot; name (a file name) is used in errors. Snapshots
// of another version are refused.
func Load(r io.Reader, name string) (*Graph, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("load graph snapshot %s: %w", name, err)
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("load graph snapshot %s: not a snapshot: %w", name, err)
	}
	if head.Version == nil {
		return nil, fmt.Errorf("load graph snapshot %s: no \"version\" field: not a netpolgen graph snapshot", name)
	}
	if *head.Version < oldestSnapshotVersion || *head.Version > SnapshotVersion {
		return nil, fmt.Errorf("load graph snapshot %s: version %d is not supported (this netpolgen reads versions %d to %d)", name, *head.Version, oldestSnapshotVersion, SnapshotVersion)
	}
	var s snapshot
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("load graph snapshot %s: %w", name, err)
	}
	g, err := s.graph()
	if err != nil {
		return nil, fmt.Errorf("load graph snapshot %s: %w", name, err)
	}
	return g, nil
}

func (s *snapshot) graph() (*Graph, error) {
	opts := s.Options.normalized()
	peers := make([]Peer, 0, len(s.Peers))
	index := map[string]PeerID{}
	for i, r := range s.Peers {
		kind, ok := parsePeerKind(r.Kind)
		if !ok {
			return nil, fmt.Errorf("peer %d (%q): unknown kind %q", i, r.Key, r.Kind)
		}
		p := Peer{Kind: kind, Namespace: r.Namespace, Labels: r.Labels, Name: r.Name, ServiceAccount: r.ServiceAccount,
			Entity: r.Entity, SelectorIncomplete: r.SelectorIncomplete, names: canonical(r.SeenNames), SeenAs: NoPeer}
		if kind == KindWorkload && p.Labels == nil {
			p.Labels = map[string]string{}
		}
		if len(r.Identities) > 0 && kind != KindWorkload {
			return nil, fmt.Errorf("peer %q: only workloads have identity label sets", r.Key)
		}
		p.Identities, p.IdentitiesTruncated = canonicalLabelSets(r.Identities)
		p.IdentitiesTruncated = p.IdentitiesTruncated || r.IdentitiesTruncated
		if kind == KindExternal {
			prefix, err := netip.ParsePrefix(r.CIDR)
			if err != nil {
				return nil, fmt.Errorf("peer %q: %w", r.Key, err)
			}
			p.CIDR = prefix
		}
		if p.Key() != r.Key {
			return nil, fmt.Errorf("peer %q: its fields name it %q", r.Key, p.Key())
		}
		if _, dup := index[r.Key]; dup {
			return nil, fmt.Errorf("peer %q listed twice", r.Key)
		}
		index[r.Key] = PeerID(i)
		peers = append(peers, p)
	}
	edges := make([]Edge, 0, len(s.Edges))
	for i, r := range s.Edges {
		e, err := r.edge(index)
		if err != nil {
			return nil, fmt.Errorf("edge %d (%s -> %s): %w", i, r.From, r.To, err)
		}
		edges = append(edges, e)
	}
	dns := make([]DNSRecord, 0, len(s.DNS))
	for _, r := range s.DNS {
		first, err1 := parseTime(r.FirstSeen)
		last, err2 := parseTime(r.LastSeen)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("dns record %q: bad time", r.Name)
		}
		dns = append(dns, DNSRecord{Name: r.Name, IPs: canonical(r.IPs), TTL: r.TTL, FirstSeen: first, LastSeen: last})
	}
	for i := range s.WorkloadIPs {
		s.WorkloadIPs[i].Owners = canonical(s.WorkloadIPs[i].Owners)
	}
	return assemble(opts, peers, edges, dns, s.WorkloadIPs, s.Coverage), nil
}

func (r *edgeRecord) edge(index map[string]PeerID) (Edge, error) {
	from, ok1 := index[r.From]
	to, ok2 := index[r.To]
	if !ok1 || !ok2 {
		return Edge{}, fmt.Errorf("names a peer that is not listed")
	}
	proto, ok := observe.ParseProtocol(r.Protocol)
	if !ok {
		return Edge{}, fmt.Errorf("unknown protocol %q", r.Protocol)
	}
	verdicts, ok := parseVerdicts(r.Verdicts)
	if !ok {
		return Edge{}, fmt.Errorf("unknown verdict in %q", r.Verdicts)
	}
	dir, ok := parseDirection(r.Direction)
	if !ok {
		return Edge{}, fmt.Errorf("unknown direction %q", r.Direction)
	}
	first, err := parseTime(r.FirstSeen)
	if err != nil {
		return Edge{}, err
	}
	last, err := parseTime(r.LastSeen)
	if err != nil {
		return Edge{}, err
	}
	return Edge{
		From: from, To: to, Protocol: proto, Port: r.Port, ICMPType: r.ICMPType, Count: r.Count, Dropped: r.Dropped, Answered: r.Answered,
		FirstSeen: first, LastSeen: last, Verdicts: verdicts, Direction: dir, Services: canonical(r.Services), HTTP: canonical(r.HTTP),
		DNSNames: canonical(r.DNSNames), DNSQueries: canonical(r.DNSQueries), L7Truncated: r.L7Truncated, L7: r.L7.l7(), sample: canonical(r.Sample), MirrorOf: NoPeer,
	}, nil
}

// canonical sorts and deduplicates a list read from a file, so a
// hand-edited snapshot still meets the sorted-list invariants.
func canonical[T cmp.Ordered](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// canonicalLabelSets sorts a hand-edited list of label sets back into the
// capped, sorted form, reporting whether the cap left some out.
func canonicalLabelSets(sets [][]string) ([][]string, bool) {
	var out [][]string
	cut := false
	for _, s := range sets {
		var c bool
		out, c = addLabelSet(out, canonical(s), MaxIdentities)
		cut = cut || c
	}
	return out, cut
}

func parseDirection(s string) (Direction, bool) {
	for i, n := range directionNames {
		if n == s {
			return Direction(i), true
		}
	}
	return 0, false
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", s, err)
	}
	return t.UTC(), nil
}
