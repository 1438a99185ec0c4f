// Package kind holds netpolgen's end-to-end suite on a real Cilium cluster
// in kind. The suite itself (e2e_test.go, build tag e2e) needs Docker; the
// static checks in this package run everywhere as part of make test.
package kind
