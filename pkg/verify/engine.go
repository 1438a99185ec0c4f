package verify

import (
	"fmt"
	"log/slog"
	"math"

	"github.com/cilium/cilium/pkg/crypto/certificatemanager"
	"github.com/cilium/cilium/pkg/endpoint/regeneration"
	envoypolicy "github.com/cilium/cilium/pkg/envoy/policy"
	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/identity/identitymanager"
	ipcachetypes "github.com/cilium/cilium/pkg/ipcache/types"
	"github.com/cilium/cilium/pkg/k8s"
	"github.com/cilium/cilium/pkg/policy"
	policytypes "github.com/cilium/cilium/pkg/policy/types"
	policyutils "github.com/cilium/cilium/pkg/policy/utils"
	testidentity "github.com/cilium/cilium/pkg/testutils/identity"
	testpolicy "github.com/cilium/cilium/pkg/testutils/policy"
	"github.com/cilium/cilium/pkg/u8proto"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// anyCluster makes parsed policies match peers of any cluster, as a
// single-cluster agent does.
const anyCluster = ""

// engine is an offline Cilium policy repository loaded with policies and
// the identities of one graph.
type engine struct {
	logger *slog.Logger
	repo   *policy.Repository
	idm    identitymanager.IDManager
}

func newEngine(logger *slog.Logger, ids identity.IdentityMap, ps *Policies) (*engine, error) {
	return newEngineWith(logger, ids, ps, nil)
}

// newEngineWith loads the policies into a new engine, each under its
// resource ID; visit, when set, sees (and may relabel) each policy's
// entries before they are added.
func newEngineWith(logger *slog.Logger, ids identity.IdentityMap, ps *Policies, visit func(kind, namespace, name string, entries policytypes.PolicyEntries)) (*engine, error) {
	idm := identitymanager.NewIDManager(logger)
	// HTTP rules are translated for Envoy when a policy is resolved; the
	// secrets a header rule may name are never fetched offline.
	l7 := envoypolicy.NewEnvoyL7RulesTranslator(logger, certificatemanager.NewMockSecretManagerSDS())
	repo := policy.NewPolicyRepository(logger, ids, nil, l7, idm, testpolicy.NewPolicyMetricsNoop())
	repo.GetSelectorCache().SetLocalIdentityNotifier(testidentity.NewDummyIdentityNotifier())
	idm.Subscribe(testpolicy.SelectorCacheObserver{Cache: repo.GetSubjectSelectorCache()})
	resources := resourceIDs{}
	add := func(kind string, resKind ipcachetypes.ResourceKind, namespace, name string, entries policytypes.PolicyEntries) {
		if visit != nil {
			visit(kind, namespace, name, entries)
		}
		repo.ReplaceByResource(entries, resources.next(resKind, namespace, name))
	}
	for _, np := range ps.Kubernetes {
		entries, err := k8s.ParseNetworkPolicy(logger, anyCluster, np)
		if err != nil {
			return nil, fmt.Errorf("NetworkPolicy %s/%s: Cilium cannot parse it: %w", np.Namespace, np.Name, err)
		}
		add("NetworkPolicy", ipcachetypes.ResourceKindNetpol, np.Namespace, np.Name, entries)
	}
	for _, cnp := range ps.Cilium {
		rules, err := cnp.Parse(logger, anyCluster)
		if err != nil {
			return nil, fmt.Errorf("CiliumNetworkPolicy %s/%s: Cilium cannot parse it: %w", cnp.Namespace, cnp.Name, err)
		}
		kind, resKind := "CiliumNetworkPolicy", ipcachetypes.ResourceKindCNP
		if cnp.Namespace == "" {
			// Cilium parses a clusterwide policy as a namespace-less CNP.
			kind, resKind = "CiliumClusterwideNetworkPolicy", ipcachetypes.ResourceKindCCNP
		}
		add(kind, resKind, cnp.Namespace, cnp.Name, policyutils.RulesToPolicyEntries(rules))
	}
	return &engine{logger: logger, repo: repo, idm: idm}, nil
}

// resourceIDs names each policy object as the agent does, by kind,
// namespace and name. The repository indexes rules by that namespace, so
// resolving a pod's policy visits only its own namespace's rules and the
// clusterwide ones instead of every rule. A name given twice (two files
// holding the same object) gets a numbered twin so both still count, as
// verification always did.
type resourceIDs map[ipcachetypes.ResourceID]int

func (r resourceIDs) next(kind ipcachetypes.ResourceKind, namespace, name string) ipcachetypes.ResourceID {
	id := ipcachetypes.NewResourceID(kind, namespace, name)
	r[id]++
	if n := r[id]; n > 1 {
		return ipcachetypes.NewResourceID(kind, namespace, fmt.Sprintf("%s#%d", name, n))
	}
	return id
}

// lookup is Cilium's verdict for one connection, egress at the source and
// ingress at the destination.
func (e *engine) lookup(from, to *identity.Identity, port observe.Protocol, dport uint16) (policytypes.LookupResult, error) {
	proto, err := u8Proto(port)
	if err != nil {
		return policytypes.LookupResult{}, err
	}
	v, _, _, err := policy.LookupFlow(e.logger, e.repo, e.idm, policytypes.Flow{From: from, To: to, Proto: proto, Dport: dport})
	return v, err
}

// subjectPolicy is one identity's distilled policy, for many lookups.
type subjectPolicy struct {
	epp *policy.EndpointPolicy
}

// distill resolves an identity's policy once, as LookupFlow does per call.
func (e *engine) distill(id *identity.Identity) (*subjectPolicy, error) {
	e.idm.Add(id)
	sp, _, err := e.repo.ComputeSelectorPolicy(id)
	if err != nil {
		return nil, fmt.Errorf("resolve policy of identity %d: %w", id.ID, err)
	}
	epp := sp.DistillPolicy(e.logger, &owner{id: uint64(id.ID)}, map[string]uint16{policy.FallbackRedirectID: math.MaxUint16})
	if err := epp.Ready(); err != nil {
		return nil, fmt.Errorf("distil policy of identity %d: %w", id.ID, err)
	}
	return &subjectPolicy{epp: epp}, nil
}

func (s *subjectPolicy) allows(ingress bool, peer identity.NumericIdentity, proto observe.Protocol, port uint16) bool {
	p, err := u8Proto(proto)
	if err != nil {
		return false
	}
	key := policy.EgressKey()
	if ingress {
		key = policy.IngressKey()
	}
	entry, _, _ := s.epp.Lookup(key.WithIdentity(peer).WithPortProto(p, port))
	return !entry.IsDeny()
}

func (e *engine) release(s *subjectPolicy) { s.epp.Detach(e.logger) }

func u8Proto(p observe.Protocol) (u8proto.U8proto, error) {
	switch p {
	case observe.ProtoTCP:
		return u8proto.TCP, nil
	case observe.ProtoUDP:
		return u8proto.UDP, nil
	case observe.ProtoSCTP:
		return u8proto.SCTP, nil
	case observe.ProtoICMPv4:
		// Cilium keys ICMP by message type where ports would be.
		return u8proto.ICMP, nil
	case observe.ProtoICMPv6:
		return u8proto.ICMPv6, nil
	}
	return 0, fmt.Errorf("protocol %s has no ports to check", p)
}

// owner is the minimal endpoint DistillPolicy needs: no named ports, not
// the host, nothing to regenerate.
type owner struct{ id uint64 }

func (o *owner) GetID() uint64                                      { return o.id }
func (o *owner) GetIngressNamedPort(string, u8proto.U8proto) uint16 { return 0 }
func (o *owner) PolicyDebug(string, ...any)                         {}
func (o *owner) IsHost() bool                                       { return false }
func (o *owner) PreviousMapStateSizes() policy.MapStateSizes        { return policy.MapStateSizes{} }
func (o *owner) RegenerateIfAlive(*regeneration.ExternalRegenerationMetadata) <-chan bool {
	ch := make(chan bool)
	close(ch)
	return ch
}

// verdicts caches each identity's distilled policy, so checking a graph
// costs one policy resolution per identity instead of two per connection
// (LookupFlow resolves both ends on every call). A verdict is the same
// ComputeSelectorPolicy, DistillPolicy and Lookup LookupFlow performs;
// tests compare every observed verdict with LookupFlow itself.
type verdicts struct {
	eng   *engine
	cache map[identity.NumericIdentity]*subjectPolicy
}

func newVerdicts(eng *engine) *verdicts {
	return &verdicts{eng: eng, cache: map[identity.NumericIdentity]*subjectPolicy{}}
}

func (v *verdicts) of(id *identity.Identity) (*subjectPolicy, error) {
	if p := v.cache[id.ID]; p != nil {
		return p, nil
	}
	p, err := v.eng.distill(id)
	if err != nil {
		return nil, err
	}
	v.cache[id.ID] = p
	return p, nil
}

// lookup is the verdict on one connection: egress at the source, ingress
// at the destination.
func (v *verdicts) lookup(from, to *identity.Identity, proto observe.Protocol, port uint16) (policytypes.LookupResult, error) {
	src, err := v.of(from)
	if err != nil {
		return policytypes.LookupResult{}, err
	}
	dst, err := v.of(to)
	if err != nil {
		return policytypes.LookupResult{}, err
	}
	decide := func(allowed bool) policytypes.Decision {
		if allowed {
			return policytypes.DecisionAllowed
		}
		return policytypes.DecisionDenied
	}
	return policytypes.LookupResult{
		Egress:  decide(src.allows(false, to.ID, proto, port)),
		Ingress: decide(dst.allows(true, from.ID, proto, port)),
	}, nil
}

func (v *verdicts) release() {
	for _, p := range v.cache {
		v.eng.release(p)
	}
}
