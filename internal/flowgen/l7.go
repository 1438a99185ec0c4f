package flowgen

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Request is one kind of HTTP request a call makes; each connection of the
// call sends one, drawn at random, with fresh object ids.
type Request struct {
	Method string
	// Path may hold placeholders filled per request: {id} (a number),
	// {uuid}, {hex} (a 20-digit digest), {name} (one of many user names)
	// and {n} (a small number, for query strings).
	Path string
	// GRPC sends it over HTTP/2, as a gRPC call.
	GRPC bool
}

// KafkaRequest is one Kafka request a call makes.
type KafkaRequest struct {
	// APIKey is "produce" or "fetch".
	APIKey string
	Topic  string
}

// userNames is a pool larger than a route table keeps literal values for,
// so a {name} position must be learned as naming objects.
var userNames = func() []string {
	var out []string
	for _, a := range []string{"ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal"} {
		for _, b := range []string{"lee", "moss", "north", "park", "quinn"} {
			out = append(out, a+"-"+b)
		}
	}
	return out
}()

// fill replaces a request path's placeholders with fresh values.
func (g *gen) fill(path string) string {
	var sb strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		j := strings.IndexByte(path, '}')
		if i < 0 || j < i {
			sb.WriteString(path)
			return sb.String()
		}
		sb.WriteString(path[:i])
		switch path[i+1 : j] {
		case "id":
			fmt.Fprintf(&sb, "%d", 1+g.rng.IntN(10_000_000))
		case "uuid":
			fmt.Fprintf(&sb, "%08x-%04x-4%03x-8%03x-%012x", g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<12), g.rng.IntN(1<<12), g.rng.Uint64()&(1<<48-1))
		case "hex":
			fmt.Fprintf(&sb, "%016x%04x", g.rng.Uint64(), g.rng.IntN(1<<16))
		case "name":
			sb.WriteString(userNames[g.rng.IntN(len(userNames))])
		case "n":
			fmt.Fprintf(&sb, "%d", g.rng.IntN(20))
		default:
			sb.WriteString(path[i : j+1])
		}
		path = path[j+1:]
	}
}

// l7Records writes the L7 request and response records of one connection
// of a call with Requests or Kafka, as Cilium's proxy reports them at the
// server's ingress.
func (g *gen) l7Records(base observe.Flow, c *Call, client, server end, sport uint16, sd side, at time.Time) {
	req := g.flow(base, c, client, server, sport, sd, packet{fromClient: true}, at.Add(50*time.Microsecond))
	req.Type, req.EventType, req.EventSubType, req.ObservationPoint = flowpb.FlowType_L7, 129, 0, 0
	req.L4.Flags = 0
	resp := g.flow(base, c, client, server, sport, sd, packet{fromClient: false}, at.Add(time.Duration(1+g.rng.IntN(20))*time.Millisecond))
	resp.Type, resp.EventType, resp.EventSubType, resp.ObservationPoint = flowpb.FlowType_L7, 129, 0, 0
	resp.L4.Flags = 0
	latency := uint64(1+g.rng.IntN(20)) * 1e6
	if len(c.Kafka) > 0 {
		k := c.Kafka[g.rng.IntN(len(c.Kafka))]
		req.L7 = &observe.L7{Type: flowpb.L7FlowType_REQUEST, Other: "kafka", Kafka: &observe.Kafka{APIKey: k.APIKey, APIVersion: 7, Topic: k.Topic}}
		resp.L7 = &observe.L7{Type: flowpb.L7FlowType_RESPONSE, LatencyNS: latency, Other: "kafka", Kafka: &observe.Kafka{APIKey: k.APIKey, APIVersion: 7, Topic: k.Topic}}
	} else {
		r := c.Requests[g.rng.IntN(len(c.Requests))]
		host := c.Service
		if host == "" {
			host = server.ip.String()
		}
		url := fmt.Sprintf("http://%s:%d%s", host, c.dialPort(), g.fill(r.Path))
		proto := "HTTP/1.1"
		if r.GRPC {
			proto = "HTTP/2"
		}
		req.L7 = &observe.L7{Type: flowpb.L7FlowType_REQUEST, HTTP: &observe.HTTP{Method: r.Method, URL: url, Protocol: proto}}
		resp.L7 = &observe.L7{Type: flowpb.L7FlowType_RESPONSE, LatencyNS: latency, HTTP: &observe.HTTP{Code: 200, Method: r.Method, URL: url, Protocol: proto}}
	}
	g.emit(&req)
	g.emit(&resp)
}

// dialPort is the port the client dialled: the Service port when there
// is one, else the pod port.
func (c *Call) dialPort() uint16 {
	if c.ServicePort != 0 {
		return c.ServicePort
	}
	return c.Port
}

// hasL7 says whether a call's connections carry L7 records beyond the
// single request of HTTP.
func (c *Call) hasL7() bool { return len(c.Requests) > 0 || len(c.Kafka) > 0 }

// lookupName is the name a client of c resolves before one connection: one
// of c's Names when it has them, else the peer's name.
func (g *gen) lookupName(c *Call) string {
	if len(c.Names) > 0 {
		return c.Names[g.rng.IntN(len(c.Names))]
	}
	return c.To.DNSName
}

