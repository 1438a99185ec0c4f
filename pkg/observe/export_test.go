package observe

import (
	"testing"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"github.com/google/go-cmp/cmp"
)

// For the external tests, which may import the generator (pkg/flowgen
// imports this package): the reference the wire decoder is held to.

func ReferenceRecord(r *observerpb.GetFlowsResponse) Record { return referenceRecord(r) }

func FlowCmp() []cmp.Option { return flowCmp }

func SharedResponses(tb testing.TB) []*observerpb.GetFlowsResponse {
	_, resps := sharedResponses(tb)
	return resps
}

func WireMatchesFromProto(t *testing.T, names []string, resps []*observerpb.GetFlowsResponse) {
	t.Helper()
	wireMatchesFromProto(t, names, resps)
}
