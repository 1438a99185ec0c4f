// Package inspect summarises a flow capture before anyone learns policy
// from it: what it holds, over what time, and where it has holes.
package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// Summary is the pre-flight report of a capture.
type Summary struct {
	Flows     uint64    `json:"flows"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	Span      string    `json:"span"`

	Nodes      map[string]uint64 `json:"nodes"`
	Namespaces map[string]uint64 `json:"namespaces"`
	Verdicts   map[string]uint64 `json:"verdicts"`
	EventTypes map[string]uint64 `json:"event_types"`
	FlowTypes  map[string]uint64 `json:"flow_types"`
	Protocols  map[string]uint64 `json:"protocols"`

	// WithoutIsReply counts flows whose direction is not stated by
	// is_reply; LegacyReplyOnly those of them marked by the old reply field.
	WithoutIsReply  uint64 `json:"flows_without_is_reply"`
	LegacyReplyOnly uint64 `json:"flows_with_legacy_reply_only"`

	LostNotices uint64            `json:"lost_event_notices"`
	LostEvents  map[string]uint64 `json:"lost_events"`
	Skipped     map[string]uint64 `json:"skipped_records"`
	Malformed   uint64            `json:"malformed_records"`
	// MalformedExamples holds the first few malformed records' errors.
	MalformedExamples []string `json:"malformed_examples,omitempty"`
}

// maxExamples bounds how many malformed-record errors a summary keeps.
const maxExamples = 5

// New returns an empty summary.
func New() *Summary {
	return &Summary{
		Nodes: map[string]uint64{}, Namespaces: map[string]uint64{}, Verdicts: map[string]uint64{},
		EventTypes: map[string]uint64{}, FlowTypes: map[string]uint64{}, Protocols: map[string]uint64{},
		LostEvents: map[string]uint64{}, Skipped: map[string]uint64{},
	}
}

// AddMalformed records a malformed record's error as an example.
func (s *Summary) AddMalformed(err error) {
	if len(s.MalformedExamples) < maxExamples {
		s.MalformedExamples = append(s.MalformedExamples, err.Error())
	}
}

// Add folds one flow into the summary.
func (s *Summary) Add(f *observe.Flow) {
	s.Flows++
	if !f.Time.IsZero() {
		if s.FirstSeen.IsZero() || f.Time.Before(s.FirstSeen) {
			s.FirstSeen = f.Time
		}
		if f.Time.After(s.LastSeen) {
			s.LastSeen = f.Time
		}
	}
	s.Nodes[orNone(f.NodeName)]++
	for _, ns := range namespacesOf(f) {
		s.Namespaces[ns]++
	}
	s.Verdicts[f.Verdict.String()]++
	s.EventTypes[EventTypeName(f.EventType)]++
	s.FlowTypes[f.Type.String()]++
	s.Protocols[f.L4.Protocol.String()]++
	if f.IsReply == observe.ReplyUnknown {
		s.WithoutIsReply++
		if f.LegacyReply {
			s.LegacyReplyOnly++
		}
	}
}

// namespacesOf lists the distinct namespaces a flow touches.
func namespacesOf(f *observe.Flow) []string {
	src, dst := f.Source.Namespace, f.Destination.Namespace
	switch {
	case src == "" && dst == "":
		return nil
	case src == dst || dst == "":
		return []string{src}
	case src == "":
		return []string{dst}
	}
	return []string{src, dst}
}

// Finish copies the source's counters into the summary.
func (s *Summary) Finish(st observe.Stats) {
	s.LostNotices = st.LostNotices
	for src, n := range st.LostEvents {
		s.LostEvents[src.String()] += n
	}
	for k, n := range st.Skipped {
		s.Skipped[k.String()] += n
	}
	s.Malformed = st.Malformed
	if !s.FirstSeen.IsZero() {
		s.Span = s.LastSeen.Sub(s.FirstSeen).String()
	}
}

// EventTypeName names Cilium's monitor event types as hubble does.
func EventTypeName(t int32) string {
	name := ""
	switch t {
	case 1:
		name = "drop"
	case 2:
		name = "debug"
	case 3:
		name = "capture"
	case 4:
		name = "trace"
	case 5:
		name = "policy-verdict"
	case 6:
		name = "recorder"
	case 7:
		name = "trace-sock"
	case 129:
		name = "l7"
	case 130:
		name = "agent"
	default:
		return fmt.Sprintf("type %d", t)
	}
	return fmt.Sprintf("%s (%d)", name, t)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// WriteJSON writes the summary as indented JSON with sorted keys.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(s)
}

// WriteTable writes the summary for a terminal.
func (s *Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("Flows", fmt.Sprint(s.Flows))
	if !s.FirstSeen.IsZero() {
		row("Time span", fmt.Sprintf("%s .. %s (%s)", s.FirstSeen.Format(time.RFC3339), s.LastSeen.Format(time.RFC3339), s.Span))
	}
	row("Nodes", counts(s.Nodes))
	row("Namespaces", counts(s.Namespaces))
	row("Verdicts", counts(s.Verdicts))
	row("Event types", counts(s.EventTypes))
	row("Flow types", counts(s.FlowTypes))
	row("Protocols", counts(s.Protocols))
	row("Without is_reply", fmt.Sprintf("%d (%d marked by the legacy reply field)", s.WithoutIsReply, s.LegacyReplyOnly))
	lost := "none"
	if s.LostNotices > 0 {
		lost = fmt.Sprintf("%d notices: %s", s.LostNotices, counts(s.LostEvents))
	}
	row("Lost events", lost)
	row("Skipped records", counts(s.Skipped))
	row("Malformed records", fmt.Sprint(s.Malformed))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range s.MalformedExamples {
		fmt.Fprintf(w, "  malformed: %s\n", e)
	}
	if s.LostNotices > 0 {
		fmt.Fprintln(w, "warning: events were lost while this capture was taken; policy learned from it may miss connections")
	}
	if s.Flows == 0 && s.Malformed > 0 {
		fmt.Fprintln(w, "warning: no record could be read as a flow; netpolgen reads hubble observe -o json or -o jsonpb output (not -o compact, dict or table)")
	}
	return nil
}

// counts renders a count map as "a=3, b=1", largest first.
func counts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
