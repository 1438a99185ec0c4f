package cluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpolgen/netpolgen/internal/cluster"
	"github.com/netpolgen/netpolgen/internal/testenv"
)

// readerRole applies deploy/rbac.yaml as the admin.
func readerRole(t *testing.T, env *testenv.Env) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env.Apply(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: netpolgen}\n---\n"+string(data))
}

func TestReadOnlyRoleIsEnoughToReadAndNoMore(t *testing.T) {
	env := apiserver.Start(t)
	readerRole(t, env)
	env.Apply(t, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: netpolgen-reader-alice}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: netpolgen-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
`)
	alice := env.AddUser(t, "alice")
	kubeconfig := testenv.KubeConfig(t, alice, "alice@envtest")

	c, err := cluster.Connect(context.Background(), cluster.Options{Kubeconfig: kubeconfig})
	if err != nil {
		t.Fatalf("connect as alice: %v", err)
	}
	snap, err := c.Read(context.Background())
	if err != nil {
		t.Fatalf("read under the reader role: %v", err)
	}
	if len(snap.Namespaces) == 0 || len(snap.APIServer) == 0 {
		t.Errorf("read %d namespaces and %d apiserver endpoints; want some of each", len(snap.Namespaces), len(snap.APIServer))
	}

	// Writing, even a dry run, is refused and named.
	np := &unstructured.Unstructured{}
	np.SetAPIVersion("networking.k8s.io/v1")
	np.SetKind("NetworkPolicy")
	np.SetNamespace("default")
	np.SetName("probe")
	np.Object["spec"] = map[string]any{"podSelector": map[string]any{}}
	_, err = c.DryRunApply(context.Background(), np)
	var forbidden *cluster.ForbiddenError
	if !errors.As(err, &forbidden) || forbidden.Verb != "patch" || forbidden.Resource.String() != "networkpolicies.networking.k8s.io" {
		t.Fatalf("dry-run apply as alice: err = %v, want a ForbiddenError for patch networkpolicies.networking.k8s.io", err)
	}
	if _, err := testenv.ApplyAs(context.Background(), alice, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: alice-was-here}\n")); err == nil {
		t.Error("alice created a namespace under a read-only role")
	}
}

func TestWithoutTheRoleTheErrorNamesVerbAndResource(t *testing.T) {
	env := apiserver.Start(t)
	bob := env.AddUser(t, "bob")
	c, err := cluster.NewClient(bob, "user bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("ping as an authenticated user without roles: %v", err)
	}
	tests := []struct {
		name string
		read func() error
		want string
	}{
		{"snapshot", func() error { _, err := c.Read(context.Background()); return err }, "cannot list namespaces cluster-wide: forbidden"},
		{"policies", func() error { _, _, err := c.ReadPolicies(context.Background()); return err }, "cannot list networkpolicies.networking.k8s.io cluster-wide: forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.read()
			if err == nil {
				t.Fatal("read succeeded without any role")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "deploy/rbac.yaml") {
				t.Errorf("err = %q, want it to say %q and point at deploy/rbac.yaml", err, tt.want)
			}
		})
	}
}
