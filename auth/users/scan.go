package users

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// The toml package does not report where keys are written, so this file
// recovers that from the text itself. It is not a TOML parser: it only runs
// on text the toml package has already accepted, and it only finds where
// each statement and key starts and ends. Its list of keys must equal
// toml.MetaData.Keys, which the tests check with a fuzzer and the editing
// functions check at run time before they touch a file.

// A stmtKind says what a top-level statement of a TOML file is.
type stmtKind int

const (
	stmtTable      stmtKind = iota + 1 // [a.b]
	stmtArrayTable                     // [[a.b]]
	stmtKeyValue                       // a.b = value
)

// A stmt is one top-level statement of a TOML file: a table header or a
// key/value pair, possibly spanning several lines.
type stmt struct {
	kind stmtKind
	// path is the full key: the table's name for a header, and the
	// enclosing table's name followed by the key for a key/value pair.
	path []string
	// nkey is the number of dotted parts of the key itself in a key/value
	// pair (1 for "password = ...", 2 for "alice.password = ...").
	nkey int
	// first and last are the 1-based lines on which the statement starts
	// and ends; they differ for multi-line strings, arrays and tables.
	first, last int
	// indent is the text before the statement on its first line.
	indent string
	// tail is the text after the statement on its last line, without the
	// line break: spaces and any comment.
	tail string
}

// A keyPos is a key of the file and the line on which it is written.
type keyPos struct {
	key  toml.Key
	line int
}

// A layout is the statement structure of a TOML file.
type layout struct {
	stmts []stmt
	// keys lists every key in the order toml.MetaData.Keys does, including
	// keys inside inline tables.
	keys []keyPos
	// lines maps each key, and each prefix of a key, to the line of the
	// first statement that mentions it.
	lines map[string]int
}

// line returns the line on which key is first mentioned, or 1 if it is not
// mentioned at all (which happens only for keys the file does not contain).
func (l *layout) line(key ...string) int {
	if n, ok := l.lines[toml.Key(key).String()]; ok {
		return n
	}
	return 1
}

// scanLayout finds the statements and keys of src, which must be a document
// the toml package accepts.
func scanLayout(src string) (*layout, error) {
	bom := bomLen(src)
	s := &scanner{src: src, pos: bom, line: 1}
	l := &layout{lines: make(map[string]int)}
	var table []string
	for s.err == nil {
		s.skipBlank()
		if s.pos >= len(s.src) {
			break
		}
		st := stmt{first: s.line, indent: s.src[max(s.lineStart(), bom):s.pos]}
		switch {
		case strings.HasPrefix(s.src[s.pos:], "[["):
			s.advance(2)
			st.kind, st.path = stmtArrayTable, s.key()
			s.skipSpace()
			s.expect("]]")
			table = st.path
			l.keys = append(l.keys, keyPos{st.path, st.first})
		case s.src[s.pos] == '[':
			s.advance(1)
			st.kind, st.path = stmtTable, s.key()
			s.skipSpace()
			s.expect("]")
			table = st.path
			l.keys = append(l.keys, keyPos{st.path, st.first})
		default:
			key := s.key()
			s.skipSpace()
			s.expect("=")
			s.skipSpace()
			st.kind, st.nkey = stmtKeyValue, len(key)
			st.path = append(append([]string(nil), table...), key...)
			l.keys = append(l.keys, keyPos{st.path, st.first})
			l.keys = s.value(st.path, l.keys)
		}
		st.last = s.line
		st.tail = s.endOfLine()
		l.stmts = append(l.stmts, st)
	}
	if s.err != nil {
		return nil, s.err
	}
	for _, kp := range l.keys {
		for i := 1; i <= len(kp.key); i++ {
			k := kp.key[:i].String()
			if _, ok := l.lines[k]; !ok {
				l.lines[k] = kp.line
			}
		}
	}
	return l, nil
}

