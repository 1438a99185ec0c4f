package cluster

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/synth"
)

// Exposure is a Service port the cluster makes reachable from outside: a
// LoadBalancer or NodePort Service, or the backend of an Ingress or a
// Gateway API HTTPRoute. It is evidence that the pods behind it are a
// public endpoint.
type Exposure struct {
	Namespace string
	// By names what exposes it: "Service shop/web (LoadBalancer)",
	// "Ingress shop/site -> Service shop/web".
	By       string
	Selector map[string]string
	Protocol corev1.Protocol
	// TargetPort is the port the pods receive on, a number or a name of
	// one of their container ports.
	TargetPort intstr.IntOrString
}

// httpRouteResource is the Gateway API's HTTPRoute, read when served.
var httpRouteResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// exposures reads what the cluster exposes. It is evidence, not a
// requirement: a resource the cluster does not serve, or this identity may
// not read, is named in notes and skipped.
func (c *Client) exposures(ctx context.Context) (out []Exposure, notes []string) {
	svcs, err := c.typed.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, []string{fmt.Sprintf("public endpoints: not read from Services: %v", c.requestError("list", schema.GroupResource{Resource: "services"}, "", err))}
	}
	byName := map[string]*corev1.Service{}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		byName[s.Namespace+"/"+s.Name] = s
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer && s.Spec.Type != corev1.ServiceTypeNodePort {
			continue
		}
		for _, p := range s.Spec.Ports {
			out = append(out, serviceExposure(s, p, fmt.Sprintf("Service %s/%s (%s)", s.Namespace, s.Name, s.Spec.Type)))
		}
	}
	// backend adds the Service port a route or an Ingress sends to.
	backend := func(by, ns, name string, port intstr.IntOrString) {
		s := byName[ns+"/"+name]
		if s == nil {
			return
		}
		for _, p := range s.Spec.Ports {
			if (port.Type == intstr.Int && p.Port == port.IntVal) || (port.Type == intstr.String && p.Name == port.StrVal) {
				out = append(out, serviceExposure(s, p, fmt.Sprintf("%s -> Service %s/%s", by, ns, name)))
			}
		}
	}
	ings, err := c.typed.NetworkingV1().Ingresses(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	switch {
	case err != nil:
		notes = append(notes, fmt.Sprintf("public endpoints: not read from Ingresses: %v", c.requestError("list", schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}, "", err)))
	default:
		for _, ing := range ings.Items {
			by := "Ingress " + ing.Namespace + "/" + ing.Name
			if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
				backend(by, ing.Namespace, b.Service.Name, ingressPort(b.Service.Port.Number, b.Service.Port.Name))
			}
			for _, r := range ing.Spec.Rules {
				if r.HTTP == nil {
					continue
				}
				for _, p := range r.HTTP.Paths {
					if s := p.Backend.Service; s != nil {
						backend(by, ing.Namespace, s.Name, ingressPort(s.Port.Number, s.Port.Name))
					}
				}
			}
		}
	}
	routes, err := c.dynamic.Resource(httpRouteResource).List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// The Gateway API is not installed.
	case err != nil:
		notes = append(notes, fmt.Sprintf("public endpoints: not read from HTTPRoutes: %v", c.requestError("list", httpRouteResource.GroupResource(), "", err)))
	default:
		for _, r := range routes.Items {
			by := "HTTPRoute " + r.GetNamespace() + "/" + r.GetName()
			for _, ref := range httpRouteBackends(&r) {
				backend(by, ref.namespace, ref.name, intstr.FromInt32(ref.port))
			}
		}
	}
	return out, notes
}

func serviceExposure(s *corev1.Service, p corev1.ServicePort, by string) Exposure {
	target := p.TargetPort
	if target.Type == intstr.Int && target.IntVal == 0 {
		// Without a targetPort the pods receive on the Service's port.
		target = intstr.FromInt32(p.Port)
	}
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return Exposure{Namespace: s.Namespace, By: by, Selector: s.Spec.Selector, Protocol: proto, TargetPort: target}
}

