package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// FieldManager is the field manager netpolgen's server-side applies name.
const FieldManager = "netpolgen"

// RejectedError is an object the API server refused, in its own words.
type RejectedError struct {
	Kind, Namespace, Name string
	// Message is the server's explanation.
	Message string
	Err     error
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("%s %s rejected by the API server: %s", e.Kind, objectName(e.Namespace, e.Name), e.Message)
}

func (e *RejectedError) Unwrap() error { return e.Err }

// DryRunApply asks the server what obj would become if it were applied
// server-side (with conflicts forced, as the object would be on a real
// apply by netpolgen) without persisting anything: defaults filled, the
// schema and admission checked. It needs the patch verb, which the
// read-only role does not grant; callers get a *ForbiddenError then.
func (c *Client) DryRunApply(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	kind, ok := PolicyKindOf(obj.GetAPIVersion(), obj.GetKind())
	if !ok {
		return nil, fmt.Errorf("%s %s: not a policy kind netpolgen applies (apiVersion %s)", obj.GetKind(), objectName(obj.GetNamespace(), obj.GetName()), obj.GetAPIVersion())
	}
	res := c.dynamic.Resource(kind.GVR)
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}}
	var (
		out *unstructured.Unstructured
		err error
	)
	if kind.Namespaced {
		out, err = res.Namespace(obj.GetNamespace()).Apply(ctx, obj.GetName(), obj, opts)
	} else {
		out, err = res.Apply(ctx, obj.GetName(), obj, opts)
	}
	if err == nil {
		return out, nil
	}
	var status apierrors.APIStatus
	switch {
	case apierrors.IsForbidden(err):
		return nil, &ForbiddenError{Verb: "patch", Resource: kind.GVR.GroupResource(), Namespace: obj.GetNamespace(), Err: err}
	case apierrors.IsNotFound(err) && kind.Namespaced && strings.Contains(err.Error(), "namespaces"):
		return nil, &RejectedError{Kind: kind.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(),
			Message: fmt.Sprintf("namespace %q does not exist", obj.GetNamespace()), Err: err}
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		msg := err.Error()
		if errors.As(err, &status) {
			msg = status.Status().Message
		}
		return nil, &RejectedError{Kind: kind.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Message: msg, Err: err}
	}
	return nil, c.requestError("patch", kind.GVR.GroupResource(), obj.GetNamespace(), err)
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
