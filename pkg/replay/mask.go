package replay

import (
	"fmt"
	"strings"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// fieldMask is a parsed GetFlowsRequest field mask over Flow: each key is
// a field to keep, with the sub-fields to keep of a message field, or nil
// to keep it whole. hubble observe sends one for its text outputs.
type fieldMask map[protoreflect.Name]fieldMask

// newFieldMask checks the mask's paths against Flow and parses them; a
// nil mask keeps everything.
func newFieldMask(fm *fieldmaskpb.FieldMask) (fieldMask, error) {
	if len(fm.GetPaths()) == 0 {
		return nil, nil
	}
	if !fm.IsValid(&flowpb.Flow{}) {
		return nil, fmt.Errorf("invalid field mask %v: every path must name a Flow field", fm.GetPaths())
	}
	mask := fieldMask{}
	for _, path := range fm.GetPaths() {
		node := mask
		parts := strings.Split(path, ".")
		for i, part := range parts {
			name := protoreflect.Name(part)
			child, seen := node[name]
			if seen && child == nil {
				break // already kept whole
			}
			if i == len(parts)-1 {
				node[name] = nil // keep whole, whatever sub-fields were named
				break
			}
			if !seen {
				child = fieldMask{}
				node[name] = child
			}
			node = child
		}
	}
	return mask, nil
}

// apply returns a copy of resp whose flow keeps only the masked fields,
// marshalled for sending; other events are sent whole.
func (m fieldMask) apply(ev Event) (Event, error) {
	flow := ev.Resp.GetFlow()
	if m == nil || flow == nil {
		return ev, nil
	}
	masked := &flowpb.Flow{}
	m.copy(masked.ProtoReflect(), flow.ProtoReflect())
	resp := &observerpb.GetFlowsResponse{
		ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: masked},
		NodeName:      ev.Resp.GetNodeName(),
		Time:          ev.Resp.GetTime(),
	}
	return NewEvent(resp)
}

func (m fieldMask) copy(dst, src protoreflect.Message) {
	fields := src.Descriptor().Fields()
	for name, sub := range m {
		fd := fields.ByName(name)
		if fd == nil || !src.Has(fd) {
			continue
		}
		if sub == nil || fd.Message() == nil || fd.IsList() || fd.IsMap() {
			dst.Set(fd, src.Get(fd))
			continue
		}
		sub.copy(dst.Mutable(fd).Message(), src.Get(fd).Message())
	}
}
