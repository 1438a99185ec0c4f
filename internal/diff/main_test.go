package diff_test

import (
	"os"
	"testing"

	"github.com/netpolgen/netpolgen/internal/testenv"
)

// apiserver is one kube-apiserver for the package's integration tests.
var apiserver = testenv.NewShared()

func TestMain(m *testing.M) { os.Exit(apiserver.Main(m)) }
