package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/netpolgen/netpolgen/pkg/observe"
)

// LineError is a record that could not be read, with where it was.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Options tunes a FileSource.
type Options struct {
	// Strict makes the first malformed record fatal instead of skipped.
	Strict bool
	// OnMalformed, when set, is told about each skipped malformed record.
	OnMalformed func(*LineError)
	// Stdin is read for the path "-" (os.Stdin when nil).
	Stdin io.Reader
}

// FileSource reads captured flows from files, in order: hubble observe -o
// json/jsonpb lines, Hubble exporter files, legacy bare-Flow lines, and
// JSON arrays of flows, each optionally gzip-compressed.
type Source struct {
	paths []string
	opts  Options
	next  int

	cur    *recordReader
	closer io.Closer

	dec   *Decoder
	rec   observe.Record
	stats observe.Stats
	// where is the file and line of the record last returned.
	whereFile string
	whereLine int
}

// Position says where the record last returned was read: "file:line".
func (f *Source) Position() string {
	if f.whereFile == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", f.whereFile, f.whereLine)
}

// NewFileSource returns a source reading paths in order; "-" is stdin.
// Files are opened as they are reached, so a missing file is reported
// after the ones before it have been read.
func NewSource(paths []string, opts Options) *Source {
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	return &Source{paths: paths, opts: opts, dec: NewDecoder()}
}

// Stats reports what has been read so far.
func (f *Source) Stats() observe.Stats { return f.stats }

// Next implements Source.
func (f *Source) Next(ctx context.Context) (*observe.Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if f.cur == nil {
			if f.next >= len(f.paths) {
				return nil, io.EOF
			}
			if err := f.open(f.paths[f.next]); err != nil {
				return nil, err
			}
			f.next++
		}
		data, line, err := f.cur.next()
		if err == io.EOF {
			f.closeCurrent()
			continue
		}
		if err != nil {
			name := f.cur.name
			f.closeCurrent()
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if err := f.dec.Decode(data, &f.rec); err != nil {
			lerr := &LineError{File: f.cur.name, Line: line, Err: err}
			if f.opts.Strict {
				return nil, lerr
			}
			f.stats.Malformed++
			if f.opts.OnMalformed != nil {
				f.opts.OnMalformed(lerr)
			}
			continue
		}
		f.whereFile, f.whereLine = f.cur.name, line
		f.stats.Count(&f.rec)
		if f.rec.Kind == observe.KindFlow || f.rec.Kind == observe.KindLostEvents {
			return &f.rec, nil
		}
	}
}

func (f *Source) open(path string) error {
	var (
		r      io.Reader
		closer io.Closer
		name   = path
	)
	if path == "-" {
		r, name = f.opts.Stdin, "<stdin>"
	} else {
		file, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("cannot read flows: %w", err)
		}
		r, closer = file, file
	}
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			if closer != nil {
				closer.Close()
			}
			return fmt.Errorf("%s: not a valid gzip file: %w", name, err)
		}
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	f.cur, f.closer = newRecordReader(name, br), closer
	return nil
}

func (f *Source) closeCurrent() {
	if f.closer != nil {
		f.closer.Close()
	}
	f.cur, f.closer = nil, nil
}

// Close releases the file being read.
func (f *Source) Close() error {
	f.closeCurrent()
	f.next = len(f.paths)
	return nil
}

// recordReader splits a capture into records: one per line for the
// line-oriented formats, or one per top-level value for a JSON array or
// a stream of pretty-printed objects.
type recordReader struct {
	name string
	r    *bufio.Reader
	line int // line number of the last line read
	buf  []byte

	started bool
	values  bool // split by value instead of by line
	inArray bool
}

func newRecordReader(name string, r *bufio.Reader) *recordReader {
	return &recordReader{name: name, r: r}
}

// next returns the next record's bytes and the line it starts on.
func (rr *recordReader) next() ([]byte, int, error) {
	if !rr.started {
		rr.started = true
		if err := rr.detect(); err != nil {
			return nil, rr.line + 1, err
		}
	}
	if rr.values {
		return rr.nextValue()
	}
	for {
		line, err := rr.readLine()
		if err != nil {
			return nil, rr.line, err
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			return trimmed, rr.line, nil
		}
	}
}

// detect looks at the start of the input: '[' opens an array of flows and
// a line holding only '{' starts a pretty-printed object stream.
func (rr *recordReader) detect() error {
	for {
		b, err := rr.r.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return gzipHint(err)
		}
		switch b[0] {
		case ' ', '\t', '\r':
			rr.r.ReadByte()
		case '\n':
			rr.r.ReadByte()
			rr.line++
		case '[':
			rr.values, rr.inArray = true, true
			return nil
		case '{':
			peek, _ := rr.r.Peek(64)
			rest := bytes.TrimLeft(peek[1:], " \t\r")
			rr.values = len(rest) > 0 && rest[0] == '\n'
			return nil
		default:
			return nil
		}
	}
}

// readLine returns the next line, of any length, without its newline.
func (rr *recordReader) readLine() ([]byte, error) {
	rr.buf = rr.buf[:0]
	for {
		chunk, err := rr.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			rr.buf = append(rr.buf, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			return nil, gzipHint(err)
		}
		if err == io.EOF && len(chunk) == 0 && len(rr.buf) == 0 {
			return nil, io.EOF
		}
		rr.line++
		if len(rr.buf) > 0 {
			rr.buf = append(rr.buf, chunk...)
			return rr.buf, nil
		}
		return chunk, nil
	}
}

// nextValue returns the next top-level value of an array or object
// stream. Separating commas and the array's brackets are skipped.
func (rr *recordReader) nextValue() ([]byte, int, error) {
	rr.buf = rr.buf[:0]
	depth, inString, escaped := 0, false, false
	start := 0
	for {
		c, err := rr.r.ReadByte()
		if err == io.EOF {
			if len(rr.buf) > 0 {
				// A value cut short: hand it on so the decoder names the problem.
				return rr.buf, start, nil
			}
			return nil, rr.line, io.EOF
		}
		if err != nil {
			return nil, rr.line, gzipHint(err)
		}
		if c == '\n' {
			rr.line++
		}
		if depth == 0 && len(rr.buf) == 0 {
			switch c {
			case ' ', '\t', '\r', '\n', ',':
				continue
			case '[':
				if rr.inArray {
					rr.inArray = false // the outer array itself
					continue
				}
			case ']':
				continue
			}
			start = rr.line + 1
		}
		rr.buf = append(rr.buf, c)
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
		if depth == 0 && !inString && (c == '}' || c == ']' || (len(rr.buf) > 0 && c == ',')) {
			return rr.buf, start, nil
		}
	}
}

// gzipHint turns a decompression failure into words a user can act on.
func gzipHint(err error) error {
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("corrupt or truncated gzip data: %w", err)
	}
	return err
}
