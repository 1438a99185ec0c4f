package testenv

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Pod describes a pod to create.
type Pod struct {
	Namespace, Name string
	Labels          map[string]string
	ServiceAccount  string
	HostNetwork     bool
	IPs             []string
}

// CreatePod creates a running pod with the given addresses. The test
// control plane runs no scheduler or kubelet, so the status a kubelet
// would report is written directly.
func (e *Env) CreatePod(t testing.TB, p Pod) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels},
		Spec: corev1.PodSpec{
			ServiceAccountName: p.ServiceAccount,
			HostNetwork:        p.HostNetwork,
			Containers:         []corev1.Container{{Name: "c", Image: "example.invalid/c"}},
		},
	}
	created, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s/%s: %v", p.Namespace, p.Name, err)
	}
	created.Status.Phase = corev1.PodRunning
	for _, ip := range p.IPs {
		created.Status.PodIPs = append(created.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(p.IPs) > 0 {
		created.Status.PodIP = p.IPs[0]
	}
	if _, err := cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set the status of pod %s/%s: %v", p.Namespace, p.Name, err)
	}
}

// BookinfoRemotePods are the pods the shared bookinfo capture shows only
// as reserved:world addresses (they ran on the node the capture was not
// taken on), with the labels the same pods carry where the capture does
// identify them.
func BookinfoRemotePods() []Pod {
	pod := func(name, app, version, hash, ip string) Pod {
		return Pod{
			Namespace: "bookinfo", Name: name, ServiceAccount: "bookinfo-" + app,
			Labels: map[string]string{"app": app, "version": version, "pod-template-hash": hash},
			IPs:    []string{ip},
		}
	}
	return []Pod{
		pod("details-v1-79f774bdb9-m4j4k", "details", "v1", "79f774bdb9", "10.244.1.193"),
		pod("reviews-v1-545db77b95-j2n72", "reviews", "v1", "545db77b95", "10.244.1.109"),
		pod("reviews-v3-84779c7bbc-6x8gl", "reviews", "v3", "84779c7bbc", "10.244.1.18"),
	}
}
