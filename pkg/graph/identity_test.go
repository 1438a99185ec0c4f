package graph

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

func TestIdentityRules(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		ep       observe.Endpoint
		addr     string
		wantKey  string
		wantName string
		wantSkip string
	}{
		{
			name:    "version and pod-template-hash are dropped, app selects",
			ep:      pod("bookinfo", "reviews-v2-7bf8c9648f-r7bs2", "app=reviews", "version=v2", "pod-template-hash=7bf8c9648f", "sidecar.opentelemetry.io/injected=bookinfo.otelcol"),
			wantKey: "workload:bookinfo/app=reviews", wantName: "reviews",
		},
		{
			name:    "keep-labels version splits releases",
			opts:    Options{KeepLabels: []string{"version"}},
			ep:      pod("bookinfo", "reviews-v2-7bf8c9648f-r7bs2", "app=reviews", "version=v2"),
			wantKey: "workload:bookinfo/app=reviews,version=v2", wantName: "reviews",
		},
		{
			name:    "app.kubernetes.io/name wins over app and brings instance and component",
			ep:      pod("jaeger", "jaeger-6f5845c4b7-7r5r6", "app=jaeger", "app.kubernetes.io/name=jaeger-default", "app.kubernetes.io/instance=jaeger-default", "app.kubernetes.io/component=all-in-one", "app.kubernetes.io/managed-by=jaeger-operator", "app.kubernetes.io/part-of=jaeger"),
			wantKey: "workload:jaeger/app.kubernetes.io/component=all-in-one,app.kubernetes.io/instance=jaeger-default,app.kubernetes.io/name=jaeger-default", wantName: "jaeger-default",
		},
		{
			name:    "k8s-app when there is no app",
			ep:      pod("kube-system", "coredns-558bd4d5db-w2m67", "k8s-app=kube-dns", "pod-template-hash=558bd4d5db"),
			wantKey: "workload:kube-system/k8s-app=kube-dns", wantName: "kube-dns",
		},
		{
			name:    "name as the last preferred key",
			ep:      pod("monitoring", "exporter-x7k2q", "name=node-exporter", "controller-revision-hash=5d8f7c", "pod-template-generation=3"),
			wantKey: "workload:monitoring/name=node-exporter", wantName: "node-exporter",
		},
		{
			name:    "selector-labels overrides the preference",
			opts:    Options{SelectorLabels: []string{"team"}},
			ep:      pod("shop", "cart-5c9f7d6b8-abcde", "app=cart", "team=payments"),
			wantKey: "workload:shop/team=payments", wantName: "payments",
		},
		{
			name:    "ignore-labels drops more keys in the fallback",
			opts:    Options{IgnoreLabels: []string{"tier*"}},
			ep:      pod("multiubuntu", "ubuntu-1-deployment-7bd47f78d5-7sk2w", "container=ubuntu-1", "group=group-1", "tier=frontend"),
			wantKey: "workload:multiubuntu/container=ubuntu-1,group=group-1", wantName: "ubuntu-1-deployment",
		},
		{
			name:    "no preferred label: all stable labels select, owner from pod name",
			ep:      pod("multiubuntu", "ubuntu-1-deployment-7bd47f78d5-7sk2w", "container=ubuntu-1", "group=group-1", "pod-template-hash=7bd47f78d5"),
			wantKey: "workload:multiubuntu/container=ubuntu-1,group=group-1", wantName: "ubuntu-1-deployment",
		},
		{
			name: "no preferred label: Hubble's workloads field names it",
			ep: func() observe.Endpoint {
				e := pod("batch", "nightly-28391234-x9z8q", "job-name=nightly-28391234", "controller-uid=1f2e", "batch.kubernetes.io/job-name=nightly-28391234", "team=data")
				e.Workloads = []observe.Workload{{Name: "nightly", Kind: "CronJob"}}
				return e
			}(),
			wantKey: "workload:batch/team=data", wantName: "nightly",
		},
		{
			name:    "statefulset pod labels are dropped",
			ep:      pod("db", "postgres-0", "app=postgres", "statefulset.kubernetes.io/pod-name=postgres-0", "apps.kubernetes.io/pod-index=0", "controller-revision-hash=postgres-6d9f"),
			wantKey: "workload:db/app=postgres", wantName: "postgres",
		},
		{name: "host", ep: reserved("host"), wantKey: "reserved:host"},
		{name: "remote-node", ep: reserved("remote-node"), wantKey: "reserved:remote-node"},
		{name: "kube-apiserver beats host and world", ep: reserved("host", "kube-apiserver", "world"), wantKey: "reserved:kube-apiserver"},
		{name: "ingress", ep: reserved("ingress"), wantKey: "reserved:ingress"},
		{name: "unmanaged", ep: reserved("unmanaged"), wantKey: "reserved:unmanaged"},
		{name: "world with an address is that address", ep: reserved("world"), addr: "203.0.113.7", wantKey: "external:203.0.113.7/32"},
		{name: "world-ipv6 is world", ep: reserved("world-ipv6"), addr: "2001:db8::7", wantKey: "external:2001:db8::7/128"},
		{name: "world without an address", ep: reserved("world"), wantKey: "reserved:world"},
		{name: "world aggregated to a CIDR", opts: Options{CIDRPrefixV4: 24}, ep: reserved("world"), addr: "203.0.113.7", wantKey: "external:203.0.113.0/24"},
		{name: "unidentified endpoint is its address", ep: observe.Endpoint{}, addr: "10.244.1.136", wantKey: "external:10.244.1.136/32"},
		{name: "unidentified endpoint without an address", ep: observe.Endpoint{}, wantSkip: "no-address"},
		{name: "health is not a workload", ep: reserved("health"), wantSkip: "health"},
		{name: "reserved identity number without labels", ep: observe.Endpoint{Identity: 6}, addr: "10.128.0.9", wantKey: "reserved:remote-node"},
		{name: "world identity number without labels", ep: observe.Endpoint{Identity: 2}, addr: "203.0.113.7", wantKey: "external:203.0.113.7/32"},
		{name: "health identity number without labels", ep: observe.Endpoint{Identity: 4}, wantSkip: "health"},
		{name: "init is not a workload", ep: reserved("init"), wantSkip: "init"},
		{name: "unknown is left out", ep: reserved("unknown"), addr: "fe80::1", wantSkip: "reserved:unknown"},
		{name: "an identity number newer than this code is left out", ep: observe.Endpoint{Identity: 200}, wantSkip: "reserved:unknown-200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids := newIdentities(tc.opts.normalized())
			var addr netip.Addr
			if tc.addr != "" {
				addr = netip.MustParseAddr(tc.addr)
			}
			id, skip := ids.resolve(&tc.ep, addr)
			if skip != tc.wantSkip {
				t.Fatalf("skip = %q, want %q", skip, tc.wantSkip)
			}
			if skip != "" {
				return
			}
			p := ids.peers[id]
			if got := p.Key(); got != tc.wantKey {
				t.Errorf("key = %q, want %q", got, tc.wantKey)
			}
			if tc.wantName != "" && p.Name != tc.wantName {
				t.Errorf("name = %q, want %q", p.Name, tc.wantName)
			}
		})
	}
}

