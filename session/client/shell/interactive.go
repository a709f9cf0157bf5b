package shell

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/term"
)

// cancelKey is what a Ctrl-C typed at the prompt reaches the line editor
// as. term.Terminal ends ReadLine with io.EOF on Ctrl-C, which would
// quit; cancelInput turns the byte into this one (Ctrl-\, otherwise
// unused), which the completion callback sees and handles by dropping
// the line, as a shell does.
const cancelKey = 0x1c

// cancelInput reads from a raw-mode terminal, turning Ctrl-C into
// cancelKey.
type cancelInput struct{ r io.Reader }

func (c cancelInput) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == 3 {
			p[i] = cancelKey
		}
	}
	return n, err
}

// Interactive runs the prompt on a terminal: in is the terminal's input,
// out its output. Lines are edited with golang.org/x/term (arrows,
// Home/End, Ctrl-A/E/U/W/K), recalled from hist with Up/Down (nil keeps
// history in memory), and completed with Tab. The prompt shows the remote
// working directory. Each command runs with the terminal back in its
// normal mode, so Ctrl-C reaches Interrupt as a signal and cancels it;
// at the prompt Ctrl-C only drops the line. Ctrl-D on an empty line or
// quit ends the session with status 0. If in cannot be put in raw mode,
// Interactive falls back to Loop.
func (s *Shell) Interactive(ctx context.Context, in, out *os.File, hist *History) int {
	fd := int(in.Fd())
	state, err := term.MakeRaw(fd)
	if err != nil {
		return s.Loop(ctx, in, true)
	}
	defer term.Restore(fd, state)

	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{cancelInput{in}, out}, "")
	if hist != nil {
		t.History = hist
	}
	var mu sync.Mutex // guards width, set by the resize watcher
	width := 80
	resize := func() {
		w, h, err := term.GetSize(int(out.Fd()))
		if err != nil || w <= 0 {
			return
		}
		mu.Lock()
		width = w
		mu.Unlock()
		t.SetSize(w, h)
	}
	resize()
	stopResize := watchResize(resize)
	defer stopResize()
	if s.Width == nil {
		s.Width = func() int {
			mu.Lock()
			defer mu.Unlock()
			return width
		}
	}

	comp := &Completer{Remote: s.Client, Windows: s.Windows}
	var prompt string
	t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		switch key {
		case cancelKey:
			// Keep what was typed on screen, marked, and start afresh.
			t.Write([]byte(prompt + line + "^C\n"))
			return "", 0, true
		case '\t':
			c := comp.Complete(ctx, line, pos)
			if len(c.Matches) > 0 {
				mu.Lock()
				w := width
				mu.Unlock()
				t.Write([]byte(prompt + line + "\n" + Columns(c.Matches, w)))
			}
			return c.Line, c.Pos, true
		}
		return "", 0, false
	}

	for {
		prompt = s.Prompt()
		t.SetPrompt(prompt)
		line, err := t.ReadLine()
		if err == io.EOF {
			fmt.Fprint(out, "\r\n")
			return ExitOK
		}
		if err != nil {
			term.Restore(fd, state)
			fmt.Fprintf(s.Stderr, "cubby: reading the terminal: %v\n", err)
			return ExitFailed
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		// The command runs with the terminal as it was: Ctrl-C is then
		// SIGINT (on Windows, a console control event), which Interrupt
		// delivers to cancel it, and output keeps its usual newlines.
		term.Restore(fd, state)
		_, quit := s.RunLine(ctx, line)
		if quit {
			return ExitOK
		}
		if _, err := term.MakeRaw(fd); err != nil {
			fmt.Fprintf(s.Stderr, "cubby: the terminal: %v\n", err)
			return s.Loop(ctx, in, true)
		}
	}
}

// Columns lays names out in columns across width, as ls does, each line
// ending in a newline.
func Columns(names []string, width int) string {
	if len(names) == 0 {
		return ""
	}
	colW := 0
	for _, n := range names {
		colW = max(colW, utf8.RuneCountInString(n))
	}
	colW += 2
	cols := max(1, width/colW)
	rows := (len(names) + cols - 1) / cols
	var b strings.Builder
	for r := range rows {
		for c := range cols {
			i := c*rows + r
			if i >= len(names) {
				break
			}
			n := names[i]
			b.WriteString(n)
			if c < cols-1 && (c+1)*rows+r < len(names) {
				b.WriteString(strings.Repeat(" ", colW-utf8.RuneCountInString(n)))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
