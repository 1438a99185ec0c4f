// Package l7test holds the integration tests of L7 policy: policies
// learned with L7 rules from the flow generator's L7 scenario, checked by
// the real kube-apiserver with Cilium's CRDs. It has no code of its own.
package l7test
