package flowgen

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// end is one side of a connection as Hubble sees it; node is the index of
// the node whose agent observes it, or -1 when it is not a local pod.
type end struct {
	ep   observe.Endpoint
	ip   netip.Addr
	node int
	// wl is the workload index, or -1.
	wl int
}

func reserved(identity uint32, label string) observe.Endpoint {
	return observe.Endpoint{Identity: identity, Labels: []string{"reserved:" + label}}
}

// pickEnd chooses a concrete pod or address for one end of a call.
// server is the other end, when already chosen (host probes come from the
// server's own node).
func (g *gen) pickEnd(p Peer, server *end) end {
	switch p.Kind {
	case PeerWorkload:
		pods := g.pods[p.Workload]
		pd := pods[g.rng.IntN(len(pods))]
		return end{ep: pd.ep, ip: pd.ip, node: pd.node, wl: p.Workload}
	case PeerWorld:
		i := 0
		if p.InTurn {
			i = g.turns[&p.IPs[0]] % len(p.IPs)
			g.turns[&p.IPs[0]]++
		} else {
			i = g.rng.IntN(len(p.IPs))
		}
		return end{ep: reserved(2, "world"), ip: p.IPs[i], node: -1, wl: -1}
	case PeerHost:
		node := 0
		if server != nil && server.node >= 0 {
			node = server.node
		}
		return end{ep: reserved(1, "host"), ip: g.nodeIPs[node], node: -1, wl: -1}
	case PeerKubeAPIServer:
		return end{ep: reserved(7, "kube-apiserver"), ip: g.apiserver, node: -1, wl: -1}
	}
	return end{ep: reserved(6, "remote-node"), ip: g.nodeIPs[len(g.nodeIPs)-1], node: -1, wl: -1}
}

// packet is one step of a connection: who sends it and what it carries.
type packet struct {
	fromClient bool
	flags      observe.TCPFlags
}

// side is one agent's view of a connection: the client's node sees it
// leave (egress), the server's node sees it arrive (ingress).
type side struct {
	node int
	dir  flowpb.TrafficDirection
}

// connection writes every flow one connection of call c produces,
// starting at t.
func (g *gen) connection(c *Call, t time.Time) {
	server := g.pickEnd(c.To, nil)
	client := g.pickEnd(c.From, &server)
	name := c.To.DNSName
	if client.wl >= 0 && g.s.DNS >= 0 && (c.To.DNSName != "" || len(c.Names) > 0 || (c.Service != "" && g.rng.IntN(2) == 0)) {
		t, name = g.lookup(client, c, server, t)
	}
	var sides []side
	if client.node >= 0 {
		sides = append(sides, side{client.node, flowpb.TrafficDirection_EGRESS})
	}
	if server.node >= 0 {
		sides = append(sides, side{server.node, flowpb.TrafficDirection_INGRESS})
	}
	sport := uint16(32768 + g.rng.IntN(60999-32768))
	base := observe.Flow{
		IPVersion: flowpb.IPVersion_IPv4,
		L4:        observe.L4{Protocol: c.Protocol},
		Type:      flowpb.FlowType_L3_L4,
	}
	if c.Service != "" && server.wl >= 0 {
		base.DestinationService = observe.Service{Name: c.Service, Namespace: g.s.Workloads[server.wl].Namespace}
	}
	if name != "" && (c.To.DNSName != "" || len(c.Names) > 0) {
		base.DestinationNames = []string{name}
	}
	packets := g.packets(c)
	for _, sd := range sides {
		at := t
		if sd.dir == flowpb.TrafficDirection_INGRESS {
			at = at.Add(300 * time.Microsecond)
		}
		// The first packet is judged by policy on each side.
		verdict := g.flow(base, c, client, server, sport, sd, packets[0], at)
		verdict.EventType, verdict.EventSubType = 5, 0
		verdict.ObservationPoint = 0
		dropped := c.Denied && sd.dir == flowpb.TrafficDirection_INGRESS
		if dropped {
			verdict.Verdict = flowpb.Verdict_DROPPED
			verdict.DropReason = flowpb.DropReason_POLICY_DENIED
		}
		g.emit(&verdict)
		for i, p := range packets {
			f := g.flow(base, c, client, server, sport, sd, p, at.Add(time.Duration(i+1)*time.Millisecond))
			if dropped {
				f.Verdict, f.DropReason = flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENIED
				f.EventType, f.EventSubType, f.ObservationPoint = 1, int32(flowpb.DropReason_POLICY_DENIED), 0
			}
			g.emit(&f)
			if c.HTTP != nil && sd.dir == flowpb.TrafficDirection_INGRESS && i == 2 {
				g.httpRecords(base, c, client, server, sport, sd, f.Time)
			}
			if c.hasL7() && !dropped && sd.dir == flowpb.TrafficDirection_INGRESS && i == 2 {
				g.l7Records(base, c, client, server, sport, sd, f.Time)
			}
		}
	}
}

