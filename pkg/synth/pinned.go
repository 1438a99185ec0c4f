package synth

import (
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// LearningModeCommand turns learning mode on: the policies that send DNS
// through Cilium's proxy, so the next learn sees names.
const LearningModeCommand = "netpolgen visibility --out learning-mode/ && kubectl apply -k learning-mode/"

// PinnedDestination is an outside destination a policy names by address
// because no DNS name was seen for it: it breaks when the address changes.
type PinnedDestination struct {
	Workload WorkloadRef
	Prefix   netip.Prefix
	Ports    []PortRange
}

// Outside summarises the outside destinations the policies allow.
type Outside struct {
	// Named are the DNS names written as toFQDNs.
	Named []string
	// Pinned are the destinations written as addresses.
	Pinned []PinnedDestination
}

// OutsideDestinations lists what the plan's egress rules allow outside
// the cluster: names, and addresses seen without a name. The addresses of
// DNS servers (a node-local cache, an upstream resolver) are left out: a
// resolver's address is configuration, not a service that moves.
func OutsideDestinations(pl *Plan) Outside {
	var out Outside
	names := map[string]bool{}
	for _, wp := range pl.Policies {
		for _, r := range wp.Egress {
			if r.DNS {
				continue
			}
			for _, p := range r.Peers {
				switch p.Kind {
				case PeerFQDN:
					names[p.FQDN] = true
				case PeerCIDR:
					out.Pinned = append(out.Pinned, PinnedDestination{Workload: wp.Workload.WorkloadRef, Prefix: p.Prefix, Ports: r.Ports})
				}
			}
		}
	}
	for n := range names {
		out.Named = append(out.Named, n)
	}
	sort.Strings(out.Named)
	sort.SliceStable(out.Pinned, func(i, j int) bool {
		a, b := out.Pinned[i], out.Pinned[j]
		if a.Workload != b.Workload {
			return refLess(a.Workload, b.Workload)
		}
		return a.Prefix.Addr().Less(b.Prefix.Addr())
	})
	return out
}

// Line is what learn prints about outside destinations, empty when the
// policies allow none. NetworkPolicy cannot match names, so with the
// kubernetes format every outside destination is pinned to addresses.
func (o Outside) Line(format Format) string {
	if len(o.Pinned) == 0 && len(o.Named) == 0 {
		return ""
	}
	if !format.Cilium() {
		return fmt.Sprintf("outside destinations: %d, all pinned to addresses in NetworkPolicy, which cannot match names (%d seen with a name, kept as the addresses seen for it); they break when the address changes; --format cilium writes names",
			len(o.Pinned)+len(o.Named), len(o.Named))
	}
	if len(o.Pinned) == 0 {
		return fmt.Sprintf("outside destinations: %d by name (toFQDNs), none pinned to addresses", len(o.Named))
	}
	if len(o.Named) == 0 {
		return fmt.Sprintf("outside destinations: %d pinned to addresses, no DNS name seen (they break when the address changes; see REPORT.md); to learn them by name, turn learning mode on and learn again: %s",
			len(o.Pinned), LearningModeCommand)
	}
	return fmt.Sprintf("outside destinations: %d pinned to addresses, no DNS name seen (they break when the address changes; see REPORT.md), %d by name (toFQDNs); if learning mode was off in their namespaces: %s",
		len(o.Pinned), len(o.Named), LearningModeCommand)
}

// LearningMode is what learn knows about learning mode while it learned.
type LearningMode struct {
	// Namespaces are those where a learning-mode policy (role label
	// RoleVisibility) was in force when learn read the cluster.
	Namespaces []string
}

// writeOutside is REPORT.md's section on outside destinations and
// learning mode. lm is nil when learn did not read the cluster; whether
// learning mode was on is then inferred from the DNS answers seen.
func writeOutside(b *bytes.Buffer, g *Graph, pl *Plan, format Format, lm *LearningMode) {
	o := OutsideDestinations(pl)
	b.WriteString("\n## Outside destinations and learning mode\n\n")
	switch {
	case lm != nil && len(lm.Namespaces) > 0:
		fmt.Fprintf(b, "Learning mode: **in force** in %s (learning-mode policies, %s=%s, read from the cluster). Remove them in the same change that applies these policies.\n",
			strings.Join(lm.Namespaces, ", "), RoleLabel, RoleVisibility)
	case lm != nil:
		b.WriteString("Learning mode: **not in force** (no learning-mode policy in the cluster when learn read it).\n")
	case len(g.NameIPs) > 0:
		fmt.Fprintf(b, "Learning mode: probably **in force** (inferred, the cluster was not read): Hubble reported DNS answers for %d names, so Cilium's DNS proxy was in the path.\n", len(g.NameIPs))
	default:
		b.WriteString("Learning mode: probably **not in force** (inferred, the cluster was not read): Hubble reported no DNS answers, so Cilium's DNS proxy was not in the path.\n")
	}
	if len(o.Named) > 0 {
		fmt.Fprintf(b, "\nBy name (%d): %s.", len(o.Named), strings.Join(o.Named, ", "))
		if format.Cilium() {
			b.WriteString(" The CiliumNetworkPolicy writes them as toFQDNs, which follow the name when its address changes.")
		}
		if format.Kubernetes() {
			b.WriteString(" NetworkPolicy cannot match names: it holds the addresses seen for them, which break when they change.")
		}
		b.WriteString("\n")
	}
	if len(o.Pinned) == 0 {
		if len(o.Named) == 0 {
			b.WriteString("\nNo outside destinations are allowed.\n")
		}
		return
	}
	fmt.Fprintf(b, "\nPinned to addresses (%d): seen without a DNS name, so the policy names the address; **each breaks when the address changes** (cloud endpoints, CDNs and managed databases move).\n\n", len(o.Pinned))
	b.WriteString("| Workload | Address | Ports |\n|---|---|---|\n")
	for _, p := range o.Pinned {
		fmt.Fprintf(b, "| %s | %s | %s |\n", p.Workload, p.Prefix, rangesText(p.Ports))
	}
	dnsVisible := (lm != nil && len(lm.Namespaces) > 0) || (lm == nil && len(g.NameIPs) > 0)
	if dnsVisible {
		b.WriteString("\nDNS was visible while learning, so where learning mode covered the client these were reached without a lookup in the window: an address in the client's configuration (give it the name, if it has one), or a connection opened before learning began (learn longer).\n")
	}
	fmt.Fprintf(b, "\nTo learn them by name, turn learning mode on, learn again, and apply the result together with removing it:\n\n    %s\n", LearningModeCommand)
}

// namesComment is the YAML comment a NetworkPolicy file carries when the
// policy reaches outside destinations: NetworkPolicy cannot match names,
// so names are kept as the addresses seen and unnamed addresses as they
// are, and both break when the address changes.
func namesComment(wp *WorkloadPolicy, pl *Plan) []byte {
	var names, pinned []string
	for _, r := range wp.Egress {
		if r.DNS {
			continue
		}
		for _, p := range r.Peers {
			switch p.Kind {
			case PeerFQDN:
				names = append(names, p.FQDN)
			case PeerCIDR:
				pinned = append(pinned, p.Prefix.String())
			}
		}
	}
	if len(names) == 0 && len(pinned) == 0 {
		return nil
	}
	var b bytes.Buffer
	if len(names) > 0 {
		b.WriteString("# NetworkPolicy cannot match DNS names: egress to " + strings.Join(names, ", ") + " is kept as\n")
		b.WriteString("# the addresses seen for them while learning, and breaks when an address changes;\n")
		b.WriteString("# the CiliumNetworkPolicy format writes the names (toFQDNs).\n")
	}
	if len(pinned) > 0 {
		b.WriteString("# Seen without a DNS name, pinned to addresses: " + strings.Join(pinned, ", ") + ";\n")
		b.WriteString("# breaks when the address changes. Learn with learning mode on to get names:\n")
		b.WriteString("# " + LearningModeCommand + "\n")
	}
	return b.Bytes()
}
