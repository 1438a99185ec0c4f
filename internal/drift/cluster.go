package drift

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/pkg/synth"
	"github.com/netpolgen/netpolgen/pkg/verify"
)

// ClusterSource holds the live cluster's policies, kept current by
// informers, so a policy applied, edited or deleted in the cluster is
// checked against at once, without a restart.
type ClusterSource struct {
	name    string
	changed chan struct{}
	stop    context.CancelFunc

	mu      sync.Mutex
	objects map[string]*unstructured.Unstructured // by kind/namespace/name
	// cached is the set built from objects, until the next event.
	cached *verify.Policies
}

// NewClusterSource starts informers for NetworkPolicies,
// CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies and waits up
// to syncTimeout for their first list. The informers stop when ctx ends
// or Close is called.
func NewClusterSource(ctx context.Context, client dynamic.Interface, name string, syncTimeout time.Duration) (*ClusterSource, error) {
	ictx, stop := context.WithCancel(ctx)
	s := &ClusterSource{name: name, changed: make(chan struct{}, 1), stop: stop, objects: map[string]*unstructured.Unstructured{}}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(client, 0)
	// The kinds internal/cluster reads (NetworkPolicy, CiliumNetworkPolicy and
	// CiliumClusterwideNetworkPolicy); its reader lists once, drift watches.
	kinds := cluster.PolicyKinds()
	synced := make([]cache.InformerSynced, 0, len(kinds))
	for _, k := range kinds {
		inf := factory.ForResource(k.GVR).Informer()
		kind := k.Kind
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.put(kind, obj) },
			UpdateFunc: func(_, obj any) { s.put(kind, obj) },
			DeleteFunc: func(obj any) { s.remove(kind, obj) },
		})
		if err != nil {
			stop()
			return nil, fmt.Errorf("watch %s: %w", k.GVR.Resource, err)
		}
		synced = append(synced, inf.HasSynced)
	}
	factory.Start(ictx.Done())
	wctx, cancel := context.WithTimeout(ictx, syncTimeout)
	defer cancel()
	for i, ok := range synced {
		if !cache.WaitForCacheSync(wctx.Done(), ok) {
			stop()
			return nil, fmt.Errorf("list %s in %s: no answer within %v (is the CRD installed, and may this identity list and watch it? see deploy/rbac.yaml)",
				kinds[i].GVR.Resource, name, syncTimeout)
		}
	}
	return s, nil
}

func (s *ClusterSource) put(kind string, obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	s.mu.Lock()
	s.objects[kind+"/"+u.GetNamespace()+"/"+u.GetName()] = u
	s.cached = nil
	s.mu.Unlock()
	s.signal()
}

func (s *ClusterSource) remove(kind string, obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.objects, kind+"/"+u.GetNamespace()+"/"+u.GetName())
	s.cached = nil
	s.mu.Unlock()
	s.signal()
}

// signal wakes the runner without blocking; one pending signal is enough.
func (s *ClusterSource) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Policies implements PolicySource. A policy Cilium's types cannot read
// is an error naming it; the previous set stays in use meanwhile.
func (s *ClusterSource) Policies() (*verify.Policies, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil {
		return s.cached, nil
	}
	keys := make([]string, 0, len(s.objects))
	for k := range s.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ps := &verify.Policies{}
	for _, k := range keys {
		if synth.IsVisibility(s.objects[k].GetLabels()) {
			// Learning mode: see verify.Policies.WithoutLearningMode.
			continue
		}
		data, err := policyDocument(s.objects[k])
		if err == nil {
			err = ps.Add(k, data)
		}
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %w", k, s.name, err)
		}
	}
	s.cached = ps
	return ps, nil
}

// policyDocument keeps what the policy engine reads: server-side fields
// (managedFields, status, resourceVersion) would fail strict parsing.
func policyDocument(u *unstructured.Unstructured) ([]byte, error) {
	kind := u.GetKind()
	if kind == cluster.CiliumClusterwideNetworkPolicyKind().Kind {
		// Cilium parses a clusterwide policy as a CiliumNetworkPolicy
		// without a namespace; so does the engine here.
		kind = cluster.CiliumNetworkPolicyKind().Kind
	}
	doc := map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": kind,
		"metadata": map[string]any{"name": u.GetName(), "namespace": u.GetNamespace(), "labels": u.GetLabels(), "uid": string(u.GetUID())},
	}
	for _, field := range []string{"spec", "specs"} {
		if v, ok := u.Object[field]; ok {
			doc[field] = v
		}
	}
	return json.Marshal(doc)
}

// Changed implements PolicySource.
func (s *ClusterSource) Changed() <-chan struct{} { return s.changed }

// Name implements PolicySource.
func (s *ClusterSource) Name() string { return s.name }

// Close stops the informers (ending the context given to
// NewClusterSource does too).
func (s *ClusterSource) Close() { s.stop() }
