package graph

import (
	"cmp"
	"slices"
)

// Capped lists keep the smallest n distinct values they are given, sorted.
// Keeping the smallest (not the first) makes what is kept independent of
// arrival order and makes merging associative and commutative.

// addCapped inserts v into the sorted, capped list s, reporting whether a
// value (v or another) was left out.
func addCapped[T cmp.Ordered](s []T, v T, n int) ([]T, bool) {
	if len(s) >= n && v > s[len(s)-1] {
		return s, true
	}
	i, found := slices.BinarySearch(s, v)
	if found {
		return s, false
	}
	if len(s) >= n {
		if i >= len(s) {
			return s, true
		}
		s = s[:len(s)-1]
		return slices.Insert(s, i, v), true
	}
	return slices.Insert(s, i, v), false
}

// unionCapped merges two sorted, capped lists into the smallest n of their
// union, reporting whether anything was left out.
func unionCapped[T cmp.Ordered](a, b []T, n int) ([]T, bool) {
	if len(a) == 0 && len(b) == 0 {
		return nil, false
	}
	out := make([]T, 0, min(len(a)+len(b), n))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var v T
		switch {
		case j >= len(b) || (i < len(a) && a[i] < b[j]):
			v = a[i]
			i++
		case i >= len(a) || b[j] < a[i]:
			v = b[j]
			j++
		default:
			v = a[i]
			i++
			j++
		}
		if len(out) == n {
			return out, true
		}
		out = append(out, v)
	}
	return out, false
}