func ingressPort(number int32, name string) intstr.IntOrString {
	if name != "" {
		return intstr.FromString(name)
	}
	return intstr.FromInt32(number)
}

type routeBackend struct {
	namespace, name string
	port            int32
}

// httpRouteBackends lists the Services an HTTPRoute sends to; backends of
// other kinds, and those without a port, name no Service port.
func httpRouteBackends(r *unstructured.Unstructured) []routeBackend {
	var out []routeBackend
	rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
	for _, rule := range rules {
		rm, ok := rule.(map[string]any)
		if !ok {
			continue
		}
		refs, _, _ := unstructured.NestedSlice(rm, "backendRefs")
		for _, ref := range refs {
			m, ok := ref.(map[string]any)
			if !ok {
				continue
			}
			kind, _, _ := unstructured.NestedString(m, "kind")
			group, _, _ := unstructured.NestedString(m, "group")
			if (kind != "" && kind != "Service") || group != "" {
				continue
			}
			name, _, _ := unstructured.NestedString(m, "name")
			ns, _, _ := unstructured.NestedString(m, "namespace")
			port, ok, _ := unstructured.NestedInt64(m, "port")
			if name == "" || !ok {
				continue
			}
			if ns == "" {
				ns = r.GetNamespace()
			}
			out = append(out, routeBackend{namespace: ns, name: name, port: int32(port)})
		}
	}
	return out
}

// FillExposures gives the graph the cluster's evidence of public
// endpoints: each exposed Service port becomes an exposure of every
// workload whose pods the Service selects, on the port the pods receive
// on. It returns notes for the report (what could not be read or
// resolved).
func FillExposures(g *synth.Graph, s *Snapshot) []string {
	notes := append([]string(nil), s.ExposureNotes...)
	seen := map[synth.Exposure]bool{}
	for _, x := range s.Exposures {
		if len(x.Selector) == 0 {
			continue
		}
		for _, pod := range s.Pods.All() {
			if pod.Namespace != x.Namespace || !subset(x.Selector, pod.Labels) {
				continue
			}
			port, ok := targetPort(x.TargetPort, pod)
			if !ok {
				notes = append(notes, fmt.Sprintf("public endpoints: %s: pod %s/%s has no container port named %q", x.By, pod.Namespace, pod.Name, x.TargetPort.StrVal))
				continue
			}
			for _, w := range g.Workloads {
				if w.Namespace != pod.Namespace || len(w.Selector) == 0 || !subset(w.Selector, pod.Labels) {
					continue
				}
				e := synth.Exposure{Workload: w.WorkloadRef, Port: synth.PortKey{Protocol: protocol(x.Protocol), Port: port}, By: x.By}
				if !seen[e] {
					seen[e] = true
					g.Exposures = append(g.Exposures, e)
				}
			}
		}
	}
	sort.Slice(g.Exposures, func(i, j int) bool {
		a, b := g.Exposures[i], g.Exposures[j]
		if a.Workload != b.Workload {
			return a.Workload.String() < b.Workload.String()
		}
		if a.Port != b.Port {
			return a.Port.String() < b.Port.String()
		}
		return a.By < b.By
	})
	sort.Strings(notes)
	return dedupStrings(notes)
}

func targetPort(p intstr.IntOrString, pod *Pod) (uint16, bool) {
	if p.Type == intstr.Int {
		return uint16(p.IntVal), p.IntVal > 0 && p.IntVal < 1<<16
	}
	n, ok := pod.NamedPorts[p.StrVal]
	return uint16(n), ok && n > 0 && n < 1<<16
}

func protocol(p corev1.Protocol) observe.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return observe.ProtoUDP
	case corev1.ProtocolSCTP:
		return observe.ProtoSCTP
	}
	return observe.ProtoTCP
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

func dedupStrings(ss []string) []string {
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}
