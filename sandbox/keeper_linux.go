package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// keeperArg is os.Args[1] of a kept jail's PID 1, the keeper; os.Args[2]
// is the jail's user.
//
// The keeper is this binary, exec'd by the init once the jail is built and
// every restriction of a jailed program is in place (no capabilities in any
// set, no_new_privs, Landlock, seccomp, rlimits but RLIMIT_AS). It starts
// each program it is sent with fork and exec, so the program inherits
// exactly those restrictions, waits for it, kills whatever the program left
// behind, and reports. It is not dumpable (no /proc/1/mem, environ or fd
// for the programs) and ignores every signal they may send it.
const keeperArg = "__cubby_sandbox_keeper"

// Messages from the keeper on the control socket (one per packet). A
// failure to start is a statusNotFound or statusExecErr packet as on the
// init's status pipe, or keeperFailed and a text.
const (
	keeperReady   = 'R' // waiting for the first request
	keeperStarted = 'S' // the program runs
	keeperExited  = 'W' // then: uint32 wait status, int64 CPU ns of the command's processes (little-endian)
	keeperFailed  = 'F' // then: why the request could not start
	keeperChanged = 'C' // before keeperExited: the program changed what the keeper passes on; give the jail up
)

// keeperRequest is one command for a kept jail; its three stdio
// descriptors come with it.
type keeperRequest struct {
	Dir  string // relative to the home, clean
	Argv []string
	Env  []string
	// FileSize, when below the keeper's RLIMIT_FSIZE, lowers it for this
	// and later programs (the quota's room left); it is never raised.
	FileSize uint64
}

// keeperExitLen is the length of a keeperExited packet.
const keeperExitLen = 1 + 4 + 8

func runKeeper(user string) {
	if !validUser(user) {
		os.Exit(2)
	}
	check(unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0), "not dumpable")
	name := []byte("cubby-jail\x00")
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	// PID 1 gets only the signals it handles: handle all, do nothing. The
	// handlers are reset to the default in the programs at exec.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	go func() {
		for range sigs {
		}
	}()
	// Except the signals of faults: the Go runtime takes one whose code is
	// not that of kill or tgkill for a fault of its own and crashes, and a
	// program chooses the code with rt_sigqueueinfo, or F_SETOWN and
	// F_SETSIG on a file. Left at SIG_DFL, the kernel drops them when a
	// process of the jail sends them to its PID 1, and a real fault still
	// kills the keeper (it recovers no panic anyway).
	var dfl [4]uintptr // struct sigaction{SIG_DFL, 0, 0, 0}
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGSTKFLT, syscall.SIGSYS} {
		if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl[0])), 0, 8, 0, 0); e != 0 {
			check(e, "reset the handler of %v", sig)
		}
	}
	start, err := inheritedNow()
	check(err, "read the keeper's settings")
	unix.CloseOnExec(initCtlFD)
	send(keeperReady)
	buf := make([]byte, maxSpecLen)
	oob := make([]byte, unix.CmsgSpace(3*4))
	for {
		req, stdio, ok := receiveRequest(buf, oob)
		if !ok {
			os.Exit(0) // the server closed the jail
		}
		runOne(user, req, stdio, &start)
	}
}

// send writes one packet to the server; the server going away ends the jail.
func send(kind byte, data ...byte) {
	if _, err := unix.Write(initCtlFD, append([]byte{kind}, data...)); err != nil {
		os.Exit(0)
	}
}

// receiveRequest waits for the next command. A malformed one closes its
// descriptors and is answered with keeperFailed.
func receiveRequest(buf, oob []byte) (*keeperRequest, []int, bool) {
	for {
		n, oobn, _, _, err := unix.Recvmsg(initCtlFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return nil, nil, false
		}
		var fds []int
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if f, err := unix.ParseUnixRights(&m); err == nil {
					fds = append(fds, f...)
				}
			}
		}
		var req keeperRequest
		err = json.Unmarshal(buf[:n], &req)
		if err == nil && len(fds) == 3 && len(req.Argv) > 0 && validDir(req.Dir) {
			return &req, fds, true
		}
		closeAll(fds)
		send(keeperFailed, []byte("bad request")...)
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// inherited is what a program gets from the keeper that any process of the
// jail's uid may change: the keeper's rlimits (prlimit), and the nice value,
// scheduling policy, CPU affinity and I/O priority (setpriority,
// sched_setattr, sched_setaffinity, ioprio_set) of the thread that forks
// the programs, the main one (init locks the keeper to it).
type inherited struct {
	rlimits  [unix.RLIMIT_RTTIME + 1]unix.Rlimit
	sched    unix.SchedAttr
	affinity unix.CPUSet
	ioprio   uintptr
}

