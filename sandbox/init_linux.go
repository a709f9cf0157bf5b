package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The init's file descriptors, set up by spawn.
const (
	initStatusFD = 2 // status pipe; also receives Go runtime crash output
	initCtlFD    = 3 // SOCK_SEQPACKET control socket; receives initSpec and 3 stdio fds
)

// Status bytes written by the init on the status pipe. Anything else is a
// setup error text (or a Go crash).
const (
	statusExec     = 'X' // about to execve; EOF follows on success
	statusNotFound = 'N' // argv[0] not found: exit 127
	statusExecErr  = 'E' // followed by 4 bytes of errno: execve failed
)

// initReady is sent on the control socket once the request-independent
// part of the jail is built.
const initReady = 'R'

// maxSpecLen bounds the control message (argv and env included).
const maxSpecLen = 128 << 10

// initSpec is what the parent sends to an init that waits for work.
type initSpec struct {
	User     string
	Home     string // host path, resolved
	Dir      string
	Argv     []string
	Env      []string
	TmpSize  int64
	Rlimits  []rlimit
	Landlock int
	Seccomp  bool
	Mounts   []mountSpec
	// Keep asks for a kept jail: instead of a program, the init execs the
	// jail's resident PID 1 (see keeper_linux.go), which then runs each
	// command it is sent. Dir, Argv and Env are unused.
	Keep bool
}

// mountSpec is a Mount with its source resolved on the host.
type mountSpec struct {
	Source   string // "" for an empty directory
	Target   string
	ReadOnly bool
}

type rlimit struct {
	Resource int
	Cur, Max uint64
}

func init() {
	if len(os.Args) > 1 && (os.Args[1] == InitArg || os.Args[1] == keeperArg) {
		// Package init runs on the main thread, locked. Keep main() there:
		// capabilities, no_new_privs, Landlock and seccomp are per thread, and
		// the parent-death signal only survives an execve from this thread.
		// A keeper forks every program from it, the thread whose scheduling
		// settings it checks (see inherited).
		runtime.LockOSThread()
	}
}

// MaybeInit must be the first call in main of any binary that uses [Jail]
// (and in TestMain of test binaries that run jails). When the binary was
// re-executed as a jail's init (os.Args[1] == [InitArg]) it builds the jail,
// drops all privileges, execs the user's program and never returns;
// otherwise it returns immediately.
func MaybeInit() {
	if len(os.Args) == 3 && os.Args[1] == keeperArg {
		runKeeper(os.Args[2])
		os.Exit(1) // not reached
	}
	if len(os.Args) < 2 || os.Args[1] != InitArg {
		return
	}
	runtime.LockOSThread()
	debug.SetGCPercent(-1)
	runInit()
	os.Exit(1) // not reached
}

// initFail reports a setup error on the status pipe and exits.
func initFail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	unix.Write(initStatusFD, []byte(strings.ReplaceAll(msg, "\n", " ")))
	unix.Exit(1)
}

func check(err error, what string, args ...any) {
	if err != nil {
		initFail("%s: %v", fmt.Sprintf(what, args...), err)
	}
}

