package routes

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

type rt struct{ method, path string }

func routesOf(t *Table) []rt {
	var out []rt
	for _, r := range t.Routes() {
		out = append(out, rt{r.Method, r.Path})
	}
	return out
}

func addAll(t *testing.T, tab *Table, reqs ...Request) {
	t.Helper()
	for _, r := range reqs {
		if err := tab.Add(r); err != nil {
			t.Fatalf("Add(%+v): %v", r, err)
		}
	}
}

func get(u string) Request { return Request{Method: "GET", URL: u, Protocol: "HTTP/1.1"} }

func names(prefix string, n int) []Request {
	var out []Request
	for i := 0; i < n; i++ {
		out = append(out, get(fmt.Sprintf("http://svc/%s/user%c%c/profile", prefix, 'a'+i%26, 'a'+i/26)))
	}
	return out
}

func TestTemplating(t *testing.T) {
	tests := []struct {
		name string
		reqs []Request
		want []rt
	}{
		{"numbers become a segment", []Request{get("http://reviews:9080/reviews/1"), get("http://reviews:9080/reviews/22")},
			[]rt{{"GET", `/reviews/[^/]+`}}},
		{"uuid and hex", []Request{get("/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301/items"), get("/blobs/0123456789abcdef0123")},
			[]rt{{"GET", `/blobs/[^/]+`}, {"GET", `/orders/[^/]+/items`}}},
		{"a literal beside ids stays", []Request{get("/users/me"), get("/users/7")},
			[]rt{{"GET", `/users/me`}, {"GET", `/users/[^/]+`}}},
		{"query string allows any query after", []Request{get("/search?q=a"), get("/items")},
			[]rt{{"GET", `/items`}, {"GET", `/search(\?.*)?`}}},
		{"metacharacters are escaped", []Request{get("/v1.0/a+b/(x)")},
			[]rt{{"GET", `/v1\.0/a\+b/\(x\)`}}},
		{"methods are routes of their own", []Request{{Method: "POST", URL: "/carts"}, {Method: "DELETE", URL: "/carts/9"}, {Method: "PUT", URL: "/carts/10"}},
			[]rt{{"POST", `/carts`}, {"DELETE", `/carts/[^/]+`}, {"PUT", `/carts/[^/]+`}}},
		{"root", []Request{get("http://web/")}, []rt{{"GET", `/`}}},
		{"few names stay literal", names("u", 3),
			[]rt{{"GET", `/u/useraa/profile`}, {"GET", `/u/userba/profile`}, {"GET", `/u/userca/profile`}}},
		{"many names under one parent fold", names("u", 40), []rt{{"GET", `/u/[^/]+/profile`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := New(Options{})
			addAll(t, tab, tc.reqs...)
			got := routesOf(tab)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("routes:\n got %v\nwant %v", got, tc.want)
			}
			if tab.Len() != len(got) {
				t.Errorf("Len %d, routes %d", tab.Len(), len(got))
			}
			assertAllMatch(t, tab, tc.reqs)
		})
	}
}

