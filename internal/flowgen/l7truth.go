package flowgen

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// L7Truth is what a correct L7 policy allows for a scenario: the routes,
// Kafka topics and DNS names its calls use, and the connections that carry
// no L7 records (their ports stay L3/L4).
type L7Truth struct {
	HTTP  []RouteTruth `json:"http,omitempty"`
	Kafka []KafkaTruth `json:"kafka,omitempty"`
	DNS   []NamesTruth `json:"dns,omitempty"`
	// NoL7 are in-cluster connections to ports Hubble sees no L7 records
	// for.
	NoL7 []Connection `json:"no_l7,omitempty"`
}

// RouteTruth is one HTTP route a client uses on a server's port.
type RouteTruth struct {
	From   PeerRef `json:"from"`
	To     PeerRef `json:"to"`
	Port   uint16  `json:"port"`
	Method string  `json:"method"`
	// Template is the path with each object id as "{id}", without the
	// query string; Query says a query string follows.
	Template string `json:"template"`
	Query    bool   `json:"query,omitempty"`
	GRPC     bool   `json:"grpc,omitempty"`
}

// KafkaTruth is one topic a client produces to or consumes from.
type KafkaTruth struct {
	From  PeerRef `json:"from"`
	To    PeerRef `json:"to"`
	Port  uint16  `json:"port"`
	Topic string  `json:"topic"`
	// Role is "produce" or "consume".
	Role string `json:"role"`
}

// NamesTruth is what one workload resolves: Names exactly, and Patterns
// for the families of names among them.
type NamesTruth struct {
	Workload PeerRef  `json:"workload"`
	Names    []string `json:"names"`
	Patterns []string `json:"patterns,omitempty"`
}

// Template turns a request path of a scenario into its route template
// and whether it has a query string.
func Template(path string) (string, bool) {
	path, _, query := strings.Cut(path, "?")
	for _, p := range []string{"{uuid}", "{hex}", "{name}"} {
		path = strings.ReplaceAll(path, p, "{id}")
	}
	return path, query
}

// KafkaRole is the role a Kafka request kind plays: "produce" or
// "consume" (fetch and the offset requests a consumer makes), or "" for
// other requests.
func KafkaRole(apiKey string) string {
	switch apiKey {
	case "produce":
		return "produce"
	case "fetch", "offsets", "offsetcommit", "offsetfetch", "listoffsets":
		return "consume"
	}
	return ""
}

// l7TruthOf derives a scenario's L7 truth, or nil when its calls carry no
// L7 beyond the single-request HTTP calls.
func l7TruthOf(s *Scenario) *L7Truth {
	t := &L7Truth{}
	names := map[int]map[string]bool{}
	patterns := map[int]map[string]bool{}
	l7 := false
	for _, c := range s.Calls {
		from, to := s.peerRef(c.From), s.peerRef(c.To)
		l7 = l7 || c.hasL7() || len(c.Names) > 0
		for _, r := range c.Requests {
			tmpl, q := Template(r.Path)
			t.HTTP = append(t.HTTP, RouteTruth{From: from, To: to, Port: c.Port, Method: r.Method, Template: tmpl, Query: q, GRPC: r.GRPC})
		}
		for _, k := range c.Kafka {
			t.Kafka = append(t.Kafka, KafkaTruth{From: from, To: to, Port: c.Port, Topic: k.Topic, Role: KafkaRole(k.APIKey)})
		}
		if !c.hasL7() && c.HTTP == nil && c.To.Kind == PeerWorkload {
			t.NoL7 = append(t.NoL7, Connection{From: from, To: to, Protocol: c.Protocol.String(), Port: c.Port, Service: c.Service})
		}
		if c.From.Kind != PeerWorkload || s.DNS < 0 {
			continue
		}
		add := func(m map[int]map[string]bool, v string) {
			if m[c.From.Workload] == nil {
				m[c.From.Workload] = map[string]bool{}
			}
			m[c.From.Workload][v] = true
		}
		switch {
		case len(c.Names) > 0:
			for _, n := range c.Names {
				add(names, n)
			}
			if p := familyPattern(c.Names); p != "" {
				add(patterns, p)
			}
		case c.To.DNSName != "":
			add(names, c.To.DNSName)
		case c.Service != "" && c.To.Kind == PeerWorkload:
			add(names, fmt.Sprintf("%s.%s.svc.cluster.local", c.Service, s.Workloads[c.To.Workload].Namespace))
		}
	}
	if !l7 {
		return nil
	}
	for wl, set := range names {
		nt := NamesTruth{Workload: s.peerRef(Peer{Kind: PeerWorkload, Workload: wl}), Names: sortedSet(set), Patterns: sortedSet(patterns[wl])}
		t.DNS = append(t.DNS, nt)
	}
	slices.SortFunc(t.HTTP, func(a, b RouteTruth) int {
		return cmp.Or(cmp.Compare(a.From.String(), b.From.String()), cmp.Compare(a.To.String(), b.To.String()), cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.Template, b.Template), cmp.Compare(a.Method, b.Method))
	})
	slices.SortFunc(t.Kafka, func(a, b KafkaTruth) int {
		return cmp.Or(cmp.Compare(a.From.String(), b.From.String()), cmp.Compare(a.To.String(), b.To.String()), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Role, b.Role))
	})
	slices.SortFunc(t.DNS, func(a, b NamesTruth) int { return cmp.Compare(a.Workload.String(), b.Workload.String()) })
	slices.SortFunc(t.NoL7, func(a, b Connection) int { return cmp.Compare(a.key(), b.key()) })
	return t
}

// familyPattern is the matchPattern a scenario means for a family of
// names: the one label that differs, as its common prefix and suffix
// around "*".
func familyPattern(names []string) string {
	if len(names) < 2 {
		return ""
	}
	first := strings.SplitN(names[0], ".", 2)
	prefix, suffix := first[0], first[0]
	for _, n := range names[1:] {
		parts := strings.SplitN(n, ".", 2)
		if len(parts) != len(first) || (len(parts) == 2 && parts[1] != first[1]) {
			return ""
		}
		for !strings.HasPrefix(parts[0], prefix) {
			prefix = prefix[:len(prefix)-1]
		}
		for !strings.HasSuffix(parts[0], suffix) {
			suffix = suffix[1:]
		}
	}
	p := prefix + "*" + suffix
	if len(first) == 2 {
		p += "." + first[1]
	}
	return p
}

func sortedSet(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
