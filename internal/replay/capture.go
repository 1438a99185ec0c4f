// Package replay serves captured Hubble flows over the real Hubble
// observer gRPC API, so any Hubble client (the hubble CLI, netpolgen's
// live source, Grafana's plugin) can read a capture as if it were a
// cluster.
package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/netpolgen/netpolgen/pkg/observe/wire"
)

// Event is one captured record, kept as the original message and as the
// wire bytes it is served as, marshalled once at load.
type Event struct {
	Resp *observerpb.GetFlowsResponse
	Wire []byte
	Time time.Time
	// frame is Wire ready to send; nil for events built by hand.
	frame *wire.PreparedFrame
}

// Frame is the event ready to send.
func (ev *Event) Frame() *wire.PreparedFrame {
	if ev.frame == nil {
		return wire.NewPreparedFrame(ev.Wire)
	}
	return ev.frame
}

// Capture is the events of one or more capture files, in file order.
type Capture struct {
	Events []Event
	// Nodes are the node names the capture's events name, in order of
	// first appearance.
	Nodes []string
}

// LoadCapture reads hubble observe -o jsonpb / -o json output and Hubble
// exporter files (one GetFlowsResponse or bare Flow per line), and legacy
// JSON arrays of bare flows, gzip or not. A record that cannot be read stops the load with its file and
// line: a replay that silently drops records would not be a replay.
func LoadCapture(paths ...string) (*Capture, error) {
	c := &Capture{}
	seen := map[string]bool{}
	for _, path := range paths {
		if err := c.loadFile(path, seen); err != nil {
			return nil, err
		}
	}
	if len(c.Events) == 0 {
		return nil, fmt.Errorf("no flows in %v: is it hubble observe -o jsonpb output?", paths)
	}
	return c, nil
}

func (c *Capture) loadFile(path string, seen map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read capture: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: not a valid gzip file: %w", path, err)
		}
		r = zr
	}
	add := func(where string, data []byte) error {
		resp, err := parseRecord(data)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		ev, err := NewEvent(resp)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		c.Events = append(c.Events, ev)
		for _, n := range []string{resp.GetNodeName(), resp.GetFlow().GetNodeName()} {
			if n != "" && !seen[n] {
				seen[n] = true
				c.Nodes = append(c.Nodes, n)
			}
		}
		return nil
	}
	lr := bufio.NewReader(r)
	if isJSONArray(lr) {
		return readArray(path, lr, add)
	}
	sc := bufio.NewScanner(lr)
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		data := bytes.TrimSpace(sc.Bytes())
		if len(data) == 0 {
			continue
		}
		if err := add(fmt.Sprintf("%s:%d", path, line), data); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// isJSONArray reports whether the input starts, after white space, with
// '[': the legacy hubble observe -o json array of bare flows.
func isJSONArray(r *bufio.Reader) bool {
	for {
		b, err := r.Peek(1)
		if err != nil {
			return false
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			r.ReadByte()
		default:
			return b[0] == '['
		}
	}
}

// readArray hands each element of a JSON array to add.
func readArray(path string, r io.Reader, add func(where string, data []byte) error) error {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%s[%d]: %w", path, i, err)
		}
		if err := add(fmt.Sprintf("%s[%d]", path, i), raw); err != nil {
			return err
		}
	}
	return nil
}

// parseRecord reads a GetFlowsResponse line, or a legacy bare Flow line
// wrapped in one.
func parseRecord(data []byte) (*observerpb.GetFlowsResponse, error) {
	jsonOpts := protojson.UnmarshalOptions{DiscardUnknown: true}
	resp := &observerpb.GetFlowsResponse{}
	if err := jsonOpts.Unmarshal(data, resp); err != nil {
		return nil, fmt.Errorf("not a Hubble GetFlowsResponse: %w", err)
	}
	if resp.GetResponseTypes() != nil {
		return resp, nil
	}
	var fl flowpb.Flow
	if err := jsonOpts.Unmarshal(data, &fl); err != nil || fl.GetTime() == nil {
		return nil, errors.New("record holds no flow, lost_events or node_status")
	}
	return &observerpb.GetFlowsResponse{
		ResponseTypes: &observerpb.GetFlowsResponse_Flow{Flow: &fl},
		NodeName:      fl.GetNodeName(),
		Time:          fl.GetTime(),
	}, nil
}

// NewEvent marshals a response into an Event ready to serve.
func NewEvent(resp *observerpb.GetFlowsResponse) (Event, error) {
	data, err := proto.Marshal(resp)
	if err != nil {
		return Event{}, err
	}
	return Event{Resp: resp, Wire: data, Time: eventTime(resp), frame: wire.NewPreparedFrame(data)}, nil
}

// eventTime is when an event happened: the envelope's time, else the
// flow's.
func eventTime(resp *observerpb.GetFlowsResponse) time.Time {
	switch {
	case resp.GetTime() != nil:
		return resp.GetTime().AsTime()
	case resp.GetFlow().GetTime() != nil:
		return resp.GetFlow().GetTime().AsTime()
	}
	return time.Time{}
}

// FlowCount is the number of flow events in the capture.
func (c *Capture) FlowCount() int {
	n := 0
	for _, ev := range c.Events {
		if ev.Resp.GetFlow() != nil {
			n++
		}
	}
	return n
}
