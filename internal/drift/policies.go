package drift

import (
	"fmt"

	"github.com/netpolgen/netpolgen/pkg/verify"
)

// PolicySource is the policy set drift checks against.
type PolicySource interface {
	// Policies returns the current set. On an error the previous set
	// stays in use and the report says why.
	Policies() (*verify.Policies, error)
	// Changed, when not nil, is signalled when the set changed, so the
	// next evaluation does not wait for the interval.
	Changed() <-chan struct{}
	// Name says where the policies come from, for the report.
	Name() string
}

// DirSource reads policies from a directory of YAML files. It re-reads
// the directory at every evaluation, so edits (or a ConfigMap volume's
// updates) apply without a restart.
type DirSource struct {
	dir string
}

// NewDirSource returns a source reading dir (recursively).
func NewDirSource(dir string) *DirSource { return &DirSource{dir: dir} }

// Policies implements PolicySource.
func (d *DirSource) Policies() (*verify.Policies, error) {
	ps, err := verify.LoadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("policies in %s: %w", d.dir, err)
	}
	// Learning-mode policies are scaffolding, never judged against.
	ps, _ = ps.WithoutLearningMode()
	return ps, nil
}

// Changed implements PolicySource; a directory is re-read every interval.
func (d *DirSource) Changed() <-chan struct{} { return nil }

// Name implements PolicySource.
func (d *DirSource) Name() string { return d.dir }
