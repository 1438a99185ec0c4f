package replay

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// predicate reports whether a flow matches one field of a FlowFilter.
type predicate func(*flowpb.Flow) bool

// flowFilter is a compiled FlowFilter: a flow matches when every set
// field matches (and a field matches when any of its values does), as in
// Hubble.
type flowFilter []predicate

func (ff flowFilter) match(f *flowpb.Flow) bool {
	for _, p := range ff {
		if !p(f) {
			return false
		}
	}
	return true
}

// filterList is a compiled whitelist or blacklist: it matches a flow when
// any of its filters does.
type filterList []flowFilter

func (fl filterList) any(f *flowpb.Flow) bool {
	for _, ff := range fl {
		if ff.match(f) {
			return true
		}
	}
	return false
}

// filterBuilders compiles each FlowFilter field the replay server
// supports. A request using any other field is refused rather than
// answered with flows it did not ask for.
func filterBuilders() map[protoreflect.Name]func(*flowpb.FlowFilter) (predicate, error) {
	return map[protoreflect.Name]func(*flowpb.FlowFilter) (predicate, error){
		"source_pod": func(ff *flowpb.FlowFilter) (predicate, error) {
			return namespacedName(ff.GetSourcePod(), func(f *flowpb.Flow) (string, string) {
				return f.GetSource().GetNamespace(), f.GetSource().GetPodName()
			})
		},
		"destination_pod": func(ff *flowpb.FlowFilter) (predicate, error) {
			return namespacedName(ff.GetDestinationPod(), func(f *flowpb.Flow) (string, string) {
				return f.GetDestination().GetNamespace(), f.GetDestination().GetPodName()
			})
		},
		"source_service": func(ff *flowpb.FlowFilter) (predicate, error) {
			return namespacedName(ff.GetSourceService(), func(f *flowpb.Flow) (string, string) {
				return f.GetSourceService().GetNamespace(), f.GetSourceService().GetName()
			})
		},
		"destination_service": func(ff *flowpb.FlowFilter) (predicate, error) {
			return namespacedName(ff.GetDestinationService(), func(f *flowpb.Flow) (string, string) {
				return f.GetDestinationService().GetNamespace(), f.GetDestinationService().GetName()
			})
		},
		"source_label": func(ff *flowpb.FlowFilter) (predicate, error) {
			return labelSelectors(ff.GetSourceLabel(), func(f *flowpb.Flow) []string { return f.GetSource().GetLabels() })
		},
		"destination_label": func(ff *flowpb.FlowFilter) (predicate, error) {
			return labelSelectors(ff.GetDestinationLabel(), func(f *flowpb.Flow) []string { return f.GetDestination().GetLabels() })
		},
		"source_ip": func(ff *flowpb.FlowFilter) (predicate, error) {
			return ipPrefixes(ff.GetSourceIp(), func(f *flowpb.Flow) string { return f.GetIP().GetSource() })
		},
		"destination_ip": func(ff *flowpb.FlowFilter) (predicate, error) {
			return ipPrefixes(ff.GetDestinationIp(), func(f *flowpb.Flow) string { return f.GetIP().GetDestination() })
		},
		"source_port": func(ff *flowpb.FlowFilter) (predicate, error) {
			return ports(ff.GetSourcePort(), func(f *flowpb.Flow) (uint32, bool) { return l4Ports(f, true) })
		},
		"destination_port": func(ff *flowpb.FlowFilter) (predicate, error) {
			return ports(ff.GetDestinationPort(), func(f *flowpb.Flow) (uint32, bool) { return l4Ports(f, false) })
		},
		"source_identity": func(ff *flowpb.FlowFilter) (predicate, error) {
			ids := ff.GetSourceIdentity()
			return func(f *flowpb.Flow) bool { return slices.Contains(ids, f.GetSource().GetIdentity()) }, nil
		},
		"destination_identity": func(ff *flowpb.FlowFilter) (predicate, error) {
			ids := ff.GetDestinationIdentity()
			return func(f *flowpb.Flow) bool { return slices.Contains(ids, f.GetDestination().GetIdentity()) }, nil
		},
		"verdict": func(ff *flowpb.FlowFilter) (predicate, error) {
			vs := ff.GetVerdict()
			return func(f *flowpb.Flow) bool { return slices.Contains(vs, f.GetVerdict()) }, nil
		},
		"drop_reason_desc": func(ff *flowpb.FlowFilter) (predicate, error) {
			rs := ff.GetDropReasonDesc()
			return func(f *flowpb.Flow) bool { return slices.Contains(rs, f.GetDropReasonDesc()) }, nil
		},
		"traffic_direction": func(ff *flowpb.FlowFilter) (predicate, error) {
			ds := ff.GetTrafficDirection()
			return func(f *flowpb.Flow) bool { return slices.Contains(ds, f.GetTrafficDirection()) }, nil
		},
		"ip_version": func(ff *flowpb.FlowFilter) (predicate, error) {
			vs := ff.GetIpVersion()
			return func(f *flowpb.Flow) bool { return f.GetIP() != nil && slices.Contains(vs, f.GetIP().GetIpVersion()) }, nil
		},
		"reply": func(ff *flowpb.FlowFilter) (predicate, error) {
			rs := ff.GetReply()
			// Like Hubble, a flow that does not say whether it is a reply
			// matches neither true nor false.
			return func(f *flowpb.Flow) bool {
				return f.GetIsReply() != nil && slices.Contains(rs, f.GetIsReply().GetValue())
			}, nil
		},
		"event_type": func(ff *flowpb.FlowFilter) (predicate, error) {
			ets := ff.GetEventType()
			return func(f *flowpb.Flow) bool {
				et := f.GetEventType()
				if et == nil {
					return false
				}
				return slices.ContainsFunc(ets, func(want *flowpb.EventTypeFilter) bool {
					return want.GetType() == et.GetType() && (!want.GetMatchSubType() || want.GetSubType() == et.GetSubType())
				})
			}, nil
		},
		"node_name": func(ff *flowpb.FlowFilter) (predicate, error) {
			return nodeNames(ff.GetNodeName())
		},
		"protocol": func(ff *flowpb.FlowFilter) (predicate, error) {
			return protocols(ff.GetProtocol())
		},
		"source_fqdn": func(ff *flowpb.FlowFilter) (predicate, error) {
			return fqdns(ff.GetSourceFqdn(), (*flowpb.Flow).GetSourceNames)
		},
		"destination_fqdn": func(ff *flowpb.FlowFilter) (predicate, error) {
			return fqdns(ff.GetDestinationFqdn(), (*flowpb.Flow).GetDestinationNames)
		},
		"http_status_code": func(ff *flowpb.FlowFilter) (predicate, error) {
			return httpStatusCodes(ff.GetHttpStatusCode())
		},
		"http_method": func(ff *flowpb.FlowFilter) (predicate, error) {
			methods := ff.GetHttpMethod()
			return func(f *flowpb.Flow) bool {
				m := f.GetL7().GetHttp().GetMethod()
				return m != "" && slices.ContainsFunc(methods, func(want string) bool { return strings.EqualFold(m, want) })
			}, nil
		},
		"http_path": func(ff *flowpb.FlowFilter) (predicate, error) {
			return httpPaths(ff.GetHttpPath())
		},
		"tcp_flags": func(ff *flowpb.FlowFilter) (predicate, error) {
			sets := ff.GetTcpFlags()
			return func(f *flowpb.Flow) bool {
				got := f.GetL4().GetTCP().GetFlags()
				return got != nil && slices.ContainsFunc(sets, func(want *flowpb.TCPFlags) bool { return hasTCPFlags(got, want) })
			}, nil
		},
		"uuid": func(ff *flowpb.FlowFilter) (predicate, error) {
			ids := ff.GetUuid()
			return func(f *flowpb.Flow) bool { return slices.Contains(ids, f.GetUuid()) }, nil
		},
	}
}

