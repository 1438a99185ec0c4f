package kind

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// loadKindConfig reads a kind config the way kind does short of creating
// a cluster: strict decoding into kind's own v1alpha4 types, then its
// defaults. (kind's loader proper is internal and asks Docker first.)
func loadKindConfig(t *testing.T, path string) *v1alpha4.Cluster {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cfg.Kind != "Cluster" || cfg.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Fatalf("%s: kind %q apiVersion %q, want Cluster kind.x-k8s.io/v1alpha4", path, cfg.Kind, cfg.APIVersion)
	}
	v1alpha4.SetDefaultsCluster(&cfg)
	return &cfg
}

func TestKindConfigs(t *testing.T) {
	tests := []struct {
		file      string
		proxyMode v1alpha4.ProxyMode
	}{
		{"kind-config.yaml", v1alpha4.IPTablesProxyMode},
		{"kind-config-kpr.yaml", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg := loadKindConfig(t, tt.file)
			if !cfg.Networking.DisableDefaultCNI {
				t.Error("the default CNI is enabled: Cilium must own the datapath")
			}
			if cfg.Networking.KubeProxyMode != tt.proxyMode {
				t.Errorf("kube-proxy mode %q, want %q", cfg.Networking.KubeProxyMode, tt.proxyMode)
			}
			var workers int
			for _, n := range cfg.Nodes {
				if n.Role == v1alpha4.WorkerRole {
					workers++
				}
			}
			if workers < 2 {
				t.Errorf("%d workers: cross-node paths need at least 2", workers)
			}
			if cfg.Name != "netpolgen-e2e" {
				t.Errorf("cluster name %q, but run.sh deletes netpolgen-e2e", cfg.Name)
			}
		})
	}
}

// The chart run.sh installs must be the Cilium release netpolgen is built
// against, and the values must keep Hubble Relay on.
func TestCiliumPinnedToGoMod(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/cilium/cilium v(\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/cilium/cilium")
	}
	script, err := os.ReadFile("run.sh")
	if err != nil {
		t.Fatal(err)
	}
	if want := "CILIUM_CHART_VERSION=" + string(m[1]); !strings.Contains(string(script), want) {
		t.Errorf("run.sh does not pin %s (go.mod has cilium v%s)", want, m[1])
	}
	data, err := os.ReadFile("cilium-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Hubble struct {
			Enabled bool `json:"enabled"`
			Relay   struct {
				Enabled bool `json:"enabled"`
			} `json:"relay"`
		} `json:"hubble"`
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatalf("cilium-values.yaml: %v", err)
	}
	if !values.Hubble.Enabled || !values.Hubble.Relay.Enabled {
		t.Error("cilium-values.yaml must enable Hubble and Hubble Relay")
	}
}
