package receipt

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Scanner splits a stream of receipts written one after another, as the
// server's receipt log keeps them, into one text per receipt. It does not
// parse them: a text from a damaged log (a write cut short by a crash,
// lines an editor added) is returned as it is for Parse to refuse, and
// scanning resumes at the next line that opens a receipt. No text it
// returns is longer than MaxLen+1 bytes, however long the input's lines.
type Scanner struct {
	br       *bufio.Reader
	text     []byte
	line     int    // the first line of text, counting from 1
	next     int    // the number of the next line to read
	held     []byte // a line read but not yet used: it opens the next text
	haveHeld bool
	err      error
}

// NewScanner returns a Scanner reading r.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{br: bufio.NewReader(r), next: 1}
}

// Scan advances to the next text, which Text returns. It returns false at
// the end of the input or on a read error, which Err returns.
func (s *Scanner) Scan() bool {
	s.text = s.text[:0]
	if s.err != nil {
		return false
	}
	first, ok := s.readLine()
	if !ok {
		return false
	}
	s.line = s.next - 1
	s.add(first)
	opens := bytes.Equal(bytes.TrimSuffix(first, []byte("\n")), []byte(FirstLine))
	for {
		if opens && bytes.HasPrefix(first, []byte("signature: ")) {
			return true
		}
		l, ok := s.readLine()
		if !ok {
			return true
		}
		if bytes.Equal(bytes.TrimSuffix(l, []byte("\n")), []byte(FirstLine)) {
			s.held, s.haveHeld = l, true
			s.next--
			return true
		}
		s.add(l)
		first = l
	}
}

// add appends a line to the text, keeping at most MaxLen+1 bytes: enough
// for Parse to say the receipt is too long.
func (s *Scanner) add(l []byte) {
	if room := MaxLen + 1 - len(s.text); room > 0 {
		s.text = append(s.text, l[:min(len(l), room)]...)
	}
}

// readLine returns the next line with its newline (the last may lack
// one), cut to MaxLen+1 bytes.
func (s *Scanner) readLine() ([]byte, bool) {
	if s.haveHeld {
		s.haveHeld = false
		s.next++
		return s.held, true
	}
	var l []byte
	for {
		chunk, err := s.br.ReadSlice('\n')
		if room := MaxLen + 1 - len(l); room > 0 {
			l = append(l, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && err != io.EOF {
			s.err = err
			return nil, false
		}
		if len(l) == 0 {
			return nil, false
		}
		s.next++
		return l, true
	}
}

// Text is the current text. It is valid until the next Scan.
func (s *Scanner) Text() []byte { return s.text }

// Line is the line of the input where the current text starts.
func (s *Scanner) Line() int { return s.line }

// Err is the first read error, or nil at a clean end of input.
func (s *Scanner) Err() error { return s.err }
