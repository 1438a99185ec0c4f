package observe

import (
	"testing"
	"time"
)

// TestBackoffDelayIsJitteredAndCapped: each delay lies between a sixth
// below the doubled (and capped) step and the step itself, never above
// Max, and learners that failed together do not all wait the same.
func TestBackoffDelayIsJitteredAndCapped(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	for _, tc := range []struct {
		attempt int
		step    time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {40, time.Second}} {
		seen := map[time.Duration]bool{}
		for i := 0; i < 64; i++ {
			d := b.Delay(tc.attempt)
			if low := time.Duration(float64(tc.step) / (1 + backoffJitter)); d < low || d > tc.step {
				t.Fatalf("attempt %d: delay %s outside [%s, %s]", tc.attempt, d, low, tc.step)
			}
			seen[d] = true
		}
		if len(seen) < 8 {
			t.Errorf("attempt %d: 64 delays took only %d values; not jittered", tc.attempt, len(seen))
		}
	}
}
