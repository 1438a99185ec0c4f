package observe

import (
	"hash/maphash"
	"time"
)

// boundary remembers the latest flow time delivered and fingerprints of
// the flows delivered at exactly that time. A resumed stream starts at
// that time inclusive, so those flows come again and only those need
// recognising: memory stays at the handful of flows sharing one
// timestamp, however long the run.
type boundary struct {
	time time.Time
	seen map[uint64]struct{}
	seed maphash.Seed
}

func newBoundary() boundary {
	return boundary{seen: make(map[uint64]struct{}), seed: maphash.MakeSeed()}
}

// fingerprint identifies a flow by its wire bytes, which a server sends
// identically when it sends the same flow again.
func (b *boundary) fingerprint(wire []byte) uint64 { return maphash.Bytes(b.seed, wire) }

// add records a delivered flow. A flow older than the boundary (a Relay
// merging nodes can deliver slightly out of order) moves nothing: a
// resume from the boundary would not send it again.
func (b *boundary) add(t time.Time, fp uint64) {
	switch {
	case t.After(b.time):
		b.time = t
		clear(b.seen)
		b.seen[fp] = struct{}{}
	case t.Equal(b.time):
		b.seen[fp] = struct{}{}
	}
}

func (b *boundary) has(fp uint64) bool {
	_, ok := b.seen[fp]
	return ok
}

// recentSet remembers the last n fingerprints added, for notices that are
// rare but may be repeated by a resumed stream.
type recentSet struct {
	seen  map[uint64]struct{}
	order []uint64
	next  int
}

func newRecentSet(n int) recentSet {
	return recentSet{seen: make(map[uint64]struct{}, n), order: make([]uint64, 0, n)}
}

// add records fp and reports whether it was new.
func (r *recentSet) add(fp uint64) bool {
	if _, ok := r.seen[fp]; ok {
		return false
	}
	if len(r.order) < cap(r.order) {
		r.order = append(r.order, fp)
	} else {
		delete(r.seen, r.order[r.next])
		r.order[r.next] = fp
		r.next = (r.next + 1) % len(r.order)
	}
	r.seen[fp] = struct{}{}
	return true
}
