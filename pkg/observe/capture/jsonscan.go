package capture

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a minimal JSON reader over one in-memory document. It reads
// only what the flow decoder asks for and skips everything else without
// building values, which is where its speed over a generic decoder comes
// from. The first error sticks; every method is a no-op after it.
type scanner struct {
	b   []byte
	i   int
	err error
	// scratch holds unescaped string contents; readString results that
	// point into it are valid until the next readString.
	scratch []byte
	keybuf  []byte
}

// maxDepth bounds nesting in skipped values, as protojson does.
const maxDepth = 10000

func (s *scanner) reset(b []byte) {
	s.b, s.i, s.err = b, 0, nil
}

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("offset %d: %s", s.i, fmt.Sprintf(format, args...))
	}
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) bool {
	if s.err != nil {
		return false
	}
	if s.peek() != c {
		if s.i >= len(s.b) {
			s.fail("unexpected end of input, want %q", c)
		} else {
			s.fail("unexpected %q, want %q", s.b[s.i], c)
		}
		return false
	}
	s.i++
	return true
}

// null consumes a JSON null if one is next.
func (s *scanner) null() bool {
	if s.peek() == 'n' && s.literal("null") {
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	s.fail("invalid literal")
	return false
}

// object calls field for each member of the object that comes next; field
// must consume the member's value. A null object has no members.
func (s *scanner) object(field func(key []byte)) {
	if s.err != nil || s.null() {
		return
	}
	if !s.expect('{') {
		return
	}
	if s.peek() == '}' {
		s.i++
		return
	}
	for s.err == nil {
		key := s.readString()
		if !s.expect(':') {
			return
		}
		field(key)
		if s.err != nil {
			return
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.fail("want ',' or '}' after object member")
			return
		}
	}
}

// array calls elem for each element of the array that comes next; elem
// must consume the element. A null array has no elements.
func (s *scanner) array(elem func()) {
	if s.err != nil || s.null() {
		return
	}
	if !s.expect('[') {
		return
	}
	if s.peek() == ']' {
		s.i++
		return
	}
	for s.err == nil {
		elem()
		if s.err != nil {
			return
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return
		default:
			s.fail("want ',' or ']' after array element")
			return
		}
	}
}

// readString reads a string and returns its unescaped contents. The result
// aliases the input or the scanner's scratch buffer: copy it to keep it.
// Raw control characters are accepted, as lenient JSON readers do; the
// record splitter has already cut records at newlines.
func (s *scanner) readString() []byte {
	if !s.expect('"') {
		return nil
	}
	start := s.i
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 {
		s.i = len(s.b)
		s.fail("unterminated string")
		return nil
	}
	if bytes.IndexByte(s.b[start:start+end], '\\') >= 0 {
		return s.readEscaped(start)
	}
	s.i = start + end + 1
	return s.b[start : start+end]
}

func (s *scanner) readEscaped(start int) []byte {
	s.i = start
	out := s.scratch[:0]
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			s.scratch = out
			return out
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					if r2, ok = s.hex4(); !ok {
						return nil
					}
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					s.fail("invalid surrogate pair in string")
					return nil
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			s.fail("invalid escape \\%c", e)
			return nil
		}
	}
	s.fail("unterminated string")
	return nil
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		s.fail("short \\u escape")
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			s.fail("invalid \\u escape")
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// number returns the raw bytes of the number that comes next.
func (s *scanner) number() []byte {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		if ('0' <= c && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			s.i++
			continue
		}
		break
	}
	if start == s.i {
		s.fail("want a number")
	}
	return s.b[start:s.i]
}

var errRange = errors.New("value out of range")

// readUint reads an unsigned integer given as a JSON number or, as
// protojson writes 64-bit values, a JSON string.
func (s *scanner) readUint(bits int) uint64 {
	if s.err != nil || s.null() {
		return 0
	}
	var raw []byte
	if s.peek() == '"' {
		raw = s.readString()
	} else {
		raw = s.number()
	}
	if s.err != nil {
		return 0
	}
	v, ok := parseUint(raw)
	if !ok {
		// protojson also accepts integral floats such as 1e3.
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f < 0 || f != math.Trunc(f) || f > float64(math.MaxUint64) {
			s.fail("invalid unsigned integer %q", raw)
			return 0
		}
		v = uint64(f)
	}
	if bits < 64 && v>>bits != 0 {
		s.fail("%v: %s does not fit in %d bits", errRange, raw, bits)
		return 0
	}
	return v
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// readInt32 reads a signed 32-bit integer (number or string).
func (s *scanner) readInt32() int32 {
	if s.err != nil || s.null() {
		return 0
	}
	var raw []byte
	if s.peek() == '"' {
		raw = s.readString()
	} else {
		raw = s.number()
	}
	if s.err != nil {
		return 0
	}
	neg := len(raw) > 0 && raw[0] == '-'
	digits := raw
	if neg {
		digits = raw[1:]
	}
	v, ok := parseUint(digits)
	if !ok || v > math.MaxInt32+1 || (!neg && v > math.MaxInt32) {
		s.fail("invalid int32 %q", raw)
		return 0
	}
	if neg {
		return int32(-int64(v))
	}
	return int32(v)
}

func (s *scanner) readBool() bool {
	if s.err != nil || s.null() {
		return false
	}
	switch s.peek() {
	case 't':
		return s.literal("true")
	case 'f':
		s.literal("false")
		return false
	}
	s.fail("want a boolean")
	return false
}

// readEnum reads an enum given by name or number; names maps names to
// values as the generated *_value maps do.
func (s *scanner) readEnum(names map[string]int32) int32 {
	if s.err != nil || s.null() {
		return 0
	}
	if s.peek() != '"' {
		return s.readInt32()
	}
	name := s.readString()
	v, ok := names[string(name)]
	if !ok && s.err == nil {
		// Unknown names come from newer Hubble versions; keep going.
		return 0
	}
	return v
}

// skip consumes one value of any kind.
func (s *scanner) skip() { s.skipDepth(0) }

func (s *scanner) skipDepth(depth int) {
	if depth > maxDepth {
		s.fail("nesting deeper than %d", maxDepth)
		return
	}
	switch s.peek() {
	case '{':
		s.object(func([]byte) { s.skipDepth(depth + 1) })
	case '[':
		s.array(func() { s.skipDepth(depth + 1) })
	case '"':
		s.readString()
	case 't', 'f':
		s.readBool()
	case 'n':
		s.literal("null")
	case 0:
		s.fail("unexpected end of input")
	default:
		if raw := s.number(); s.err == nil && !validNumber(raw) {
			s.fail("invalid number %q", raw)
		}
	}
}

// validNumber checks raw against JSON's number grammar.
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
