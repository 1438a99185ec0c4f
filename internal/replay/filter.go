package replay

import (
	"context"
	"fmt"
	"log/slog"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	v1 "github.com/cilium/cilium/pkg/hubble/api/v1"
	"github.com/cilium/cilium/pkg/hubble/filters"
	"github.com/cilium/cilium/pkg/hubble/parser/fieldmask"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// newFilterBuilders returns Hubble's own filter builders, so a replay
// answers every FlowFilter field exactly as a Hubble server would. Only
// the CEL filter logs, and nothing here should reach the user's terminal.
func newFilterBuilders() []filters.OnBuildFilter {
	return filters.DefaultFilters(slog.New(slog.DiscardHandler))
}

// buildFilters compiles a whitelist or blacklist with Hubble's builders.
func buildFilters(ctx context.Context, list []*flowpb.FlowFilter, builders []filters.OnBuildFilter) (filters.FilterFuncs, error) {
	fs, err := filters.BuildFilterList(ctx, list, builders)
	if err != nil {
		return nil, fmt.Errorf("invalid flow filter: %w", err)
	}
	return fs, nil
}

// fieldMask is a GetFlowsRequest field mask compiled by Hubble's parser;
// hubble observe sends one for its text outputs.
type fieldMask struct{ m fieldmask.FieldMask }

// newFieldMask checks the mask's paths against Flow; an empty mask keeps
// everything.
func newFieldMask(fm *fieldmaskpb.FieldMask) (fieldMask, error) {
	m, err := fieldmask.New(fm)
	if err != nil {
		return fieldMask{}, fmt.Errorf("invalid field mask %v: every path must name a Flow field", fm.GetPaths())
	}
	return fieldMask{m}, nil
}

// apply returns a copy of ev whose flow keeps only the masked fields,
// marshalled for sending; other events are sent whole. Each flow is
// copied into a fresh message: Hubble reuses one, but a reused message
// can keep a oneof branch (l4.TCP) from an earlier flow.
func (fm fieldMask) apply(ev Event) (Event, error) {
	flow := ev.Resp.GetFlow()
	if !fm.m.Active() || flow == nil {
		return ev, nil
	}
	masked := &flowpb.Flow{}
	fm.m.Copy(masked.ProtoReflect(), flow.ProtoReflect())
	return NewEvent(&observerpb.GetFlowsResponse{
		ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: masked},
		NodeName:      ev.Resp.GetNodeName(),
		Time:          ev.Resp.GetTime(),
	})
}

// hubbleEvent wraps a flow the way Hubble's filters take it.
func hubbleEvent(ev Event) *v1.Event {
	return &v1.Event{Timestamp: ev.Resp.GetTime(), Event: ev.Resp.GetFlow()}
}
