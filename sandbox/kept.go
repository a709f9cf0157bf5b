//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// keeperTasks is what a keeper's own threads may take of a kept jail's
// task limits (pids.max and RLIMIT_NPROC count threads); it is added to
// Limits.Processes so that the programs keep theirs. A Go process with
// GOMAXPROCS=1 runs about 6.
const keeperTasks = 8

// keepTimeout bounds the start of a keeper.
const keepTimeout = 10 * time.Second

// keptIdle is how long a kept jail waits for the session's next command
// before it is given up: an idle login holds no processes or namespaces.
const keptIdle = 30 * time.Second

// Session runs the commands of one login in turn. The first runs like
// [Jail.Run], in a fresh jail. From the second on, the session keeps one
// jail built, its PID 1 a keeper (see keeperArg), and runs each command in
// it: a fork and exec instead of new namespaces, mounts and a Go runtime
// start, so a batch of commands costs a fraction. A command still starts
// with nothing of the previous one running (the keeper kills every process
// a command leaves behind), under the same uid, capabilities, Landlock
// domain, seccomp filter, cgroup limits and rlimits, except that RLIMIT_AS
// is left to the memory cgroup (the keeper is a Go program, whose address
// space reservations exceed typical limits): so a jail is kept only when
// cgroups limit memory. What a kept jail shares between the commands of
// one session is its /tmp and its System V and POSIX IPC objects (shared
// memory, semaphores, message queues), like an SSH login; they count in
// its memory cgroup.
//
// A kept jail is given up, and a fresh one built, when a command is killed
// (timeout, output limit, cancel), when the command changed what the
// keeper passes on to programs (its rlimits, with prlimit, or the nice
// value, scheduling policy, CPU affinity or I/O priority of its forking
// thread: a process of the same uid may), when the next command needs
// another jail (other limits, mounts or user, or another directory put in
// the place of the home or of a mount's source; a lower file-size limit,
// the keeper sets for that command and the later ones), when its keeper has used
// half of the CPU-time limit, or after keptIdle without a command; when two
// commands run at once, the second runs like Jail.Run. Close ends it.
type Session struct {
	j      *Jail
	mu     sync.Mutex
	runs   int
	busy   bool
	closed bool
	kept   *kept
	idle   *time.Timer // gives the kept jail up after keptIdle
}

// NewSession returns a Session that runs commands with j.
func (j *Jail) NewSession() *Session { return &Session{j: j} }

// Run runs spec like [Jail.Run], in the session's kept jail when it can.
func (s *Session) Run(ctx context.Context, spec Spec) (int, error) {
	s.mu.Lock()
	s.runs++
	if s.j.cgroup == nil || s.j.noKeep != "" || s.runs == 1 || s.busy || s.closed {
		s.mu.Unlock()
		return s.j.Run(ctx, spec)
	}
	s.busy = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	}()
	return s.runKept(ctx, spec)
}

// Close ends the kept jail, if any, and every process in it.
func (s *Session) Close() {
	s.mu.Lock()
	k := s.kept
	s.kept, s.closed = nil, true
	if s.idle != nil {
		s.idle.Stop()
	}
	s.mu.Unlock()
	if k != nil {
		k.p.discard()
	}
}

// dropIdle gives up the kept jail unless a command is using it.
func (s *Session) dropIdle() {
	s.mu.Lock()
	k := s.kept
	if s.busy {
		k = nil
	} else {
		s.kept = nil
	}
	s.mu.Unlock()
	if k != nil {
		k.p.discard()
	}
}