// fqdns matches DNS names with Hubble's patterns: '*' stands for any run
// of name characters, and a trailing dot and case do not matter.
func fqdns(patterns []string, names func(*flowpb.Flow) []string) (predicate, error) {
	alts := make([]string, 0, len(patterns))
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p), "."))
		if p == "" {
			return nil, fmt.Errorf("empty FQDN pattern")
		}
		alts = append(alts, strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, `[-.0-9_a-z]*`))
	}
	re, err := regexp.Compile(`\A(?:` + strings.Join(alts, "|") + `)\z`)
	if err != nil {
		return nil, err
	}
	return func(f *flowpb.Flow) bool {
		return slices.ContainsFunc(names(f), func(n string) bool {
			return re.MatchString(strings.ToLower(strings.TrimSuffix(n, ".")))
		})
	}, nil
}

// httpStatusCodes matches full codes ("404") and prefixes ("5+", "40+").
func httpStatusCodes(codes []string) (predicate, error) {
	full := regexp.MustCompile(`^[1-5][0-9]{2}$`)
	prefix := regexp.MustCompile(`^[1-5][0-9]?\+$`)
	var want []string
	for _, c := range codes {
		switch {
		case full.MatchString(c):
			want = append(want, c)
		case prefix.MatchString(c):
			want = append(want, strings.TrimSuffix(c, "+"))
		default:
			return nil, fmt.Errorf("invalid status code %q: want 404, 4+ or 40+", c)
		}
	}
	return func(f *flowpb.Flow) bool {
		code := f.GetL7().GetHttp().GetCode()
		if code == 0 {
			return false
		}
		got := fmt.Sprintf("%03d", code)
		return slices.ContainsFunc(want, func(w string) bool { return strings.HasPrefix(got, w) })
	}, nil
}

