// Package observe is netpolgen's model of what Hubble saw: compact Flow
// values holding only what policy learning needs, lost-event notices, and
// the Source interface every reader of flows implements.
//
// Sources live in the sub-packages: capture reads captured JSON, hubble
// reads a live Hubble server or Relay (decoding frames with wire). Feed is
// the one loop over a Source every netpolgen command uses:
//
//	src := capture.NewSource([]string{"flows.json.gz"}, capture.Options{})
//	defer src.Close()
//	err := observe.Feed(ctx, src, func(rec *observe.Record) bool {
//		if rec.Kind == observe.KindFlow {
//			use(rec.Flow)
//		}
//		return true
//	})
//
// FromProto converts Cilium's generated flow message; it is the reference
// both decoders are tested against, and is slower than either.
package observe
