package graph

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// TestAPIServerAddressKept: the kube-apiserver's address, seen as the
// destination of a request and the source of its reply, survives Finish,
// a snapshot and a merge, and flags no world address near it as a pod's.
func TestAPIServerAddressKept(t *testing.T) {
	op := pod("ops", "operator-7d9f-abcde", "app=operator")
	api := reserved("kube-apiserver", "world")
	g := buildFrom(t, Options{},
		flowSpec{src: op, dst: api, srcIP: "10.244.1.5", dstIP: "203.0.113.40", srcPort: 40000, dstPort: 443, flags: observe.FlagSYN, reply: observe.ReplyFalse},
		flowSpec{src: api, dst: op, srcIP: "203.0.113.40", dstIP: "10.244.1.5", srcPort: 443, dstPort: 40000, flags: observe.FlagSYN | observe.FlagACK, reply: observe.ReplyTrue},
		flowSpec{src: op, dst: api, srcIP: "10.244.1.5", dstIP: "2001:db8::40", srcPort: 40001, dstPort: 443, flags: observe.FlagSYN, reply: observe.ReplyFalse},
		// A world client in the API server's /24 is no pod.
		flowSpec{src: reserved("world"), dst: op, srcIP: "203.0.113.41", dstIP: "10.244.1.5", srcPort: 50000, dstPort: 8443, flags: observe.FlagSYN, reply: observe.ReplyFalse},
	)
	want := "[203.0.113.40 2001:db8::40]"
	if got := fmt.Sprint(g.EntityAddrs(EntityKubeAPIServer)); got != want {
		t.Fatalf("EntityAddrs = %s, want %s", got, want)
	}
	for _, p := range g.Peers {
		if p.Kind == KindExternal && p.InClusterIP {
			t.Errorf("%s flagged in-cluster (%s) because of the API server's address", p.CIDR, p.InClusterReason)
		}
	}
	loaded, err := Load(bytes.NewReader(snapshotBytes(t, g)), "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(loaded.EntityAddrs(EntityKubeAPIServer)); got != want {
		t.Errorf("after a snapshot, EntityAddrs = %s, want %s", got, want)
	}
	merged, err := Merge(g, buildFrom(t, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(merged.EntityAddrs(EntityKubeAPIServer)); got != want {
		t.Errorf("after a merge, EntityAddrs = %s, want %s", got, want)
	}
	if got := g.EntityAddrs(EntityHost); len(got) != 0 {
		t.Errorf("host addresses %v recorded; only the kube-apiserver's are", got)
	}
}
