package drift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/netpolgen/netpolgen/pkg/graph"
)

// stateVersion is bumped when the checkpoint format changes.
const stateVersion = 1

// State is what drift remembers across restarts. Times other than SavedAt
// are flow times.
type State struct {
	// Graph is everything learned so far; nil before the first flow.
	Graph *graph.Graph
	// Watermark is the latest flow time seen: drift's "now".
	Watermark time.Time
	// RuleFirstKnown is when each rule (by RuleKey) was first checked
	// against, so a rule never exercised becomes stale StaleAfter later.
	RuleFirstKnown map[string]time.Time
	// Reported are the findings already logged, by key, with when.
	Reported map[string]time.Time
	Gaps     []Gap
	// Flows counts every flow folded in, over all runs.
	Flows uint64
	// SavedAt is the wall-clock time of the checkpoint.
	SavedAt time.Time
}

func newState() *State {
	return &State{RuleFirstKnown: map[string]time.Time{}, Reported: map[string]time.Time{}}
}

type stateFile struct {
	Version        int                  `json:"version"`
	SavedAt        time.Time            `json:"savedAt"`
	Watermark      time.Time            `json:"watermark,omitzero"`
	Flows          uint64               `json:"flows"`
	RuleFirstKnown map[string]time.Time `json:"ruleFirstKnown"`
	Reported       map[string]time.Time `json:"reported"`
	Gaps           []Gap                `json:"gaps"`
	Graph          json.RawMessage      `json:"graph,omitempty"`
}

// LoadState reads a checkpoint; a missing file is a fresh state.
func LoadState(path string) (*State, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("drift state %s: %w", path, err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, false, fmt.Errorf("drift state %s: %w", path, err)
	}
	if f.Version != stateVersion {
		return nil, false, fmt.Errorf("drift state %s: version %d, this netpolgen reads version %d", path, f.Version, stateVersion)
	}
	s := newState()
	s.SavedAt, s.Watermark, s.Flows, s.Gaps = f.SavedAt, f.Watermark, f.Flows, f.Gaps
	for k, v := range f.RuleFirstKnown {
		s.RuleFirstKnown[k] = v
	}
	for k, v := range f.Reported {
		s.Reported[k] = v
	}
	if len(f.Graph) > 0 {
		if s.Graph, err = graph.Load(bytes.NewReader(f.Graph), path); err != nil {
			return nil, false, fmt.Errorf("drift state: %w", err)
		}
	}
	return s, true, nil
}

// Save checkpoints the state atomically.
func (s *State) Save(path string, now time.Time) error {
	f := stateFile{Version: stateVersion, SavedAt: now, Watermark: s.Watermark, Flows: s.Flows,
		RuleFirstKnown: s.RuleFirstKnown, Reported: s.Reported, Gaps: s.Gaps}
	if s.Graph != nil {
		var buf bytes.Buffer
		if err := s.Graph.Save(&buf); err != nil {
			return fmt.Errorf("drift state %s: %w", path, err)
		}
		f.Graph = buf.Bytes()
	}
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("drift state %s: %w", path, err)
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// fold merges a finished segment into the learned graph.
func (s *State) fold(seg *graph.Graph) error {
	if seg == nil || seg.Coverage.Flows == 0 && seg.Coverage.LostNotices == 0 {
		return nil
	}
	if s.Graph == nil {
		s.Graph = seg
		return nil
	}
	m, err := graph.Merge(s.Graph, seg)
	if err != nil {
		return fmt.Errorf("drift: fold new flows into the learned graph: %w", err)
	}
	s.Graph = m
	return nil
}
