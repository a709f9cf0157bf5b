package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/sandbox"
	"github.com/cubby-dev/cubby/wire"
)

// Jail runs programs in users' jails; *sandbox.Jail implements it.
type Jail interface {
	// NewSession returns a runner for the programs of one session, which
	// may keep a jail built between them.
	NewSession() *sandbox.Session
}

// outputChunk bounds one Output frame.
const outputChunk = 32 << 10

// stdinQueue bounds the input frames waiting for a program that reads
// slowly; past it the session stops reading from the client.
const stdinQueue = 16

// systemBinDirs are where an absolute program path may point, so that
// /usr/bin/rm is allowed when rm is.
var systemBinDirs = []string{"/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"}

// command runs one command line. Built-ins answer at once; programs run
// beside the read loop so that Stdin and Cancel frames reach them.
func (s *session) command(ctx context.Context, req *wire.Command) error {
	words, err := splitLine(req.Line)
	if err != nil {
		return s.replyError(err, "")
	}
	if len(words) == 0 {
		return s.exit(0)
	}
	switch words[0].text {
	case "cd":
		args := make([]string, len(words)-1)
		for i, w := range words[1:] {
			args[i] = w.text
		}
		return s.cd(args)
	case "pwd":
		if len(words) > 1 {
			return s.replyError(errorf(wire.KindInvalid, "pwd: too many arguments"), "")
		}
		return s.print(display(s.cwd) + "\n")
	case "help":
		return s.print(s.help())
	}
	u, ok := s.conn.srv.userDB().Lookup(s.home.user)
	if !ok {
		return s.replyError(errorf(wire.KindAuth, "your account is no longer active"), "")
	}
	if words[0].text == "quota" {
		if len(words) > 1 {
			return s.replyError(errorf(wire.KindInvalid, "quota: too many arguments"), "")
		}
		text, err := s.conn.srv.usage.quotaText(ctx, u, s.trashSize(ctx))
		if err != nil {
			return s.replyError(err, "quota")
		}
		return s.print(text)
	}
	switch words[0].text {
	case "rm", "trash", "undelete":
		return s.trashBuiltin(ctx, u, words)
	}
	prog := words[0].text
	if !allowed(u, prog) {
		return s.replyError(errorf(wire.KindNotAllowed, fmt.Sprintf("'%s' is not allowed for %s", prog, u.Name)), "")
	}
	if s.conn.srv.Jail == nil {
		reason := "the server has no jail for programs"
		if s.conn.srv.JailError != nil {
			reason = s.conn.srv.JailError.Error()
		}
		return s.replyError(errorf(wire.KindUnavailable, "remote commands are disabled on this server: "+reason), "")
	}
	argv, err := s.expand(words)
	if err != nil {
		return s.replyError(err, "")
	}
	if s.jail == nil {
		s.jail = s.conn.srv.Jail.NewSession()
	}
	limits, err := s.conn.srv.limitsFor(u, time.Duration(req.Timeout)*time.Second)
	if err != nil {
		return s.replyError(err, "")
	}
	quotas := s.conn.srv.usage
	quotaLimited := false
	if u.Quota > 0 {
		// No one file may grow past what is left of the quota. RLIMIT_FSIZE
		// is per file, so many files can still overshoot together; the
		// walk after the command sees that, and uploads are then refused.
		snap, err := quotas.usage(ctx, u.Name)
		if err != nil {
			return s.replyError(err, "")
		}
		left := max(u.Quota-snap.total(), quotaFloor)
		if left < cmp.Or(limits.FileSize, sandbox.DefaultLimits().FileSize) {
			limits.FileSize, quotaLimited = left, true
		}
	}
	spec := sandbox.Spec{
		User:   u.Name,
		Home:   filepath.Join(s.conn.srv.homesDir(), u.Name),
		Dir:    s.cwd,
		Argv:   argv,
		Env:    clientEnv(req.Env),
		Limits: limits,
		Usage:  new(sandbox.Usage),
	}
	v := s.newView()
	var notices []string
	spec.Mounts, notices = v.mounts()
	v.close()
	var input chan []byte
	if req.Stdin {
		input = make(chan []byte, stdinQueue)
		spec.Stdin = &chanReader{ch: input}
	}
	spec.Stdout = &outputWriter{s: s, stream: wire.Stdout}
	spec.Stderr = &outputWriter{s: s, stream: wire.Stderr}
	s.startActive(ctx, input, func(ctx context.Context) error {
		for _, n := range notices {
			if _, err := spec.Stderr.Write([]byte("cubby: " + n + "\n")); err != nil {
				return err
			}
		}
		start := time.Now()
		code, err := s.jail.Run(ctx, spec)
		// The command may have changed anything in the home.
		walked := quotas.remeasure(u.Name)
		stopped := quotaLimited && code == 128+int(unix.SIGXFSZ)
		limit := ""
		switch {
		case errors.Is(err, sandbox.ErrTimeout):
			limit = "wall clock"
		case errors.Is(err, sandbox.ErrOutputLimit):
			limit = "output"
		case err == nil && stopped:
			limit = "quota"
		}
		if err == nil || errors.Is(err, sandbox.ErrTimeout) || errors.Is(err, sandbox.ErrOutputLimit) {
			if notice := quotas.quotaNotice(ctx, u, walked, stopped); notice != "" {
				if _, err := spec.Stderr.Write([]byte(notice)); err != nil {
					return err
				}
			}
		}
		s.log.Info("command", "argv0", prog, "args", len(argv)-1, "argv", auditArgv(argv), "cwd", display(s.cwd), "exit", code,
			"duration", time.Since(start).Round(time.Millisecond), "cpu", spec.Usage.CPUTime.Round(time.Millisecond), "limit", limit, "err", err)
		switch {
		case err == nil:
			return s.exit(code)
		case errors.Is(err, sandbox.ErrNotFound):
			return s.replyError(errorf(wire.KindCommandNotFound, prog+": command not found"), "")
		case errors.Is(err, sandbox.ErrTimeout), errors.Is(err, sandbox.ErrOutputLimit):
			// The jail has told the user on stderr; the status says killed.
			return s.exit(code)
		case errors.Is(err, context.Canceled):
			return s.replyError(errorf(wire.KindCanceled, prog+": canceled"), "")
		}
		return s.replyError(err, prog)
	})
	return nil
}

