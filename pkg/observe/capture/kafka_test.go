package capture

import (
	"testing"

	"github.com/netpolgen/netpolgen/internal/observetest"
	"github.com/netpolgen/netpolgen/pkg/observe"

	"github.com/google/go-cmp/cmp"
)

// Kafka records are decoded (topic and request kind), the same by the JSON
// decoder as by protojson and FromProto.
func TestDecodeKafka(t *testing.T) {
	line := []byte(`{"flow":{"type":"L7","l7":{"type":"REQUEST","kafka":{"api_version":7,"api_key":"produce","correlation_id":3,"topic":"orders","error_code":0}}}}`)
	ref, err := observetest.ReferenceJSON(line)
	if err != nil {
		t.Fatal(err)
	}
	var got observe.Record
	if err := NewDecoder().Decode(line, &got); err != nil {
		t.Fatal(err)
	}
	want := &observe.Kafka{APIKey: "produce", APIVersion: 7, Topic: "orders"}
	if got.Flow.L7 == nil || got.Flow.L7.Kafka == nil || *got.Flow.L7.Kafka != *want {
		t.Fatalf("decoded %+v", got.Flow.L7)
	}
	if diff := cmp.Diff(ref, got, observetest.FlowCmp()...); diff != "" {
		t.Errorf("JSON decoder and protojson differ (-protojson +decoder):\n%s", diff)
	}
}
