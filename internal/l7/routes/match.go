package routes

import (
	"net/url"
	"regexp"
)

// FullMatch reports whether pattern matches all of s, as Envoy's
// safe_regex matches a header (RE2 full match): the pattern is anchored
// at both ends. An empty pattern matches anything, as Cilium's
// PortRuleHTTP says of its empty fields.
func FullMatch(pattern, s string) (bool, error) {
	if pattern == "" {
		return true, nil
	}
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return false, err
	}
	return re.MatchString(s), nil
}

// RequestPath is what Envoy matches a path rule against: the path and
// query of the request URL as sent (":path"), or "" when the URL is
// malformed.
func RequestPath(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		p += "?" + u.RawQuery
	}
	return p
}
