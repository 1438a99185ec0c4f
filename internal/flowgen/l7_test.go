package flowgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netpolgen/netpolgen/pkg/observe/capture"
)

func genL7(t *testing.T, d time.Duration) ([]byte, *Truth) {
	t.Helper()
	var buf bytes.Buffer
	truth, err := Generate(L7(), Options{Seed: 7, Duration: d}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), truth
}

// templateRE turns a truth template into the paths it stands for.
func templateRE(tmpl string, query bool) *regexp.Regexp {
	re := strings.ReplaceAll(regexp.QuoteMeta(tmpl), `\{id\}`, `[^/?]+`)
	if query {
		re += `\?.*`
	}
	return regexp.MustCompile("^" + re + "$")
}

func TestL7ScenarioRecordsMatchTruth(t *testing.T) {
	data, truth := genL7(t, time.Hour)
	if truth.L7 == nil || len(truth.L7.HTTP) == 0 || len(truth.L7.Kafka) != 3 || len(truth.L7.DNS) == 0 || len(truth.L7.NoL7) == 0 {
		t.Fatalf("truth %+v", truth.L7)
	}
	src := capture.NewSource([]string{"-"}, capture.Options{Strict: true, Stdin: bytes.NewReader(data)})
	var methods, grpc, kafka, queries, shards int
	names := map[string]bool{}
	for {
		rec, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		l7 := rec.Flow.L7
		if l7 == nil || l7.Type != flowpb.L7FlowType_REQUEST {
			continue
		}
		switch {
		case l7.HTTP != nil:
			u := l7.HTTP.URL
			path := u[strings.Index(u[len("http://"):], "/")+len("http://"):]
			matched := false
			for _, r := range truth.L7.HTTP {
				if r.Method == l7.HTTP.Method && templateRE(r.Template, r.Query).MatchString(path) && r.GRPC == (l7.HTTP.Protocol == "HTTP/2") {
					matched = true
				}
			}
			if !matched {
				t.Errorf("%s %s (%s) is in no truth route", l7.HTTP.Method, u, l7.HTTP.Protocol)
			}
			if l7.HTTP.Method != "GET" {
				methods++
			}
			if l7.HTTP.Protocol == "HTTP/2" {
				grpc++
			}
			if strings.Contains(path, "?") {
				queries++
			}
		case l7.Kafka != nil:
			kafka++
			if KafkaRole(l7.Kafka.APIKey) == "" || l7.Kafka.Topic == "" {
				t.Errorf("kafka record %+v", l7.Kafka)
			}
		case l7.DNS != nil:
			names[strings.TrimSuffix(l7.DNS.Query, ".")] = true
			if strings.HasPrefix(l7.DNS.Query, "shard-") {
				shards++
			}
		}
	}
	if methods == 0 || grpc == 0 || kafka == 0 || queries == 0 || shards == 0 {
		t.Errorf("missing record kinds: writes %d, gRPC %d, kafka %d, queries %d, shard lookups %d", methods, grpc, kafka, queries, shards)
	}
	for _, nt := range truth.L7.DNS {
		for _, n := range nt.Names {
			if !names[n] {
				t.Errorf("%s resolves %s in the truth, never in the capture", nt.Workload, n)
			}
		}
	}
	var orders *NamesTruth
	for i := range truth.L7.DNS {
		if truth.L7.DNS[i].Workload.Name == "orders" {
			orders = &truth.L7.DNS[i]
		}
	}
	if orders == nil || len(orders.Patterns) != 1 || orders.Patterns[0] != "shard-*.orders-db.example.net" {
		t.Errorf("orders' DNS truth %+v", orders)
	}
}

func TestL7ScenarioIsDeterministic(t *testing.T) {
	a, _ := genL7(t, 10*time.Minute)
	b, _ := genL7(t, 10*time.Minute)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different captures")
	}
}

func TestTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/users/{id}/orders?page={n}": "/api/v1/users/{id}/orders?",
		"/a/{uuid}/b/{hex}/{name}":           "/a/{id}/b/{id}/{id}",
		"/orders":                            "/orders",
	} {
		tmpl, q := Template(in)
		if q {
			tmpl += "?"
		}
		if tmpl != want {
			t.Errorf("Template(%q) = %q, want %q", in, tmpl, want)
		}
	}
	if p := familyPattern([]string{"shard-0.db.x", "shard-1.db.x", "shard-12.db.x"}); p != "shard-*.db.x" {
		t.Errorf("familyPattern %q", p)
	}
	if p := familyPattern([]string{"a.db.x", "b.other.x"}); p != "" {
		t.Errorf("familyPattern of unrelated names %q", p)
	}
}
