// Package shell runs cubby client commands — one given on the command
// line, or a prompt loop — against a logged-in client.Client.
package shell

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// Exit statuses, as ssh and sftp use them.
const (
	ExitOK     = 0
	ExitFailed = 1
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
}

// Exit statuses for a remote command that could not start, as a shell
// reports them.
const (
	ExitNotAllowed = 126
	ExitNotFound   = 127
)

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

func (s *Shell) status(err error) int {
	if err == nil || errors.Is(err, errQuit) {
		return ExitOK
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
		fmt.Fprintln(s.Stderr, "^C")
		return 130
	}
	if err != nil {
		return s.status(err)
	}
	return code
}

// interruptible returns a context that Ctrl-C cancels until stop is called.
func (s *Shell) interruptible(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	if s.Interrupt == nil {
		return ctx, cancel
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
	switch name {
	case "upload", "put", "download", "get", "help", "?", "quit", "exit", "bye":
		return true
	}
	return false
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

// Loop reads command lines from in until end of input or quit. With
// prompt set it shows user@host:cwd$ before each line. It returns the
// status of the last command.
func (s *Shell) Loop(ctx context.Context, in io.Reader, prompt bool) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	status := ExitOK
	for {
		if prompt {
			fmt.Fprintf(s.Stdout, "%s@%s:%s$ ", s.Client.User(), s.Host, s.Client.Cwd())
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
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if !isBuiltin(name) {
			status = s.remote(ctx, line, nil)
			continue
		}
		args, err := s.lineArgs(name, rest)
		if err == nil {
			cctx, stop := s.interruptible(ctx)
			err = s.run(cctx, name, args)
			stop()
		}
		if errors.Is(err, errQuit) {
			return ExitOK
		}
		status = s.status(err)
	}
}

// lineArgs splits the rest of a typed line for command name; upload's
// local paths get the Windows-aware reading.
func (s *Shell) lineArgs(name, rest string) ([]string, error) {
	if name != "upload" && name != "put" {
		return splitArgs(rest, s.Windows)
	}
	var flags []string
	for {
		rest = strings.TrimLeft(rest, " \t")
		word, after, _ := strings.Cut(rest, " ")
		if !strings.HasPrefix(word, "-") {
			break
		}
		flags = append(flags, word)
		rest = after
	}
	args, err := localArgs(rest, s.Windows, os.Stat)
	return append(flags, args...), err
}

const help = `client commands:
  upload|put [-r] [--resume] LOCAL [REMOTE]      store a local file (-r: a folder) in your home
  download|get [-r] [--resume] REMOTE [LOCAL]    fetch a file (-r: a folder) from your home
  help                                      this text
  quit|exit                                 end the session
anything else runs on the server, in your home: cd DIR, pwd, ls, mkdir, mv, rm -r, ...
(the server's "help" lists the programs you may run)`

func (s *Shell) run(ctx context.Context, name string, args []string) error {
	switch name {
	case "upload", "put":
		return s.upload(ctx, args)
	case "download", "get":
		return s.download(ctx, args)
	case "help", "?":
		fmt.Fprintln(s.Stdout, help)
		if len(args) == 0 {
			s.remote(ctx, "help", nil)
		}
		return nil
	case "quit", "exit", "bye":
		return errQuit
	}
	return fmt.Errorf("%s: unknown client command; try help", name)
}

// transferFlags are the options of upload and download.
type transferFlags struct {
	resume, recursive bool
}

// transferArgs separates --resume and -r from one or two paths.
func transferArgs(cmd string, args []string) (f transferFlags, paths []string, err error) {
	for i, a := range args {
		if a == "--" {
			paths = append(paths, args[i+1:]...)
			break
		}
		switch a {
		case "--resume", "-resume":
			f.resume = true
		case "-r", "-R", "--recursive":
			f.recursive = true
		default:
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				return f, nil, fmt.Errorf("%s: unknown option %s", cmd, a)
			}
			paths = append(paths, a)
		}
	}
	if len(paths) < 1 || len(paths) > 2 {
		return f, nil, fmt.Errorf("usage: %s [-r] [--resume] SOURCE [TARGET]", cmd)
	}
	return f, paths, nil
}

func (s *Shell) skipped(p, why string) {
	fmt.Fprintf(s.Stderr, "cubby: skipped %s: %s\n", p, why)
}

func (s *Shell) upload(ctx context.Context, args []string) error {
	flags, paths, err := transferArgs("upload", args)
	if err != nil {
		return err
	}
	remote := ""
	if len(paths) == 2 {
		remote = paths[1]
	}
	opt := client.TransferOptions{Resume: flags.resume}
	if flags.recursive {
		if remote == "" {
			remote = filepath.Base(filepath.Clean(paths[0]))
		}
		tr, err := s.Client.UploadTree(ctx, paths[0], remote, opt, s.skipped)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Stdout, "uploaded %s to %s: %d files, %d directories, %s, sha256 ok\n", paths[0], remote, tr.Files, tr.Dirs, formatBytes(tr.Bytes))
		return nil
	}
	res, err := s.Client.Upload(ctx, paths[0], remote, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stdout, "uploaded %s to %s (%s%s, sha256 %s ok)\n", paths[0], res.Remote, formatBytes(res.Size), resumed(res.ResumedFrom), hex.EncodeToString(res.Sum[:4]))
	return nil
}

func (s *Shell) download(ctx context.Context, args []string) error {
	flags, paths, err := transferArgs("download", args)
	if err != nil {
		return err
	}
	local := ""
	if len(paths) == 2 {
		local = paths[1]
	}
	opt := client.TransferOptions{Resume: flags.resume}
	if flags.recursive {
		if local == "" {
			local = path.Base(strings.TrimRight(paths[0], "/"))
		}
		tr, err := s.Client.DownloadTree(ctx, paths[0], local, opt, s.skipped)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Stdout, "downloaded %s to %s: %d files, %d directories, %s, sha256 ok\n", paths[0], local, tr.Files, tr.Dirs, formatBytes(tr.Bytes))
		return nil
	}
	res, err := s.Client.Download(ctx, paths[0], local, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stdout, "downloaded %s to %s (%s%s, sha256 %s ok)\n", paths[0], res.Local, formatBytes(res.Size), resumed(res.ResumedFrom), hex.EncodeToString(res.Sum[:4]))
	return nil
}

func resumed(from int64) string {
	if from == 0 {
		return ""
	}
	return ", resumed after " + formatBytes(from)
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// UserMessage is err as the user reads it after "cubby: ": without the Go
// package prefixes ("client: auth: ...") that mean nothing to them.
func UserMessage(err error) string {
	msg := err.Error()
	for {
		trimmed := msg
		for _, p := range []string{"client: ", "auth: ", "knownhosts: ", "wire: "} {
			trimmed = strings.TrimPrefix(trimmed, p)
		}
		if trimmed == msg {
			return msg
		}
		msg = trimmed
	}
}
