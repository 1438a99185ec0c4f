package graph

import (
	"net/url"
	"strings"

	"github.com/netpolgen/netpolgen/internal/l7/routes"
)

// httpEvidence renders a request as "METHOD /path/template", replacing
// path segments that identify one object (numbers, UUIDs, long hex) by
// "{id}" so evidence stays bounded and reads as a route.
func httpEvidence(method, rawURL string) string {
	path := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		path = u.EscapedPath()
	}
	if path == "" {
		path = "/"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if isIDSegment(s) {
			segs[i] = "{id}"
		}
	}
	return strings.ToUpper(method) + " " + strings.Join(segs, "/")
}

// isIDSegment is routes.IsObjectID: evidence and rules agree on what
// names one object.
func isIDSegment(s string) bool { return routes.IsObjectID(s) }

// dnsName normalises a DNS name for display and comparison.
func dnsName(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}
