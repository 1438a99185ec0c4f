package observe

import (
	"context"
	"errors"
	"io"
	"testing"
)

// listSource yields its records, then end (io.EOF unless set).
type listSource struct {
	recs []Record
	end  error
}

func (s *listSource) Next(ctx context.Context) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(s.recs) == 0 {
		if s.end != nil {
			return nil, s.end
		}
		return nil, io.EOF
	}
	r := &s.recs[0]
	s.recs = s.recs[1:]
	return r, nil
}
func (s *listSource) Stats() Stats { return Stats{} }
func (s *listSource) Close() error { return nil }

func TestFeed(t *testing.T) {
	three := func() []Record {
		return []Record{{Kind: KindFlow}, {Kind: KindLostEvents, Lost: LostEvent{NumLost: 4}}, {Kind: KindFlow}}
	}
	broken := errors.New("stream broken")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		src     *listSource
		stopAt  int // stop after this many records; 0 never
		want    error
		visited int
	}{
		{"to the end", context.Background(), &listSource{recs: three()}, 0, nil, 3},
		{"stopped by the reader", context.Background(), &listSource{recs: three()}, 2, ErrStopped, 2},
		{"source fails after its records", context.Background(), &listSource{recs: three(), end: broken}, 0, broken, 3},
		{"context already done", canceled, &listSource{recs: three()}, 0, context.Canceled, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			visited := 0
			err := Feed(tc.ctx, tc.src, func(*Record) bool {
				visited++
				return tc.stopAt == 0 || visited < tc.stopAt
			})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Feed: %v, want %v", err, tc.want)
			}
			if visited != tc.visited {
				t.Errorf("visited %d records, want %d", visited, tc.visited)
			}
		})
	}
}
