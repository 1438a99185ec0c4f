// Package flowdecode holds what the JSON and the wire decoder of flows
// share: bounded caches keyed by raw bytes, a string interner built on
// them, and an IPv4 parser that does not allocate.
package flowdecode

import "hash/maphash"

// Limit bounds each decoder cache so memory stays flat however many
// distinct values a long stream carries (see Cache). Four times as many
// slots read a 100k-workload stream no faster, and their keys (whole
// endpoints) raised the peak RSS of learning from it by a sixth.
const Limit = 1 << 14

// SetLimit bounds the label and workload set caches, which are asked
// only when an endpoint is not cached and whose keys are long.
const SetLimit = 1 << 12

// Cache is a bounded, direct-mapped cache keyed by raw bytes: each
// key hashes to one slot, and a newer key that lands there replaces the
// older one. A flow stream repeats what it saw recently (the flows of one
// connection come together), so recent entries are what it keeps, and its
// memory stays bounded however many distinct keys go by.
//
// A lookup is one hash and one comparison. A Go map costs more on every
// lookup, and at cluster scale, where many endpoints of a stream are new,
// that cost is paid on the misses too.
//
// The cache starts small, so a short capture or a test does not pay for
// the full size, and doubles (up to its limit) each time it has missed as
// many times as it has slots.
type Cache[V any] struct {
	seed   maphash.Seed
	slots  []Slot[V]
	limit  int
	misses int
}

// Slot is one entry of a Cache.
type Slot[V any] struct {
	Key string
	Val V
}

// firstSlots is a new cache's size: room for a small cluster's endpoints.
const firstSlots = 1 << 10

// NewCache returns a cache that grows to at most limit slots (rounded
// up to a power of two).
func NewCache[V any](limit int) Cache[V] {
	n := 1
	for n < limit {
		n <<= 1
	}
	return Cache[V]{seed: maphash.MakeSeed(), limit: n}
}

// Lookup finds k without allocating. On a miss it returns the slot that k
// belongs in, for Fill. The empty key always misses, so an unused slot
// never reads as a hit.
func (c *Cache[V]) Lookup(k []byte) (*Slot[V], bool) {
	if c.slots == nil {
		c.slots = make([]Slot[V], min(firstSlots, c.limit))
	}
	s := &c.slots[maphash.Bytes(c.seed, k)&uint64(len(c.slots)-1)]
	if len(k) > 0 && s.Key == string(k) {
		return s, true
	}
	if c.misses++; c.misses > len(c.slots) && len(c.slots) < c.limit {
		c.grow()
		s = &c.slots[maphash.Bytes(c.seed, k)&uint64(len(c.slots)-1)]
	}
	return s, false
}

// grow doubles the slots, keeping every entry.
func (c *Cache[V]) grow() {
	old := c.slots
	c.slots, c.misses = make([]Slot[V], 2*len(old)), 0
	for _, s := range old {
		if s.Key != "" {
			c.slots[maphash.String(c.seed, s.Key)&uint64(len(c.slots)-1)] = s
		}
	}
}

// Fill stores v under k in the slot Lookup returned.
func Fill[V any](s *Slot[V], k string, v V) { s.Key, s.Val = k, v }

// Strings hands out one shared copy of each distinct string it has seen
// recently: a capture names the same namespaces, labels and nodes millions
// of times, and sharing them keeps both allocation and the graph's memory
// proportional to the cluster, not to the flow count. Values unique to one
// pod (its name, its addresses) are not worth interning: they would only
// push the shared ones out.
type Strings struct{ slots Cache[struct{}] }

// NewStrings returns an interner of at most size strings.
func NewStrings(size int) Strings { return Strings{slots: NewCache[struct{}](size)} }

// Get returns the shared copy of b.
func (in *Strings) Get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	s, ok := in.slots.Lookup(b)
	if !ok {
		Fill(s, string(b), struct{}{})
	}
	return s.Key
}
