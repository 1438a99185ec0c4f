package graph

import (
	"cmp"
	"fmt"
	"slices"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/internal/l7/routes"
	"github.com/netpolgen/netpolgen/pkg/observe"
)

// L7 is what an edge's L7 requests say, kept for writing L7 rules: the
// HTTP route table of the server's port, the DNS names the client looked
// up (on an edge to a DNS server), and the Kafka topics it used. Only
// requests the proxy let through count; each part is bounded.
type L7 struct {
	// Routes is nil when no HTTP request was seen.
	Routes *routes.Table
	// Lookups are the names queried, sorted; LookupsTruncated says more
	// than MaxLookups were seen, so a DNS rule cannot list them all.
	Lookups          []string
	LookupsTruncated bool
	// Kafka are the (role, topic) pairs used, sorted.
	Kafka          []KafkaUse
	KafkaTruncated bool
	// Denied counts requests the proxy denied: evidence, never allowed.
	Denied uint64
	// Malformed counts requests left out because their method or URL
	// was malformed.
	Malformed uint64
}

// KafkaUse is one Kafka topic a client used in one role.
type KafkaUse struct {
	// Role is "produce", "consume", or the request kind for other
	// requests ("metadata", ...).
	Role  string `json:"role"`
	Topic string `json:"topic"`
}

// Bounds of the L7 kept per edge.
const (
	// MaxLookups is how many DNS names one resolver edge keeps.
	MaxLookups = 512
	maxKafka   = 256
	// maxMalformedNotes is how many malformed-record messages Coverage
	// keeps.
	maxMalformedNotes = 16
)

// KafkaRole is the role a Kafka request kind plays.
func KafkaRole(apiKey string) string {
	switch apiKey {
	case "produce":
		return "produce"
	case "fetch", "offsets", "offsetcommit", "offsetfetch", "listoffsets":
		return "consume"
	}
	return apiKey
}

// SetLocator tells the builder where the flow being added was read
// ("file:line"), for its messages about malformed L7 records.
func (b *Builder) SetLocator(where func() string) { b.locate = where }

// addL7 folds an L7 request of edge e.
func (b *Builder) addL7(e *Edge, f *observe.Flow) {
	l := f.L7
	if l.Type != flowpb.L7FlowType_REQUEST || (l.HTTP == nil && l.DNS == nil && l.Kafka == nil) {
		return
	}
	if e.L7 == nil {
		e.L7 = &L7{}
	}
	if verdictOf(f.Verdict)&allowedVerdicts == 0 {
		e.L7.Denied++
		return
	}
	switch {
	case l.HTTP != nil:
		if e.L7.Routes == nil {
			e.L7.Routes = routes.New(routes.Options{MaxRoutes: b.opts.MaxRoutes})
		}
		err := e.L7.Routes.Add(routes.Request{Method: l.HTTP.Method, URL: l.HTTP.URL, Protocol: l.HTTP.Protocol, Time: f.Time.UTC()})
		if err != nil {
			e.L7.Malformed++
			b.malformedL7(err)
		}
	case l.DNS != nil:
		name := dnsName(l.DNS.Query)
		if name == "" {
			e.L7.Malformed++
			b.malformedL7(fmt.Errorf("DNS request without a query name"))
			return
		}
		var cut bool
		e.L7.Lookups, cut = addCapped(e.L7.Lookups, name, MaxLookups)
		e.L7.LookupsTruncated = e.L7.LookupsTruncated || cut
	case l.Kafka != nil:
		var cut bool
		e.L7.Kafka, cut = addKafka(e.L7.Kafka, KafkaUse{Role: KafkaRole(l.Kafka.APIKey), Topic: l.Kafka.Topic})
		e.L7.KafkaTruncated = e.L7.KafkaTruncated || cut
	}
}

func (b *Builder) malformedL7(err error) {
	b.cov.MalformedL7++
	if len(b.cov.MalformedL7Notes) >= maxMalformedNotes {
		return
	}
	msg := err.Error()
	if b.locate != nil {
		if where := b.locate(); where != "" {
			msg = where + ": " + msg
		}
	}
	b.cov.MalformedL7Notes = append(b.cov.MalformedL7Notes, msg)
}

func compareKafka(a, b KafkaUse) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Role, b.Role))
}

func addKafka(s []KafkaUse, v KafkaUse) ([]KafkaUse, bool) {
	i, found := slices.BinarySearchFunc(s, v, compareKafka)
	switch {
	case found:
		return s, false
	case len(s) >= maxKafka:
		return s, true
	}
	return slices.Insert(s, i, v), false
}

// MergeL7 combines two edges' L7 without changing either.
func MergeL7(a, b *L7) *L7 {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	out := &L7{Denied: a.Denied + b.Denied, Malformed: a.Malformed + b.Malformed,
		LookupsTruncated: a.LookupsTruncated || b.LookupsTruncated, KafkaTruncated: a.KafkaTruncated || b.KafkaTruncated}
	switch {
	case a.Routes == nil:
		out.Routes = b.Routes.Clone()
	default:
		out.Routes = a.Routes.Clone()
		out.Routes.Merge(b.Routes)
	}
	var cut bool
	out.Lookups, cut = unionCapped(a.Lookups, b.Lookups, MaxLookups)
	out.LookupsTruncated = out.LookupsTruncated || cut
	out.Kafka = slices.Clone(a.Kafka)
	for _, k := range b.Kafka {
		out.Kafka, cut = addKafka(out.Kafka, k)
		out.KafkaTruncated = out.KafkaTruncated || cut
	}
	return out
}

// l7Record is the file form of L7.
type l7Record struct {
	Routes           *routes.Table `json:"routes,omitempty"`
	Lookups          []string      `json:"lookups,omitempty"`
	LookupsTruncated bool          `json:"lookups_truncated,omitempty"`
	Kafka            []KafkaUse    `json:"kafka,omitempty"`
	KafkaTruncated   bool          `json:"kafka_truncated,omitempty"`
	Denied           uint64        `json:"denied,omitempty"`
	Malformed        uint64        `json:"malformed,omitempty"`
}

func (l *L7) record() *l7Record {
	if l == nil {
		return nil
	}
	return &l7Record{Routes: l.Routes, Lookups: l.Lookups, LookupsTruncated: l.LookupsTruncated, Kafka: l.Kafka,
		KafkaTruncated: l.KafkaTruncated, Denied: l.Denied, Malformed: l.Malformed}
}

func (r *l7Record) l7() *L7 {
	if r == nil {
		return nil
	}
	l := &L7{Routes: r.Routes, Lookups: canonical(r.Lookups), LookupsTruncated: r.LookupsTruncated,
		KafkaTruncated: r.KafkaTruncated, Denied: r.Denied, Malformed: r.Malformed}
	for _, k := range r.Kafka {
		l.Kafka, _ = addKafka(l.Kafka, k)
	}
	return l
}