// runInit runs in the jail's namespaces as uid 1000 with the ambient
// capabilities SYS_ADMIN, SETPCAP and SYS_RESOURCE of the new user namespace.
func runInit() {
	// Phase A: everything that does not depend on the request, done while
	// the init waits in the pool.
	check(unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""), "make mounts private")
	// A kept jail's PID 1 is this binary again; the host path is gone once
	// the jail's root is built.
	exeFD, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	check(err, "open /proc/self/exe")
	check(unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755"), "mount staging tmpfs")
	check(os.Mkdir("/tmp/newroot", 0o755), "mkdir")
	check(os.Mkdir("/tmp/oldroot", 0o755), "mkdir")
	check(unix.Mount("tmpfs", "/tmp/newroot", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,nr_inodes=1024,mode=0755"), "mount root tmpfs")
	check(unix.PivotRoot("/tmp", "/tmp/oldroot"), "pivot_root to staging")
	check(unix.Chdir("/"), "chdir")
	// Already private (above), but the host tree must never propagate
	// the detach below.
	check(unix.Mount("", "/oldroot", "", unix.MS_REC|unix.MS_PRIVATE, ""), "make old root private")
	const nr = "/newroot"
	for _, d := range []string{"etc", "dev", "proc", "tmp", "home"} {
		check(os.Mkdir(nr+"/"+d, 0o755), "mkdir /%s", d)
	}
	var sysDirs []string
	for _, d := range []string{"usr", "bin", "sbin", "lib", "lib64", "lib32", "libx32"} {
		src, dst := "/oldroot/"+d, nr+"/"+d
		fi, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		check(err, "stat /%s", d)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			check(err, "readlink /%s", d)
			check(os.Symlink(target, dst), "symlink /%s", d)
		case fi.IsDir():
			check(os.Mkdir(dst, 0o755), "mkdir /%s", d)
			check(unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""), "bind /%s", d)
			check(setattr(dst, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true), "make /%s read-only", d)
			sysDirs = append(sysDirs, "/"+d)
		}
	}
	buildDev(nr)
	buildProc(nr)
	buildEtc(nr)
	// /tmp with the default size; a request with another size remounts it.
	check(unix.Mount("tmpfs", nr+"/tmp", "tmpfs", tmpFlags, tmpOptions(DefaultLimits().TmpSize)), "mount /tmp")
	// Build encoding/json's decoder for initSpec now, off the request path.
	var warm initSpec
	check(json.Unmarshal([]byte(warmSpec), &warm), "decode sample request")

	// Tell the pool this init is ready, then wait for the request.
	unix.Write(initCtlFD, []byte{initReady})
	spec, stdio := receiveSpec()

	// Phase B: the request's home, user and limits.
	home := nr + "/home/" + spec.User
	check(os.Mkdir(home, 0o755), "mkdir home")
	check(unix.Mount("/oldroot"+spec.Home, home, "", unix.MS_BIND, ""), "bind home")
	check(setattr(home, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, false), "restrict home")
	mountFolders(home, spec.Mounts)
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/bin/false\n%s:x:%d:%d:%s:/home/%s:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		spec.User, jailUID, jailGID, spec.User, spec.User)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\nnogroup:x:65534:\n", spec.User, jailGID)
	check(os.WriteFile(nr+"/etc/passwd", []byte(passwd), 0o644), "write /etc/passwd")
	check(os.WriteFile(nr+"/etc/group", []byte(group), 0o644), "write /etc/group")
	if spec.TmpSize != DefaultLimits().TmpSize {
		check(unix.Mount("tmpfs", nr+"/tmp", "tmpfs", unix.MS_REMOUNT|tmpFlags, tmpOptions(spec.TmpSize)), "resize /tmp")
	}

	// Make newroot the root. The staging root ends up stacked on top of
	// it; detaching it detaches the host tree below it too (/oldroot, all
	// private), with one unmount: each waits for an RCU grace period.
	check(unix.Chdir(nr), "chdir")
	check(unix.PivotRoot(".", "."), "pivot_root")
	check(unix.Unmount(".", unix.MNT_DETACH), "detach staging root and host tree")
	check(unix.Chdir("/"), "chdir /")
	check(setattr("/", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, false), "make / read-only")
	check(unix.Sethostname([]byte("cubby")), "sethostname")

	cwd := filepath.Join("/home", spec.User, spec.Dir)
	check(unix.Chdir(cwd), "working directory %s", spec.Dir)

	// From here on only the program's fds may survive exec: everything
	// inherited (fds the server got without O_CLOEXEC) is marked CLOEXEC.
	check(unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC), "close_range")
	statusFD, err := unix.FcntlInt(initStatusFD, unix.F_DUPFD_CLOEXEC, 3)
	check(err, "dup status fd")
	check(unix.Dup3(stdio[0], 0, 0), "dup stdin")
	check(unix.Dup3(stdio[1], 1, 0), "dup stdout")
	stderrFD := stdio[2]

	check(unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
	keptExe := -1
	if spec.Keep {
		keptExe = exeFD
	}
	if spec.Landlock > 0 {
		check(applyLandlock(spec.Landlock, sysDirs, "/home/"+spec.User, keptExe), "landlock")
	}
	dropCaps()
	if spec.Keep {
		// The keeper starts as a fresh process of one thread that has all
		// of the restrictions above, so every thread it makes has them
		// too; the control socket stays open across the exec.
		_, err := unix.FcntlInt(initCtlFD, unix.F_SETFD, 0)
		check(err, "keep control socket")
		if spec.Seccomp {
			check(applySeccomp(), "seccomp")
		}
		spec.Argv = []string{"cubby-jail", keeperArg, spec.User}
		spec.Env = initEnv()
		execProgram(fmt.Sprintf("/proc/self/fd/%d", exeFD), spec, statusFD, initStatusFD)
	}

	// Resolve the program as the unprivileged user, inside the jail.
	path, found := lookPath(spec.Argv[0])
	if !found {
		unix.Write(statusFD, []byte{statusNotFound})
		unix.Exit(127)
	}
	if spec.Seccomp {
		check(applySeccomp(), "seccomp")
	}
	execProgram(path, spec, statusFD, stderrFD)
}

