// Package routes learns a bounded HTTP route table from observed requests:
// path segments that name one object become a wildcard, so a table holds
// routes ("GET /users/[^/]+"), never one entry per object, and its memory
// grows with routes, not with the ids seen.
//
// A route's Path is a regular expression that Cilium's proxy (Envoy)
// matches against the whole request path, query string included.
package routes

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults for Options.
const (
	DefaultMaxRoutes   = 64
	DefaultMaxDistinct = 16
	// maxDepth bounds the segments a route keeps; deeper requests are
	// allowed under the prefix of their first maxDepth segments.
	maxDepth = 24
	// maxSegment bounds a literal segment's length; longer ones are
	// taken to name an object.
	maxSegment = 96
	// maxExamples is how many example requests a route keeps.
	maxExamples = 3
	// maxExample bounds one example's length.
	maxExample = 160
	// maxHosts is how many distinct Host names a table remembers.
	maxHosts = 4
)

// Segment is the regular expression a segment naming one object becomes.
const Segment = `[^/]+`

// Options bound a table.
type Options struct {
	// MaxRoutes is the most routes a table keeps (per workload and port);
	// above it, routes collapse to their common prefixes.
	MaxRoutes int `json:"max_routes,omitempty"`
	// MaxDistinct is how many distinct literal values one path position
	// (under one parent) may take before it is taken to name objects.
	MaxDistinct int `json:"max_distinct,omitempty"`
}

func (o Options) normalized() Options {
	if o.MaxRoutes <= 0 {
		o.MaxRoutes = DefaultMaxRoutes
	}
	if o.MaxDistinct <= 0 {
		o.MaxDistinct = DefaultMaxDistinct
	}
	return o
}

// Table is the route table of one (workload, port). The zero value is not
// usable; use New. A Table is not safe for concurrent use.
type Table struct {
	opts Options
	root *node
	// routes counts (node, method) pairs, kept equal to what Routes
	// returns.
	routes int
	// collapsed counts routes folded into a common prefix by MaxRoutes.
	collapsed int
	hosts     []string
	// manyHosts says more than maxHosts distinct Host names were seen.
	manyHosts bool
	// requests counts the requests added.
	requests uint64
}

// node is one path position. Literal children are kept until there are
// more than MaxDistinct of them; then they fold into the wildcard child.
type node struct {
	children map[string]*node
	wild     *node
	// grpc marks a gRPC service or method name, which is never templated.
	grpc bool
	// prefix says everything below this node is allowed (after a
	// MaxRoutes collapse); the node keeps no children.
	prefix bool
	// folded says the literal values here were many: new ones go to the
	// wildcard child.
	folded  bool
	methods map[string]*Stats
}

// Stats is what was seen of one route.
type Stats struct {
	Count       uint64
	First, Last time.Time
	// Query and Plain say whether the route was seen with a query string,
	// and without one.
	Query, Plain bool
	// Examples are the smallest few requests (path and query), so the
	// choice does not depend on arrival order.
	Examples []string
}

// New returns an empty table.
func New(opts Options) *Table {
	return &Table{opts: opts.normalized(), root: &node{}}
}

// Options returns the table's bounds.
func (t *Table) Options() Options { return t.opts }

// Requests is the number of requests added.
func (t *Table) Requests() uint64 { return t.requests }

// Collapsed is how many routes were folded into a common prefix because
// the table passed MaxRoutes.
func (t *Table) Collapsed() int { return t.collapsed }

// Request is an HTTP request as Hubble reports it.
type Request struct {
	Method string
	// URL is the request URL ("http://host:port/path?query"), or a bare
	// path.
	URL string
	// Protocol is "HTTP/1.1", "HTTP/2" and so on.
	Protocol string
	Time     time.Time
}

// parsed is a validated request.
type parsed struct {
	method string
	host   string
	segs   []string
	query  bool
	grpc   bool
	// example is the path and query as sent.
	example string
}