// httpPaths matches the path of the request URL against regular
// expressions.
func httpPaths(exprs []string) (predicate, error) {
	res := make([]*regexp.Regexp, 0, len(exprs))
	for _, e := range exprs {
		re, err := regexp.Compile(e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e, err)
		}
		res = append(res, re)
	}
	return func(f *flowpb.Flow) bool {
		raw := f.GetL7().GetHttp().GetUrl()
		if raw == "" {
			return false
		}
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			return false
		}
		return slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(u.Path) })
	}, nil
}

// hasTCPFlags reports whether got has every flag want sets.
func hasTCPFlags(got, want *flowpb.TCPFlags) bool {
	return (!want.GetFIN() || got.GetFIN()) && (!want.GetSYN() || got.GetSYN()) && (!want.GetRST() || got.GetRST()) &&
		(!want.GetPSH() || got.GetPSH()) && (!want.GetACK() || got.GetACK()) && (!want.GetURG() || got.GetURG()) &&
		(!want.GetECE() || got.GetECE()) && (!want.GetCWR() || got.GetCWR()) && (!want.GetNS() || got.GetNS())
}

// compileFilters compiles a whitelist or blacklist.
func compileFilters(filters []*flowpb.FlowFilter) (filterList, error) {
	out := make(filterList, 0, len(filters))
	builders := filterBuilders()
	for _, ff := range filters {
		var (
			compiled flowFilter
			err      error
		)
		ff.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			build, ok := builders[fd.Name()]
			if !ok {
				err = fmt.Errorf("netpolgen replay does not support the %s filter; supported: %s", fd.Name(), supportedFilters())
				return false
			}
			var p predicate
			if p, err = build(ff); err != nil {
				err = fmt.Errorf("invalid %s filter: %w", fd.Name(), err)
				return false
			}
			compiled = append(compiled, p)
			return true
		})
		if err != nil {
			return nil, err
		}
		out = append(out, compiled)
	}
	return out, nil
}

func supportedFilters() string {
	builders := filterBuilders()
	names := make([]string, 0, len(builders))
	for n := range builders {
		names = append(names, string(n))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// namespacedName matches "namespace/prefix" patterns as Hubble does: a
// missing namespace part means "default", an empty prefix any name.
func namespacedName(patterns []string, get func(*flowpb.Flow) (ns, name string)) (predicate, error) {
	type pattern struct{ ns, prefix string }
	ps := make([]pattern, 0, len(patterns))
	for _, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("name must not be empty")
		}
		ns, name, found := strings.Cut(p, "/")
		if !found {
			ns, name = "default", p
		}
		ps = append(ps, pattern{ns, name})
	}
	return func(f *flowpb.Flow) bool {
		ns, name := get(f)
		if ns == "" && name == "" {
			return false
		}
		for _, p := range ps {
			if (p.prefix == "" || strings.HasPrefix(name, p.prefix)) && (p.ns == "" || p.ns == ns) {
				return true
			}
		}
		return false
	}, nil
}

func labelSelectors(selectors []string, get func(*flowpb.Flow) []string) (predicate, error) {
	sels := make([]selector, 0, len(selectors))
	for _, s := range selectors {
		sel, err := parseSelector(s)
		if err != nil {
			return nil, err
		}
		sels = append(sels, sel)
	}
	return func(f *flowpb.Flow) bool {
		labels := get(f)
		for _, sel := range sels {
			if sel.matches(labels) {
				return true
			}
		}
		return false
	}, nil
}

