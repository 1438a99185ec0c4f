// Package flowgen writes realistic, seeded Hubble flow captures together
// with the ground truth of the connections it meant, so every later stage
// can be tested against a known answer.
package flowgen

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Scenario is a cluster's workloads and the calls between them.
type Scenario struct {
	Name      string
	Nodes     []string
	Workloads []Workload
	Calls     []Call
	// DNS indexes the workload that answers DNS, or is -1 for none.
	DNS int
	// LostEvents is how many lost_events notices to scatter through the
	// capture, as a ring buffer overflowing would.
	LostEvents int
	// PodHostOffset skips this many host numbers of each node's pod range,
	// so a later day's pods get addresses the earlier day's did not have.
	PodHostOffset int
}

// Workload is a set of pods sharing stable labels.
type Workload struct {
	Namespace string
	Name      string
	// Labels are the stable labels a selector should use.
	Labels map[string]string
	// Kind is the owning controller: Deployment, StatefulSet, DaemonSet
	// or Job (a CronJob's run).
	Kind     string
	Replicas int
	// Run names a Job's run ("28950000" makes the Job report-28950000),
	// which its pods' job-name and controller-uid labels carry.
	Run string
	// ReleaseLabels are labels a chart or pipeline stamps on every pod and
	// changes with each release (helm.sh/chart, app.kubernetes.io/version).
	ReleaseLabels map[string]string
	// Releases, when set, split the replicas across rollouts: each gets a
	// version label and its own pod-template-hash.
	Releases []string
	// VolatileLabels adds the per-pod and per-rollout labels an agent with
	// a broad label filter reports (pod-template-hash, pod-name, ...).
	VolatileLabels bool
	// ServiceAccount defaults to Name.
	ServiceAccount string
}

// PeerKind says what a call's endpoint is.
type PeerKind uint8

const (
	PeerWorkload PeerKind = iota
	PeerWorld
	PeerHost
	PeerKubeAPIServer
	PeerRemoteNode
)

// Peer is one end of a call.
type Peer struct {
	Kind PeerKind
	// Workload indexes Scenario.Workloads for PeerWorkload.
	Workload int
	// IPs are the addresses of a world peer; DNSName, when set, is the
	// name clients resolve to reach them.
	IPs     []netip.Addr
	DNSName string
	TTL     uint32
	// InTurn uses IPs one after another instead of at random, so a pool
	// of internet clients shows each client once until it wraps.
	InTurn bool
}

// Call is a recurring connection from one peer to a port of another.
type Call struct {
	From, To Peer
	Protocol observe.Protocol
	// Port is the port the destination pod receives on, after Service
	// translation; Service and ServicePort name what the client dialled.
	Port        uint16
	Service     string
	ServicePort uint16
	// PerHour is how many connections are made per hour.
	PerHour float64
	// HTTP, when set, adds L7 request and response records.
	HTTP *HTTPCall
	// Requests and Kafka, when set, add one L7 request and response per
	// connection, drawn from them (see l7.go).
	Requests []Request
	Kafka    []KafkaRequest
	// Names, when set, are the DNS names clients resolve to reach To, one
	// drawn per connection (a family such as one name per shard).
	Names []string
	// Denied calls are dropped by policy at the destination.
	Denied bool
	// OneWay calls get no response (UDP fire-and-forget such as statsd).
	OneWay bool
	// NoIsReply makes the agent omit is_reply on this call's flows, as
	// older agents and some observation points do.
	NoIsReply bool
}

// HTTPCall is the L7 shape of a call.
type HTTPCall struct {
	Method string
	Path   string
}

func (w Workload) serviceAccount() string {
	if w.ServiceAccount != "" {
		return w.ServiceAccount
	}
	return w.Name
}

// Validate checks that every call names existing workloads and sensible
// ports, so a scenario mistake fails loudly instead of writing odd flows.
func (s *Scenario) Validate() error {
	if len(s.Nodes) == 0 || len(s.Nodes) > 11*256 {
		return fmt.Errorf("scenario %q: %d nodes, want 1 to %d", s.Name, len(s.Nodes), 11*256)
	}
	pods := 0
	for _, w := range s.Workloads {
		pods += w.Replicas
	}
	if s.PodHostOffset < 0 || s.PodHostOffset >= maxPodsPerNode {
		return fmt.Errorf("scenario %q: PodHostOffset %d, want 0 to %d", s.Name, s.PodHostOffset, maxPodsPerNode-1)
	}
	if perNode := maxPodsPerNode - s.PodHostOffset; pods > len(s.Nodes)*perNode {
		return fmt.Errorf("scenario %q: %d pods do not fit on %d nodes of %d pods", s.Name, pods, len(s.Nodes), perNode)
	}
	for i, w := range s.Workloads {
		if w.Namespace == "" || w.Name == "" || w.Replicas < 1 || len(w.Labels) == 0 {
			return fmt.Errorf("scenario %q: workload %d (%s/%s) needs a namespace, name, labels and replicas", s.Name, i, w.Namespace, w.Name)
		}
		if (w.Kind == "Job") != (w.Run != "") {
			return fmt.Errorf("scenario %q: workload %d (%s/%s): a Job, and only a Job, needs a Run", s.Name, i, w.Namespace, w.Name)
		}
	}
	if s.DNS >= len(s.Workloads) {
		return fmt.Errorf("scenario %q: DNS names workload %d of %d", s.Name, s.DNS, len(s.Workloads))
	}
	for i, c := range s.Calls {
		for _, p := range []Peer{c.From, c.To} {
			if p.Kind == PeerWorkload && (p.Workload < 0 || p.Workload >= len(s.Workloads)) {
				return fmt.Errorf("scenario %q: call %d names workload %d of %d", s.Name, i, p.Workload, len(s.Workloads))
			}
			if p.Kind == PeerWorld && len(p.IPs) == 0 {
				return fmt.Errorf("scenario %q: call %d: a world peer needs IPs", s.Name, i)
			}
		}
		if c.Protocol.HasPorts() && c.Port == 0 {
			return fmt.Errorf("scenario %q: call %d: no port", s.Name, i)
		}
		if c.OneWay && c.Protocol != observe.ProtoUDP {
			return fmt.Errorf("scenario %q: call %d: only UDP calls can be one-way", s.Name, i)
		}
		if c.PerHour <= 0 {
			return fmt.Errorf("scenario %q: call %d: PerHour must be positive", s.Name, i)
		}
	}
	return nil
}

// sortedKeys returns m's keys in order, so generated labels are stable.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
