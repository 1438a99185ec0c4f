package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// dnsServiceNames are the names distributions give the cluster DNS
// Service, in the order they are looked for.
func dnsServiceNames() []string { return []string{"kube-dns", "coredns", "rke2-coredns-rke2-coredns"} }

// DNSService is the cluster DNS Service and the pod labels it selects.
type DNSService struct {
	Namespace, Name string
	Selector        map[string]string
}

// ListNamespaces returns the names of the cluster's namespaces, sorted.
func (c *Client) ListNamespaces(ctx context.Context) ([]string, error) {
	nss, err := c.namespaces(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(nss))
	for _, ns := range nss {
		out = append(out, ns.Name)
	}
	sort.Strings(out)
	return out, nil
}

// FindDNSService finds the cluster DNS Service in namespace: by the names
// distributions use, or by the k8s-app=kube-dns label kube-dns and
// CoreDNS both carry. Its selector says which pods serve DNS, which is
// what a policy must select, not the Service's address.
func (c *Client) FindDNSService(ctx context.Context, namespace string) (*DNSService, error) {
	gr := schema.GroupResource{Resource: "services"}
	svcs := c.typed.CoreV1().Services(namespace)
	for _, name := range dnsServiceNames() {
		svc, err := svcs.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, c.requestError("get", gr, namespace, err)
		}
		return dnsService(namespace, svc.Name, svc.Spec.Selector)
	}
	list, err := svcs.List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
	if err != nil {
		return nil, c.requestError("list", gr, namespace, err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("no DNS Service in namespace %s: looked for Services named %s and labelled k8s-app=kube-dns; give the DNS server pods' labels with --dns-selector namespace/key=value",
			namespace, strings.Join(dnsServiceNames(), ", "))
	}
	svc := list.Items[0]
	return dnsService(namespace, svc.Name, svc.Spec.Selector)
}

func dnsService(namespace, name string, selector map[string]string) (*DNSService, error) {
	if len(selector) == 0 {
		return nil, fmt.Errorf("DNS Service %s/%s selects no pods by label (no spec.selector); give the DNS server pods' labels with --dns-selector namespace/key=value", namespace, name)
	}
	return &DNSService{Namespace: namespace, Name: name, Selector: selector}, nil
}

// CountPods counts the pods in namespace matching every label given.
func (c *Client) CountPods(ctx context.Context, namespace string, labels map[string]string) (int, error) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sel []string
	for _, k := range keys {
		sel = append(sel, k+"="+labels[k])
	}
	list, err := c.typed.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: strings.Join(sel, ",")})
	if err != nil {
		return 0, c.requestError("list", schema.GroupResource{Resource: "pods"}, namespace, err)
	}
	return len(list.Items), nil
}