// warmSpec is a sample request decoded while the init waits in the pool.
const warmSpec = `{"User":"u","Home":"/h","Dir":".","Argv":["a"],"Env":["A=b"],"TmpSize":1,"Rlimits":[{"Resource":1,"Cur":1,"Max":1}],"Landlock":1,"Seccomp":true,"Mounts":[{"Source":"/s","Target":"t","ReadOnly":true}]}`

// tmpFlags are the mount flags of the jail's /tmp.
const tmpFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// tmpOptions returns the tmpfs options of a /tmp of size bytes.
func tmpOptions(size int64) string {
	return fmt.Sprintf("size=%d,nr_inodes=%d,mode=1777", size, max(size/4096, 64))
}

// mountFolders makes spec's mounts inside the bound home, in order.
// Another session of the user may be running programs in the same home
// meanwhile, so every mount point is reached through file descriptors,
// beneath the home and without following any symbolic link, and the
// mount is attached to that descriptor: no path is looked up twice.
// A mount whose point cannot be made or is not a directory is skipped.
func mountFolders(home string, mounts []mountSpec) {
	if len(mounts) == 0 {
		return
	}
	homeFD, err := unix.Open(home, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	check(err, "open home")
	defer unix.Close(homeFD)
	var empties []int // empty directories to make read-only at the end
	for _, m := range mounts {
		dirFD, err := mountPoint(homeFD, m.Target)
		if err != nil {
			continue // the server explains it to the user
		}
		attrs := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC)
		var tree int
		if m.Source == "" {
			tree, err = emptyDir()
			check(err, "make the folder ~/%s", m.Target)
		} else {
			// No link followed: validateMounts saw none on the path.
			src, err := openNoSymlinks(unix.AT_FDCWD, "/oldroot"+m.Source)
			check(err, "open %s for ~/%s", m.Source, m.Target)
			tree, err = unix.OpenTree(src, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
			check(err, "clone %s for ~/%s", m.Source, m.Target)
			unix.Close(src)
			if m.ReadOnly {
				attrs |= unix.MOUNT_ATTR_RDONLY
			}
		}
		check(unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: attrs}), "restrict ~/%s", m.Target)
		check(unix.MoveMount(tree, "", dirFD, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH), "mount ~/%s", m.Target)
		unix.Close(dirFD)
		if m.Source == "" && m.ReadOnly {
			empties = append(empties, tree)
		} else {
			unix.Close(tree)
		}
	}
	for _, fd := range empties {
		check(unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}), "make a folder read-only")
		unix.Close(fd)
	}
}

// mountPoint opens (making it where missing) the directory target below
// dirFD, one name at a time, refusing symbolic links and anything that
// would leave dirFD.
func mountPoint(dirFD int, target string) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	cur := dirFD
	for _, name := range strings.Split(target, "/") {
		next, err := unix.Openat2(cur, name, how)
		if err == unix.ENOENT {
			if err = unix.Mkdirat(cur, name, 0o755); err == nil || err == unix.EEXIST {
				next, err = unix.Openat2(cur, name, how)
			}
		}
		if cur != dirFD {
			unix.Close(cur)
		}
		if err != nil {
			return -1, fmt.Errorf("mount point %s: %w", target, err)
		}
		cur = next
	}
	return cur, nil
}

