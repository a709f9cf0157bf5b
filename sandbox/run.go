//go:build linux

package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proc is one started init, waiting on its control socket for a request.
type proc struct {
	cmd    *exec.Cmd
	ctl    *os.File // parent end of the control socket
	status *os.File // read end of the status pipe (the init's fd 2)
	done   chan struct{}
	cg     *cgroupJail
	cgs    cgroupSet
	once   sync.Once
	// ready: the init's initReady byte was read (by the pool refiller).
	ready bool
	// extraTasks are tasks of the jail that are not the program's: the
	// threads of a kept jail's keeper, added to the pids limit.
	extraTasks int64
}

// kill sends SIGKILL to the jail's PID 1; the kernel then kills every other
// process of its PID namespace. It is safe after the process has exited.
func (p *proc) kill() { p.cmd.Process.Kill() }

// discard kills the jail, waits until every process of it is gone and frees
// its resources; the cgroups are removed in the background.
func (p *proc) discard() {
	p.once.Do(func() {
		p.kill()
		<-p.done
		p.ctl.Close()
		p.status.Close()
		if p.cg != nil {
			p.cgs.removeLater(p.cg)
		}
	})
}

func (j *Jail) sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWCGROUP,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: jailUID, HostID: j.cfg.HostUID, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: jailGID, HostID: j.cfg.HostGID, Size: 1}},
		// setgroups is denied in the user namespace, except when a root
		// server has supplementary groups: then Go's child drops them all
		// with setgroups(0) (the jail cannot call setgroups: no caps).
		GidMappingsEnableSetgroups: j.setgroups,
		Credential:                 &syscall.Credential{Uid: jailUID, Gid: jailGID, Groups: []uint32{}, NoSetGroups: !j.setgroups},
		// The init needs these in the new user namespace to build the
		// jail; it drops them all before exec.
		AmbientCaps: []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP, unix.CAP_SYS_RESOURCE},
		Setsid:      true,
		Pdeathsig:   syscall.SIGKILL,
	}
}

// spawn starts an init in fresh namespaces. It returns once the process
// exists; the init then builds the request-independent part of the jail and
// waits for a request.
func (j *Jail) spawn() (*proc, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: socketpair: %w", err)
	}
	ctl := os.NewFile(uintptr(fds[0]), "sandbox-ctl")
	childCtl := os.NewFile(uintptr(fds[1]), "sandbox-ctl-init")
	defer childCtl.Close()
	sr, sw, err := os.Pipe()
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer sw.Close()

	var cg *cgroupJail
	if j.cgroup != nil {
		if cg, err = j.cgroup.prepare(); err != nil {
			ctl.Close()
			sr.Close()
			return nil, err
		}
	}
	newCmd := func() *exec.Cmd {
		cmd := exec.Command("/proc/self/exe", InitArg)
		cmd.Env = initEnv() // never nil: nil inherits the server's environment
		cmd.Dir = "/"
		cmd.Stderr = sw
		cmd.ExtraFiles = []*os.File{childCtl} // fd 3
		cmd.SysProcAttr = j.sysProcAttr()
		if cg != nil && cg.fd != nil {
			// clone3 CLONE_INTO_CGROUP: the init starts in its cgroup.
			cmd.SysProcAttr.UseCgroupFD = true
			cmd.SysProcAttr.CgroupFD = int(cg.fd.Fd())
		}
		return cmd
	}
	p := &proc{cmd: newCmd(), ctl: ctl, status: sr, done: make(chan struct{}), cg: cg, cgs: j.cgroup}

	started := make(chan error, 1)
	go func() {
		// Pdeathsig follows the thread that forked (go.dev/issue/27505):
		// keep it alive and locked until the jail is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := p.cmd.Start()
		if err != nil && p.cmd.SysProcAttr.UseCgroupFD && retryWithoutCgroupFD(err) {
			// The kernel may lack clone3 or CLONE_INTO_CGROUP: move the
			// init with cgroup.procs instead, from now on.
			if v2, ok := j.cgroup.(*cgroupV2); ok {
				p.cmd = newCmd()
				p.cmd.SysProcAttr.UseCgroupFD = false
				if err2 := p.cmd.Start(); err2 == nil {
					v2.noCgroupFD(cg)
					err = nil
				}
			}
		}
		if err != nil {
			started <- err
			return
		}
		started <- nil
		p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		ctl.Close()
		sr.Close()
		if cg != nil {
			cg.remove()
		}
		return nil, startError(err)
	}
	if j.testHookPID != nil {
		j.testHookPID(p.cmd.Process.Pid)
	}
	if cg != nil {
		// The init blocks on the control socket until Run sends the
		// request, so it is placed before it can run anything.
		if err := j.cgroup.place(cg, p.cmd.Process.Pid); err != nil {
			p.discard()
			return nil, err
		}
	}
	return p, nil
}

