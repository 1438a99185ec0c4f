package synth

import (
	"bytes"
	"fmt"
	"strings"
)

// maxNoL7Lines bounds the list of ports without L7 records in the report.
const maxNoL7Lines = 50

// writeL7 writes the L7 section: each route table with its counts, times
// and example requests, the DNS names each resolver may look up, Kafka
// use, and the ports that stay L3/L4 and how to see their requests.
func writeL7(b *bytes.Buffer, pl *Plan, format Format) {
	l7 := pl.L7
	if l7 == nil {
		return
	}
	b.WriteString("\n## L7 rules (--l7)\n\n")
	b.WriteString("CiliumNetworkPolicies carry L7 rules where Hubble saw L7 requests through Cilium's proxy; ")
	b.WriteString("a request matching no rule gets HTTP 403 (or a refused DNS answer) while the connection itself stays allowed.")
	if format.Kubernetes() {
		b.WriteString(" NetworkPolicy has no L7 rules: the NetworkPolicies stay L3/L4, and where both kinds are applied Cilium enforces their L3/L4 allow too, ")
		b.WriteString("which lets every request on the port through: apply only the CiliumNetworkPolicies for L7 least privilege.")
	}
	b.WriteString("\n")
	if v := l7.Verification; v != nil {
		fmt.Fprintf(b, "\nVerified with Cilium's resolved policy (HTTP rules as translated for Envoy, matched whole): %d of %d observed requests allowed; ", v.Allowed, v.Observed)
		fmt.Fprintf(b, "%d of %d never-observed requests (other methods, sibling routes, routes past observed ones, other DNS names) allowed.\n", len(v.Excess), v.Candidates)
		for _, d := range v.Denied {
			fmt.Fprintf(b, "- **DENIED** %s\n", d)
		}
		for _, e := range v.Excess {
			fmt.Fprintf(b, "- excess: %s\n", e)
		}
	}
	if len(l7.Tables) > 0 {
		b.WriteString("\n### HTTP routes\n\n")
		b.WriteString("Path segments that name one object (numbers, UUIDs, long hex, or a position with many distinct values) are `{id}` (`[^/]+` in the rule); ")
		b.WriteString("a path is matched whole, as Envoy does, so `?…` marks a route seen with a query string, which allows any query after it.\n")
		for _, t := range l7.Tables {
			fmt.Fprintf(b, "\n#### %s from %s, port %s\n\n", t.Server, t.Client, t.Port)
			fmt.Fprintf(b, "%d requests, %d routes", t.Requests, len(t.Routes))
			if t.Host != "" {
				fmt.Fprintf(b, "; every request named the Service, so the rule requires Host `%s`", t.Host)
			}
			if t.Collapsed > 0 {
				fmt.Fprintf(b, "; **%d routes folded into prefixes** by the route bound", t.Collapsed)
			}
			b.WriteString(".\n\n| Method | Route | Rule (path) | Requests | First seen | Last seen | Examples |\n|---|---|---|---|---|---|---|\n")
			for _, r := range t.Routes {
				route := r.Template
				if r.GRPC {
					route += " (gRPC)"
				}
				ex := make([]string, 0, len(r.Examples))
				for _, e := range r.Examples {
					ex = append(ex, "`"+mdCode(e)+"`")
				}
				fmt.Fprintf(b, "| %s | `%s` | `%s` | %d | %s | %s | %s |\n", r.Method, mdCode(route), mdCode(r.Path), r.Count, stamp(r.First), stamp(r.Last), strings.Join(ex, " "))
			}
		}
	}
	if len(l7.DNS) > 0 {
		b.WriteString("\n### DNS names\n\n")
		b.WriteString("Each resolver's DNS rule lists the names it looked up, so the DNS proxy refuses any other name and `toFQDNs` and the DNS rule agree. ")
		b.WriteString("A family of at least four names differing in one label that shares a stem is one `matchPattern` (`*` matches within that label); ")
		b.WriteString("that lets the family's next member resolve too, though `toFQDNs` still names each observed name, so connecting to a new member needs learning again. ")
		b.WriteString("`learn --l7-exact-dns` lists every name instead.\n\n")
		for _, rn := range l7.DNS {
			if rn.Any {
				fmt.Fprintf(b, "- %s: any name, since %s.\n", rn.Workload, rn.Why)
				continue
			}
			var ms []string
			for _, m := range rn.Matches {
				if m.Pattern {
					ms = append(ms, "matchPattern `"+m.Name+"`")
				} else {
					ms = append(ms, "`"+m.Name+"`")
				}
			}
			fmt.Fprintf(b, "- %s: %s\n", rn.Workload, strings.Join(ms, ", "))
			for _, f := range rn.Families {
				fmt.Fprintf(b, "  - `%s` stands for the %d names seen: %s\n", f.Pattern, len(f.Names), strings.Join(f.Names, ", "))
			}
		}
	}
	if len(l7.Kafka) > 0 {
		b.WriteString("\n### Kafka\n\n")
		b.WriteString("Hubble saw these Kafka topics. The Cilium this netpolgen is built against (v1.20) has no Kafka rules in CiliumNetworkPolicy, ")
		b.WriteString("so these ports stay L3/L4: any client allowed on the port may use any topic.\n\n")
		for _, k := range l7.Kafka {
			var uses []string
			for _, u := range k.Uses {
				uses = append(uses, u.Role+" `"+u.Topic+"`")
			}
			fmt.Fprintf(b, "- %s -> %s %s: %s\n", k.Client, k.Server, k.Port, strings.Join(uses, ", "))
		}
	}
	if len(l7.NoL7) > 0 {
		b.WriteString("\n### Ports without L7 records (L3/L4 only)\n\n")
		b.WriteString("Hubble saw no L7 requests on these connections, so their rules allow the whole port. ")
		b.WriteString("To learn their routes, send the port through Cilium's proxy for a learning window, ")
		b.WriteString("`netpolgen visibility --http NAMESPACE/PORT --out learning-mode/` (only for ports that serve HTTP), then learn again.\n\n")
		for i, k := range l7.NoL7 {
			if i == maxNoL7Lines {
				fmt.Fprintf(b, "- … and %d more\n", len(l7.NoL7)-maxNoL7Lines)
				break
			}
			fmt.Fprintf(b, "- %s -> %s %s\n", k.From, k.To, k.Port)
		}
	}
}

// mdCode keeps a value from breaking a Markdown table cell.
func mdCode(s string) string {
	return strings.NewReplacer("|", `\|`, "`", "'", "\n", " ").Replace(s)
}