// validMethod says whether m is an HTTP method token as proxies report
// it: capital letters first, then capitals, digits, '-' or '_'.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 || m[0] < 'A' || m[0] > 'Z' {
		return false
	}
	for i := 1; i < len(m); i++ {
		if c := m[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parse validates a request: a method made of capital letters and a URL
// whose path starts with "/". The error says what is wrong, for the
// caller to report with where the record was; such a request is left out
// of routes.
func parse(r Request) (parsed, error) {
	var p parsed
	if !validMethod(r.Method) {
		return p, fmt.Errorf("malformed HTTP method %q", r.Method)
	}
	if r.URL == "" {
		return p, fmt.Errorf("%s request without a URL", r.Method)
	}
	for i := 0; i < len(r.URL); i++ {
		if c := r.URL[i]; c < 0x21 || c == 0x7f {
			return p, fmt.Errorf("malformed URL %q: control character or space", r.URL)
		}
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return p, fmt.Errorf("malformed URL %q: %v", r.URL, err)
	}
	if u.Opaque != "" {
		return p, fmt.Errorf("malformed URL %q: no path", r.URL)
	}
	path := u.EscapedPath()
	if path == "" && u.Host != "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return p, fmt.Errorf("malformed URL %q: the path does not start with \"/\"", r.URL)
	}
	p.method = r.Method
	p.host = strings.ToLower(u.Host)
	p.query = u.RawQuery != "" || u.ForceQuery
	p.example = path
	if p.query {
		p.example += "?" + u.RawQuery
	}
	if len(p.example) > maxExample {
		p.example = p.example[:maxExample]
	}
	if path != "/" {
		p.segs = strings.Split(path[1:], "/")
	}
	p.grpc = IsGRPC(r.Method, r.Protocol, path)
	return p, nil
}

// IsGRPC says whether a request is a gRPC call: an HTTP/2 POST to
// /package.Service/Method. Its path is an API name and never templated.
func IsGRPC(method, protocol, path string) bool {
	if method != "POST" || !strings.HasPrefix(protocol, "HTTP/2") || !strings.HasPrefix(path, "/") {
		return false
	}
	svc, m, ok := strings.Cut(path[1:], "/")
	return ok && svc != "" && m != "" && !strings.Contains(m, "/") && identChars(svc) && identChars(m)
}

func identChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Add folds a request into the table. A malformed request is not added
// and the error says why.
func (t *Table) Add(r Request) error {
	p, err := parse(r)
	if err != nil {
		return err
	}
	t.requests++
	t.addHost(p.host)
	n := t.root
	for depth, s := range p.segs {
		if n.prefix {
			break
		}
		if depth == maxDepth {
			t.makePrefix(n)
			break
		}
		n = t.child(n, s, p.grpc)
	}
	st := t.method(n, p.method)
	st.Count++
	if st.First.IsZero() || (!r.Time.IsZero() && r.Time.Before(st.First)) {
		st.First = r.Time
	}
	if r.Time.After(st.Last) {
		st.Last = r.Time
	}
	if p.query {
		st.Query = true
	} else {
		st.Plain = true
	}
	st.Examples = addSmallest(st.Examples, p.example, maxExamples)
	t.bound()
	return nil
}

func (t *Table) addHost(h string) {
	if t.manyHosts || slices.Contains(t.hosts, h) {
		return
	}
	if len(t.hosts) == maxHosts {
		t.manyHosts = true
		return
	}
	i, _ := slices.BinarySearch(t.hosts, h)
	t.hosts = slices.Insert(t.hosts, i, h)
}

// Host is the one Host name every request named, or "" when they named
// several (or none).
func (t *Table) Host() string {
	if t.manyHosts || len(t.hosts) != 1 {
		return ""
	}
	return t.hosts[0]
}

// Hosts are the distinct Host names seen (at most a few) and whether more
// were left out.
func (t *Table) Hosts() ([]string, bool) { return slices.Clone(t.hosts), t.manyHosts }

// child returns n's child for segment s, creating it; segments naming an
// object, and every segment once a position has too many values, go to
// the wildcard child.
func (t *Table) child(n *node, s string, grpc bool) *node {
	if c, ok := n.children[s]; ok {
		return c
	}
	if !grpc && (IsObjectID(s) || len(s) > maxSegment || n.folded) {
		if n.wild == nil {
			n.wild = &node{}
		}
		return n.wild
	}
	if n.children == nil {
		n.children = map[string]*node{}
	}
	c := &node{grpc: grpc}
	n.children[s] = c
	if !grpc && n.templatable() > t.opts.MaxDistinct {
		t.foldLiterals(n)
		return n.wild
	}
	return c
}

