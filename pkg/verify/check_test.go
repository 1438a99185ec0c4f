package verify

import (
	"maps"
	"strings"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// TestCheckTracesVerdictsToRules learns policies from one graph and checks
// a wider graph against them: learned connections are allowed by rules of
// both ends' policies, the new one is denied, the unmanaged namespace is
// selected by nothing.
func TestCheckTracesVerdictsToRules(t *testing.T) {
	for _, format := range []synth.Format{synth.FormatCilium, synth.FormatKubernetes} {
		t.Run(string(format), func(t *testing.T) {
			learned := mixedGraph()
			ps := policiesFor(t, learned, synth.Options{Format: format, ExcludeNamespaces: []string{"data"}})
			g := mixedGraph()
			g.Edges = append(g.Edges, edge(db, api, observe.ProtoTCP, 9000))
			got, err := Check(g, ps, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var newConn, webAPI *Connection
			for i := range got.Connections {
				c := &got.Connections[i]
				switch c.Edge.Key() {
				case edge(db, api, observe.ProtoTCP, 9000).Key():
					newConn = c
				case edge(web, api, observe.ProtoTCP, 9001).Key():
					webAPI = c
				}
			}
			if newConn == nil || newConn.Allowed || newConn.Side != "ingress" {
				t.Fatalf("db -> api 9000: got %+v, want denied at ingress (db's namespace is not managed)", newConn)
			}
			if webAPI == nil || !webAPI.Allowed || len(webAPI.EgressRules) != 1 || len(webAPI.IngressRules) != 1 {
				t.Fatalf("web -> api 9001: got %+v, want allowed by one egress and one ingress rule", webAPI)
			}
			eg, in := got.Rules[webAPI.EgressRules[0]], got.Rules[webAPI.IngressRules[0]]
			if eg.Name != "web" || eg.Ingress || in.Name != "api" || !in.Ingress {
				t.Errorf("web -> api rules: egress %v, ingress %v; want web's egress and api's ingress", eg, in)
			}
			if !strings.Contains(eg.Peers, "app=api namespace=shop") || eg.Ports != "9000-9002/TCP" ||
				!strings.Contains(in.Peers, "app=web namespace=shop") {
				t.Errorf("rule descriptions: egress %q on %q, ingress %q", eg.Peers, eg.Ports, in.Peers)
			}
			for _, r := range got.Rules {
				if r.Peers == "any peer" && r.Ports == "any port" {
					t.Errorf("%v: a default-deny's empty rule allows nothing and is not a rule", r)
				}
			}
			if s := got.Selected[api.Workload]; !s.Ingress || !s.Egress {
				t.Errorf("api selection %+v, want both directions", s)
			}
			if s := got.Selected[db.Workload]; s.Ingress || s.Egress {
				t.Errorf("db selection %+v, want none (namespace excluded)", s)
			}
			// Check decides every connection as Verify's LookupFlow does.
			res, err := Verify(g, ps, Options{})
			if err != nil {
				t.Fatal(err)
			}
			verifyDenied := map[synth.ConnKey]string{}
			for _, f := range append(res.Denied, res.Inexpressible...) {
				verifyDenied[synth.ConnKey{From: f.From, To: f.To, Port: f.Port}] = f.Side
			}
			checkDenied := map[synth.ConnKey]string{}
			for _, c := range got.Connections {
				if !c.Allowed {
					checkDenied[c.Edge.Key()] = c.Side
				}
			}
			if !maps.Equal(verifyDenied, checkDenied) || len(checkDenied) == 0 {
				t.Errorf("denied connections differ:\nVerify %v\nCheck  %v", verifyDenied, checkDenied)
			}
		})
	}
}
