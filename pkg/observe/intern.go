package observe

import "hash/maphash"

// slotCache is a bounded, direct-mapped cache keyed by raw bytes: each
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
type slotCache[V any] struct {
	seed   maphash.Seed
	slots  []slot[V]
	limit  int
	misses int
}

type slot[V any] struct {
	key string
	val V
}

// firstSlots is a new cache's size: room for a small cluster's endpoints.
const firstSlots = 1 << 10

// newSlotCache returns a cache that grows to at most limit slots (rounded
// up to a power of two).
func newSlotCache[V any](limit int) slotCache[V] {
	n := 1
	for n < limit {
		n <<= 1
	}
	return slotCache[V]{seed: maphash.MakeSeed(), limit: n}
}

// lookup finds k without allocating. On a miss it returns the slot that k
// belongs in, for fill. The empty key always misses, so an unused slot
// never reads as a hit.
func (c *slotCache[V]) lookup(k []byte) (*slot[V], bool) {
	if c.slots == nil {
		c.slots = make([]slot[V], min(firstSlots, c.limit))
	}
	s := &c.slots[maphash.Bytes(c.seed, k)&uint64(len(c.slots)-1)]
	if len(k) > 0 && s.key == string(k) {
		return s, true
	}
	if c.misses++; c.misses > len(c.slots) && len(c.slots) < c.limit {
		c.grow()
		s = &c.slots[maphash.Bytes(c.seed, k)&uint64(len(c.slots)-1)]
	}
	return s, false
}

// grow doubles the slots, keeping every entry.
func (c *slotCache[V]) grow() {
	old := c.slots
	c.slots, c.misses = make([]slot[V], 2*len(old)), 0
	for _, s := range old {
		if s.key != "" {
			c.slots[maphash.String(c.seed, s.key)&uint64(len(c.slots)-1)] = s
		}
	}
}

// fill stores v under k in the slot lookup returned.
func fill[V any](s *slot[V], k string, v V) { s.key, s.val = k, v }

// interner hands out one shared copy of each distinct string it has seen
// recently: a capture names the same namespaces, labels and nodes millions
// of times, and sharing them keeps both allocation and the graph's memory
// proportional to the cluster, not to the flow count. Values unique to one
// pod (its name, its addresses) are not worth interning: they would only
// push the shared ones out.
type interner struct{ slots slotCache[struct{}] }

func newInterner(size int) interner { return interner{slots: newSlotCache[struct{}](size)} }

// get returns the shared copy of b.
func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	s, ok := in.slots.lookup(b)
	if !ok {
		fill(s, string(b), struct{}{})
	}
	return s.key
}
