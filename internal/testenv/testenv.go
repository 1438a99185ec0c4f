// Package testenv runs a real kube-apiserver and etcd for integration tests,
// through controller-runtime's envtest, with Cilium's policy CRDs installed
// from the cilium module netpolgen builds against.
//
// The binaries come from `make testbin`, which builds them from the module
// proxy into $(go env GOPATH)/netpolgen-tools/k8s-<version>; KUBEBUILDER_ASSETS
// overrides that directory. Tests skip, naming the directory, only when the
// binaries are absent; any other failure to start fails them.
//
// One apiserver serves a whole test package: declare a Shared in the
// package's tests, run TestMain through it and call Start in each test.
//
//	var cluster = testenv.NewShared()
//	func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }
//	func TestX(t *testing.T) { env := cluster.Start(t); ... }
package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Env is a running control plane.
type Env struct {
	// Config authenticates as a cluster admin.
	Config *rest.Config
	env    *envtest.Environment
	// StartTime is how long the control plane took to come up with its
	// CRDs established.
	StartTime time.Duration
}

// Shared starts one control plane on first use and stops it when the test
// binary ends.
type Shared struct {
	once       sync.Once
	env        *Env
	err        error
	skip       string
	ciliumCRDs bool
}

// NewShared returns a control plane, not started yet, with Cilium's
// policy CRDs.
func NewShared() *Shared { return &Shared{ciliumCRDs: true} }

// NewSharedWithoutCilium returns a control plane, not started yet, that
// serves no Cilium resources, like a cluster without Cilium.
func NewSharedWithoutCilium() *Shared { return &Shared{} }

// Main runs the package's tests and then stops the control plane if one
// was started. Use it as TestMain's body.
func (s *Shared) Main(m *testing.M) int { return Main(m, s) }

// Main runs the package's tests and then stops every control plane that
// was started.
func Main(m *testing.M, planes ...*Shared) int {
	code := m.Run()
	for _, s := range planes {
		if err := s.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stopping the control plane: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Stop stops the control plane if it was started. For a TestMain that
// must stop other things first (Main stops it right after the tests).
func (s *Shared) Stop() error {
	if s.env == nil {
		return nil
	}
	return s.env.env.Stop()
}

// Start returns the package's control plane, starting it on first use. It
// skips the test when the binaries are absent and fails it when they are
// present but do not start.
func (s *Shared) Start(t testing.TB) *Env {
	t.Helper()
	s.once.Do(func() {
		dir, missing, err := AssetsDir()
		switch {
		case err != nil:
			s.err = err
		case len(missing) > 0:
			s.skip = fmt.Sprintf("kube-apiserver/etcd not built: %s lacks %s (run `make testbin`, or set KUBEBUILDER_ASSETS)",
				dir, strings.Join(missing, " and "))
		default:
			s.env, s.err = start(dir, s.ciliumCRDs)
		}
	})
	if s.skip != "" {
		t.Skip(s.skip)
	}
	if s.err != nil {
		t.Fatalf("testenv: %v", s.err)
	}
	return s.env
}

func start(assets string, ciliumCRDs bool) (*Env, error) {
	var crds []string
	if ciliumCRDs {
		var err error
		if crds, err = CiliumPolicyCRDs(); err != nil {
			return nil, err
		}
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              crds,
			ErrorIfPathMissing: true,
		},
		ControlPlaneStartTimeout: 60 * time.Second,
	}
	began := time.Now()
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("start kube-apiserver and etcd from %s: %w", assets, err)
	}
	return &Env{Config: cfg, env: te, StartTime: time.Since(began)}, nil
}

// AddUser provisions a user with no groups beyond system:authenticated,
// so RBAC grants it nothing until a binding does, and returns its config.
func (e *Env) AddUser(t testing.TB, name string) *rest.Config {
	t.Helper()
	u, err := e.env.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	return u.Config()
}

// KubeConfig writes a kubeconfig file for cfg under t.TempDir, with one
// context named contextName, and returns its path.
func KubeConfig(t testing.TB, cfg *rest.Config, contextName string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Config\ncurrent-context: %s\n", contextName)
	fmt.Fprintf(&b, "clusters:\n- name: envtest\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n", cfg.Host, b64(cfg.CAData))
	fmt.Fprintf(&b, "users:\n- name: %s\n  user:\n", contextName)
	if len(cfg.CertData) > 0 {
		fmt.Fprintf(&b, "    client-certificate-data: %s\n    client-key-data: %s\n", b64(cfg.CertData), b64(cfg.KeyData))
	}
	if cfg.BearerToken != "" {
		fmt.Fprintf(&b, "    token: %s\n", cfg.BearerToken)
	}
	fmt.Fprintf(&b, "contexts:\n- name: %s\n  context:\n    cluster: envtest\n    user: %s\n", contextName, contextName)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// AssetsDir returns the directory holding kube-apiserver and etcd and the
// names of those it lacks: KUBEBUILDER_ASSETS when set, else the cache
// `make testbin` fills for the version tools/k8s/go.mod pins.
func AssetsDir() (dir string, missing []string, err error) {
	dir = os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		version, err := kubernetesVersion()
		if err != nil {
			return "", nil, err
		}
		dir = filepath.Join(build.Default.GOPATH, "netpolgen-tools", "k8s-"+version)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			missing = append(missing, bin)
		}
	}
	return dir, missing, nil
}

// kubernetesVersion reads the k8s.io/kubernetes version tools/k8s pins.
func kubernetesVersion() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	f, err := os.Open(filepath.Join(root, "tools", "k8s", "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "k8s.io/kubernetes" {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("tools/k8s/go.mod does not require k8s.io/kubernetes")
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "k8s", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no tools/k8s/go.mod above the working directory")
		}
		dir = parent
	}
}
