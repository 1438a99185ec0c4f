package flowdecode

import (
	"fmt"
	"testing"
)

// TestCacheStaysBounded: a stream with more distinct keys than the
// cache holds grows it to its limit and no further, keeps hitting what it
// saw last, and never reads an unused slot as a hit.
func TestCacheStaysBounded(t *testing.T) {
	c := NewCache[int](3000) // rounds up to 4096
	if _, hit := c.Lookup(nil); hit {
		t.Fatal("the empty key hit an unused slot")
	}
	for i := 0; i < 100000; i++ {
		k := fmt.Sprintf("key-%d", i)
		s, hit := c.Lookup([]byte(k))
		if hit {
			t.Fatalf("%s hit before it was stored", k)
		}
		Fill(s, k, i)
		if s, hit := c.Lookup([]byte(k)); !hit || s.Val != i {
			t.Fatalf("%s: just stored, lookup = %v, %v", k, s.Val, hit)
		}
	}
	if len(c.slots) != 4096 {
		t.Errorf("cache has %d slots, want its limit 4096", len(c.slots))
	}
	hits := 0
	for i := 100000 - 1000; i < 100000; i++ {
		if s, hit := c.Lookup([]byte(fmt.Sprintf("key-%d", i))); hit && s.Val == i {
			hits++
		}
	}
	// 1000 recent keys in 4096 direct-mapped slots: about 11% collide.
	if hits < 800 {
		t.Errorf("only %d of the last 1000 keys are still cached", hits)
	}
	in := NewStrings(2)
	for _, s := range []string{"x", "y", "z", "x", ""} {
		if got := in.Get([]byte(s)); got != s {
			t.Errorf("interned %q as %q", s, got)
		}
	}
}
