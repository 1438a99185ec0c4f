package observe

import (
	"context"
	"errors"
	"io"
)

// ErrStopped is what Feed returns when its visitor asked it to stop.
var ErrStopped = errors.New("observe: stopped by the reader")

// Feed is the one loop over a Source, which every command's reading goes
// through: it hands each record to visit until the source ends (nil),
// visit returns false (ErrStopped), or the source fails or the context
// ends (that error). The record is only valid during the call.
func Feed(ctx context.Context, src Source, visit func(*Record) bool) error {
	for {
		rec, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !visit(rec) {
			return ErrStopped
		}
	}
}