// initEnv is the whole environment of a jail's init and of a keeper: both
// are single-threaded work, so one P and no cgroup CPU probing.
func initEnv() []string {
	return []string{"GOMAXPROCS=1", "GODEBUG=cgroupgomaxprocs=0,updatemaxprocs=0"}
}

// retryWithoutCgroupFD reports whether a failed clone3 with
// CLONE_INTO_CGROUP may work as a clone without it.
func retryWithoutCgroupFD(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && (errno == syscall.ENOSYS || errno == syscall.E2BIG || errno == syscall.EINVAL)
}

// startError explains a failed clone of the init.
func startError(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EPERM, syscall.EACCES:
			return fmt.Errorf("sandbox: cannot create namespaces (%v): unprivileged user namespaces are blocked (AppArmor, seccomp of a container, or a sysctl); allow them or run cubbyd as root", errno)
		case syscall.ENOSPC:
			return fmt.Errorf("sandbox: cannot create namespaces (%v): the user.max_user_namespaces limit is reached", errno)
		case syscall.EINVAL:
			return fmt.Errorf("sandbox: cannot create namespaces (%v): the kernel lacks user, pid, net, ipc, uts or cgroup namespace support", errno)
		}
	}
	return fmt.Errorf("sandbox: cannot start jail init: %w", err)
}

// take returns a pre-forked init, or starts one when the pool is empty.
func (j *Jail) take() (*proc, error) {
	j.kick()
	select {
	case p := <-j.pool:
		return p, nil
	default:
	}
	return j.spawn()
}

// kick asks the refiller to top up the pool.
func (j *Jail) kick() {
	select {
	case j.refill <- struct{}{}:
	default:
	}
}

func (j *Jail) refiller() {
	defer j.wg.Done()
	for {
		select {
		case <-j.closing:
			return
		case <-j.refill:
		}
		for len(j.pool) < cap(j.pool) {
			p, err := j.spawn()
			if err != nil {
				break // Run spawns on demand and reports the error
			}
			// Pool only inits that built their part of the jail.
			var b [1]byte
			if n, err := p.ctl.Read(b[:]); n != 1 || err != nil || b[0] != initReady {
				go p.discard()
				break
			}
			p.ready = true
			select {
			case j.pool <- p:
			case <-j.closing:
				p.discard()
				return
			}
		}
	}
}

// Reasons why Run killed the jail.
const (
	killNone int32 = iota
	killTimeout
	killCanceled
	killOutput
)

// Run runs spec in a fresh jail and returns the program's exit status
// (128+signal when it was killed by a signal). When ctx is canceled, the
// wall-clock limit passes or the output limit is reached, the whole jail is
// killed and Run returns ctx.Err(), [ErrTimeout] or [ErrOutputLimit]. A
// program that does not exist gives 127 and [ErrNotFound]. When Run returns,
// no process of the jail is left.
//
// Stdin is copied by a goroutine that may outlive Run while a Read on
// spec.Stdin blocks.
func (j *Jail) Run(ctx context.Context, spec Spec) (exitCode int, err error) {
	is, lim, err := j.prepare(ctx, &spec)
	if err != nil {
		return -1, err
	}
	msg, err := encodeRequest(is)
	if err != nil {
		return -1, err
	}
	p, err := j.take()
	if err != nil {
		return -1, err
	}
	defer p.discard()
	return j.runIn(ctx, &spec, lim, p, msg, oneShot{p})
}

// prepare checks spec and builds the init's request for it.
func (j *Jail) prepare(ctx context.Context, spec *Spec) (initSpec, Limits, error) {
	if err := ctx.Err(); err != nil {
		return initSpec{}, Limits{}, err
	}
	j.mu.Lock()
	closed := j.closed
	j.mu.Unlock()
	if closed {
		return initSpec{}, Limits{}, errClosed
	}
	home, err := j.validate(spec)
	if err != nil {
		return initSpec{}, Limits{}, err
	}
	lim, err := spec.Limits.withDefaults()
	if err != nil {
		return initSpec{}, Limits{}, err
	}
	mounts, err := validateMounts(spec.Mounts)
	if err != nil {
		return initSpec{}, Limits{}, err
	}
	return initSpec{
		User:     spec.User,
		Home:     home,
		Dir:      spec.Dir,
		Argv:     spec.Argv,
		Env:      buildEnv(spec.User, strings.TrimSuffix("/home/"+spec.User+"/"+spec.Dir, "/."), spec.Env),
		TmpSize:  lim.TmpSize,
		Rlimits:  rlimits(lim),
		Landlock: j.landlock,
		Seccomp:  j.seccomp,
		Mounts:   mounts,
	}, lim, nil
}

