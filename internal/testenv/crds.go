package testenv

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// CiliumPolicyCRDs returns the CRD manifests of CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy from the cilium module in go.mod, so the
// test apiserver validates policies against the schema of the Cilium
// version netpolgen generates for.
func CiliumPolicyCRDs() ([]string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cilium/cilium").Output()
	if err != nil {
		return nil, fmt.Errorf("find the cilium module directory (go list -m github.com/cilium/cilium): %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "pkg", "k8s", "apis", "cilium.io", "client", "crds", "v2")
	return []string{
		filepath.Join(dir, "ciliumnetworkpolicies.yaml"),
		filepath.Join(dir, "ciliumclusterwidenetworkpolicies.yaml"),
	}, nil
}
