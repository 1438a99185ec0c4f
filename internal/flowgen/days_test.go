package flowgen

import (
	"bufio"
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

// dayCapture generates one day of ShopDays and returns, by the pods'
// labels, what the flows showed.
type dayView struct {
	podIPs    map[netip.Addr]bool
	labels    map[string]bool // every label any pod carried
	worldSrcs map[netip.Addr]bool
	truth     *Truth
}

func generateDay(t *testing.T, s *Scenario, seed uint64, start time.Time) dayView {
	t.Helper()
	var buf bytes.Buffer
	truth, err := Generate(s, Options{Seed: seed, Start: start, Duration: time.Hour}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	v := dayView{podIPs: map[netip.Addr]bool{}, labels: map[string]bool{}, worldSrcs: map[netip.Addr]bool{}, truth: truth}
	dec := capture.NewDecoder()
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec observe.Record
		if err := dec.Decode(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Kind != observe.KindFlow {
			continue
		}
		f := &rec.Flow
		for _, side := range []struct {
			ep observe.Endpoint
			ip netip.Addr
		}{{f.Source, f.SrcIP}, {f.Destination, f.DstIP}} {
			if side.ep.PodName != "" {
				v.podIPs[side.ip] = true
				for _, l := range side.ep.Labels {
					v.labels[l] = true
				}
			}
		}
		if len(f.Source.Labels) == 1 && f.Source.Labels[0] == "reserved:world" && f.IsReply == observe.ReplyFalse {
			v.worldSrcs[f.SrcIP] = true
		}
	}
	return v
}

// TestShopDaysChangeWhatARolloutChanges: day 2 has new pod addresses, new
// rollout, release, replica and Job-run labels and new internet clients;
// the partner and the stable labels stay.
func TestShopDaysChangeWhatARolloutChanges(t *testing.T) {
	s1, s2 := ShopDays()
	d1 := generateDay(t, s1, 1, DefaultStart())
	d2 := generateDay(t, s2, 2, DefaultStart().Add(24*time.Hour))
	for ip := range d2.podIPs {
		if d1.podIPs[ip] {
			t.Errorf("pod address %s is used on both days", ip)
		}
	}
	changed := func(prefix string) {
		t.Helper()
		var only1, only2 int
		for l := range d1.labels {
			if strings.HasPrefix(l, prefix) && !d2.labels[l] {
				only1++
			}
		}
		for l := range d2.labels {
			if strings.HasPrefix(l, prefix) && !d1.labels[l] {
				only2++
			}
		}
		if only1 == 0 || only2 == 0 {
			t.Errorf("labels %s*: %d only on day 1, %d only on day 2; want both days to have their own", prefix, only1, only2)
		}
	}
	for _, prefix := range []string{"k8s:pod-template-hash=", "k8s:version=", "k8s:helm.sh/chart=", "k8s:app.kubernetes.io/version=",
		"k8s:controller-revision-hash=", "k8s:job-name=", "k8s:controller-uid=", "k8s:batch.kubernetes.io/job-name="} {
		changed(prefix)
	}
	if !d2.labels["k8s:apps.kubernetes.io/pod-index=2"] || d1.labels["k8s:apps.kubernetes.io/pod-index=2"] {
		t.Error("want a third postgres replica (pod-index 2) on day 2 only")
	}
	for _, l := range []string{"k8s:app.kubernetes.io/name=frontend", "k8s:app.kubernetes.io/name=report", "k8s:app.kubernetes.io/name=postgresql"} {
		if !d1.labels[l] || !d2.labels[l] {
			t.Errorf("stable label %s missing on a day", l)
		}
	}
	partner := ShopDayPartner()
	if !d1.worldSrcs[partner] || !d2.worldSrcs[partner] {
		t.Errorf("the partner %s must call on both days", partner)
	}
	clients := 0
	for ip := range d2.worldSrcs {
		if ip == partner {
			continue
		}
		clients++
		if d1.worldSrcs[ip] {
			t.Errorf("internet client %s calls on both days; day 2's clients are new", ip)
		}
	}
	if clients < 50 {
		t.Errorf("day 2 has %d internet clients, want a crowd", clients)
	}
}

func TestClientPoolsAreDisjoint(t *testing.T) {
	seen := map[netip.Addr]int{}
	for day := 1; day <= 2; day++ {
		for _, a := range ClientPool(day, 200) {
			if d, ok := seen[a]; ok {
				t.Fatalf("%s in the pools of day %d and day %d", a, d, day)
			}
			seen[a] = day
		}
	}
}
