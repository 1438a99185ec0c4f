package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Snapshot is what one Read saw.
type Snapshot struct {
	Server     string
	Namespaces []Namespace
	Pods       *PodIndex
	// Policies are every NetworkPolicy, CiliumNetworkPolicy and
	// CiliumClusterwideNetworkPolicy, sorted by kind, namespace and name.
	Policies []*unstructured.Unstructured
	// Absent names the policy resources the cluster does not serve
	// (Cilium's CRDs not installed), with why.
	Absent []string
	// APIServer are the kube-apiserver's endpoints from the
	// default/kubernetes EndpointSlice.
	APIServer []netip.AddrPort
	// Exposures are the Service ports reachable from outside the cluster
	// (LoadBalancer, NodePort, Ingress and HTTPRoute backends), evidence
	// for public endpoints; ExposureNotes say what could not be read.
	Exposures     []Exposure
	ExposureNotes []string
}

// Namespace is a namespace and its labels.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// pageSize bounds each list call so large clusters are read in pages.
const pageSize = 500

// Read lists everything a Snapshot holds, cluster-wide.
func (c *Client) Read(ctx context.Context) (*Snapshot, error) {
	s := &Snapshot{Server: c.host}
	var err error
	if s.Namespaces, err = c.namespaces(ctx); err != nil {
		return nil, err
	}
	pods, err := c.pods(ctx)
	if err != nil {
		return nil, err
	}
	s.Pods = NewPodIndex(pods)
	if s.Policies, s.Absent, err = c.ReadPolicies(ctx); err != nil {
		return nil, err
	}
	if s.APIServer, err = c.apiServerEndpoints(ctx); err != nil {
		return nil, err
	}
	s.Exposures, s.ExposureNotes = c.exposures(ctx)
	return s, nil
}

func (c *Client) namespaces(ctx context.Context) ([]Namespace, error) {
	var out []Namespace
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		list, err := c.typed.CoreV1().Namespaces().List(ctx, opts)
		if err != nil {
			return nil, c.requestError("list", schema.GroupResource{Resource: "namespaces"}, "", err)
		}
		for _, ns := range list.Items {
			out = append(out, Namespace{Name: ns.Name, Labels: ns.Labels})
		}
		if opts.Continue = list.Continue; opts.Continue == "" {
			return out, nil
		}
	}
}

func (c *Client) pods(ctx context.Context) ([]corev1.Pod, error) {
	var out []corev1.Pod
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		list, err := c.typed.CoreV1().Pods(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return nil, c.requestError("list", schema.GroupResource{Resource: "pods"}, "", err)
		}
		out = append(out, list.Items...)
		if opts.Continue = list.Continue; opts.Continue == "" {
			return out, nil
		}
	}
}

// ReadPolicies lists the policies of every kind the cluster serves. A
// Cilium kind whose CRD is not installed is named in absent instead.
func (c *Client) ReadPolicies(ctx context.Context) (policies []*unstructured.Unstructured, absent []string, err error) {
	for _, kind := range PolicyKinds() {
		items, err := c.listPolicies(ctx, kind)
		if apierrors.IsNotFound(err) {
			absent = append(absent, fmt.Sprintf("%s (%s): not served by this cluster; is Cilium installed?", kind.Kind, kind.GVR.GroupResource()))
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		policies = append(policies, items...)
	}
	SortObjects(policies)
	return policies, absent, nil
}

func (c *Client) listPolicies(ctx context.Context, kind PolicyKind) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		list, err := c.dynamic.Resource(kind.GVR).List(ctx, opts)
		if apierrors.IsNotFound(err) {
			return nil, err
		}
		if err != nil {
			return nil, c.requestError("list", kind.GVR.GroupResource(), "", err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			obj.SetAPIVersion(kind.APIVersion())
			obj.SetKind(kind.Kind)
			out = append(out, obj)
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}

// apiServerEndpoints reads the addresses the kube-apiserver publishes for
// itself; the slice is absent on clusters that do not mirror it.
func (c *Client) apiServerEndpoints(ctx context.Context) ([]netip.AddrPort, error) {
	list, err := c.typed.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=kubernetes",
	})
	if err != nil {
		return nil, c.requestError("list", schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, metav1.NamespaceDefault, err)
	}
	var out []netip.AddrPort
	for _, slice := range list.Items {
		for _, port := range slice.Ports {
			if port.Port == nil || (port.Name != nil && *port.Name != "https") {
				continue
			}
			for _, ep := range slice.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					continue
				}
				for _, a := range ep.Addresses {
					if addr, err := netip.ParseAddr(a); err == nil {
						out = append(out, netip.AddrPortFrom(addr, uint16(*port.Port)))
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Compare(out[j]) < 0 })
	return out, nil
}

// APIServerAddrs are the kube-apiserver's addresses without ports, for
// NetworkPolicy ipBlocks.
func (s *Snapshot) APIServerAddrs() []netip.Addr {
	var out []netip.Addr
	for _, ap := range s.APIServer {
		if len(out) == 0 || out[len(out)-1] != ap.Addr() {
			out = append(out, ap.Addr())
		}
	}
	return out
}

// NamespaceLabels returns a namespace's labels, or nil when it is unknown.
func (s *Snapshot) NamespaceLabels(name string) map[string]string {
	for _, ns := range s.Namespaces {
		if ns.Name == name {
			return ns.Labels
		}
	}
	return nil
}

// SortObjects orders objects by kind (in PolicyKinds order), namespace
// and name.
func SortObjects(objs []*unstructured.Unstructured) {
	rank := map[string]int{}
	for i, k := range PolicyKinds() {
		rank[k.Kind] = i
	}
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if ra, rb := rank[a.GetKind()], rank[b.GetKind()]; ra != rb {
			return ra < rb
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}