// inheritedNow reads what the calling thread would pass on now.
func inheritedNow() (inherited, error) {
	var in inherited
	for r := range in.rlimits {
		if err := unix.Prlimit(0, r, nil, &in.rlimits[r]); err != nil {
			return in, err
		}
	}
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return in, err
	}
	in.sched = *attr
	if err := unix.SchedGetaffinity(0, &in.affinity); err != nil {
		return in, err
	}
	const ioprioWhoProcess = 1 // with 0: the calling thread
	prio, _, e := unix.RawSyscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, 0, 0)
	if e != 0 {
		return in, e
	}
	in.ioprio = prio
	return in, nil
}

// runOne starts one program, waits until it and everything it started are
// gone, and reports. When the program changed what the keeper passes on
// (start is what it was), the report says so first.
func runOne(user string, req *keeperRequest, stdio []int, start *inherited) {
	defer func() { closeAll(stdio) }() // nil once closed after the fork
	// Lower, never raise, as a fresh jail's init does.
	if fs := &start.rlimits[unix.RLIMIT_FSIZE]; req.FileSize != 0 && req.FileSize < fs.Max {
		lim := unix.Rlimit{Cur: req.FileSize, Max: req.FileSize}
		if err := unix.Prlimit(0, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
			send(keeperFailed, []byte(fmt.Sprintf("file size limit %d: %v", req.FileSize, err))...)
			return
		}
		*fs = lim
	}
	// The keeper moves to the working directory, as a fresh jail's init
	// does: a relative program path is found from there, and the program
	// inherits it.
	cwd := path.Join("/home", user, req.Dir)
	if err := unix.Chdir(cwd); err != nil {
		send(keeperFailed, []byte(fmt.Sprintf("working directory %s: %v", req.Dir, err))...)
		return
	}
	prog, found := lookPath(req.Argv[0])
	if !found {
		send(statusNotFound)
		return
	}
	pid, err := syscall.ForkExec(prog, req.Argv, &syscall.ProcAttr{
		Env:   req.Env,
		Files: []uintptr{uintptr(stdio[0]), uintptr(stdio[1]), uintptr(stdio[2])},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		errno, ok := err.(syscall.Errno)
		if !ok {
			errno = syscall.EIO
		}
		send(statusExecErr, binary.LittleEndian.AppendUint32(nil, uint32(errno))...)
		return
	}
	closeAll(stdio)
	stdio = nil
	send(keeperStarted)
	ws, cpu := reap(pid)
	if now, err := inheritedNow(); err != nil || now != *start {
		send(keeperChanged)
	}
	msg := binary.LittleEndian.AppendUint32(nil, uint32(ws))
	msg = binary.LittleEndian.AppendUint64(msg, uint64(cpu))
	send(keeperExited, msg...)
}

// reap waits for the program, then kills every other process of the jail
// (orphans are this PID 1's children) and waits for them all. It returns
// the program's wait status and the CPU time of every process the command
// made: the program's own includes the children it waited for, and the
// keeper reaps the rest.
func reap(pid int) (syscall.WaitStatus, time.Duration) {
	var status syscall.WaitStatus
	var cpu time.Duration
	done := false
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		wpid, err := syscall.Wait4(-1, &ws, unix.WALL, &ru)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil: // ECHILD: nothing is left
			return status, cpu
		}
		cpu += time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
		if wpid == pid {
			status, done = ws, true
		}
		if done {
			// kill(-1) from PID 1 reaches every other process of the
			// namespace; a fork in progress fails once its parent has
			// been sent SIGKILL.
			syscall.Kill(-1, syscall.SIGKILL)
		}
	}
}
