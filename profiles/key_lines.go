package profiles

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// keyPath locates a value in a TOML document: key names, and "[n]" for the n-th element of an
// array or array of tables. Key names are kept quoted where TOML would need quotes, so that a
// key named "[0]" cannot be taken for an index.
type keyPath []string

// key returns p with the name k added.
func (p keyPath) key(k string) keyPath {
	return append(p[:len(p):len(p)], toml.Key{k}.String())
}

// index returns p with the array index i added.
func (p keyPath) index(i int) keyPath {
	return append(p[:len(p):len(p)], "["+strconv.Itoa(i)+"]")
}

// String returns the path with indices, e.g. "destination[1].url": the key of keyLines.
func (p keyPath) String() string {
	var b strings.Builder
	for i, e := range p {
		if i > 0 && !strings.HasPrefix(e, "[") {
			b.WriteByte('.')
		}
		b.WriteString(e)
	}
	return b.String()
}

// name returns the path without indices, e.g. "destination.url": how messages name a key,
// since the line number already tells which table of an array is meant.
func (p keyPath) name() string {
	var b strings.Builder
	for _, e := range p {
		if strings.HasPrefix(e, "[") {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e)
	}
	return b.String()
}

// keyLines maps keyPath.String() of every table, key and array element of a document to the
// line it starts on.
//
// BurntSushi/toml keeps key positions to itself (MetaData has no accessor for them) and keys
// them without array indices, so the second [[destination]]'s url would get the first one's
// line. This small scanner fills the gap. It runs only on text that toml.Decode has accepted,
// so it can skip over values without checking them; on anything unexpected it moves on rather
// than fail, and a key it misses is reported at its table's line. Its recursion and the paths it
// builds grow with the nesting, which nestingTooDeep has bounded before.
type keyLines map[string]int

// lineOf returns the line of p, or of its nearest ancestor the scanner found, or 0.
func (kl keyLines) lineOf(p keyPath) int {
	for ; len(p) > 0; p = p[:len(p)-1] {
		if line, ok := kl[p.String()]; ok {
			return line
		}
	}
	return 0
}

// scanKeyLines indexes the keys of a document that toml.Decode has accepted.
func scanKeyLines(src string) keyLines {
	s := &lineScanner{src: src, line: 1, lines: keyLines{}, arrays: map[string]int{}}
	s.document()
	return s.lines
}

type lineScanner struct {
	src   string
	pos   int
	line  int
	lines keyLines
	// arrays counts the tables of each array of tables seen so far, by path, so that a header
	// "[[a.b]]" can be placed in the latest element of "a".
	arrays map[string]int
}

// record notes the line of p unless an earlier line is known: a table defined implicitly by a
// dotted key or a sub-table header is reported where it first appears.
func (s *lineScanner) record(p keyPath, line int) {
	k := p.String()
	if _, ok := s.lines[k]; !ok {
		s.lines[k] = line
	}
}

func (s *lineScanner) peek(prefix string) bool { return strings.HasPrefix(s.src[s.pos:], prefix) }

func (s *lineScanner) eof() bool { return s.pos >= len(s.src) }

// advance moves past n bytes, counting lines.
func (s *lineScanner) advance(n int) {
	end := min(s.pos+n, len(s.src))
	s.line += strings.Count(s.src[s.pos:end], "\n")
	s.pos = end
}