// maxAuditArgv bounds the argv an audit record shows: the line may be
// 64 KiB and a glob may have grown it further.
const maxAuditArgv = 1024

// auditArgv shows argv for the audit log, each word quoted so spaces and
// control characters cannot forge fields, cut at maxAuditArgv bytes.
func auditArgv(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Quote(a))
		if b.Len() > maxAuditArgv {
			// The cut may split a character; drop its partial bytes.
			return strings.ToValidUTF8(b.String()[:maxAuditArgv], "") + "…"
		}
	}
	return b.String()
}

// trashBuiltin runs rm, trash or undelete beside the read loop, like a
// program, so that a Cancel (Ctrl-C) stops an rm or trash empty of a
// large tree.
func (s *session) trashBuiltin(ctx context.Context, u *users.User, words []word) error {
	argv, err := s.expand(words)
	if err != nil {
		return s.replyError(err, "")
	}
	s.startActive(ctx, nil, func(ctx context.Context) error {
		switch argv[0] {
		case "rm":
			return s.rm(ctx, u, argv[1:])
		case "trash":
			return s.trashCommand(ctx, u, argv[1:])
		}
		return s.undelete(ctx, argv[1:])
	})
	return nil
}

// allowed reports whether u may run prog: a bare name from the list, or a
// path to the same name in a system directory.
func allowed(u *users.User, prog string) bool {
	if !strings.Contains(prog, "/") {
		return u.CanRun(prog)
	}
	dir, name := path.Split(prog)
	for _, d := range systemBinDirs {
		if path.Clean(dir) == d {
			return u.CanRun(name)
		}
	}
	return slices.Contains(u.Commands, users.AnyCommand)
}

// clientEnv keeps the variables a client may set.
func clientEnv(env []string) []string {
	var out []string
	for _, e := range env {
		name, _, ok := strings.Cut(e, "=")
		if ok && (name == "TERM" || name == "LANG" || strings.HasPrefix(name, "LC_")) {
			out = append(out, e)
		}
	}
	return out
}

func (s *session) cd(args []string) error {
	target := "~"
	switch len(args) {
	case 0:
	case 1:
		target = args[0]
	default:
		return s.replyError(errorf(wire.KindInvalid, "cd: too many arguments"), "")
	}
	rel, err := resolve(s.home.user, s.cwd, target)
	if err != nil {
		return s.replyError(err, "cd: "+target)
	}
	v := s.newView()
	defer v.close()
	at, err := v.place(rel)
	if err != nil {
		return s.replyError(err, "cd: "+target)
	}
	fi, err := v.stat(at, true)
	if err != nil {
		return s.replyError(err, "cd: "+target)
	}
	if !fi.IsDir() {
		return s.replyError(errorf(wire.KindNotDir, "cd: "+target+": not a directory"), "")
	}
	s.cwd = rel
	return s.exit(0)
}

func (s *session) help() string {
	var b strings.Builder
	b.WriteString("built-in: cd [DIR], pwd, quota, help, rm [-r] [-f] [-d] PATH..., trash list, trash empty, undelete PATH [NEWPATH]\n")
	if u, ok := s.conn.srv.userDB().Lookup(s.home.user); ok {
		if trashOn(u) {
			fmt.Fprintf(&b, "rm: moves to ~/.trash, kept %d days (it counts against your quota); /usr/bin/rm is the system rm and deletes for real\n", u.TrashDays)
		} else {
			b.WriteString("rm: deletes for real (trash is off for your account)\n")
		}
		if slices.Contains(u.Commands, users.AnyCommand) {
			b.WriteString("programs: any program installed on the server\n")
		} else {
			fmt.Fprintf(&b, "programs: %s\n", strings.Join(u.Commands, " "))
		}
	}
	b.WriteString(s.foldersHelp())
	return b.String()
}

// print answers a built-in with its output and a zero exit.
func (s *session) print(text string) error {
	s.refreshWriteDeadline()
	if err := s.wc.WriteMessage(&wire.Output{Stream: wire.Stdout, Data: []byte(text)}); err != nil {
		return err
	}
	return s.exit(0)
}

func (s *session) exit(code int) error {
	s.refreshWriteDeadline()
	return s.wc.WriteMessage(&wire.Exit{Code: int32(code), Cwd: display(s.cwd)})
}

// outputWriter turns a program's output into Output frames as it comes.
type outputWriter struct {
	s      *session
	stream uint8
}

func (w *outputWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		chunk := p[:min(len(p), outputChunk)]
		p = p[len(chunk):]
		w.s.refreshWriteDeadline()
		if err := w.s.wc.WriteMessage(&wire.Output{Stream: w.stream, Data: chunk}); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// chanReader feeds a program the Stdin frames the read loop queues; a
// closed channel or an empty frame is end of input.
type chanReader struct {
	ch   chan []byte
	rest []byte
	eof  bool
}

func (r *chanReader) Read(p []byte) (int, error) {
	for len(r.rest) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		b, ok := <-r.ch
		if !ok || len(b) == 0 {
			r.eof = true
			return 0, io.EOF
		}
		r.rest = b
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}