func TestReplicasAndReleasesFoldToOneIdentity(t *testing.T) {
	ids := newIdentities(Options{}.normalized())
	var got []int32
	for _, ep := range []observe.Endpoint{
		pod("bookinfo", "reviews-v1-545db77b95-j2n72", "app=reviews", "version=v1", "pod-template-hash=545db77b95"),
		pod("bookinfo", "reviews-v2-7bf8c9648f-r7bs2", "app=reviews", "version=v2", "pod-template-hash=7bf8c9648f"),
		pod("bookinfo", "reviews-v3-84779c7bbc-6x8gl", "app=reviews", "version=v3", "pod-template-hash=84779c7bbc"),
		pod("bookinfo", "reviews-v3-84779c7bbc-zzzzz", "app=reviews", "version=v3", "pod-template-hash=84779c7bbc"),
	} {
		id, _ := ids.resolve(&ep, netip.Addr{})
		got = append(got, id)
	}
	if diff := cmp.Diff([]int32{0, 0, 0, 0}, got); diff != "" {
		t.Errorf("peer ids (-want +got):\n%s", diff)
	}
	if len(ids.peers) != 1 {
		t.Errorf("got %d peers, want 1", len(ids.peers))
	}
}

func TestOwnerNameIsTheSmallestSeen(t *testing.T) {
	// Two owners with identical stable labels are one selector; the
	// display name must not depend on which pod came first.
	for _, order := range [][]string{{"web-b-7d9f8c6b5-aaaaa", "web-a-7d9f8c6b5-bbbbb"}, {"web-a-7d9f8c6b5-bbbbb", "web-b-7d9f8c6b5-aaaaa"}} {
		ids := newIdentities(Options{}.normalized())
		var id int32
		for _, name := range order {
			ep := pod("shop", name, "tier=web")
			id, _ = ids.resolve(&ep, netip.Addr{})
		}
		if got := ids.peers[id].Name; got != "web-a" {
			t.Errorf("order %v: name = %q, want web-a", order, got)
		}
	}
}