// templatable counts the literal children that may fold (not gRPC names).
func (n *node) templatable() int {
	k := 0
	for _, c := range n.children {
		if !c.grpc {
			k++
		}
	}
	return k
}

// foldLiterals merges n's templatable literal children into its wildcard
// child: the position names objects.
func (t *Table) foldLiterals(n *node) {
	if n.wild == nil {
		n.wild = &node{}
	}
	n.folded = true
	for s, c := range n.children {
		if c.grpc {
			continue
		}
		delete(n.children, s)
		t.mergeInto(n.wild, c)
	}
	if len(n.children) == 0 {
		n.children = nil
	}
}

// mergeInto folds src's subtree into dst, keeping t.routes right.
func (t *Table) mergeInto(dst, src *node) {
	for m, st := range src.methods {
		t.routes--
		d := t.method(dst, m)
		d.merge(st)
	}
	if src.prefix || dst.prefix {
		if !dst.prefix {
			t.makePrefix(dst)
		}
		t.absorb(dst, src)
		return
	}
	if src.folded && !dst.folded {
		t.foldLiterals(dst)
	}
	if src.wild != nil {
		if dst.wild == nil {
			dst.wild = &node{}
		}
		t.mergeInto(dst.wild, src.wild)
	}
	for s, c := range src.children {
		if dc, ok := dst.children[s]; ok {
			t.mergeInto(dc, c)
			continue
		}
		if !c.grpc && dst.folded {
			t.mergeInto(dst.wild, c)
			continue
		}
		if dst.children == nil {
			dst.children = map[string]*node{}
		}
		dst.children[s] = &node{grpc: c.grpc}
		t.mergeInto(dst.children[s], c)
	}
	if !dst.grpc && dst.templatable() > t.opts.MaxDistinct {
		t.foldLiterals(dst)
	}
}

func (t *Table) method(n *node, m string) *Stats {
	if st, ok := n.methods[m]; ok {
		return st
	}
	if n.methods == nil {
		n.methods = map[string]*Stats{}
	}
	st := &Stats{}
	n.methods[m] = st
	t.routes++
	return st
}

func (s *Stats) merge(o *Stats) {
	s.Count += o.Count
	if s.First.IsZero() || (!o.First.IsZero() && o.First.Before(s.First)) {
		s.First = o.First
	}
	if o.Last.After(s.Last) {
		s.Last = o.Last
	}
	s.Query = s.Query || o.Query
	s.Plain = s.Plain || o.Plain
	for _, e := range o.Examples {
		s.Examples = addSmallest(s.Examples, e, maxExamples)
	}
}

// makePrefix turns n into a prefix route: its subtree's routes fold into
// n, one per method.
func (t *Table) makePrefix(n *node) {
	before := t.routes
	t.absorb(n, n)
	n.children, n.wild, n.prefix = nil, nil, true
	t.collapsed += before - t.routes
}

// absorb moves the methods of src's descendants into dst.
func (t *Table) absorb(dst, src *node) {
	for _, c := range src.kids() {
		for m, st := range c.methods {
			t.routes--
			t.method(dst, m).merge(st)
		}
		t.absorb(dst, c)
	}
}

// kids lists a node's children, literal ones sorted, the wildcard last.
func (n *node) kids() []*node {
	keys := make([]string, 0, len(n.children))
	for s := range n.children {
		keys = append(keys, s)
	}
	slices.Sort(keys)
	out := make([]*node, 0, len(keys)+1)
	for _, s := range keys {
		out = append(out, n.children[s])
	}
	if n.wild != nil {
		out = append(out, n.wild)
	}
	return out
}

// bound collapses the deepest level of the table into prefixes until it
// holds at most MaxRoutes routes.
func (t *Table) bound() {
	for t.routes > t.opts.MaxRoutes {
		d := depth(t.root)
		if d == 0 {
			return
		}
		t.prefixAt(t.root, 0, d-1)
	}
}

func depth(n *node) int {
	d := 0
	for _, c := range n.kids() {
		d = max(d, 1+depth(c))
	}
	return d
}

func (t *Table) prefixAt(n *node, at, target int) {
	if at == target {
		if len(n.children) > 0 || n.wild != nil {
			t.makePrefix(n)
		}
		return
	}
	for _, c := range n.kids() {
		t.prefixAt(c, at+1, target)
	}
}