// emptyDir makes a detached tmpfs just big enough for mount points.
func emptyDir() (int, error) {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fs)
	for _, kv := range [][2]string{{"size", "64k"}, {"nr_inodes", "1024"}, {"mode", "0755"}} {
		if err := unix.FsconfigSetString(fs, kv[0], kv[1]); err != nil {
			return -1, fmt.Errorf("tmpfs %s=%s: %w", kv[0], kv[1], err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
}

// setattr sets mount attributes with mount_setattr, which only adds flags
// and so never trips over flags locked by the user namespace.
func setattr(path string, set uint64, recursive bool) error {
	flags := uint(unix.AT_SYMLINK_NOFOLLOW)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	return unix.MountSetattr(unix.AT_FDCWD, path, flags, &unix.MountAttr{Attr_set: set})
}

// bindFile bind-mounts the file src over a new empty file dst.
func bindFile(src, dst string, attrs uint64) error {
	if err := os.WriteFile(dst, nil, 0o644); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return setattr(dst, attrs, false)
}

func buildDev(nr string) {
	dev := nr + "/dev"
	check(unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755"), "mount /dev")
	// mknod is impossible in a user namespace: bind the host's nodes.
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		check(bindFile("/oldroot/dev/"+n, dev+"/"+n, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC), "bind /dev/%s", n)
	}
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		check(os.Symlink(target, dev+"/"+name), "symlink /dev/%s", name)
	}
	check(setattr(dev, unix.MOUNT_ATTR_RDONLY, false), "make /dev read-only")
}

func buildProc(nr string) {
	proc := nr + "/proc"
	check(unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""), "mount /proc")
	// No nested user namespaces: a per-userns sysctl that the capability-less
	// program cannot raise again. Most unprivileged kernel exploits need one.
	check(os.WriteFile(proc+"/sys/user/max_user_namespaces", []byte("0"), 0), "disable nested user namespaces")
	// Mask files that leak host details or poke the kernel (runc's list).
	for _, f := range []string{"kcore", "keys", "timer_list", "sched_debug", "latency_stats", "kallsyms", "kmsg", "sysrq-trigger", "config.gz"} {
		p := proc + "/" + f
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		check(unix.Mount(nr+"/dev/null", p, "", unix.MS_BIND, ""), "mask /proc/%s", f)
	}
	for _, d := range []string{"sys", "irq", "bus", "fs", "acpi", "scsi"} {
		p := proc + "/" + d
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			continue
		}
		check(unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""), "bind /proc/%s", d)
		check(setattr(p, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, true), "make /proc/%s read-only", d)
	}
}

func buildEtc(nr string) {
	etc := nr + "/etc"
	files := map[string]string{
		"hosts":         "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
		"hostname":      "cubby\n",
		"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
	}
	for name, content := range files {
		check(os.WriteFile(etc+"/"+name, []byte(content), 0o644), "write /etc/%s", name)
	}
	if _, err := os.Stat("/oldroot/etc/ld.so.cache"); err == nil {
		check(bindFile("/oldroot/etc/ld.so.cache", etc+"/ld.so.cache", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC), "bind /etc/ld.so.cache")
	}
	// localtime is usually a symlink into /usr/share/zoneinfo, which the
	// jail has; otherwise copy the file.
	if target, err := os.Readlink("/oldroot/etc/localtime"); err == nil && strings.HasPrefix(target, "/usr/") {
		check(os.Symlink(target, etc+"/localtime"), "symlink /etc/localtime")
	} else if b, err := os.ReadFile("/oldroot/etc/localtime"); err == nil && len(b) < 1<<20 {
		check(os.WriteFile(etc+"/localtime", b, 0o644), "write /etc/localtime")
	}
}

