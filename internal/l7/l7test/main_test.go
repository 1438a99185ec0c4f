package l7test

import (
	"os"
	"testing"

	"github.com/netpolgen/netpolgen/internal/testenv"
)

// apiserver is one kube-apiserver with Cilium's CRDs for the package.
var apiserver = testenv.NewShared()

func TestMain(m *testing.M) { os.Exit(apiserver.Main(m)) }
