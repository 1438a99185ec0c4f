// Package local holds netpolgen's end-to-end suite on a real Cilium
// datapath on this machine, without containers: cilium-agent built from
// the cilium module runs against a loopback kube-apiserver, pods are
// network namespaces plumbed by the real cilium-cni, and the whole loop
// (Hubble -> learn -> apply -> enforce -> drift -> rollout) runs against
// them. The suite carries the build tag e2elocal; run it with
// `make e2e-local`. See README.md for what it starts and every agent flag.
package local