func (s *Session) runKept(ctx context.Context, spec Spec) (int, error) {
	is, lim, err := s.j.prepare(ctx, &spec)
	if err != nil {
		return -1, err
	}
	// The directories the jail binds by identity too: one put in the
	// place of the home or of a mount's source (a restore, new handouts)
	// is what the command must see, as in a fresh jail.
	ids, err := dirIDs(is)
	if err != nil {
		return s.j.Run(ctx, spec) // which says what is wrong with them
	}
	// The key before keptRlimits, which drops RLIMIT_AS: it holds the
	// memory limit, which the cgroup cannot lower below what the kept
	// jail's /tmp and processes hold.
	key := ids + keptKey(is)
	is.Rlimits = keptRlimits(is.Rlimits)
	fileSize := uint64(lim.FileSize)
	req, err := encodeRequest(keeperRequest{Dir: is.Dir, Argv: is.Argv, Env: is.Env, FileSize: fileSize})
	if err != nil {
		return -1, err
	}
	s.mu.Lock()
	k := s.kept
	s.kept = nil
	s.mu.Unlock()
	// The keeper can lower its file-size limit for a command, never raise
	// it: a quota's room left shrinks as files are written, and only a
	// grown one (files deleted) needs a new jail.
	if k != nil && (k.key != key || !k.alive() || k.tired(lim.CPUTime) || fileSize > k.fileSize) {
		k.p.discard()
		k = nil
	}
	if k == nil {
		if k, err = s.j.keep(ctx, is, key); err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			// A fresh jail runs it, or says what stops the jail.
			return s.j.Run(ctx, spec)
		}
		k.fileSize = fileSize // is.Rlimits' RLIMIT_FSIZE
	}
	k.idle = false
	code, err := s.j.runIn(ctx, &spec, lim, k.p, req, k)
	if k.idle {
		k.fileSize = min(k.fileSize, fileSize)
	}
	if !k.idle || errors.Is(err, ErrTimeout) || errors.Is(err, ErrOutputLimit) || ctx.Err() != nil {
		k.dead.Store(true) // broken, killed, or about to be
	}
	s.mu.Lock()
	if k.alive() && !s.closed {
		s.kept, k = k, nil
		if s.idle == nil {
			s.idle = time.AfterFunc(keptIdle, s.dropIdle)
		} else {
			s.idle.Reset(keptIdle)
		}
	}
	s.mu.Unlock()
	if k != nil {
		k.p.discard()
	}
	return code, err
}

// keptRlimits adapts a one-shot jail's rlimits to a kept jail's keeper:
// no RLIMIT_AS, and room for the keeper's threads in RLIMIT_NPROC.
func keptRlimits(rl []rlimit) []rlimit {
	out := make([]rlimit, 0, len(rl))
	for _, r := range rl {
		switch r.Resource {
		case unix.RLIMIT_AS:
			continue
		case unix.RLIMIT_NPROC:
			r.Cur += keeperTasks
			r.Max += keeperTasks
		}
		out = append(out, r)
	}
	return out
}

// keptKey is what must be equal for two commands to share a kept jail:
// everything but the command itself.
func keptKey(is initSpec) string {
	is.Dir, is.Argv, is.Env = "", nil, nil
	// The file-size limit is the keeper's upper bound (kept.fileSize).
	is.Rlimits = slices.Clone(is.Rlimits)
	for i, r := range is.Rlimits {
		if r.Resource == unix.RLIMIT_FSIZE {
			is.Rlimits[i].Cur, is.Rlimits[i].Max = 0, 0
		}
	}
	b, _ := json.Marshal(is) // plain data: cannot fail, and a key has no size cap
	return string(b)
}

// dirIDs names the host directories that a jail for is binds, its home
// and its mounts' sources, by device and inode.
func dirIDs(is initSpec) (string, error) {
	var b strings.Builder
	dirs := []string{is.Home}
	for _, m := range is.Mounts {
		dirs = append(dirs, m.Source)
	}
	for _, d := range dirs {
		if d == "" {
			continue // an empty directory made by the jail
		}
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d:%d ", st.Dev, st.Ino)
	}
	return b.String(), nil
}

// kept is a jail whose PID 1 is a keeper.
type kept struct {
	p    *proc
	key  string
	dead atomic.Bool // killed, or its keeper broke the protocol
	// idle: the keeper reported the end of the last command and waits for
	// the next (set by wait, read after it by the one Run using k).
	idle bool
	// fileSize is the keeper's RLIMIT_FSIZE: a command may have it or less.
	fileSize uint64
}

