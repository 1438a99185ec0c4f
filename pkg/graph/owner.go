package graph

import "strings"

// ownerFromPodName strips the suffixes a controller adds to a pod's name:
// "reviews-v1-545db77b95-j2n72" (Deployment: ReplicaSet hash and pod
// suffix) becomes "reviews-v1", "web-0" (StatefulSet ordinal) "web", and
// "node-exporter-x7k2q" (DaemonSet, Job) "node-exporter". It never
// allocates: the result is a prefix of name.
func ownerFromPodName(name string) string {
	last := strings.LastIndexByte(name, '-')
	if last <= 0 {
		return name
	}
	suffix := name[last+1:]
	if isDigits(suffix) {
		return name[:last]
	}
	if len(suffix) != 5 || !isAlnumLower(suffix) {
		return name
	}
	rest := name[:last]
	prev := strings.LastIndexByte(rest, '-')
	if prev > 0 {
		hash := rest[prev+1:]
		if len(hash) >= 6 && len(hash) <= 10 && isAlnumLower(hash) && looksLikeHash(hash) {
			return rest[:prev]
		}
	}
	return rest
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnumLower(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// looksLikeHash tells a ReplicaSet hash ("545db77b95", "b6994bb9") from a
// word that is part of the name ("server"): Kubernetes hashes use no
// vowels, so a hash has a digit or no vowel.
func looksLikeHash(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			return true
		}
	}
	return !strings.ContainsAny(s, "aeiou")
}
