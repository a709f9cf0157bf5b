// Package shell runs cubby client commands against a logged-in
// client.Client: one given on the command line, a batch file, lines read
// from a pipe, or an interactive prompt with line editing, history, tab
// completion and progress bars.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// Exit statuses, as ssh and sftp use them.
const (
	ExitOK     = 0
	ExitFailed = 1
	// ExitInterrupted is the status of a command cancelled with Ctrl-C,
	// as a shell reports a program killed by SIGINT.
	ExitInterrupted = 130
)

// Exit statuses for a remote command that could not start, as a shell
// reports them.
const (
	ExitNotAllowed = 126
	ExitNotFound   = 127
)

// Shell runs commands for one session.
type Shell struct {
	Client *client.Client
	Host   string
	Stdout io.Writer
	Stderr io.Writer
	// Windows reads local paths with backslashes as separators.
	Windows bool
	// Interrupt delivers Ctrl-C: it cancels the running command or
	// transfer, not the session. Nil means no interrupts.
	Interrupt <-chan os.Signal
	// Stdin, if set, is forwarded to a one-shot remote command.
	Stdin io.Reader
	// Progress draws a progress bar on Stdout during transfers; set it
	// only when Stdout is a terminal.
	Progress bool
	// Width reports the terminal's width for progress bars; nil means
	// 80 columns.
	Width func() int
	// ReadPassword asks for a password on the terminal without echo, for
	// passwd. Nil means there is no terminal: passwd then reads lines
	// from the command input (a pipe or batch file) or from Stdin.
	ReadPassword func(prompt string) ([]byte, error)

	// ReceiptDir is where the receipts of uploads into drop boxes are
	// saved (see SaveReceipt); empty prints them instead.
	ReceiptDir string

	// nextLine, while Loop or Batch runs, reads the next input line.
	nextLine func() (string, bool)
}

// New returns a Shell for c writing to stdout and stderr.
func New(c *client.Client, host string, stdout, stderr io.Writer) *Shell {
	return &Shell{Client: c, Host: host, Stdout: stdout, Stderr: stderr, Windows: runtime.GOOS == "windows"}
}

// errQuit ends the prompt loop.
var errQuit = errors.New("quit")

// Exec runs one command given as words (from the command line) and returns
// its exit status, reporting failures on Stderr.
func (s *Shell) Exec(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return ExitOK
	}
	if !isBuiltin(args[0]) {
		return s.remote(ctx, quoteArgs(args), s.Stdin)
	}
	ctx, stop := s.interruptible(ctx)
	defer stop()
	return s.status(s.run(ctx, args[0], args[1:]))
}

// RunLine runs one typed command line and returns its exit status, and
// whether it asked to end the session. Blank lines and # comments do
// nothing.
func (s *Shell) RunLine(ctx context.Context, line string) (status int, quit bool) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return ExitOK, false
	}
	name, rest := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		name, rest = line[:i], line[i+1:]
	}
	if !isBuiltin(name) {
		return s.remote(ctx, line, nil), false
	}
	args, err := s.lineArgs(name, rest)
	if err == nil {
		cctx, stop := s.interruptible(ctx)
		err = s.run(cctx, name, args)
		stop()
	}
	if errors.Is(err, errQuit) {
		return ExitOK, true
	}
	return s.status(err), false
}

// status reports err on Stderr in one line and maps it to an exit status.
func (s *Shell) status(err error) int {
	if err == nil || errors.Is(err, errQuit) {
		return ExitOK
	}
	if errors.As(err, new(errReported)) {
		return ExitFailed
	}
	if errors.Is(err, client.ErrCanceled) || errors.Is(err, context.Canceled) {
		fmt.Fprintln(s.Stderr, "cubby: canceled")
		return ExitInterrupted
	}
	fmt.Fprintf(s.Stderr, "cubby: %s\n", UserMessage(err))
	var we *wire.Error
	if errors.As(err, &we) {
		switch we.Kind {
		case wire.KindNotAllowed:
			return ExitNotAllowed
		case wire.KindCommandNotFound:
			return ExitNotFound
		}
	}
	return ExitFailed
}

// remote runs a line on the server and returns its exit status.
func (s *Shell) remote(ctx context.Context, line string, stdin io.Reader) int {
	ctx, stop := s.interruptible(ctx)
	defer stop()
	code, err := s.Client.Command(ctx, line, stdin, s.Stdout, s.Stderr)
	if errors.Is(err, client.ErrCanceled) {
		// A terminal has echoed ^C; end its line.
		fmt.Fprintln(s.Stderr)
		return ExitInterrupted
	}
	if err != nil {
		return s.status(err)
	}
	return code
}

// interruptible returns a context that Ctrl-C cancels until stop is called.
// An interrupt that arrived before (while no command ran) is dropped.
func (s *Shell) interruptible(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	if s.Interrupt == nil {
		return ctx, cancel
	}
	for drained := false; !drained; {
		select {
		case <-s.Interrupt:
		default:
			drained = true
		}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-s.Interrupt:
			cancel()
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel() }
}

// isBuiltin reports whether name is a client command rather than one for
// the server.
func isBuiltin(name string) bool {
	_, ok := lookupCommand(name)
	return ok
}

// quoteArgs joins words from the local command line so the server's
// shell-style splitting gives them back, quoting spaces and quotes but
// leaving glob characters bare so the server expands them, as ssh does.
func quoteArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "" {
			b.WriteString("''")
			continue
		}
		for _, r := range a {
			if strings.ContainsRune(" \t\n\\'\"$`;&|<>(){}#!", r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// UserMessage is err as the user reads it after "cubby: ": without the Go
// package prefixes ("client: auth: ...") that mean nothing to them.
func UserMessage(err error) string {
	msg := err.Error()
	for {
		trimmed := msg
		for _, p := range []string{"client: ", "auth: ", "knownhosts: ", "wire: ", "history: "} {
			trimmed = strings.TrimPrefix(trimmed, p)
		}
		if trimmed == msg {
			return msg
		}
		msg = trimmed
	}
}