// packets lists the packets of one connection of c.
func (g *gen) packets(c *Call) []packet {
	syn := packet{true, observe.FlagSYN}
	switch {
	case c.Protocol != observe.ProtoTCP && c.OneWay:
		return []packet{{true, 0}, {true, 0}}
	case c.Protocol != observe.ProtoTCP:
		return []packet{{true, 0}, {false, 0}}
	case c.Denied:
		return []packet{syn, syn, syn} // retransmitted, never answered
	}
	return []packet{
		syn,
		{false, observe.FlagSYN | observe.FlagACK},
		{true, observe.FlagACK | observe.FlagPSH},
		{false, observe.FlagACK | observe.FlagPSH},
		{true, observe.FlagACK | observe.FlagFIN},
		{false, observe.FlagACK | observe.FlagFIN},
	}
}

// flow builds the trace flow of packet p as side sd observes it.
func (g *gen) flow(base observe.Flow, c *Call, client, server end, sport uint16, sd side, p packet, at time.Time) observe.Flow {
	f := base
	f.Time = at
	f.NodeName = g.s.Nodes[sd.node]
	f.Verdict = flowpb.Verdict_FORWARDED
	f.EventType = 4
	f.TrafficDirection = sd.dir
	f.L4.Flags = p.flags
	src, dst := client, server
	f.L4.SrcPort, f.L4.DstPort = sport, c.Port
	if !p.fromClient {
		src, dst = server, client
		f.L4.SrcPort, f.L4.DstPort = c.Port, sport
		f.DestinationService, f.DestinationNames = observe.Service{}, nil
		if c.To.DNSName != "" {
			f.SourceNames = []string{c.To.DNSName}
		}
	}
	f.Source, f.Destination, f.SrcIP, f.DstIP = src.ep, dst.ep, src.ip, dst.ip
	if !c.Protocol.HasPorts() {
		f.L4.SrcPort, f.L4.DstPort = 0, 0
	}
	// Packets arriving at this side's pod are delivered to the endpoint;
	// packets leaving it go to the stack or, across nodes, the overlay.
	arriving := (sd.dir == flowpb.TrafficDirection_INGRESS) == p.fromClient
	switch {
	case arriving:
		f.ObservationPoint, f.EventSubType = flowpb.TraceObservationPoint_TO_ENDPOINT, 0
	case client.node >= 0 && server.node >= 0 && client.node != server.node:
		f.ObservationPoint, f.EventSubType = flowpb.TraceObservationPoint_TO_OVERLAY, 4
	default:
		f.ObservationPoint, f.EventSubType = flowpb.TraceObservationPoint_TO_STACK, 3
	}
	if !c.NoIsReply {
		f.IsReply = observe.ReplyFalse
		if !p.fromClient {
			f.IsReply = observe.ReplyTrue
		}
	}
	return f
}

