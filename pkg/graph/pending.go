package graph

import (
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// pendingKey is an undirected flow's peers and ports. Flows sharing one
// are held together until Finish, when the whole capture's evidence is in.
type pendingKey struct {
	src, dst         int32
	srcPort, dstPort uint16
	proto            observe.Protocol
}

// pendingFlows aggregates the undirected flows of one pendingKey. It is
// kept small and held by value: a capture without is_reply can have many.
type pendingFlows struct {
	count, dropped uint64
	// first and last are Unix nanoseconds, 0 when no flow had a time.
	first, last int64
	verdicts    Verdicts
}

func (b *Builder) addUndirected(f *observe.Flow, src, dst int32) {
	k := pendingKey{src: src, dst: dst, srcPort: f.L4.SrcPort, dstPort: f.L4.DstPort, proto: f.L4.Protocol}
	p, ok := b.pending[k]
	if !ok && len(b.pending) >= b.opts.MaxPending {
		// At the cap: decide what is held with the evidence seen so far
		// rather than grow.
		b.flushPending()
	}
	p.fold(f.Time, f.Verdict)
	b.pending[k] = p
}

func (p *pendingFlows) fold(t time.Time, v flowpb.Verdict) {
	p.count++
	vs := verdictOf(v)
	if vs == VerdictDropped {
		p.dropped++
	}
	p.verdicts |= vs
	if t.IsZero() {
		return
	}
	n := t.UnixNano()
	if p.first == 0 || n < p.first {
		p.first = n
	}
	if n > p.last {
		p.last = n
	}
}

// flushPending resolves every held undirected aggregate.
//
// The maps are cleared, not replaced: a cleared map keeps its table, so
// once the cap has been reached a long capture reuses the same memory for
// every later batch instead of growing new tables beside the old ones.
func (b *Builder) flushPending() {
	fan := b.fanOut()
	for k, p := range b.pending {
		b.resolvePending(k, &p, fan)
	}
	clear(b.pending)
	clear(b.fan.seen)
	clear(b.fan.count)
}

// fanOut counts, for each (peer, protocol, port) among the
// undirected flows, how many distinct counterpart (peer, port) pairs it
// talked to: a service port talks to many ephemeral ports, an ephemeral
// port to one service port.
// The same connection held both ways counts once.
func (b *Builder) fanOut() map[portKey]int {
	for k := range b.pending {
		src := portKey{peer: k.src, port: k.srcPort, proto: k.proto}
		dst := portKey{peer: k.dst, port: k.dstPort, proto: k.proto}
		for _, p := range [...]portPair{{src, dst}, {dst, src}} {
			if _, ok := b.fan.seen[p]; !ok {
				b.fan.seen[p] = struct{}{}
				b.fan.count[p.self]++
			}
		}
	}
	return b.fan.count
}

// portPair is a port and a counterpart it talked to.
type portPair struct{ self, other portKey }

// fanOutMaps are fanOut's working maps, kept by the Builder so each flush
// reuses them.
type fanOutMaps struct {
	seen  map[portPair]struct{}
	count map[portKey]int
}

// minFanOut is how many distinct counterparts make a port look like a
// listener when nothing better says so.
const minFanOut = 3

// resolvePending orients one undirected aggregate: by listeners seen in
// directed flows, then by fan-out, then by port numbers (uncertain).
func (b *Builder) resolvePending(k pendingKey, p *pendingFlows, fan map[portKey]int) {
	srcKey := portKey{peer: k.src, port: k.srcPort, proto: k.proto}
	dstKey := portKey{peer: k.dst, port: k.dstPort, proto: k.proto}
	_, srcListens := b.listeners[srcKey]
	_, dstListens := b.listeners[dstKey]
	dir := DirectionInferred
	serverIsDst := dstListens
	if srcListens == dstListens {
		srcFan, dstFan := fan[srcKey] >= minFanOut, fan[dstKey] >= minFanOut
		serverIsDst = dstFan
		if srcFan == dstFan {
			dir = DirectionGuessed
			serverIsDst = guessListener(k.srcPort, k.dstPort)
		}
	}
	if dir == DirectionGuessed {
		b.cov.GuessedFlows += p.count
	} else {
		b.cov.InferredFlows += p.count
	}
	ek := edgeKey{from: k.src, to: k.dst, port: k.dstPort, proto: k.proto}
	if !serverIsDst {
		ek = edgeKey{from: k.dst, to: k.src, port: k.srcPort, proto: k.proto}
	}
	e := b.edge(ek, dir)
	e.Count += p.count
	e.Dropped += p.dropped
	if !serverIsDst && p.verdicts&allowedVerdicts != 0 {
		// These flows came from the server: answers, and those not
		// dropped got through.
		e.Answered += p.count - p.dropped
	}
	e.Verdicts |= p.verdicts
	if p.first != 0 {
		foldTime(&e.FirstSeen, &e.LastSeen, time.Unix(0, p.first).UTC())
		foldTime(&e.FirstSeen, &e.LastSeen, time.Unix(0, p.last).UTC())
	}
}
