package drift

import (
	"time"
)

// Kind is the kind of a finding.
type Kind string

// The kinds of finding, as the metrics' kind label names them.
const (
	KindUncovered   Kind = "uncovered"
	KindStale       Kind = "stale"
	KindUnprotected Kind = "unprotected"
)

// Finding is one thing the report says. Key identifies it across
// evaluations and restarts, so only new findings are logged.
type Finding struct {
	Kind Kind   `json:"kind"`
	Key  string `json:"key"`
	// Namespace is where the fix goes: the namespace of the policy to
	// change or of the unprotected workload.
	Namespace string `json:"namespace"`
	Summary   string `json:"summary"`

	Connection *ConnectionInfo `json:"connection,omitempty"`
	Rule       *RuleInfo       `json:"rule,omitempty"`
	// Workloads are the unprotected workloads ("namespace/name").
	Workloads []string `json:"workloads,omitempty"`
	// Patch is the smallest policy change that allows an uncovered
	// connection, as YAML to review and apply; PatchNote says what it
	// could not express.
	Patch     string `json:"patch,omitempty"`
	PatchNote string `json:"patchNote,omitempty"`

	// FirstReported is the flow time the finding was first reported.
	FirstReported time.Time `json:"firstReported,omitzero"`
}

// ConnectionInfo is an uncovered connection.
type ConnectionInfo struct {
	From string `json:"from"`
	To   string `json:"to"`
	Port string `json:"port"`
	// Side is which policy denies it: egress (the source's), ingress
	// (the destination's) or both.
	Side  string `json:"side"`
	Flows uint64 `json:"flows"`
	// Dropped counts the flows Hubble reported dropped; DroppedOnly says
	// no flow of it ever got through.
	Dropped     uint64    `json:"dropped"`
	DroppedOnly bool      `json:"droppedOnly"`
	FirstSeen   time.Time `json:"firstSeen,omitzero"`
	LastSeen    time.Time `json:"lastSeen,omitzero"`
}

// RuleInfo is a stale rule.
type RuleInfo struct {
	PolicyKind string `json:"policyKind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Direction  string `json:"direction"`
	Index      int    `json:"index"`
	Peers      string `json:"peers"`
	Ports      string `json:"ports"`
	// LastExercised is the last flow time a connection it allowed was
	// seen; zero when none ever was since drift first saw the rule at
	// Since.
	LastExercised time.Time `json:"lastExercised,omitzero"`
	Since         time.Time `json:"since,omitzero"`
}
