package flowgen

import (
	"encoding/json"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Truth is what a generated capture means: the connections its scenario
// made, at the level a policy names them.
type Truth struct {
	Scenario string `json:"scenario"`
	Seed     int64  `json:"seed"`
	Flows    uint64 `json:"flows"`
	// LostEvents is the number of events the capture says were lost.
	LostEvents  uint64       `json:"lost_events"`
	Connections []Connection `json:"connections"`
	// L7 is what an L7 policy allows (scenarios with L7 calls only).
	L7 *L7Truth `json:"l7,omitempty"`
}

// Connection is one allowed (or, when Denied, policy-dropped) connection
// from a client identity to a server identity's port.
type Connection struct {
	From     PeerRef `json:"from"`
	To       PeerRef `json:"to"`
	Protocol string  `json:"protocol"`
	Port     uint16  `json:"port"`
	// Service is the Kubernetes Service the client dialled, if any.
	Service string `json:"service,omitempty"`
	Denied  bool   `json:"denied,omitempty"`
	// NoIsReply marks connections whose flows carry no is_reply.
	NoIsReply bool `json:"no_is_reply,omitempty"`
}

// PeerRef names a peer the way a policy does.
type PeerRef struct {
	// Kind is "workload", "world", "host", "kube-apiserver" or "remote-node".
	Kind      string            `json:"kind"`
	Namespace string            `json:"namespace,omitempty"`
	Name      string            `json:"name,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	IPs       []netip.Addr      `json:"ips,omitempty"`
	DNSName   string            `json:"dns_name,omitempty"`
}

// String is a compact, stable rendering used for sorting and messages.
func (p PeerRef) String() string {
	switch p.Kind {
	case "workload":
		return p.Namespace + "/" + p.Name
	case "world":
		if p.DNSName != "" {
			return "world:" + p.DNSName
		}
		ips := make([]string, len(p.IPs))
		for i, ip := range p.IPs {
			ips[i] = ip.String()
		}
		return "world:" + strings.Join(ips, ",")
	}
	return p.Kind
}

func (c Connection) key() string {
	return c.From.String() + "|" + c.To.String() + "|" + c.Protocol + "|" + strconv.Itoa(int(c.Port))
}

// WriteJSON writes the truth as indented JSON.
func (t *Truth) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// truthOf derives the connections a scenario makes: its calls, plus a DNS
// lookup from every workload that dials a name.
func truthOf(s *Scenario) []Connection {
	seen := map[string]bool{}
	var out []Connection
	add := func(c Connection) {
		if k := c.key(); !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	for _, c := range s.Calls {
		conn := Connection{
			From: s.peerRef(c.From), To: s.peerRef(c.To), Protocol: c.Protocol.String(), Port: c.Port,
			Service: c.Service, Denied: c.Denied, NoIsReply: c.NoIsReply,
		}
		add(conn)
		if s.DNS >= 0 && c.From.Kind == PeerWorkload && (c.Service != "" || c.To.DNSName != "") {
			add(Connection{From: conn.From, To: s.peerRef(Peer{Kind: PeerWorkload, Workload: s.DNS}), Protocol: "UDP", Port: 53, Service: "kube-dns"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

func (s *Scenario) peerRef(p Peer) PeerRef {
	switch p.Kind {
	case PeerWorkload:
		w := s.Workloads[p.Workload]
		return PeerRef{Kind: "workload", Namespace: w.Namespace, Name: w.Name, Labels: w.Labels}
	case PeerWorld:
		return PeerRef{Kind: "world", IPs: p.IPs, DNSName: p.DNSName}
	case PeerHost:
		return PeerRef{Kind: "host"}
	case PeerKubeAPIServer:
		return PeerRef{Kind: "kube-apiserver"}
	}
	return PeerRef{Kind: "remote-node"}
}