// L7 is the scenario for L7 policy: REST APIs whose paths carry numeric
// ids, UUIDs, digests and user names, with query strings and every write
// method; a gRPC service; Kafka producers and consumers; DNS lookups of
// Service names, of an outside API and of a family of shard names; and a
// port Hubble sees no L7 records for.
func L7() *Scenario {
	app := func(name string) map[string]string {
		return map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "market"}
	}
	s := &Scenario{Name: "l7", Nodes: []string{"l7-worker-1", "l7-worker-2"}}
	add := func(w Workload) int {
		s.Workloads = append(s.Workloads, w)
		return len(s.Workloads) - 1
	}
	dns := add(Workload{Namespace: "kube-system", Name: "coredns", Labels: map[string]string{"k8s-app": "kube-dns"}, Kind: "Deployment", Replicas: 2})
	gateway := add(Workload{Namespace: "market", Name: "gateway", Labels: app("gateway"), Kind: "Deployment", Replicas: 2, VolatileLabels: true})
	users := add(Workload{Namespace: "market", Name: "users", Labels: app("users"), Kind: "Deployment", Replicas: 2})
	orders := add(Workload{Namespace: "market", Name: "orders", Labels: app("orders"), Kind: "Deployment", Replicas: 2})
	cart := add(Workload{Namespace: "market", Name: "cart", Labels: app("cart"), Kind: "Deployment", Replicas: 1})
	inventory := add(Workload{Namespace: "market", Name: "inventory", Labels: app("inventory"), Kind: "Deployment", Replicas: 1})
	kafka := add(Workload{Namespace: "data", Name: "kafka", Labels: map[string]string{"app.kubernetes.io/name": "kafka"}, Kind: "StatefulSet", Replicas: 1})
	redis := add(Workload{Namespace: "data", Name: "redis", Labels: map[string]string{"app.kubernetes.io/name": "redis"}, Kind: "StatefulSet", Replicas: 1})
	s.DNS = dns

	w := func(i int) Peer { return Peer{Kind: PeerWorkload, Workload: i} }
	ip := netip.MustParseAddr
	stripe := Peer{Kind: PeerWorld, DNSName: "api.stripe.com", TTL: 60, IPs: []netip.Addr{ip("203.0.113.20")}}
	shards := Peer{Kind: PeerWorld, TTL: 300, IPs: []netip.Addr{ip("198.51.100.40"), ip("198.51.100.41")}}
	var shardNames []string
	for i := range 8 {
		shardNames = append(shardNames, fmt.Sprintf("shard-%d.orders-db.example.net", i))
	}
	tcp := observe.ProtoTCP
	s.Calls = []Call{
		{From: w(gateway), To: w(users), Protocol: tcp, Port: 8080, Service: "users", ServicePort: 80, PerHour: 1200, Requests: []Request{
			{Method: "GET", Path: "/api/v1/users/{id}"},
			{Method: "GET", Path: "/api/v1/users/me"},
			{Method: "GET", Path: "/api/v1/users/{id}/orders?page={n}"},
			{Method: "POST", Path: "/api/v1/users"},
			{Method: "PUT", Path: "/api/v1/users/{uuid}/profile"},
			{Method: "DELETE", Path: "/api/v1/sessions/{hex}"},
			{Method: "GET", Path: "/api/v1/avatars/{name}/image.png"},
		}},
		{From: w(gateway), To: w(orders), Protocol: tcp, Port: 8080, Service: "orders", ServicePort: 80, PerHour: 600, Requests: []Request{
			{Method: "GET", Path: "/orders/{uuid}"},
			{Method: "POST", Path: "/orders"},
			{Method: "GET", Path: "/orders?status=open&limit={n}"},
		}},
		{From: w(gateway), To: w(cart), Protocol: tcp, Port: 7070, Service: "cart", ServicePort: 7070, PerHour: 600, Requests: []Request{
			{Method: "POST", Path: "/market.cart.v1.CartService/GetCart", GRPC: true},
			{Method: "POST", Path: "/market.cart.v1.CartService/AddItem", GRPC: true},
			{Method: "POST", Path: "/market.cart.v1.CartService/EmptyCart", GRPC: true},
		}},
		{From: w(orders), To: w(kafka), Protocol: tcp, Port: 9092, Service: "kafka", ServicePort: 9092, PerHour: 300, Kafka: []KafkaRequest{{"produce", "orders"}}},
		{From: w(inventory), To: w(kafka), Protocol: tcp, Port: 9092, Service: "kafka", ServicePort: 9092, PerHour: 300, Kafka: []KafkaRequest{{"fetch", "orders"}, {"produce", "stock-events"}}},
		{From: w(orders), To: w(redis), Protocol: tcp, Port: 6379, Service: "redis", ServicePort: 6379, PerHour: 300},
		{From: w(orders), To: shards, Protocol: tcp, Port: 5432, PerHour: 300, Names: shardNames},
		{From: w(users), To: stripe, Protocol: tcp, Port: 443, PerHour: 60},
	}
	return s
}
