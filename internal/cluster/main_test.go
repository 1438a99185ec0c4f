package cluster_test

import (
	"os"
	"testing"

	"github.com/netpolgen/netpolgen/internal/testenv"
)

// apiserver is one kube-apiserver, with Cilium's CRDs, for the package's
// integration tests; bare is one without them, started only by the tests
// about clusters without Cilium.
var (
	apiserver = testenv.NewShared()
	bare      = testenv.NewSharedWithoutCilium()
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, apiserver, bare)) }
