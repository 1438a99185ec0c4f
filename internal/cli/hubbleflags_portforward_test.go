package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fakeAPIServer answers the two reads -P makes before forwarding: the
// hubble-relay Service and its pods.
func fakeAPIServer(t *testing.T, svc *corev1.Service, pods []corev1.Pod) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/namespaces/kube-system/services/hubble-relay" && svc != nil:
			json.NewEncoder(w).Encode(svc)
		case r.URL.Path == "/api/v1/namespaces/kube-system/pods":
			if got := r.URL.Query().Get("labelSelector"); got != "k8s-app=hubble-relay" {
				t.Errorf("pods listed with selector %q, want the Service's k8s-app=hubble-relay", got)
			}
			json.NewEncoder(w).Encode(&corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: pods})
		default:
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(&metav1.Status{
				TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status:   metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound,
			})
		}
	}))
	t.Cleanup(srv.Close)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: %q}}]
users: [{name: fake, user: {token: x}}]
contexts: [{name: fake, context: {cluster: fake, user: fake}}]
current-context: fake
`, srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

func TestPortForwardExplainsWhatIsMissing(t *testing.T) {
	relay := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{Kind: "Service", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "hubble-relay", Namespace: "kube-system"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"k8s-app": "hubble-relay"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("grpc")}},
		},
	}
	pending := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hubble-relay-1", Namespace: "kube-system"},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
	tests := []struct {
		name       string
		kubeconfig func(t *testing.T) string
		want       []string
	}{
		{
			name:       "no kubeconfig",
			kubeconfig: func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") },
			want:       []string{"-P: cannot load the kubeconfig", "--kubeconfig"},
		},
		{
			name:       "relay not installed",
			kubeconfig: func(t *testing.T) string { return fakeAPIServer(t, nil, nil) },
			want:       []string{"no hubble-relay Service in namespace kube-system", "--kube-namespace"},
		},
		{
			name:       "relay not running",
			kubeconfig: func(t *testing.T) string { return fakeAPIServer(t, relay, []corev1.Pod{pending}) },
			want:       []string{"no running hubble-relay pod in namespace kube-system"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := forwardRelay(context.Background(), tt.kubeconfig(t), "", "kube-system", 0)
			if err == nil {
				t.Fatal("forwarded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestTargetPort(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Ports: []corev1.ContainerPort{{Name: "grpc", ContainerPort: 4245}},
	}}}}
	tests := []struct {
		name    string
		port    corev1.ServicePort
		want    int32
		wantErr bool
	}{
		{name: "named", port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("grpc")}, want: 4245},
		{name: "numbered", port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(4245)}, want: 4245},
		{name: "unset means the service port", port: corev1.ServicePort{Port: 4245}, want: 4245},
		{name: "unknown name", port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := targetPort(pod, tt.port)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %d, %v; want %d (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
