package verify

import (
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/cilium/cilium/pkg/fqdn/matchpattern"
	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/policy"
	policytypes "github.com/cilium/cilium/pkg/policy/types"
	ciliumapi "github.com/cilium/proxy/go/cilium/api"
	envoyroute "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/netpolgen/netpolgen/internal/l7/routes"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// L7Request is one L7 request to judge: an HTTP request (Method, Path,
// Host) to To's port, or a DNS lookup of Name sent by From to the DNS
// server To.
type L7Request struct {
	From, To synth.Peer
	Port     synth.PortKey
	Method   string
	// Path is what Envoy matches: the path and query as sent.
	Path string
	Host string
	Name string
	// Why says how a never-observed request was made.
	Why string
}

func (r L7Request) String() string {
	if r.Name != "" {
		s := fmt.Sprintf("%s -> %s %s: DNS %s", r.From, r.To, r.Port, r.Name)
		if r.Why != "" {
			s += " (" + r.Why + ")"
		}
		return s
	}
	s := fmt.Sprintf("%s -> %s %s: %s %s", r.From, r.To, r.Port, r.Method, r.Path)
	if r.Why != "" {
		s += " (" + r.Why + ")"
	}
	return s
}

// L7Result is what L7 verification found.
type L7Result struct {
	// Observed counts the observed requests checked, Allowed those the
	// policies allow; Denied are the others, each a request that would
	// get a 403 or a refused DNS answer on enforcement.
	Observed, Allowed int
	Denied            []L7Request
	// Candidates counts the never-observed requests asked about; Excess
	// are those the policies allow.
	Candidates int
	Excess     []L7Request
}

// OK reports whether every observed request is allowed.
func (r *L7Result) OK() bool { return len(r.Denied) == 0 }

// Summary is the result as REPORT.md states it.
func (r *L7Result) Summary() *synth.L7Verification {
	s := &synth.L7Verification{Observed: r.Observed, Allowed: r.Allowed, Candidates: r.Candidates}
	for _, d := range r.Denied {
		s.Denied = append(s.Denied, d.String())
	}
	for _, e := range r.Excess {
		s.Excess = append(s.Excess, e.String())
	}
	return s
}

// VerifyL7 judges requests with Cilium's resolved policy: the L3/L4
// verdict of the connection, then the L7 rules Cilium attached to the
// port for the peer (for HTTP, the rules as translated for Envoy, matched
// as Envoy matches headers: regular expressions against the whole value;
// for DNS, the DNS proxy's patterns). Observed requests must be allowed
// for every identity pair they were seen with; a never-observed request
// is excess when any pair allows it.
func VerifyL7(g *synth.Graph, ps *Policies, observed, never []L7Request, opts Options) (*L7Result, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	setLocalhostMode(opts.LocalhostByPolicy)
	peers := graphPeers(g)
	for _, r := range append(append([]L7Request(nil), observed...), never...) {
		peers = appendPeer(peers, r.From)
		peers = appendPeer(peers, r.To)
	}
	ids, err := newIdentities(g, peers)
	if err != nil {
		return nil, err
	}
	eng, err := newEngine(logger, ids.all, ps)
	if err != nil {
		return nil, err
	}
	j := &l7Judge{eng: eng, cache: newVerdicts(eng), subjects: map[identity.NumericIdentity]*l7Subject{}}
	defer j.release()
	res := &L7Result{}
	for _, r := range observed {
		res.Observed++
		ok := true
		for _, from := range ids.byPeer[r.From] {
			for _, to := range ids.byPeer[r.To] {
				allowed, err := j.allows(from, to, r)
				if err != nil {
					return nil, fmt.Errorf("verify %s: %w", r, err)
				}
				ok = ok && allowed
			}
		}
		if ok && len(ids.byPeer[r.From]) > 0 && len(ids.byPeer[r.To]) > 0 {
			res.Allowed++
		} else {
			res.Denied = append(res.Denied, r)
		}
	}
	for _, r := range never {
		res.Candidates++
		allowed := false
		for _, from := range ids.byPeer[r.From] {
			for _, to := range ids.byPeer[r.To] {
				a, err := j.allows(from, to, r)
				if err != nil {
					return nil, fmt.Errorf("verify %s: %w", r, err)
				}
				allowed = allowed || a
			}
		}
		if allowed {
			res.Excess = append(res.Excess, r)
		}
	}
	return res, nil
}

func appendPeer(peers []synth.Peer, p synth.Peer) []synth.Peer {
	for _, q := range peers {
		if q == p {
			return peers
		}
	}
	return append(peers, p)
}

// l7Judge resolves each identity's policy once.
type l7Judge struct {
	eng      *engine
	cache    *verdicts
	subjects map[identity.NumericIdentity]*l7Subject
}

type l7Subject struct {
	sp  policy.SelectorPolicy
	epp *policy.EndpointPolicy
}

func (j *l7Judge) subject(id *identity.Identity) (*l7Subject, error) {
	if s, ok := j.subjects[id.ID]; ok {
		return s, nil
	}
	j.eng.idm.Add(id)
	sp, _, err := j.eng.repo.ComputeSelectorPolicy(id)
	if err != nil {
		return nil, fmt.Errorf("resolve policy of identity %d: %w", id.ID, err)
	}
	epp := sp.DistillPolicy(j.eng.logger, &owner{id: uint64(id.ID)}, map[string]uint16{policy.FallbackRedirectID: math.MaxUint16})
	if err := epp.Ready(); err != nil {
		return nil, fmt.Errorf("distil policy of identity %d: %w", id.ID, err)
	}
	s := &l7Subject{sp: sp, epp: epp}
	j.subjects[id.ID] = s
	return s, nil
}

func (j *l7Judge) release() {
	for _, s := range j.subjects {
		s.epp.Detach(j.eng.logger)
	}
	j.cache.release()
}

// allows judges one request between two identities.
func (j *l7Judge) allows(from, to *identity.Identity, r L7Request) (bool, error) {
	v, err := j.cache.lookup(from, to, r.Port.Protocol, r.Port.Port)
	if err != nil {
		return false, err
	}
	if v.Egress != policytypes.DecisionAllowed || v.Ingress != policytypes.DecisionAllowed {
		return false, nil
	}
	// The DNS proxy works on the resolver's egress; HTTP is judged by the
	// proxy the server's ingress rules send it to, and by the client's
	// egress proxy if its rules send it to one.
	if r.Name != "" {
		return j.l7Allows(from, false, to.ID, r)
	}
	ok, err := j.l7Allows(to, true, from.ID, r)
	if err != nil || !ok {
		return ok, err
	}
	return j.l7Allows(from, false, to.ID, r)
}

// l7Allows looks the request up in subject's policy for peer: no proxy
// redirect means no L7 rule applies; otherwise some rule Cilium attached
// to the port for a selector of peer must match.
func (j *l7Judge) l7Allows(subject *identity.Identity, ingress bool, peer identity.NumericIdentity, r L7Request) (bool, error) {
	s, err := j.subject(subject)
	if err != nil {
		return false, err
	}
	proto, err := u8Proto(r.Port.Protocol)
	if err != nil {
		return false, err
	}
	key := policy.EgressKey()
	if ingress {
		key = policy.IngressKey()
	}
	entry, _, _ := s.epp.Lookup(key.WithIdentity(peer).WithPortProto(proto, r.Port.Port))
	if entry.IsDeny() {
		return false, nil
	}
	if !entry.IsRedirectEntry() {
		return true, nil
	}
	for l4, t := range s.sp.RedirectFilters() {
		if l4.GetIngress() != ingress || l4.U8Proto != proto || !portCovers(l4.Port, l4.EndPort, r.Port.Port) || !t.Selector.Selects(peer) {
			continue
		}
		ok, err := matchesL7(t.Policy, r)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func portCovers(port, end, p uint16) bool {
	if port == 0 {
		return true
	}
	if end == 0 {
		return port == p
	}
	return port <= p && p <= end
}

// matchesL7 says whether one selector's L7 rules allow the request.
func matchesL7(ps *policy.PerSelectorPolicy, r L7Request) (bool, error) {
	if ps == nil {
		return true, nil
	}
	if r.Name != "" {
		if ps.L7Parser != policy.ParserTypeDNS {
			return false, nil
		}
		return dnsAllows(ps, r.Name)
	}
	if ps.L7Parser != policy.ParserTypeHTTP {
		return false, nil
	}
	if rules := ps.EnvoyHTTPRules(); rules != nil {
		return envoyAllows(rules, r)
	}
	if len(ps.HTTP) == 0 {
		return true, nil
	}
	for _, h := range ps.HTTP {
		ok := true
		for _, f := range [][2]string{{h.Method, r.Method}, {h.Path, r.Path}, {h.Host, r.Host}} {
			m, err := routes.FullMatch(f[0], f[1])
			if err != nil {
				return false, err
			}
			ok = ok && m
		}
		if ok && len(h.Headers) == 0 && len(h.HeaderMatches) == 0 {
			return true, nil
		}
	}
	return false, nil
}

// dnsAllows matches a name as Cilium's DNS proxy does (GeneratePattern in
// pkg/fqdn/dnsproxy, which this module cannot import): each matchName
// and matchPattern becomes a pattern over the lower-case FQDN.
func dnsAllows(ps *policy.PerSelectorPolicy, name string) (bool, error) {
	if len(ps.DNS) == 0 {
		return true, nil
	}
	fqdn := strings.ToLower(name)
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "."
	}
	var res []string
	for _, d := range ps.DNS {
		if d.MatchName != "" {
			n := strings.ToLower(d.MatchName)
			if !strings.HasSuffix(n, ".") {
				n += "."
			}
			res = append(res, matchpattern.ToUnAnchoredRegexp(n))
		}
		if d.MatchPattern != "" {
			p := matchpattern.ToUnAnchoredRegexp(matchpattern.Sanitize(d.MatchPattern))
			if p == matchpattern.MatchAllUnAnchoredPattern {
				return true, nil
			}
			res = append(res, p)
		}
	}
	re, err := regexp.Compile("^(?:" + strings.Join(res, "|") + ")$")
	if err != nil {
		return false, err
	}
	return re.MatchString(fqdn), nil
}

// envoyAllows evaluates the HTTP rules Cilium gives Envoy: a request is
// allowed when every header matcher of some rule matches.
func envoyAllows(rules *ciliumapi.HttpNetworkPolicyRules, r L7Request) (bool, error) {
	if len(rules.GetHttpRules()) == 0 {
		return true, nil
	}
	headers := map[string]string{":path": r.Path, ":method": r.Method, ":authority": r.Host}
	for _, rule := range rules.GetHttpRules() {
		if len(rule.GetHeaderMatches()) > 0 {
			// Header rules with mismatch actions: netpolgen writes none.
			continue
		}
		all := true
		for _, hm := range rule.GetHeaders() {
			v, present := headers[hm.GetName()]
			present = present && (v != "" || hm.GetName() != ":authority")
			ok, err := headerMatches(hm, v, present)
			if err != nil {
				return false, err
			}
			if !ok {
				all = false
				break
			}
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func headerMatches(hm *envoyroute.HeaderMatcher, v string, present bool) (bool, error) {
	var ok bool
	switch {
	case hm.GetSafeRegexMatch() != nil:
		m, err := routes.FullMatch(hm.GetSafeRegexMatch().GetRegex(), v)
		if err != nil {
			return false, err
		}
		ok = present && m
	case hm.GetStringMatch() != nil:
		sm := hm.GetStringMatch()
		switch {
		case sm.GetSafeRegex() != nil:
			m, err := routes.FullMatch(sm.GetSafeRegex().GetRegex(), v)
			if err != nil {
				return false, err
			}
			ok = m
		case sm.GetPrefix() != "":
			ok = strings.HasPrefix(v, sm.GetPrefix())
		case sm.GetSuffix() != "":
			ok = strings.HasSuffix(v, sm.GetSuffix())
		case sm.GetContains() != "":
			ok = strings.Contains(v, sm.GetContains())
		default:
			ok = v == sm.GetExact()
		}
		ok = ok && present
	case hm.GetPresentMatch():
		ok = present
	default:
		return false, fmt.Errorf("header matcher %q of a kind netpolgen does not evaluate", hm.GetName())
	}
	if hm.GetInvertMatch() {
		ok = !ok
	}
	return ok, nil
}

// ObservedL7 lists the requests the graph's L7 tables kept: each route's
// example requests and every name each resolver looked up.
func ObservedL7(g *synth.Graph) []L7Request {
	var out []L7Request
	for _, e := range g.Edges {
		if e.L7 == nil {
			continue
		}
		if t := e.L7.Routes; t != nil {
			hosts, _ := t.Hosts()
			host := ""
			if len(hosts) > 0 {
				host = hosts[0]
			}
			for _, r := range t.Routes() {
				for _, ex := range r.Examples {
					out = append(out, L7Request{From: e.From, To: e.To, Port: e.Key().Port, Method: r.Method, Path: ex, Host: host})
				}
			}
		}
		for _, n := range e.L7.Lookups {
			out = append(out, L7Request{From: e.From, To: e.To, Port: e.Key().Port, Name: n})
		}
	}
	return out
}

// probe is the segment or label never-observed requests put where an
// observed one had something else.
const probe = "netpolgen-probe"

// NeverObservedL7 makes requests nobody sent, next to the observed ones:
// other methods on an observed route, a sibling of an observed route (its
// last literal segment replaced), a route past an observed one, and DNS
// names below and beside each observed name. Requests an observed route
// or name already stands for are left out.
func NeverObservedL7(g *synth.Graph) []L7Request {
	var out []L7Request
	seen := map[string]bool{}
	add := func(r L7Request) {
		k := r.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	for _, e := range g.Edges {
		if e.L7 == nil {
			continue
		}
		if t := e.L7.Routes; t != nil {
			table := t.Routes()
			hosts, _ := t.Hosts()
			host := ""
			if len(hosts) > 0 {
				host = hosts[0]
			}
			covered := func(method, path string) bool {
				for _, r := range table {
					if m, _ := routes.FullMatch(r.Path, path); m && r.Method == method {
						return true
					}
				}
				return false
			}
			for _, r := range table {
				if len(r.Examples) == 0 {
					continue
				}
				ex := r.Examples[0]
				path, _, _ := strings.Cut(ex, "?")
				base := L7Request{From: e.From, To: e.To, Port: e.Key().Port, Host: host}
				for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
					if !covered(m, ex) {
						q := base
						q.Method, q.Path, q.Why = m, ex, "another method on an observed route"
						add(q)
					}
				}
				if p := sibling(path, r.Template); p != "" && !covered(r.Method, p) {
					q := base
					q.Method, q.Path, q.Why = r.Method, p, "a sibling of an observed route"
					add(q)
				}
				if p := strings.TrimSuffix(path, "/") + "/" + probe; !covered(r.Method, p) {
					q := base
					q.Method, q.Path, q.Why = r.Method, p, "past an observed route"
					add(q)
				}
			}
		}
		for _, n := range e.L7.Lookups {
			for _, cand := range []struct{ name, why string }{
				{probe + "." + n, "a name below an observed one"},
				{siblingName(n), "a name beside an observed one"},
			} {
				if cand.name == "" || contains(e.L7.Lookups, cand.name) {
					continue
				}
				add(L7Request{From: e.From, To: e.To, Port: e.Key().Port, Name: cand.name, Why: cand.why})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// sibling replaces the last literal segment of an observed path (per its
// template) with the probe segment, or returns "" when it has none.
func sibling(path, template string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	tmpl := strings.Split(strings.TrimPrefix(strings.TrimSuffix(template, "?…"), "/"), "/")
	if len(tmpl) != len(segs) {
		return ""
	}
	for i := len(tmpl) - 1; i >= 0; i-- {
		if tmpl[i] != "{id}" && tmpl[i] != "**" && tmpl[i] != "" {
			segs[i] = probe
			return "/" + strings.Join(segs, "/")
		}
	}
	return ""
}

func siblingName(n string) string {
	_, rest, ok := strings.Cut(n, ".")
	if !ok {
		return ""
	}
	return probe + "." + rest
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