// encodeRequest encodes a request for an init or a keeper.
func encodeRequest(v any) ([]byte, error) {
	msg, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if len(msg) > maxSpecLen {
		return nil, errors.New("sandbox: command line too long")
	}
	return msg, nil
}

// waiter learns how a program that was sent to a jail ended.
type waiter interface {
	// wait blocks until the program and every process it started are
	// gone. execed is false when the program never started; err then says
	// why, and code is 127 (not found), 126 (cannot execute) or -1. usage
	// is the program's.
	wait(argv0 string) (code int, usage Usage, execed bool, err error)
}

// oneShot waits for a program that its init became at exec.
type oneShot struct{ p *proc }

func (o oneShot) wait(argv0 string) (int, Usage, bool, error) {
	// EOF on the status pipe: the init exec'd the program, or died.
	status, _ := io.ReadAll(o.p.status)
	execed := len(status) == 1 && status[0] == statusExec
	if !execed {
		o.p.kill()
	}
	<-o.p.done
	code, usage := exitStatus(o.p.cmd.ProcessState), usageOf(o.p.cmd.ProcessState)
	if execed {
		return code, usage, true, nil
	}
	code, err := statusError(status, argv0)
	return code, usage, false, err
}

// runIn sends the request msg with fresh stdio to the jail p, forwards the
// output and enforces the limits until w says the program is gone.
func (j *Jail) runIn(ctx context.Context, spec *Spec, lim Limits, p *proc, msg []byte, w waiter) (int, error) {
	if p.cg != nil {
		if err := p.cg.setLimits(lim.Memory, lim.Processes+p.extraTasks); err != nil {
			return -1, err
		}
	}

	// A limit that fires after the program is gone must not kill the jail:
	// a kept jail goes on to the session's next command.
	var killMu sync.Mutex
	ended := false
	var why atomic.Int32
	kill := func(reason int32) {
		killMu.Lock()
		defer killMu.Unlock()
		if !ended {
			why.CompareAndSwap(killNone, reason)
			p.kill()
		}
	}
	timer := time.AfterFunc(lim.WallClock, func() { kill(killTimeout) })
	defer timer.Stop()
	stop := context.AfterFunc(ctx, func() { kill(killCanceled) })
	defer stop()

	stdio, closeStdio, err := j.stdio(spec.Stdin)
	if err != nil {
		return -1, err
	}
	rights := unix.UnixRights(int(stdio.in.Fd()), int(stdio.outW.Fd()), int(stdio.errW.Fd()))
	err = unix.Sendmsg(int(p.ctl.Fd()), msg, rights, nil, 0)
	closeStdio() // the jail holds the only copies of the write ends now
	defer stdio.outR.Close()
	defer stdio.errR.Close()
	if err != nil {
		p.kill()
		return -1, fmt.Errorf("sandbox: send request to the jail: %w", err)
	}

	oc := &outCapper{limit: lim.Output, stdout: spec.Stdout, stderr: spec.Stderr, onLimit: func() { kill(killOutput) }}
	var copiers sync.WaitGroup
	copiers.Add(2)
	go func() { defer copiers.Done(); oc.copy(stdio.outR, false) }()
	go func() { defer copiers.Done(); oc.copy(stdio.errR, true) }()

	code, usage, execed, err := w.wait(spec.Argv[0])
	copiers.Wait()
	killMu.Lock()
	ended = true
	killMu.Unlock()
	if spec.Usage != nil {
		*spec.Usage = usage
	}
	switch why.Load() {
	case killTimeout:
		return code, ErrTimeout
	case killCanceled:
		return code, ctx.Err()
	case killOutput:
		return code, ErrOutputLimit
	}
	if execed {
		return code, nil
	}
	return code, err
}

// usageOf reads the rusage that wait4 reported for the jail's init, which
// became the program at exec.
func usageOf(ps *os.ProcessState) Usage {
	return Usage{CPUTime: ps.UserTime() + ps.SystemTime()}
}

