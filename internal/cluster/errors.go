package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// RBACHint points at the role netpolgen is meant to run under.
const RBACHint = "netpolgen needs the read-only role in deploy/rbac.yaml"

// ForbiddenError is a request the identity has no permission for.
type ForbiddenError struct {
	Verb     string
	Resource schema.GroupResource
	// Namespace is empty for cluster-wide requests.
	Namespace string
	Err       error
}

func (e *ForbiddenError) Error() string {
	scope := "cluster-wide"
	if e.Namespace != "" {
		scope = "in namespace " + e.Namespace
	}
	return fmt.Sprintf("cannot %s %s %s: forbidden; %s", e.Verb, e.Resource, scope, RBACHint)
}

func (e *ForbiddenError) Unwrap() error { return e.Err }

// requestError explains a failed request: a permission it lacked names the
// verb and resource; the rest keep the server's words.
func (c *Client) requestError(verb string, gr schema.GroupResource, namespace string, err error) error {
	switch {
	case apierrors.IsForbidden(err):
		return &ForbiddenError{Verb: verb, Resource: gr, Namespace: namespace, Err: err}
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the API server at %s rejected the credentials of %s: %w", c.host, c.where, err)
	case isConnectionError(err):
		return c.reachError(err)
	}
	return fmt.Errorf("%s %s: %w", verb, gr, err)
}

// reachError words a failure to talk to the server at all.
func (c *Client) reachError(err error) error {
	if apierrors.IsUnauthorized(err) {
		return fmt.Errorf("the API server at %s rejected the credentials of %s: %w", c.host, c.where, err)
	}
	if apierrors.IsForbidden(err) {
		// /version is readable by any authenticated identity, so this
		// is a server that denies even discovery.
		return &ForbiddenError{Verb: "get", Resource: schema.GroupResource{Resource: "/version"}, Err: err}
	}
	return fmt.Errorf("cannot reach the Kubernetes API server at %s (%s): %v; check the cluster is up and the kubeconfig's server address, or pick another context with --context", c.host, c.where, err)
}

func isConnectionError(err error) bool {
	var ne net.Error
	var ue *url.Error
	return errors.As(err, &ne) || errors.As(err, &ue)
}