// bomLen returns the length of the byte order mark that src starts with,
// which the toml package skips before reading the document.
func bomLen(src string) int {
	switch {
	case strings.HasPrefix(src, "\xff\xfe"), strings.HasPrefix(src, "\xfe\xff"):
		return 2
	case strings.HasPrefix(src, "\xef\xbb\xbf"):
		return 3
	}
	return 0
}

// A scanner walks through a TOML document. After the first error it stops
// at the end of the input, so that every loop ends.
type scanner struct {
	src  string
	pos  int // byte offset
	line int // 1-based line of pos
	err  error
}

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("line %d: "+format, append([]any{s.line}, args...)...)
	}
	s.pos = len(s.src)
}

// advance moves n bytes forward, counting line breaks.
func (s *scanner) advance(n int) {
	for ; n > 0 && s.pos < len(s.src); n-- {
		if s.src[s.pos] == '\n' {
			s.line++
		}
		s.pos++
	}
}

// peek returns the byte at pos, or 0 at the end of the input.
func (s *scanner) peek() byte {
	if s.pos < len(s.src) {
		return s.src[s.pos]
	}
	return 0
}

func (s *scanner) expect(tok string) {
	if !strings.HasPrefix(s.src[s.pos:], tok) {
		s.fail("expected %q", tok)
		return
	}
	s.advance(len(tok))
}

// lineStart returns the offset of the start of the current line.
func (s *scanner) lineStart() int {
	return strings.LastIndexByte(s.src[:s.pos], '\n') + 1
}

// skipSpace skips spaces and tabs.
func (s *scanner) skipSpace() {
	for c := s.peek(); c == ' ' || c == '\t'; c = s.peek() {
		s.advance(1)
	}
}

// skipBlank skips spaces, tabs, line breaks and comments.
func (s *scanner) skipBlank() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.advance(1)
		case '#':
			s.skipComment()
		default:
			return
		}
	}
}

// skipComment skips from '#' to the end of the line, leaving the line break.
func (s *scanner) skipComment() {
	if i := strings.IndexAny(s.src[s.pos:], "\r\n"); i >= 0 {
		s.advance(i)
	} else {
		s.advance(len(s.src) - s.pos)
	}
}

// endOfLine consumes what may follow a statement on its line (spaces and a
// comment) and the line break, and returns the former.
func (s *scanner) endOfLine() string {
	start := s.pos
	s.skipSpace()
	if s.peek() == '#' {
		s.skipComment()
	}
	tail := s.src[start:s.pos]
	switch {
	case s.pos >= len(s.src):
	case strings.HasPrefix(s.src[s.pos:], "\r\n"):
		s.advance(2)
	case s.src[s.pos] == '\n':
		s.advance(1)
	default:
		s.fail("expected end of line")
	}
	return tail
}

// key reads a possibly dotted key.
func (s *scanner) key() toml.Key {
	var key toml.Key
	for s.err == nil {
		s.skipSpace()
		key = append(key, s.simpleKey())
		s.skipSpace()
		if s.peek() != '.' {
			break
		}
		s.advance(1)
	}
	return key
}

