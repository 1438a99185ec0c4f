package observe

// interner hands out one shared copy of each distinct string, up to a
// limit: a capture names the same few hundred pods, namespaces and labels
// millions of times, and sharing them keeps both allocation and the
// graph's memory proportional to the cluster, not to the flow count.
type interner struct {
	m     map[string]string
	limit int
}

func newInterner(limit int) interner {
	return interner{m: make(map[string]string), limit: limit}
}

// get returns the shared copy of b, adding one while under the limit.
func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in.m) < in.limit {
		in.m[s] = s
	}
	return s
}
