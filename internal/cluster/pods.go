package cluster

import (
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// Pod is what netpolgen needs of a pod.
type Pod struct {
	Namespace      string
	Name           string
	Labels         map[string]string
	ServiceAccount string
	NodeName       string
	// HostNetwork pods share their node's address, so that address names
	// the node, not the pod.
	HostNetwork bool
	IPs         []netip.Addr
	// NamedPorts are its containers' ports by name, for a Service's
	// named targetPort.
	NamedPorts map[string]int32
}

// PodIndex finds the pod that holds an address.
type PodIndex struct {
	byIP        map[netip.Addr]*Pod
	hostNetwork []*Pod
	pods        []*Pod
}

// NewPodIndex indexes running and pending pods by address. Finished pods
// are left out: their address may already belong to another pod.
// Host-network pods are kept apart, since their address is the node's.
func NewPodIndex(pods []corev1.Pod) *PodIndex {
	idx := &PodIndex{byIP: map[netip.Addr]*Pod{}}
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		pod := &Pod{
			Namespace:      p.Namespace,
			Name:           p.Name,
			Labels:         p.Labels,
			ServiceAccount: p.Spec.ServiceAccountName,
			NodeName:       p.Spec.NodeName,
			HostNetwork:    p.Spec.HostNetwork,
			IPs:            podIPs(p),
			NamedPorts:     namedPorts(p),
		}
		idx.pods = append(idx.pods, pod)
		if pod.HostNetwork {
			idx.hostNetwork = append(idx.hostNetwork, pod)
			continue
		}
		for _, ip := range pod.IPs {
			idx.byIP[ip] = pod
		}
	}
	sort.Slice(idx.pods, func(i, j int) bool {
		if idx.pods[i].Namespace != idx.pods[j].Namespace {
			return idx.pods[i].Namespace < idx.pods[j].Namespace
		}
		return idx.pods[i].Name < idx.pods[j].Name
	})
	return idx
}

func namedPorts(p *corev1.Pod) map[string]int32 {
	var out map[string]int32
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if port.Name == "" {
				continue
			}
			if out == nil {
				out = map[string]int32{}
			}
			out[port.Name] = port.ContainerPort
		}
	}
	return out
}

func podIPs(p *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out = append(out, a.Unmap())
		}
	}
	if len(out) == 0 && p.Status.PodIP != "" {
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// Lookup returns the pod-network pod holding addr.
func (idx *PodIndex) Lookup(addr netip.Addr) (*Pod, bool) {
	if idx == nil {
		return nil, false
	}
	p, ok := idx.byIP[addr.Unmap()]
	return p, ok
}

// HostNetworkPods are the pods that run in their node's network namespace.
func (idx *PodIndex) HostNetworkPods() []*Pod {
	if idx == nil {
		return nil
	}
	return idx.hostNetwork
}

// All returns every indexed pod, sorted by namespace and name.
func (idx *PodIndex) All() []*Pod {
	if idx == nil {
		return nil
	}
	return idx.pods
}