// simpleKey reads one part of a key: bare, "quoted" or 'literal'.
func (s *scanner) simpleKey() string {
	start := s.pos
	switch s.peek() {
	case '"':
		s.basicString()
		tok := s.src[start:s.pos]
		if !strings.Contains(tok, `\`) {
			return tok[1 : len(tok)-1]
		}
		return s.unescape(tok)
	case '\'':
		s.literalString()
		return s.src[start+1 : s.pos-1]
	}
	for s.pos < len(s.src) && isBareKeyChar(s.src[s.pos]) {
		s.advance(1)
	}
	if s.pos == start {
		s.fail("expected a key")
	}
	return s.src[start:s.pos]
}

func isBareKeyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// unescape returns the value of the quoted key tok. It lets the toml package
// do the work, so that escapes mean exactly what they mean to the decoder.
func (s *scanner) unescape(tok string) string {
	var v struct {
		K string `toml:"k"`
	}
	if _, err := toml.Decode("k = "+tok, &v); err != nil {
		s.fail("bad quoted key: %v", err)
	}
	return v.K
}

// value reads a value of the key path, appending the keys of any inline
// tables it contains to keys.
func (s *scanner) value(path []string, keys []keyPos) []keyPos {
	rest := s.src[s.pos:]
	switch {
	case strings.HasPrefix(rest, `"""`):
		s.multilineString(`"""`)
	case strings.HasPrefix(rest, `'''`):
		s.multilineString(`'''`)
	case strings.HasPrefix(rest, `"`):
		s.basicString()
	case strings.HasPrefix(rest, `'`):
		s.literalString()
	case strings.HasPrefix(rest, "["):
		keys = s.array(path, keys)
	case strings.HasPrefix(rest, "{"):
		keys = s.inlineTable(path, keys)
	default:
		s.scalar()
	}
	return keys
}

// basicString reads a one-line "string" with backslash escapes.
func (s *scanner) basicString() {
	s.advance(1)
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case '\\':
			s.advance(2)
		case '"':
			s.advance(1)
			return
		case '\n':
			s.fail("line break in string")
		default:
			s.advance(1)
		}
	}
	s.fail("unterminated string")
}

// literalString reads a one-line 'string' without escapes.
func (s *scanner) literalString() {
	end := strings.IndexAny(s.src[s.pos+1:], "'\n")
	if end < 0 || s.src[s.pos+1+end] != '\'' {
		s.fail("unterminated string")
		return
	}
	s.advance(end + 2)
}

// multilineString reads a multi-line string delimited by delim, three
// double or three single quotes. Up to two quotes may directly
// precede the closing delimiter; they belong to the string.
func (s *scanner) multilineString(delim string) {
	s.advance(3)
	for s.pos < len(s.src) {
		switch {
		case delim == `"""` && s.src[s.pos] == '\\':
			s.advance(2)
		case strings.HasPrefix(s.src[s.pos:], delim):
			n := 0
			for s.pos+n < len(s.src) && s.src[s.pos+n] == delim[0] {
				n++
			}
			s.advance(n)
			return
		default:
			s.advance(1)
		}
	}
	s.fail("unterminated multi-line string")
}

// array reads [v, ...]. Inline tables in it belong to the array's key.
func (s *scanner) array(path []string, keys []keyPos) []keyPos {
	s.advance(1)
	for s.err == nil {
		s.skipBlank()
		if s.peek() == ']' {
			s.advance(1)
			return keys
		}
		keys = s.value(path, keys)
		s.skipBlank()
		switch s.peek() {
		case ',':
			s.advance(1)
		case ']':
		default:
			s.fail("expected ',' or ']' in array")
		}
	}
	return keys
}

// inlineTable reads {k = v, ...}, which may span lines as TOML 1.1 allows.
func (s *scanner) inlineTable(path []string, keys []keyPos) []keyPos {
	s.advance(1)
	for s.err == nil {
		s.skipBlank()
		if s.peek() == '}' {
			s.advance(1)
			return keys
		}
		line := s.line
		key := s.key()
		s.skipSpace()
		s.expect("=")
		s.skipSpace()
		sub := append(append(toml.Key(nil), path...), key...)
		keys = append(keys, keyPos{sub, line})
		keys = s.value(sub, keys)
		s.skipBlank()
		switch s.peek() {
		case ',':
			s.advance(1)
		case '}':
		default:
			s.fail("expected ',' or '}' in inline table")
		}
	}
	return keys
}

// scalar reads a number, boolean or date-time. A date-time may contain a
// space ("1979-05-27 07:32:00"), so the value runs up to a delimiter and
// trailing spaces are given back.
func (s *scanner) scalar() {
	start := s.pos
	end := start
	for end < len(s.src) && !strings.ContainsRune(",]}#\r\n", rune(s.src[end])) {
		end++
	}
	for end > start && (s.src[end-1] == ' ' || s.src[end-1] == '\t') {
		end--
	}
	if end == start {
		s.fail("expected a value")
		return
	}
	s.advance(end - start)
}
