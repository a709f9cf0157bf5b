package shell

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds one command line read from a file or pipe.
const maxLine = 64 << 10

// Loop reads command lines from in until end of input or quit, without
// line editing: the way for a pipe or a file (cubby host < commands.txt).
// With prompt set it shows user@host:cwd$ before each line. It returns
// the status of the last command.
func (s *Shell) Loop(ctx context.Context, in io.Reader, prompt bool) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, maxLine), maxLine)
	defer s.linesFrom(sc)()
	status := ExitOK
	for {
		if prompt {
			fmt.Fprint(s.Stdout, s.Prompt())
		}
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				fmt.Fprintf(s.Stderr, "cubby: reading commands: %v\n", err)
				return ExitFailed
			}
			if prompt {
				fmt.Fprintln(s.Stdout)
			}
			return status
		}
		line := sc.Text() // passwd may read more lines from sc
		st, quit := s.RunLine(ctx, line)
		if quit {
			return ExitOK
		}
		if strings.TrimSpace(line) != "" {
			status = st
		}
	}
}

// Prompt is the prompt showing the remote working directory:
// "alice@host:~/dir$ ".
func (s *Shell) Prompt() string {
	return fmt.Sprintf("%s@%s:%s$ ", s.Client.User(), s.Host, s.Client.Cwd())
}

// BatchLine is one line of a batch file, read by ParseBatchLine.
type BatchLine struct {
	Command string // the command, without the leading "-"
	// IgnoreError is set by a leading "-": the batch goes on if the
	// command fails.
	IgnoreError bool
}

// ParseBatchLine reads one line of a batch file. Blank lines and
// # comments have no command (ok is false).
func ParseBatchLine(raw string) (l BatchLine, ok bool) {
	line := strings.TrimSpace(raw)
	if strings.HasPrefix(line, "-") {
		l.IgnoreError = true
		line = strings.TrimSpace(line[1:])
	}
	if line == "" || strings.HasPrefix(line, "#") {
		return BatchLine{}, false
	}
	l.Command = line
	return l, true
}

// Batch runs the commands read from in, like sftp -b: each is echoed on
// Stdout as "cubby> COMMAND" before it runs, and the first that fails
// stops the batch with its status, unless its line starts with "-".
// It returns 0 when every command ran (or quit was reached).
func (s *Shell) Batch(ctx context.Context, in io.Reader) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, maxLine), maxLine)
	defer s.linesFrom(sc)()
	for n := 1; sc.Scan(); n++ {
		l, ok := ParseBatchLine(sc.Text())
		if !ok {
			continue
		}
		fmt.Fprintf(s.Stdout, "cubby> %s\n", l.Command)
		status, quit := s.RunLine(ctx, l.Command)
		if quit {
			return ExitOK
		}
		if status != ExitOK && !l.IgnoreError {
			fmt.Fprintf(s.Stderr, "cubby: batch stopped at line %d (%s): status %d\n", n, l.Command, status)
			return status
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(s.Stderr, "cubby: reading the batch file: %v\n", err)
		return ExitFailed
	}
	return ExitOK
}

// linesFrom lets passwd read its lines from sc until the returned func
// is called.
func (s *Shell) linesFrom(sc *bufio.Scanner) func() {
	s.nextLine = func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	return func() { s.nextLine = nil }
}
