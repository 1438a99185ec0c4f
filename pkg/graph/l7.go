package graph

import (
	"net/url"
	"strings"
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

func isIDSegment(s string) bool {
	if s == "" {
		return false
	}
	if isDigits(s) {
		return true
	}
	hex, dashes := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			hex++
		case c == '-':
			dashes++
		default:
			return false
		}
	}
	// A UUID (32 hex digits and 4 dashes) or a long hex digest.
	return (hex == 32 && dashes == 4) || (dashes == 0 && hex >= 16)
}

// dnsName normalises a DNS name for display and comparison.
func dnsName(s string) string {
	return strings.ToLower(strings.TrimSuffix(s, "."))
}