// httpRecords writes the L7 request and response Cilium's proxy reports.
func (g *gen) httpRecords(base observe.Flow, c *Call, client, server end, sport uint16, sd side, at time.Time) {
	host := c.Service
	if host == "" {
		host = server.ip.String()
	}
	url := fmt.Sprintf("http://%s:%d%s", host, c.Port, c.HTTP.Path)
	req := g.flow(base, c, client, server, sport, sd, packet{fromClient: true}, at.Add(50*time.Microsecond))
	req.Type, req.EventType, req.EventSubType, req.ObservationPoint = flowpb.FlowType_L7, 129, 0, 0
	req.L4.Flags = 0
	req.L7 = &observe.L7{Type: flowpb.L7FlowType_REQUEST, HTTP: &observe.HTTP{Method: c.HTTP.Method, URL: url, Protocol: "HTTP/1.1"}}
	g.emit(&req)
	resp := g.flow(base, c, client, server, sport, sd, packet{fromClient: false}, at.Add(time.Duration(1+g.rng.IntN(20))*time.Millisecond))
	resp.Type, resp.EventType, resp.EventSubType, resp.ObservationPoint = flowpb.FlowType_L7, 129, 0, 0
	resp.L4.Flags = 0
	resp.L7 = &observe.L7{Type: flowpb.L7FlowType_RESPONSE, LatencyNS: uint64(1+g.rng.IntN(20)) * 1e6,
		HTTP: &observe.HTTP{Code: 200, Method: c.HTTP.Method, URL: url, Protocol: "HTTP/1.1"}}
	g.emit(&resp)
}

// lookup writes the DNS exchange client makes before dialling c's name,
// and returns when it ended and the name it looked up.
func (g *gen) lookup(client end, c *Call, server end, t time.Time) (time.Time, string) {
	name := g.lookupName(c)
	query, ips, ttl := name+".", c.To.IPs, c.To.TTL
	if name == "" {
		ns := "default" // the kubernetes Service fronting the apiserver
		if server.wl >= 0 {
			ns = g.s.Workloads[server.wl].Namespace
		}
		query = fmt.Sprintf("%s.%s.svc.cluster.local.", c.Service, ns)
		ips, ttl = []netip.Addr{g.serviceIP(c.Service + "." + ns)}, 30
	}
	dnsCall := &Call{Protocol: observe.ProtoUDP, Port: 53}
	dns := g.pickEnd(Peer{Kind: PeerWorkload, Workload: g.s.DNS}, nil)
	sport := uint16(32768 + g.rng.IntN(60999-32768))
	base := observe.Flow{IPVersion: flowpb.IPVersion_IPv4, L4: observe.L4{Protocol: observe.ProtoUDP}, Type: flowpb.FlowType_L3_L4,
		DestinationService: observe.Service{Name: "kube-dns", Namespace: g.s.Workloads[g.s.DNS].Namespace}}
	sides := []side{{client.node, flowpb.TrafficDirection_EGRESS}, {dns.node, flowpb.TrafficDirection_INGRESS}}
	for _, sd := range sides {
		at := t
		for i, p := range []packet{{true, 0}, {false, 0}} {
			f := g.flow(base, dnsCall, client, dns, sport, sd, p, at.Add(time.Duration(i)*400*time.Microsecond))
			g.emit(&f)
		}
		if sd.dir != flowpb.TrafficDirection_EGRESS {
			continue
		}
		// Cilium's DNS proxy reports the exchange at the client's egress.
		req := g.flow(base, dnsCall, client, dns, sport, sd, packet{fromClient: true}, at.Add(100*time.Microsecond))
		req.Type, req.EventType, req.EventSubType, req.ObservationPoint = flowpb.FlowType_L7, 129, 0, 0
		req.L7 = &observe.L7{Type: flowpb.L7FlowType_REQUEST, DNS: &observe.DNS{Query: query, Qtypes: []string{"A"}}}
		g.emit(&req)
		resp := g.flow(base, dnsCall, client, dns, sport, sd, packet{fromClient: false}, at.Add(500*time.Microsecond))
		resp.Type, resp.EventType, resp.EventSubType, resp.ObservationPoint = flowpb.FlowType_L7, 129, 0, 0
		resp.L7 = &observe.L7{Type: flowpb.L7FlowType_RESPONSE, LatencyNS: 400000, DNS: &observe.DNS{Query: query, IPs: ips, TTL: ttl, Qtypes: []string{"A"}}}
		g.emit(&resp)
	}
	return t.Add(2 * time.Millisecond), strings.TrimSuffix(query, ".")
}

// serviceIP is a stable ClusterIP for a Service.
func (g *gen) serviceIP(name string) netip.Addr {
	if ip, ok := g.serviceIPs[name]; ok {
		return ip
	}
	n := len(g.serviceIPs) + 10
	ip := netip.AddrFrom4([4]byte{10, 96, byte(n >> 8), byte(n)})
	g.serviceIPs[name] = ip
	return ip
}
