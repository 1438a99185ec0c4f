package observe

// recentMap is a cache keyed by raw bytes that holds at most limit
// entries. When full it starts over: the entries kept are the recent ones,
// which is what a flow stream repeats (the flows of one connection come
// together), and memory stays flat however many distinct keys go by.
type recentMap[V any] struct {
	m     map[string]V
	limit int
}

func newRecentMap[V any](limit int) recentMap[V] {
	return recentMap[V]{m: make(map[string]V), limit: limit}
}

// get looks k up without allocating.
func (c *recentMap[V]) get(k []byte) (V, bool) {
	v, ok := c.m[string(k)]
	return v, ok
}

// put stores v under k (a string the caller already owns).
func (c *recentMap[V]) put(k string, v V) {
	if len(c.m) >= c.limit {
		c.m = make(map[string]V, c.limit/8)
	}
	c.m[k] = v
}

// interner hands out one shared copy of each distinct string it has seen
// recently: a capture names the same pods, namespaces and labels millions
// of times, and sharing them keeps both allocation and the graph's memory
// proportional to the cluster, not to the flow count.
type interner struct{ recent recentMap[string] }

func newInterner(limit int) interner { return interner{recent: newRecentMap[string](limit)} }

// get returns the shared copy of b.
func (in *interner) get(b []byte) string {
	if s, ok := in.recent.get(b); ok {
		return s
	}
	s := string(b)
	in.recent.put(s, s)
	return s
}