// skipSpace skips blanks, and newlines and comments too when multiline is set.
func (s *lineScanner) skipSpace(multiline bool) {
	for !s.eof() {
		switch c := s.src[s.pos]; {
		case c == ' ' || c == '\t':
			s.pos++
		case multiline && (c == '\n' || c == '\r'):
			s.advance(1)
		case multiline && c == '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine moves to the start of the next line.
func (s *lineScanner) skipLine() {
	if i := strings.IndexByte(s.src[s.pos:], '\n'); i >= 0 {
		s.advance(i + 1)
		return
	}
	s.pos = len(s.src)
}

func (s *lineScanner) document() {
	var table keyPath
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start, line := s.pos, s.line
		switch {
		case s.peek("[["):
			s.advance(2)
			table = s.header(s.keyParts(), true, line)
		case s.peek("["):
			s.advance(1)
			table = s.header(s.keyParts(), false, line)
		default:
			s.keyValue(table)
		}
		s.skipLine()
		if s.pos == start {
			s.pos++
		}
	}
}

// header resolves a table header's path, placing it in the latest table of any array of
// tables among its parents, and records its line.
func (s *lineScanner) header(parts []string, array bool, line int) keyPath {
	var p keyPath
	for i, part := range parts {
		p = p.key(part)
		n, isArray := s.arrays[p.String()]
		if i == len(parts)-1 && array {
			s.record(p, line)
			s.arrays[p.String()] = n + 1
			n, isArray = n+1, true
		}
		if isArray && n > 0 {
			p = p.index(n - 1)
		}
		s.record(p, line)
	}
	return p
}

// keyValue indexes "a.b = value" and what the value contains.
func (s *lineScanner) keyValue(table keyPath) {
	line := s.line
	p := table
	for _, part := range s.keyParts() {
		p = p.key(part)
		s.record(p, line)
	}
	s.skipSpace(false)
	if s.peek("=") {
		s.advance(1)
		s.skipSpace(false)
		s.value(p)
	}
}

// keyParts reads a dotted key up to '=', ']' or the end of the line.
func (s *lineScanner) keyParts() []string {
	var parts []string
	for {
		s.skipSpace(false)
		if s.eof() {
			return parts
		}
		switch c := s.src[s.pos]; c {
		case '"', '\'':
			parts = append(parts, s.quotedKey(c))
		default:
			end := strings.IndexAny(s.src[s.pos:], " \t.=]\"'#\r\n")
			if end < 0 {
				end = len(s.src) - s.pos
			}
			if end == 0 {
				return parts
			}
			parts = append(parts, s.src[s.pos:s.pos+end])
			s.pos += end
		}
		s.skipSpace(false)
		if !s.peek(".") {
			return parts
		}
		s.pos++
	}
}

// quotedKey reads a quoted key and returns its value.
func (s *lineScanner) quotedKey(quote byte) string {
	start := s.pos
	s.skipString()
	raw := s.src[start:s.pos]
	if quote == '\'' {
		return strings.Trim(raw, "'")
	}
	// strconv's escapes are TOML's, but for \e and \xHH from TOML 1.1 (Go's \x is a byte, not a
	// code point); a key using those is simply not found and falls back to its table's line.
	if v, err := strconv.Unquote(raw); err == nil {
		return v
	}
	return raw
}

// value skips one value, indexing the keys of inline tables and the elements of arrays under p.
func (s *lineScanner) value(p keyPath) {
	if s.eof() {
		return
	}
	switch s.src[s.pos] {
	case '"', '\'':
		s.skipString()
	case '[':
		s.advance(1)
		for i := 0; ; i++ {
			s.skipSpace(true)
			if s.eof() || s.peek("]") {
				break
			}
			start := s.pos
			s.record(p.index(i), s.line)
			s.value(p.index(i))
			s.skipSpace(true)
			if s.peek(",") {
				s.advance(1)
			} else if s.pos == start {
				break
			}
		}
		s.advance(1)
	case '{':
		s.advance(1)
		for {
			s.skipSpace(true)
			if s.eof() || s.peek("}") {
				break
			}
			start := s.pos
			s.keyValue(p)
			s.skipSpace(true)
			if s.peek(",") {
				s.advance(1)
			} else if s.pos == start {
				break
			}
		}
		s.advance(1)
	default:
		// Numbers, booleans and dates; a date may hold a space ("1979-05-27 07:32:00").
		end := strings.IndexAny(s.src[s.pos:], ",]}#\r\n")
		if end < 0 {
			end = len(s.src) - s.pos
		}
		s.pos += end
	}
}

// skipString moves past a basic, literal or multi-line string starting at s.pos.
func (s *lineScanner) skipString() {
	quote := s.src[s.pos]
	delim := strings.Repeat(string(quote), 3)
	multiline := s.peek(delim)
	if !multiline {
		delim = string(quote)
	}
	s.advance(len(delim))
	for !s.eof() {
		switch {
		case quote == '"' && s.src[s.pos] == '\\':
			s.advance(2)
		case s.peek(delim):
			s.advance(len(delim))
			// A multi-line string may end in up to two quotes of its own: """a"""""
			for n := 0; multiline && n < 2 && s.peek(string(quote)); n++ {
				s.advance(1)
			}
			return
		case !multiline && s.src[s.pos] == '\n':
			return
		default:
			s.advance(1)
		}
	}
}
