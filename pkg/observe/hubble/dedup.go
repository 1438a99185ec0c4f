package hubble

import (
	"hash/maphash"
	"time"
)

// boundary remembers the latest flow time delivered and fingerprints of
// the flows delivered at exactly that time. A resumed stream starts at
// that time inclusive, so those flows come again and only those need
// recognising: memory stays at the handful of flows sharing one
// timestamp, however long the run.
//
// The newest flow is held as its wire bytes and fingerprinted only when
// another flow shares its time or a resume needs it: times nearly always
// move on, and hashing every flow's bytes cost about a twentieth of the
// client's time.
type boundary struct {
	time time.Time
	seen map[uint64]struct{}
	seed maphash.Seed
	// held is the newest flow's wire bytes when holding.
	held    []byte
	holding bool
}

func newBoundary() boundary {
	return boundary{seen: make(map[uint64]struct{}), seed: maphash.MakeSeed()}
}

// fingerprint identifies a flow by its wire bytes, which a server sends
// identically when it sends the same flow again.
func (b *boundary) fingerprint(wire []byte) uint64 { return maphash.Bytes(b.seed, wire) }

// deliver records a delivered flow. It keeps wire and returns a buffer
// the caller may reuse (the flow held before, or wire itself when it is
// not kept). A flow older than the boundary (a Relay merging nodes can
// deliver slightly out of order) moves nothing: a resume from the
// boundary would not send it again.
func (b *boundary) deliver(t time.Time, wire []byte) (spare []byte) {
	switch {
	case t.After(b.time):
		b.time = t
		clear(b.seen)
		b.holding = false
	case t.Equal(b.time):
		b.settle()
	default:
		return wire
	}
	spare = b.held[:0]
	b.held, b.holding = wire, true
	return spare
}

// settle fingerprints the held flow.
func (b *boundary) settle() {
	if b.holding {
		b.seen[b.fingerprint(b.held)] = struct{}{}
		b.holding = false
	}
}

func (b *boundary) has(fp uint64) bool {
	b.settle()
	_, ok := b.seen[fp]
	return ok
}

// count is the number of flows delivered at the boundary time.
func (b *boundary) count() int {
	b.settle()
	return len(b.seen)
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