// assertAllMatch checks every request is allowed by some route, with
// Envoy's full-match semantics.
func assertAllMatch(t *testing.T, tab *Table, reqs []Request) {
	t.Helper()
	routes := tab.Routes()
	for _, r := range reqs {
		path := RequestPath(r.URL)
		ok := false
		for _, rt := range routes {
			m, err := FullMatch(rt.Path, path)
			if err != nil {
				t.Fatalf("route %q does not compile: %v", rt.Path, err)
			}
			if m && rt.Method == r.Method {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("%s %s matches no route of %v", r.Method, path, routesOf(tab))
		}
	}
}

func TestDeniesWhatWasNotSeen(t *testing.T) {
	tab := New(Options{})
	addAll(t, tab, get("/reviews/1"), get("/reviews/2?verbose=1"), get("/items"), Request{Method: "POST", URL: "/items"})
	deny := []Request{
		{Method: "DELETE", URL: "/reviews/1"}, // another method on an observed route
		get("/ratings/1"),                     // a sibling route
		get("/reviews/1/secrets"),             // past an observed route
		get("/items?x=1"),                     // a query on a route seen without one
		get("/items/"),
		get("/"),
	}
	routes := tab.Routes()
	for _, r := range deny {
		for _, rt := range routes {
			if m, _ := FullMatch(rt.Path, RequestPath(r.URL)); m && rt.Method == r.Method {
				t.Errorf("%s %s is allowed by %s %s", r.Method, r.URL, rt.Method, rt.Path)
			}
		}
	}
}

func TestGRPCIsNeverTemplated(t *testing.T) {
	tab := New(Options{MaxDistinct: 4})
	var reqs []Request
	for i := 0; i < 10; i++ {
		reqs = append(reqs, Request{Method: "POST", URL: fmt.Sprintf("http://cart:7070/hipstershop.CartService/Method%c", 'A'+i), Protocol: "HTTP/2"})
	}
	addAll(t, tab, reqs...)
	got := tab.Routes()
	if len(got) != 10 {
		t.Fatalf("want 10 gRPC routes, got %v", routesOf(tab))
	}
	for _, r := range got {
		if !r.GRPC || strings.Contains(r.Path, Segment) || !strings.HasPrefix(r.Path, `/hipstershop\.CartService/Method`) {
			t.Errorf("route %+v", r)
		}
	}
	if !IsGRPC("POST", "HTTP/2", "/a.B/C") || IsGRPC("GET", "HTTP/2", "/a.B/C") || IsGRPC("POST", "HTTP/1.1", "/a.B/C") || IsGRPC("POST", "HTTP/2", "/a/b/c") {
		t.Error("IsGRPC")
	}
}

func TestMalformedIsReportedAndLeftOut(t *testing.T) {
	bad := []Request{
		{Method: "", URL: "/a"},
		{Method: "get", URL: "/a"},
		{Method: "GET /", URL: "/a"},
		{Method: "GET", URL: ""},
		{Method: "GET", URL: "/a b"},
		{Method: "GET", URL: "http://[::1/x"},
		{Method: "GET", URL: "mailto:x@y"},
		{Method: "GET", URL: "relative/path"},
		{Method: "GET", URL: "/a\x00b"},
	}
	tab := New(Options{})
	for _, r := range bad {
		if err := tab.Add(r); err == nil {
			t.Errorf("Add(%q %q) accepted", r.Method, r.URL)
		}
	}
	if tab.Len() != 0 || len(tab.Routes()) != 0 || tab.Requests() != 0 {
		t.Errorf("malformed requests made routes: %v", routesOf(tab))
	}
}

func TestBoundCollapsesToPrefixes(t *testing.T) {
	tab := New(Options{MaxRoutes: 8, MaxDistinct: 100})
	var reqs []Request
	for a := 0; a < 5; a++ {
		for b := 0; b < 6; b++ {
			reqs = append(reqs, get(fmt.Sprintf("/api/r%d/s%d", a, b)))
		}
	}
	addAll(t, tab, reqs...)
	if tab.Len() > 8 || len(tab.Routes()) > 8 {
		t.Fatalf("%d routes above the bound: %v", tab.Len(), routesOf(tab))
	}
	if tab.Collapsed() == 0 {
		t.Error("no collapse counted")
	}
	assertAllMatch(t, tab, reqs)
	for _, r := range tab.Routes() {
		if !r.Prefix || !strings.HasPrefix(r.Template, "/api/r") {
			t.Errorf("route %s %s: want prefix /api/rN/**", r.Method, r.Template)
		}
	}
	// Nothing outside the observed prefixes.
	if m, _ := FullMatch(tab.Routes()[0].Path, "/other"); m {
		t.Error("a prefix route matches /other")
	}
}

func TestHost(t *testing.T) {
	tab := New(Options{})
	addAll(t, tab, get("http://reviews:9080/a"), get("http://reviews:9080/b"))
	if tab.Host() != "reviews:9080" {
		t.Errorf("Host %q", tab.Host())
	}
	addAll(t, tab, get("http://reviews.default:9080/a"))
	if tab.Host() != "" {
		t.Errorf("two hosts, Host %q", tab.Host())
	}
}

func TestStats(t *testing.T) {
	tab := New(Options{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 5; i >= 0; i-- {
		r := get(fmt.Sprintf("/reviews/%d", i))
		r.Time = t0.Add(time.Duration(i) * time.Minute)
		addAll(t, tab, r)
	}
	rs := tab.Routes()
	if len(rs) != 1 {
		t.Fatal(routesOf(tab))
	}
	r := rs[0]
	if r.Count != 6 || !r.First.Equal(t0) || !r.Last.Equal(t0.Add(5*time.Minute)) || fmt.Sprint(r.Examples) != "[/reviews/0 /reviews/1 /reviews/2]" || r.Template != "/reviews/{id}" {
		t.Errorf("%+v", r)
	}
}

func TestMergeAndRoundTrip(t *testing.T) {
	all := names("u", 20)
	one := New(Options{})
	addAll(t, one, all...)
	a, b := New(Options{}), New(Options{})
	addAll(t, a, all[:10]...)
	addAll(t, b, all[10:]...)
	if len(a.Routes()) != 10 {
		t.Fatalf("half the names fold already: %v", routesOf(a))
	}
	a.Merge(b)
	if fmt.Sprint(routesOf(a)) != fmt.Sprint(routesOf(one)) || a.Len() != one.Len() || a.Requests() != 20 {
		t.Errorf("merged %v (len %d), one table %v", routesOf(a), a.Len(), routesOf(one))
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back Table
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&back)
	if string(again) != string(data) {
		t.Errorf("round trip changed the table:\n%s\n%s", data, again)
	}
	if err := json.Unmarshal([]byte(`{"root":{"methods":[{"method":"get x","count":1}]}}`), &back); err == nil {
		t.Error("a malformed method in a saved table was accepted")
	}
}

func TestMemoryBoundedByRoutes(t *testing.T) {
	tab := New(Options{})
	for i := 0; i < 50000; i++ {
		addAll(t, tab, get(fmt.Sprintf("/users/u%dx/orders/%d?page=%d", i, i*7, i%3)))
	}
	if n := nodes(tab.root); n > 8 {
		t.Errorf("%d nodes kept for one route", n)
	}
	if got := routesOf(tab); fmt.Sprint(got) != fmt.Sprint([]rt{{"GET", `/users/[^/]+/orders/[^/]+(\?.*)?`}}) {
		t.Errorf("routes %v", got)
	}
}

func nodes(n *node) int {
	k := 1
	for _, c := range n.kids() {
		k += nodes(c)
	}
	return k
}

func TestCloneIsIndependent(t *testing.T) {
	a := New(Options{})
	addAll(t, a, get("http://h/a/1"), get("http://h/b?x=1"))
	c := a.Clone()
	addAll(t, c, get("/c"), get("http://other/a/2"))
	if len(a.Routes()) != 2 || a.Requests() != 2 || a.Host() != "h" || a.Routes()[0].Count != 1 {
		t.Errorf("adding to a clone changed the original: %v", routesOf(a))
	}
	if len(c.Routes()) != 3 || c.Routes()[0].Count != 2 {
		t.Errorf("clone %v", routesOf(c))
	}
}
