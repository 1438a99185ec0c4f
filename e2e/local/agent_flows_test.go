//go:build e2elocal

package local

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestAgentServesPodFlows is the smallest slice of the datapath: two pods
// plumbed by cilium-cni talk over HTTP, and the agent's Hubble reports
// their flows with the pods' labels and their namespace's labels.
func TestAgentServesPodFlows(t *testing.T) {
	n := theNode.get(t)
	ns := "hello"
	n.ensureNamespace(t, ns, map[string]string{"team": "greeters"})
	server, err := n.addPod(t, deployment{namespace: ns, name: "server", labels: map[string]string{"app": "server"}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := n.addPod(t, deployment{namespace: ns, name: "client", labels: map[string]string{"app": "client"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range []*pod{client, server} {
			if err := p.remove(); err != nil {
				t.Errorf("remove pod %s: %v", p.key(), err)
			}
		}
	})
	server.start(t, "http", "serve", "--http", ":8080", "--name", "server")
	url := "http://" + server.ip + ":8080/"
	var out string
	err = waitFor(60*time.Second, "client -> server over HTTP", func() error {
		var err error
		out, err = client.exec(10*time.Second, "get", "--timeout", "2s", url)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	logf(t, "client -> server: %s", strings.TrimSpace(out))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A pod's first packets can leave before the agent has resolved its
	// labels; Hubble then reports reserved:init. Call again until a flow
	// carries the identity allocated from the pod's labels.
	var flow hubbleFlow
	err = waitFor(60*time.Second, "Hubble to report client -> server with the client's own identity", func() error {
		if _, err := client.exec(10*time.Second, "get", "--timeout", "2s", url); err != nil {
			return err
		}
		out, err := n.observe(ctx, "--from-pod", ns+"/"+client.name, "--to-pod", ns+"/"+server.name, "--port", "8080")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var f hubbleFlow
			if json.Unmarshal([]byte(line), &f) == nil && f.Flow.Verdict == "FORWARDED" && f.Flow.Source.Identity >= 256 {
				flow = f
				return nil
			}
		}
		return errNoFlow
	})
	if err != nil {
		t.Fatal(err)
	}
	src := flow.Flow.Source
	logf(t, "Hubble: %s/%s identity %d labels %v -> %s/%s %s", src.Namespace, src.PodName, src.Identity, src.Labels,
		flow.Flow.Destination.Namespace, flow.Flow.Destination.PodName, flow.Flow.Verdict)
	for _, want := range []string{"k8s:app=client", "k8s:io.kubernetes.pod.namespace=hello", "k8s:io.cilium.k8s.namespace.labels.team=greeters"} {
		if !contains(src.Labels, want) {
			t.Errorf("Hubble's source labels %v lack %s", src.Labels, want)
		}
	}
}

// hubbleFlow is the part of the hubble CLI's jsonpb output the suite reads.
type hubbleFlow struct {
	Flow struct {
		Verdict        string `json:"verdict"`
		DropReasonDesc string `json:"drop_reason_desc"`
		Source         struct {
			Identity  uint32   `json:"identity"`
			Namespace string   `json:"namespace"`
			PodName   string   `json:"pod_name"`
			Labels    []string `json:"labels"`
		} `json:"source"`
		Destination struct {
			Identity  uint32   `json:"identity"`
			Namespace string   `json:"namespace"`
			PodName   string   `json:"pod_name"`
			Labels    []string `json:"labels"`
		} `json:"destination"`
		IP struct {
			Source      string `json:"source"`
			Destination string `json:"destination"`
		} `json:"IP"`
	} `json:"flow"`
}

type flowError string

func (e flowError) Error() string { return string(e) }

const errNoFlow = flowError("no such flow yet")

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