// Merge folds o into t (the result does not depend on the order of
// merges, except where MaxRoutes collapses).
func (t *Table) Merge(o *Table) {
	if o == nil {
		return
	}
	t.requests += o.requests
	t.collapsed += o.collapsed
	for _, h := range o.hosts {
		t.addHost(h)
	}
	t.manyHosts = t.manyHosts || o.manyHosts
	// o's routes are counted in t first, since merging subtracts what it
	// moves.
	t.routes += o.routes
	t.mergeInto(t.root, o.root)
	t.bound()
}

// Route is one rule of the table.
type Route struct {
	Method string
	// Path is the regular expression for the whole request path, query
	// string included, as Envoy matches it.
	Path string
	// Template is the route as a reader writes it: "/users/{id}",
	// "/api/**" for a collapsed prefix.
	Template string
	// GRPC marks a gRPC method.
	GRPC bool
	// Prefix marks a route collapsed by MaxRoutes.
	Prefix bool
	Stats
}

// Routes lists the table's routes sorted by template and method.
func (t *Table) Routes() []Route {
	var out []Route
	t.walk(t.root, nil, nil, false, &out)
	slices.SortFunc(out, func(a, b Route) int {
		if c := strings.Compare(a.Template, b.Template); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	return out
}

func (t *Table) walk(n *node, re, tmpl []string, grpc bool, out *[]Route) {
	if len(n.methods) > 0 {
		path, template := "/"+strings.Join(re, "/"), "/"+strings.Join(tmpl, "/")
		if n.prefix {
			if len(re) == 0 {
				path = "/.*"
			} else {
				path += "([/?].*)?"
			}
			template = strings.TrimSuffix(template, "/") + "/**"
		}
		for m, st := range n.methods {
			r := Route{Method: m, Path: path, Template: template, GRPC: grpc, Prefix: n.prefix, Stats: *st}
			r.Examples = slices.Clone(st.Examples)
			if st.Query && !n.prefix {
				r.Path += `(\?.*)?`
				r.Template += "?…"
			}
			*out = append(*out, r)
		}
	}
	keys := make([]string, 0, len(n.children))
	for s := range n.children {
		keys = append(keys, s)
	}
	slices.Sort(keys)
	for _, s := range keys {
		c := n.children[s]
		t.walk(c, append(slices.Clip(re), regexp.QuoteMeta(s)), append(slices.Clip(tmpl), s), grpc || c.grpc, out)
	}
	if n.wild != nil {
		t.walk(n.wild, append(slices.Clip(re), Segment), append(slices.Clip(tmpl), "{id}"), grpc, out)
	}
}

// Len is the number of routes.
func (t *Table) Len() int { return t.routes }

// IsObjectID says whether a path segment names one object: a number, a
// UUID or a long hex digest.
func IsObjectID(s string) bool {
	if s == "" {
		return false
	}
	digits, hex, dashes := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			hex++
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			hex++
		case c == '-':
			dashes++
		default:
			return false
		}
	}
	if digits == len(s) {
		return true
	}
	// A UUID (32 hex digits and 4 dashes) or a long hex digest.
	return (hex == 32 && dashes == 4) || (dashes == 0 && hex >= 16)
}

// addSmallest inserts v into the sorted list s keeping the n smallest.
func addSmallest(s []string, v string, n int) []string {
	i, found := slices.BinarySearch(s, v)
	if found || i >= n {
		return s
	}
	s = slices.Insert(s, i, v)
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// Clone returns a deep copy of the table.
func (t *Table) Clone() *Table {
	if t == nil {
		return nil
	}
	c := *t
	c.hosts = slices.Clone(t.hosts)
	c.root = t.root.clone()
	return &c
}

func (n *node) clone() *node {
	c := &node{grpc: n.grpc, prefix: n.prefix, folded: n.folded}
	if n.methods != nil {
		c.methods = make(map[string]*Stats, len(n.methods))
		for m, st := range n.methods {
			s := *st
			s.Examples = slices.Clone(st.Examples)
			c.methods[m] = &s
		}
	}
	if n.children != nil {
		c.children = make(map[string]*node, len(n.children))
		for s, k := range n.children {
			c.children[s] = k.clone()
		}
	}
	if n.wild != nil {
		c.wild = n.wild.clone()
	}
	return c
}