func TestSelectorIncompleteWhenNoStableLabel(t *testing.T) {
	ids := newIdentities(Options{}.normalized())
	ep := pod("default", "lonely-5f7d8c9b6-abcde", "pod-template-hash=5f7d8c9b6")
	id, _ := ids.resolve(&ep, netip.Addr{})
	p := ids.peers[id]
	if !p.SelectorIncomplete || len(p.Labels) != 0 || p.Name != "lonely" {
		t.Errorf("peer = %+v, want incomplete selector named lonely", p)
	}
}

func TestOwnerFromPodName(t *testing.T) {
	tests := []struct{ pod, want string }{
		{"reviews-v1-545db77b95-j2n72", "reviews-v1"},
		{"ratings-v1-b6994bb9-jgqxb", "ratings-v1"},
		{"coredns-558bd4d5db-w2m67", "coredns"},
		{"ubuntu-1-deployment-7bd47f78d5-7sk2w", "ubuntu-1-deployment"},
		{"web-0", "web"},
		{"postgres-12", "postgres"},
		{"otelcol-hubble-collector-fwc6m", "otelcol-hubble-collector"},
		{"api-server-abcde", "api-server"},
		{"standalone", "standalone"},
		{"my-long-name", "my-long-name"},
	}
	for _, tc := range tests {
		if got := ownerFromPodName(tc.pod); got != tc.want {
			t.Errorf("ownerFromPodName(%q) = %q, want %q", tc.pod, got, tc.want)
		}
	}
}

// An endpoint that names its namespace only by label is still one entry
// however often it is seen (the cache must key by what it was given).
func TestEndpointsWithoutNamespaceFieldAreCached(t *testing.T) {
	ids := newIdentities(Options{}.normalized())
	for range 100 {
		ep := pod("shop", "cart-5c9f7d6b8-bbbbb", "app=cart")
		ep.Namespace = ""
		ep.Labels = append([]string(nil), ep.Labels...) // a fresh slice, as an uncached decoder gives
		id, _ := ids.resolve(&ep, netip.Addr{})
		if got := ids.peers[id].Key(); got != "workload:shop/app=cart" {
			t.Fatalf("key = %q", got)
		}
	}
	n := 0
	for _, infos := range ids.infos {
		n += len(infos)
	}
	if n != 1 {
		t.Errorf("%d cached infos, want 1", n)
	}
}
