package wire

import (
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// RawFrame is a gRPC message kept as its protobuf wire bytes. Receiving
// into a RawFrame skips generated-message decoding, and sending one skips
// marshalling: the fast client decodes the bytes straight into a Flow, and
// the replay server sends bytes it marshalled once at load.
type RawFrame struct {
	Bytes []byte
}

// PreparedFrame is a message to send many times, its wire bytes wrapped
// once for gRPC so that sending it allocates nothing.
type PreparedFrame struct {
	data mem.BufferSlice
}

// NewPreparedFrame wraps wire bytes, which must not change afterwards.
func NewPreparedFrame(wire []byte) *PreparedFrame {
	return &PreparedFrame{data: mem.BufferSlice{mem.SliceBuffer(wire)}}
}

// RawCodec is the "proto" gRPC codec, except that a *RawFrame travels as
// its bytes untouched. It is wire-identical to the stock codec, so peers
// cannot tell the difference.
type RawCodec struct{}

var _ encoding.CodecV2 = RawCodec{}

// Name is "proto" so the content type stays application/grpc+proto.
func (RawCodec) Name() string { return protoenc.Name }

// Marshal hands a RawFrame's or PreparedFrame's bytes to gRPC as they are
// and marshals anything else as protobuf.
func (RawCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch f := v.(type) {
	case *PreparedFrame:
		return f.data, nil
	case *RawFrame:
		// SliceBuffer is not pooled: gRPC's free is a no-op on it, so the
		// caller's bytes are never recycled under it.
		return mem.BufferSlice{mem.SliceBuffer(f.Bytes)}, nil
	}
	return stockCodec().Marshal(v)
}

// Unmarshal copies the message into a RawFrame's reused buffer, since gRPC
// frees data when Unmarshal returns, or decodes a generated message.
func (RawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*RawFrame); ok {
		f.Bytes = f.Bytes[:0]
		for _, b := range data {
			f.Bytes = append(f.Bytes, b.ReadOnlyData()...)
		}
		return nil
	}
	return stockCodec().Unmarshal(data, v)
}

func stockCodec() encoding.CodecV2 { return encoding.GetCodecV2(protoenc.Name) }
