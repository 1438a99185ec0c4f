package replay

import (
	"fmt"
	"slices"
	"strings"
)

// selector is a parsed Kubernetes-style label selector over Cilium labels
// ("k8s:app=reviews", "reserved:world"), as hubble observe --label sends:
// comma-separated requirements "key", "!key", "key=v", "key==v",
// "key!=v", "key in (a,b)" and "key notin (a,b)". A key may name a Cilium
// label source ("k8s:app"); without one it matches labels of any source.
type selector []requirement

type operator uint8

const (
	opExists operator = iota
	opNotExists
	opEquals
	opNotEquals
	opIn
	opNotIn
)

type requirement struct {
	source string // "" for any source
	key    string
	op     operator
	values []string
}

// parseSelector parses a selector; the empty selector matches everything.
func parseSelector(s string) (selector, error) {
	var sel selector
	for _, part := range splitRequirements(s) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		r, err := parseRequirement(part)
		if err != nil {
			return nil, fmt.Errorf("label selector %q: %w", s, err)
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// splitRequirements splits at commas outside parentheses.
func splitRequirements(s string) []string {
	var (
		parts []string
		depth int
		start int
	)
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func parseRequirement(s string) (requirement, error) {
	var r requirement
	switch {
	case strings.HasPrefix(s, "!"):
		r.op = opNotExists
		r.setKey(strings.TrimSpace(s[1:]))
	case strings.Contains(s, "!="):
		k, v, _ := strings.Cut(s, "!=")
		r.op, r.values = opNotEquals, []string{strings.TrimSpace(v)}
		r.setKey(strings.TrimSpace(k))
	case strings.Contains(s, "="):
		k, v, _ := strings.Cut(s, "=")
		r.op, r.values = opEquals, []string{strings.TrimSpace(strings.TrimPrefix(v, "="))}
		r.setKey(strings.TrimSpace(k))
	case strings.Contains(s, " notin ") || strings.Contains(s, " in "):
		sep, op := " in ", opIn
		if strings.Contains(s, " notin ") {
			sep, op = " notin ", opNotIn
		}
		k, set, _ := strings.Cut(s, sep)
		set = strings.TrimSpace(set)
		if !strings.HasPrefix(set, "(") || !strings.HasSuffix(set, ")") {
			return r, fmt.Errorf("%q: the values of in/notin go in parentheses", s)
		}
		r.op = op
		for _, v := range strings.Split(set[1:len(set)-1], ",") {
			r.values = append(r.values, strings.TrimSpace(v))
		}
		r.setKey(strings.TrimSpace(k))
	default:
		r.op = opExists
		r.setKey(s)
	}
	if r.key == "" {
		return r, fmt.Errorf("%q: missing label key", s)
	}
	if strings.ContainsAny(r.key, " ()!=") {
		return r, fmt.Errorf("%q: invalid label key %q", s, r.key)
	}
	return r, nil
}

func (r *requirement) setKey(k string) {
	if src, key, ok := strings.Cut(k, ":"); ok {
		if src == "any" {
			src = ""
		}
		r.source, r.key = src, key
		return
	}
	r.key = k
}

func (sel selector) matches(labels []string) bool {
	for _, r := range sel {
		if !r.matches(labels) {
			return false
		}
	}
	return true
}

func (r requirement) matches(labels []string) bool {
	found, valueMatch := false, false
	for _, l := range labels {
		src, key, value := splitLabel(l)
		if key != r.key || (r.source != "" && r.source != src) {
			continue
		}
		found = true
		if slices.Contains(r.values, value) {
			valueMatch = true
		}
	}
	switch r.op {
	case opExists:
		return found
	case opNotExists:
		return !found
	case opEquals, opIn:
		return valueMatch
	default: // opNotEquals, opNotIn: as in Kubernetes, an absent key matches
		return !valueMatch
	}
}

// splitLabel splits a Cilium label "source:key=value"; the source is
// "unspec" when the label has none.
func splitLabel(l string) (src, key, value string) {
	src, rest, ok := strings.Cut(l, ":")
	if !ok || strings.Contains(src, "=") {
		src, rest = "unspec", l
	}
	key, value, _ = strings.Cut(rest, "=")
	return src, key, value
}
