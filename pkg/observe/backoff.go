package observe

import (
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Backoff is a capped, jittered exponential backoff between reconnect
// attempts: the live client's and drift's. The jitter matters because
// learners sharded by node lose one Relay together and would otherwise
// come back to it in step.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// backoffJitter spreads each delay over the sixth below it.
const backoffJitter = 0.2

// DefaultBackoff retries quickly at first, then every 30 seconds at most.
func DefaultBackoff() Backoff { return Backoff{Initial: 250 * time.Millisecond, Max: 30 * time.Second} }

// Delay is the wait before reconnect attempt n (1-based): Initial
// doubled n-1 times, at most Max, less up to a sixth at random.
func (b Backoff) Delay(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return wait.Jitter(time.Duration(float64(d)/(1+backoffJitter)), backoffJitter)
}
