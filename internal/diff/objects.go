package diff

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netpolgen/netpolgen/internal/cluster"
)

// Action is what applying the proposed policies does to one object.
type Action string

const (
	ActionCreate    Action = "create"
	ActionUpdate    Action = "update"
	ActionUnchanged Action = "unchanged"
	// ActionKept is a policy in force that is not proposed: applying
	// leaves it as it is, and netpolgen never deletes it.
	ActionKept Action = "kept"
	// ActionRejected is a proposed object the API server refused.
	ActionRejected Action = "rejected"
)

// ObjectChange is one object's part of the diff.
type ObjectChange struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Action    Action `json:"action"`
	// Diff is the unified diff from the current object to the proposed
	// one (create: from nothing), empty when unchanged or kept.
	Diff string `json:"diff,omitempty"`
	// Message is the server's reason for a rejection.
	Message string `json:"message,omitempty"`
}

// Key names the object as ObjectKey does.
func (c ObjectChange) Key() string {
	if c.Namespace == "" {
		return c.Kind + " " + c.Name
	}
	return c.Kind + " " + c.Namespace + "/" + c.Name
}

// Normalizer turns a proposed object into what the server would store,
// as a server-side dry-run apply does; nil leaves it as written.
type Normalizer func(context.Context, *unstructured.Unstructured) (*unstructured.Unstructured, error)

// ObjectsResult is the object diff.
type ObjectsResult struct {
	Changes []ObjectChange `json:"changes"`
	// Notes say what the diff could not do (no dry-run permission).
	Notes []string `json:"notes,omitempty"`
}

// Changed reports whether applying would change or fail anything.
func (r *ObjectsResult) Changed() bool {
	for _, c := range r.Changes {
		switch c.Action {
		case ActionCreate, ActionUpdate, ActionRejected:
			return true
		}
	}
	return false
}

// Count returns how many changes have the action.
func (r *ObjectsResult) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Objects diffs proposed against current objects. Each proposed object
// goes through normalize first; if that is forbidden (the read-only role
// has no patch), the rest are compared as written and a note says so.
// A proposed object the server rejects is reported, not an error.
func Objects(ctx context.Context, proposed, current []*unstructured.Unstructured, normalize Normalizer) (*ObjectsResult, error) {
	res := &ObjectsResult{}
	byKey := map[string]*unstructured.Unstructured{}
	for _, o := range current {
		byKey[ObjectKey(o)] = o
	}
	seen := map[string]bool{}
	for _, p := range proposed {
		key := ObjectKey(p)
		seen[key] = true
		change := ObjectChange{Kind: p.GetKind(), Namespace: p.GetNamespace(), Name: p.GetName()}
		want := p
		if normalize != nil {
			got, err := normalize(ctx, p)
			var forbidden *cluster.ForbiddenError
			var rejected *cluster.RejectedError
			switch {
			case errors.As(err, &forbidden):
				res.Notes = append(res.Notes, fmt.Sprintf("server-side dry-run not permitted: it needs the %s verb on %s, which the read-only role does not grant; objects are compared as written, without the server's defaults", forbidden.Verb, forbidden.Resource))
				normalize = nil
			case errors.As(err, &rejected):
				change.Action, change.Message = ActionRejected, rejected.Message
				res.Changes = append(res.Changes, change)
				continue
			case err != nil:
				return nil, err
			default:
				want = got
			}
		}
		before, err := renderStripped(byKey[key])
		if err != nil {
			return nil, err
		}
		after, err := renderStripped(want)
		if err != nil {
			return nil, err
		}
		switch {
		case byKey[key] == nil:
			change.Action = ActionCreate
		case before == after:
			change.Action = ActionUnchanged
		default:
			change.Action = ActionUpdate
		}
		if change.Action != ActionUnchanged {
			if change.Diff, err = unified(key, before, after); err != nil {
				return nil, err
			}
		}
		res.Changes = append(res.Changes, change)
	}
	for _, o := range current {
		if !seen[ObjectKey(o)] {
			res.Changes = append(res.Changes, ObjectChange{Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName(), Action: ActionKept})
		}
	}
	return res, nil
}

func renderStripped(o *unstructured.Unstructured) (string, error) {
	if o == nil {
		return "", nil
	}
	return render(strip(o))
}

// unified writes a unified diff of two renderings of the object key.
func unified(key, before, after string) (string, error) {
	from, to := "live/"+key, "proposed/"+key
	if before == "" {
		from = "/dev/null"
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        lines(before),
		B:        lines(after),
		FromFile: from,
		ToFile:   to,
		Context:  3,
	})
}

// lines splits text into lines that keep their newline (difflib's
// SplitLines adds an empty line after a final newline).
func lines(text string) []string {
	if text == "" {
		return nil
	}
	out := strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n")
	out[len(out)-1] += "\n"
	return out
}