func ipPrefixes(values []string, get func(*flowpb.Flow) string) (predicate, error) {
	prefixes := make([]netip.Prefix, 0, len(values))
	for _, v := range values {
		if p, err := netip.ParsePrefix(v); err == nil {
			prefixes = append(prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", v)
		}
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return func(f *flowpb.Flow) bool {
		a, err := netip.ParseAddr(get(f))
		if err != nil {
			return false
		}
		for _, p := range prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}, nil
}

func l4Ports(f *flowpb.Flow, source bool) (uint32, bool) {
	l4 := f.GetL4()
	var src, dst uint32
	switch {
	case l4.GetTCP() != nil:
		src, dst = l4.GetTCP().GetSourcePort(), l4.GetTCP().GetDestinationPort()
	case l4.GetUDP() != nil:
		src, dst = l4.GetUDP().GetSourcePort(), l4.GetUDP().GetDestinationPort()
	case l4.GetSCTP() != nil:
		src, dst = l4.GetSCTP().GetSourcePort(), l4.GetSCTP().GetDestinationPort()
	default:
		return 0, false
	}
	if source {
		return src, true
	}
	return dst, true
}

func ports(values []string, get func(*flowpb.Flow) (uint32, bool)) (predicate, error) {
	want := make([]uint32, 0, len(values))
	for _, v := range values {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%q is not a port number", v)
		}
		want = append(want, uint32(p))
	}
	return func(f *flowpb.Flow) bool {
		p, ok := get(f)
		return ok && slices.Contains(want, p)
	}, nil
}

// nodeNames matches "cluster/node" glob patterns as Hubble does: '*'
// stands for any run of name characters, and a node name without a
// cluster belongs to the "default" cluster.
func nodeNames(patterns []string) (predicate, error) {
	const name = `[-.0-9_a-z]+`
	alts := make([]string, 0, len(patterns))
	for _, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("empty node name pattern")
		}
		cluster, node, found := strings.Cut(p, "/")
		if !found {
			cluster, node = "", p
		}
		if strings.Contains(node, "/") {
			return nil, fmt.Errorf("%q: too many slashes", p)
		}
		glob := func(s string) string {
			if s == "" {
				return name
			}
			return strings.ReplaceAll(regexp.QuoteMeta(strings.ToLower(s)), `\*`, `[-.0-9_a-z]*`)
		}
		alts = append(alts, glob(cluster)+"/"+glob(node))
	}
	re, err := regexp.Compile(`\A(?:` + strings.Join(alts, "|") + `)\z`)
	if err != nil {
		return nil, err
	}
	return func(f *flowpb.Flow) bool {
		n := f.GetNodeName()
		if n == "" {
			return false
		}
		if !strings.Contains(n, "/") {
			n = "default/" + n
		}
		return re.MatchString(n)
	}, nil
}

// protocols matches layer-4 protocols by name, plus "icmp" for either
// ICMP and the L7 protocols "http", "dns" and "kafka", as Hubble does.
func protocols(names []string) (predicate, error) {
	known := []string{"tcp", "udp", "sctp", "icmp", "icmpv4", "icmpv6", "vrrp", "igmp", "http", "dns", "kafka"}
	want := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.ToLower(n)
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown protocol %q; known: %s", n, strings.Join(known, ", "))
		}
		want = append(want, n)
	}
	return func(f *flowpb.Flow) bool {
		l4, l7 := f.GetL4(), f.GetL7()
		for _, n := range want {
			var ok bool
			switch n {
			case "tcp":
				ok = l4.GetTCP() != nil
			case "udp":
				ok = l4.GetUDP() != nil
			case "sctp":
				ok = l4.GetSCTP() != nil
			case "icmp":
				ok = l4.GetICMPv4() != nil || l4.GetICMPv6() != nil
			case "icmpv4":
				ok = l4.GetICMPv4() != nil
			case "icmpv6":
				ok = l4.GetICMPv6() != nil
			case "vrrp":
				ok = l4.GetVRRP() != nil
			case "igmp":
				ok = l4.GetIGMP() != nil
			case "http":
				ok = l7.GetHttp() != nil
			case "dns":
				ok = l7.GetDns() != nil
			case "kafka":
				ok = l7.GetKafka() != nil //nolint:staticcheck // older agents still send it
			}
			if ok {
				return true
			}
		}
		return false
	}, nil
}