// keep turns a pre-forked init into a kept jail for is.
func (j *Jail) keep(ctx context.Context, is initSpec, key string) (*kept, error) {
	is.Keep = true
	is.Dir, is.Argv, is.Env = "", nil, nil
	msg, err := encodeRequest(is)
	if err != nil {
		return nil, err
	}
	p, err := j.take()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*kept, error) {
		p.discard()
		return nil, err
	}
	timer := time.AfterFunc(keepTimeout, p.kill)
	defer timer.Stop()
	stop := context.AfterFunc(ctx, p.kill)
	defer stop()
	var b [1]byte
	if !p.ready {
		if n, err := p.ctl.Read(b[:]); n != 1 || err != nil || b[0] != initReady {
			return fail(j.initDied(ctx, p))
		}
	}
	null := int(j.devNull.Fd())
	if err := unix.Sendmsg(int(p.ctl.Fd()), msg, unix.UnixRights(null, null, null), nil, 0); err != nil {
		return fail(fmt.Errorf("sandbox: send request to init: %w", err))
	}
	if n, err := p.ctl.Read(b[:]); n != 1 || err != nil || b[0] != keeperReady {
		return fail(j.initDied(ctx, p))
	}
	p.extraTasks = keeperTasks
	// The status pipe is the keeper's stderr: only a Go crash writes there.
	go io.Copy(io.Discard, p.status)
	return &kept{p: p, key: key}, nil
}

// initDied says why an init that was to become a keeper is gone.
func (j *Jail) initDied(ctx context.Context, p *proc) error {
	p.kill()
	if err := ctx.Err(); err != nil {
		return err
	}
	status, _ := io.ReadAll(io.LimitReader(p.status, 4096))
	status = bytes.TrimPrefix(status, []byte{statusExec})
	if len(status) == 0 {
		return errors.New("sandbox: a kept jail did not start")
	}
	_, err := statusError(status, "")
	return err
}

// alive reports whether the keeper can take another command.
func (k *kept) alive() bool {
	select {
	case <-k.p.done:
		return false
	default:
		return !k.dead.Load()
	}
}

// tired reports whether the keeper has used half of the CPU-time limit
// that it and each program have (RLIMIT_CPU counts its own time too).
func (k *kept) tired(cpuLimit time.Duration) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(k.p.cmd.Process.Pid) + "/stat")
	if err != nil {
		return true
	}
	// Fields after the command name, which may hold spaces and ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return true
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return true
	}
	// utime and stime are fields 14 and 15 of the line, 12 and 13 here.
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return true
	}
	const ticks = 100 // USER_HZ, fixed by the kernel's ABI
	used := time.Duration(ut+st) * time.Second / ticks
	return used >= cpuLimit/2
}

// wait reads the keeper's report of one command.
func (k *kept) wait(argv0 string) (int, Usage, bool, error) {
	buf := make([]byte, 1024)
	for {
		n, err := k.p.ctl.Read(buf)
		if err != nil || n == 0 {
			// Killed by Run (timeout, cancel, output), or it died.
			k.end()
			return 128 + int(syscall.SIGKILL), Usage{}, false, errors.New("sandbox: the jail's PID 1 died")
		}
		switch m := buf[:n]; m[0] {
		case keeperStarted:
			continue
		case keeperChanged:
			k.dead.Store(true) // the report follows; the next command needs a new jail
			continue
		case keeperExited:
			if n != keeperExitLen {
				break
			}
			ws := syscall.WaitStatus(binary.LittleEndian.Uint32(m[1:]))
			cpu := time.Duration(binary.LittleEndian.Uint64(m[5:]))
			k.idle = true
			return waitCode(ws), Usage{CPUTime: cpu}, true, nil
		case keeperFailed:
			k.idle = true
			code, err := statusError(m[1:], argv0)
			return code, Usage{}, false, err
		case statusNotFound, statusExecErr:
			k.idle = true
			code, err := statusError(m, argv0)
			return code, Usage{}, false, err
		}
		k.end()
		return -1, Usage{}, false, fmt.Errorf("sandbox: the jail's PID 1 sent a malformed report (%d bytes)", n)
	}
}

// end kills the kept jail and waits until its PID 1 is gone.
func (k *kept) end() {
	k.dead.Store(true)
	k.p.kill()
	<-k.p.done
}
