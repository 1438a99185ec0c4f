package graph

import (
	"context"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Build reads src to its end and returns the finished graph.
func Build(ctx context.Context, src observe.Source, opts Options) (*Graph, error) {
	b := NewBuilder(opts)
	if p, ok := src.(interface{ Position() string }); ok {
		b.SetLocator(p.Position)
	}
	err := observe.Feed(ctx, src, func(rec *observe.Record) bool {
		b.AddRecord(rec)
		return true
	})
	if err != nil {
		return nil, err
	}
	return b.Finish(), nil
}

// AddRecord folds one record a source yielded: a flow, or a notice that
// flows were lost.
func (b *Builder) AddRecord(rec *observe.Record) {
	switch rec.Kind {
	case observe.KindFlow:
		b.Add(&rec.Flow)
	case observe.KindLostEvents:
		b.AddLost(&rec.Lost)
	}
}
