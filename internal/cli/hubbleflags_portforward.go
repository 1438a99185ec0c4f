package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// relayService is the Service Cilium's Helm chart creates for Relay.
const relayService = "hubble-relay"

// forwardRelay forwards a local loopback port to a hubble-relay pod, as
// hubble observe -P does, and keeps forwarding for as long as ctx lives:
// when the pod goes away (a Relay restart), it forwards the same local
// port to the new pod, so the live source's reconnect finds Relay again.
// It returns the local address and a function that stops forwarding.
func forwardRelay(ctx context.Context, kubeconfig, kubeContext, namespace string, localPort uint16) (string, func(), error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return "", nil, fmt.Errorf("-P: cannot load the kubeconfig: %w; set --kubeconfig or --kube-context", err)
	}
	cfg.Timeout = 30 * time.Second
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", nil, fmt.Errorf("-P: %w", err)
	}
	fctx, cancel := context.WithCancel(ctx)
	fw := &relayForwarder{cfg: cfg, clientset: clientset, namespace: namespace}
	port, done, err := fw.forwardOnce(fctx, localPort)
	if err != nil {
		cancel()
		return "", nil, err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		fw.keepForwarding(fctx, port, done)
	}()
	return fmt.Sprintf("127.0.0.1:%d", port), func() { cancel(); <-stopped }, nil
}

type relayForwarder struct {
	cfg       *rest.Config
	clientset kubernetes.Interface
	namespace string
}

// keepForwarding re-establishes the forward on the same local port each
// time it breaks, backing off while no relay pod is ready.
func (fw *relayForwarder) keepForwarding(ctx context.Context, port uint16, done <-chan error) {
	wait := 500 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
		}
		for {
			var err error
			if _, done, err = fw.forwardOnce(ctx, port); err == nil {
				wait = 500 * time.Millisecond
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(wait*2, 30*time.Second)
		}
	}
}

// forwardOnce finds a running relay pod and forwards localPort (0 for
// any) to its gRPC port. done reports when the forward ends.
func (fw *relayForwarder) forwardOnce(ctx context.Context, localPort uint16) (uint16, <-chan error, error) {
	pod, remotePort, err := fw.relayPod(ctx)
	if err != nil {
		return 0, nil, err
	}
	transport, upgrader, err := spdy.RoundTripperFor(fw.cfg)
	if err != nil {
		return 0, nil, fmt.Errorf("-P: %w", err)
	}
	url := fw.clientset.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(fw.namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	stop, ready := make(chan struct{}), make(chan struct{})
	var errOut strings.Builder
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"},
		[]string{fmt.Sprintf("%d:%d", localPort, remotePort)}, stop, ready, io.Discard, &errOut)
	if err != nil {
		return 0, nil, fmt.Errorf("-P: cannot forward to pod %s/%s: %w", fw.namespace, pod, err)
	}
	done, finished := make(chan error, 1), make(chan struct{})
	go func() {
		done <- pf.ForwardPorts()
		close(finished)
	}()
	go func() {
		select {
		case <-ctx.Done():
			close(stop)
		case <-finished:
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		return 0, nil, fmt.Errorf("-P: cannot forward to pod %s/%s: %v %s", fw.namespace, pod, err, errOut.String())
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		return 0, nil, fmt.Errorf("-P: forward to pod %s/%s has no local port: %v", fw.namespace, pod, err)
	}
	return ports[0].Local, done, nil
}

// relayPod picks a running pod behind the hubble-relay Service and the
// container port its target port names.
func (fw *relayForwarder) relayPod(ctx context.Context) (string, int32, error) {
	svc, err := fw.clientset.CoreV1().Services(fw.namespace).Get(ctx, relayService, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", 0, fmt.Errorf("-P: no %s Service in namespace %s: is Hubble Relay enabled (cilium hubble enable)? set --kube-namespace if Cilium runs elsewhere", relayService, fw.namespace)
	}
	if err != nil {
		return "", 0, fmt.Errorf("-P: cannot read Service %s/%s: %w", fw.namespace, relayService, err)
	}
	if len(svc.Spec.Ports) == 0 || len(svc.Spec.Selector) == 0 {
		return "", 0, fmt.Errorf("-P: Service %s/%s has no ports or no selector", fw.namespace, relayService)
	}
	pods, err := fw.clientset.CoreV1().Pods(fw.namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(),
	})
	if err != nil {
		return "", 0, fmt.Errorf("-P: cannot list hubble-relay pods in %s: %w", fw.namespace, err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		port, err := targetPort(&p, svc.Spec.Ports[0])
		if err != nil {
			return "", 0, err
		}
		return p.Name, port, nil
	}
	return "", 0, errors.New("-P: no running hubble-relay pod in namespace " + fw.namespace + ": check kubectl -n " + fw.namespace + " get pods -l k8s-app=hubble-relay")
}

// targetPort resolves a Service port's target to a container port number.
func targetPort(pod *corev1.Pod, sp corev1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	if tp.IntVal != 0 {
		return tp.IntVal, nil
	}
	if tp.StrVal == "" {
		return sp.Port, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == tp.StrVal {
				return cp.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("-P: pod %s/%s has no container port named %q", pod.Namespace, pod.Name, tp.StrVal)
}