// statusError turns what the init wrote on the status pipe into an error.
func statusError(status []byte, argv0 string) (int, error) {
	s := status
	if len(s) > 0 && s[0] == statusExec {
		s = s[1:]
	}
	switch {
	case len(s) == 0:
		return -1, errors.New("sandbox: jail init died during setup")
	case s[0] == statusNotFound:
		return 127, ErrNotFound
	case s[0] == statusExecErr:
		errno := errnoFrom(s[1:])
		if errno == syscall.ENOENT {
			return 127, fmt.Errorf("%w: %s: %v", ErrNotFound, argv0, errno)
		}
		return 126, fmt.Errorf("sandbox: cannot execute %s: %w", argv0, errno)
	}
	msg := strings.Join(strings.Fields(string(s)), " ")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return -1, fmt.Errorf("sandbox: jail setup failed: %s", msg)
}

func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return waitCode(ws)
	}
	return ps.ExitCode()
}

// waitCode is a wait status as a shell shows it: the exit code, or
// 128+signal for a program killed by a signal.
func waitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// rlimits returns the rlimits the init applies right before execve.
func rlimits(l Limits) []rlimit {
	u := func(v int64) uint64 { return uint64(v) }
	cpu := u(int64((l.CPUTime + time.Second - 1) / time.Second))
	return []rlimit{
		{unix.RLIMIT_CORE, 0, 0},
		{unix.RLIMIT_CPU, cpu, cpu + 1}, // SIGXCPU, then SIGKILL a second later
		{unix.RLIMIT_FSIZE, u(l.FileSize), u(l.FileSize)},
		{unix.RLIMIT_NOFILE, u(l.OpenFiles), u(l.OpenFiles)},
		{unix.RLIMIT_NPROC, u(l.Processes), u(l.Processes)},
		{unix.RLIMIT_AS, u(l.Memory), u(l.Memory)}, // last: from here the init must not allocate
	}
}

type stdioFiles struct {
	in         *os.File // read end given to the jail
	outR, outW *os.File
	errR, errW *os.File
}

// stdio makes the pipes for one run. closeStdio closes the parent's copies
// of the jail's ends.
func (j *Jail) stdio(stdin io.Reader) (s stdioFiles, closeStdio func(), err error) {
	if s.outR, s.outW, err = os.Pipe(); err != nil {
		return s, nil, fmt.Errorf("sandbox: %w", err)
	}
	if s.errR, s.errW, err = os.Pipe(); err != nil {
		s.outR.Close()
		s.outW.Close()
		return s, nil, fmt.Errorf("sandbox: %w", err)
	}
	s.in = j.devNull
	var inPipe *os.File
	if stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			s.outR.Close()
			s.outW.Close()
			s.errR.Close()
			s.errW.Close()
			return s, nil, fmt.Errorf("sandbox: %w", err)
		}
		s.in, inPipe = r, r
		go func() {
			io.Copy(w, stdin) // ends with EPIPE once the jail is gone
			w.Close()
		}()
	}
	// A pipe belongs to its creator; give the jail's ends to the jail's
	// uid so that it can reopen them through /dev/stdout and /proc/self/fd.
	if j.root {
		for _, f := range []*os.File{s.outW, s.errW, inPipe} {
			if f != nil {
				if err := f.Chown(j.cfg.HostUID, j.cfg.HostGID); err != nil {
					s.outR.Close()
					s.outW.Close()
					s.errR.Close()
					s.errW.Close()
					if inPipe != nil {
						inPipe.Close()
					}
					return s, nil, fmt.Errorf("sandbox: %w", err)
				}
			}
		}
	}
	return s, func() {
		s.outW.Close()
		s.errW.Close()
		if inPipe != nil {
			inPipe.Close()
		}
	}, nil
}

// outCapper forwards the jail's stdout and stderr, one write at a time,
// until limit bytes in total; then it kills the jail and writes a notice.
type outCapper struct {
	mu             sync.Mutex
	limit, n       int64
	cut            bool
	stdout, stderr io.Writer
	failed         [2]bool // a writer returned an error: discard its output
	onLimit        func()
}

func (o *outCapper) copy(r io.Reader, isErr bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			o.write(buf[:n], isErr)
		}
		if err != nil {
			return
		}
	}
}

func (o *outCapper) write(b []byte, isErr bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cut {
		return
	}
	over := o.n+int64(len(b)) > o.limit
	if over {
		b = b[:o.limit-o.n]
	}
	o.n += int64(len(b))
	i, w := 0, o.stdout
	if isErr {
		i, w = 1, o.stderr
	}
	if w != nil && !o.failed[i] && len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			o.failed[i] = true
		}
	}
	if over {
		o.cut = true
		o.onLimit()
		if o.stderr != nil && !o.failed[1] {
			fmt.Fprintf(o.stderr, "\ncubby: output limit of %s reached; command stopped\n", formatSize(o.limit))
		}
	}
}
