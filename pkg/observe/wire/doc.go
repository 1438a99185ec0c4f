// Package wire decodes Hubble's GetFlowsResponse straight from its
// protobuf wire bytes into observe.Record, without building the generated
// message, and holds the gRPC codec (RawCodec) that hands a client those
// bytes and lets a server send pre-encoded frames.
package wire
