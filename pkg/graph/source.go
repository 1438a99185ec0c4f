package graph

import (
	"context"
	"errors"
	"io"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Build reads src to its end and returns the finished graph.
func Build(ctx context.Context, src observe.Source, opts Options) (*Graph, error) {
	b := NewBuilder(opts)
	if p, ok := src.(interface{ Position() string }); ok {
		b.SetLocator(p.Position)
	}
	for {
		rec, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return b.Finish(), nil
		}
		if err != nil {
			return nil, err
		}
		switch rec.Kind {
		case observe.KindFlow:
			b.Add(&rec.Flow)
		case observe.KindLostEvents:
			b.AddLost(&rec.Lost)
		}
	}
}