// receiveSpec waits for the request on the control socket.
func receiveSpec() (*initSpec, [3]int) {
	buf := make([]byte, maxSpecLen)
	oob := make([]byte, unix.CmsgSpace(3*4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(initCtlFD, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	check(err, "receive request")
	if n == 0 {
		unix.Exit(0) // the pool was closed
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	check(err, "parse control message")
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		check(err, "parse fds")
		fds = append(fds, f...)
	}
	if len(fds) != 3 {
		initFail("got %d stdio fds, want 3", len(fds))
	}
	var spec initSpec
	check(json.Unmarshal(buf[:n], &spec), "decode request")
	if len(spec.Argv) == 0 && !spec.Keep || !validUser(spec.User) {
		initFail("bad request")
	}
	if !spec.Keep {
		unix.Close(initCtlFD)
	}
	return &spec, [3]int{fds[0], fds[1], fds[2]}
}

// dropCaps empties every capability set. It needs CAP_SETPCAP for the
// bounding set, so it runs after everything privileged.
func dropCaps() {
	for c := 0; c <= 63; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err == unix.EINVAL {
			break
		} else {
			check(err, "drop bounding capability %d", c)
		}
	}
	check(unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	check(unix.Capset(&hdr, &data[0]), "capset")
}

// lookPath resolves argv[0] like execvp, in the jail's fixed PATH.
func lookPath(name string) (string, bool) {
	isExec := func(p string) bool {
		var st unix.Stat_t
		return unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0
	}
	if strings.Contains(name, "/") {
		return name, isExec(name)
	}
	for _, dir := range strings.Split(searchPath, ":") {
		if p := dir + "/" + name; isExec(p) {
			return p, true
		}
	}
	return "", false
}

// execProgram applies the rlimits and execs the program with raw system
// calls only: once RLIMIT_AS is set, the Go runtime may not allocate (its
// arena reservation alone exceeds typical limits).
func execProgram(path string, spec *initSpec, statusFD, stderrFD int) {
	argv0, err := unix.BytePtrFromString(path)
	check(err, "argv")
	argv, envv := cStrings(spec.Argv), cStrings(spec.Env)
	// Lower, never raise: a limit above the inherited hard limit would fail
	// without CAP_SYS_RESOURCE.
	lims := make([]unix.Rlimit, len(spec.Rlimits))
	for i, l := range spec.Rlimits {
		var cur unix.Rlimit
		check(unix.Prlimit(0, l.Resource, nil, &cur), "getrlimit")
		lims[i] = unix.Rlimit{Cur: min(l.Cur, cur.Max), Max: min(l.Max, cur.Max)}
	}
	execBuf := [1]byte{statusExec}
	errBuf := [5]byte{statusExecErr}
	var sigset [8]byte // empty mask
	var dfl [4]uintptr // struct sigaction{SIG_DFL, 0, 0, 0}

	// Nothing below may allocate or enter the Go scheduler.
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig != uintptr(syscall.SIGKILL) && sig != uintptr(syscall.SIGSTOP) {
			syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl[0])), 0, 8, 0, 0)
		}
	}
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&sigset[0])), 0, 8, 0, 0)
	for i := range lims {
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(spec.Rlimits[i].Resource), uintptr(unsafe.Pointer(&lims[i])), 0, 0, 0); e != 0 {
			errBuf[1], errBuf[2], errBuf[3], errBuf[4] = byte(e), byte(e>>8), byte(e>>16), byte(e>>24)
			syscall.RawSyscall(unix.SYS_WRITE, uintptr(statusFD), uintptr(unsafe.Pointer(&errBuf[0])), 5)
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 126, 0, 0)
		}
	}
	syscall.RawSyscall(unix.SYS_WRITE, uintptr(statusFD), uintptr(unsafe.Pointer(&execBuf[0])), 1)
	// The real stderr replaces the status pipe as fd 2 only now; the
	// CLOEXEC copy closes at execve, which the parent sees as EOF.
	syscall.RawSyscall(unix.SYS_DUP3, uintptr(stderrFD), 2, 0)
	_, _, e := syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(argv0)), uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
	errBuf[1], errBuf[2], errBuf[3], errBuf[4] = byte(e), byte(e>>8), byte(e>>16), byte(e>>24)
	syscall.RawSyscall(unix.SYS_WRITE, uintptr(statusFD), uintptr(unsafe.Pointer(&errBuf[0])), 5)
	code := uintptr(126)
	if e == syscall.ENOENT {
		code = 127
	}
	syscall.RawSyscall(unix.SYS_EXIT_GROUP, code, 0, 0)
}

// cStrings returns a NULL-terminated array of C strings.
func cStrings(ss []string) []*byte {
	p := make([]*byte, len(ss)+1)
	for i, s := range ss {
		b, err := unix.BytePtrFromString(s)
		check(err, "argument %d", i)
		p[i] = b
	}
	return p
}

// errnoFrom decodes the errno after statusExecErr.
func errnoFrom(b []byte) syscall.Errno {
	if len(b) < 4 {
		return syscall.EIO
	}
	return syscall.Errno(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}
