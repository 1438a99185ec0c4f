package synth

// RoleLabel says what a netpolgen object is for, beside the managed-by
// label every object carries. Only learning-mode policies set it today.
const (
	RoleLabel = "netpolgen.io/role"
	// RoleVisibility marks the learning-mode policies `netpolgen
	// visibility` writes: they select every pod without turning default
	// deny on, so they deny nothing, and send DNS (and chosen HTTP ports)
	// through Cilium's proxies so Hubble reports names and requests. They
	// are scaffolding for learning, never part of the learned policy set.
	RoleVisibility = "visibility"
)

// IsVisibility reports whether an object's labels mark it as a
// learning-mode policy.
func IsVisibility(labels map[string]string) bool {
	return labels[RoleLabel] == RoleVisibility
}
