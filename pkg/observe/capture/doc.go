// Package capture reads Hubble flow captures: the lines `hubble observe
// -o json` (or jsonpb) and Hubble's exporter write, legacy bare-Flow lines
// and JSON arrays of flows, each optionally gzip-compressed, from files or
// standard input.
//
// Source is an observe.Source over a list of files; a malformed record
// is skipped and counted, or fatal with Options.Strict, and its error
// (LineError) names the file and line. Decoder decodes one JSON record
// without building Cilium's generated messages; it accepts snake_case and
// lowerCamel keys and skips, counted, the event kinds a newer Hubble adds.
package capture
