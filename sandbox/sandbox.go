//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// InitArg is os.Args[1] when the binary is re-executed as the jail's init.
const InitArg = "__cubby_sandbox_init"

// jailUID and jailGID are the only ids that exist inside a jail.
const (
	jailUID = 1000
	jailGID = 1000
)

// searchPath is the PATH of the jail; argv[0] without a slash is looked up
// in these directories inside the jail.
const searchPath = "/usr/local/bin:/usr/bin:/bin"

// Errors returned by [Jail.Run].
var (
	// ErrNotFound means argv[0] does not name an executable file in the
	// jail; the exit code is 127.
	ErrNotFound = errors.New("sandbox: command not found")
	// ErrTimeout means the command ran longer than Limits.WallClock and was
	// killed with all its processes.
	ErrTimeout = errors.New("sandbox: wall-clock limit reached; command killed")
	// ErrOutputLimit means the command wrote more than Limits.Output bytes
	// to stdout and stderr; the output was cut and the command killed.
	ErrOutputLimit = errors.New("sandbox: output limit reached; command killed")

	errClosed = errors.New("sandbox: jail is closed")
)

// Limits are the resource limits of one jail. A zero field means the value
// of [DefaultLimits].
type Limits struct {
	CPUTime   time.Duration // RLIMIT_CPU of every process (SIGXCPU, then SIGKILL one second later)
	Memory    int64         // bytes: RLIMIT_AS of every process, and the memory cgroup limit of the whole jail when cgroups are used
	Processes int64         // RLIMIT_NPROC (counted per host uid, see Config), and pids.max of the jail's cgroup when cgroups are used
	FileSize  int64         // RLIMIT_FSIZE bytes
	OpenFiles int64         // RLIMIT_NOFILE
	WallClock time.Duration // Run kills the whole jail after this long
	Output    int64         // max bytes of stdout+stderr forwarded; the excess is cut, the jail killed and a notice written to Stderr
	TmpSize   int64         // size cap of the private /tmp tmpfs (it counts as memory)
}

// DefaultLimits returns the limits used for zero fields of [Limits].
func DefaultLimits() Limits {
	return Limits{
		CPUTime:   60 * time.Second,
		Memory:    512 << 20,
		Processes: 64,
		FileSize:  1 << 30,
		OpenFiles: 256,
		WallClock: 60 * time.Second,
		Output:    1 << 20,
		TmpSize:   16 << 20,
	}
}

// withDefaults fills zero fields from DefaultLimits and rejects negative ones.
func (l Limits) withDefaults() (Limits, error) {
	d := DefaultLimits()
	fill := func(name string, v *int64, def int64) error {
		switch {
		case *v < 0:
			return fmt.Errorf("sandbox: negative limit %s", name)
		case *v == 0:
			*v = def
		}
		return nil
	}
	fillDur := func(name string, v *time.Duration, def time.Duration) error {
		n := int64(*v)
		if err := fill(name, &n, int64(def)); err != nil {
			return err
		}
		*v = time.Duration(n)
		return nil
	}
	for _, err := range []error{
		fillDur("CPUTime", &l.CPUTime, d.CPUTime),
		fill("Memory", &l.Memory, d.Memory),
		fill("Processes", &l.Processes, d.Processes),
		fill("FileSize", &l.FileSize, d.FileSize),
		fill("OpenFiles", &l.OpenFiles, d.OpenFiles),
		fillDur("WallClock", &l.WallClock, d.WallClock),
		fill("Output", &l.Output, d.Output),
		fill("TmpSize", &l.TmpSize, d.TmpSize),
	} {
		if err != nil {
			return l, err
		}
	}
	return l, nil
}

// Spec describes one command to run in a jail.
type Spec struct {
	User   string    // jail user name (^[a-z_][a-z0-9_-]{0,31}$), shown in /etc/passwd; HOME=/home/<User>
	Home   string    // absolute host path of the user's home, bound read-write at /home/<User>
	Dir    string    // working directory relative to the home, clean; "" or "." is the home
	Argv   []string  // argv[0]: a name looked up in PATH (/usr/local/bin:/usr/bin:/bin) or a path inside the jail
	Env    []string  // client environment; only TERM, LANG and LC_* are honoured
	Stdin  io.Reader // nil means an empty stdin
	Stdout io.Writer // written from Run's goroutines as output is produced; nil discards
	Stderr io.Writer // as Stdout; Stdout and Stderr are never written concurrently
	Limits Limits
	// Usage, when not nil, receives what the program used once Run has
	// started it: for the audit log, which must say what a command cost.
	Usage *Usage
	// Mounts show host directories inside the home, in order, after the
	// home is bound; see Mount.
	Mounts []Mount
}

// Mount shows a host directory at a place inside the jail's home, always
// nosuid, nodev and noexec. The mount point is made in the home if it is
// missing and found without following any symbolic link: when the user
// put a link or a file there (or anything else stops it), the mount is
// skipped and the program runs without it; the caller, who made the mount
// points, can tell the user why.
type Mount struct {
	// Source is the absolute host directory shown, bound with what it
	// holds but without the mounts below it. No symbolic link may be on
	// its path (resolve it first, and check what it resolved to): the
	// init follows none, so that whoever owns a directory on the way
	// cannot swap in a link, between the caller's check and the mount,
	// that leads somewhere else. "" makes an empty directory
	// that only the jail sees (a tiny tmpfs), in which later mounts can
	// put their mount points: so a folder of mounts can be read-only
	// and hold nothing else.
	Source string
	// Target is where it appears, relative to the home: clean, not "."
	// and without "..", such as "handouts" or "submit/hw3".
	Target string
	// ReadOnly makes the mount read-only for the program. An empty
	// directory becomes read-only once every mount has been made.
	ReadOnly bool
}

// openNoSymlinks opens the directory name (relative to dirFD) as O_PATH,
// following no symbolic link on its way.
func openNoSymlinks(dirFD int, name string) (int, error) {
	return unix.Openat2(dirFD, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// maxMounts bounds Spec.Mounts.
const maxMounts = 256

// Usage is what a jailed program used: its own CPU time and that of the
// children it waited for. In a fresh jail, processes it left behind are
// killed with the jail and not counted, and the init's setup before exec
// (a few ms) is; in a kept jail, the keeper reaps every process of the
// command and counts them all, and nothing else.
type Usage struct {
	CPUTime time.Duration
}

// Config configures a [Jail].
type Config struct {
	// HostUID and HostGID are the unprivileged host ids that the jail's
	// single uid and gid (1000 inside) map to. When the server is not root
	// they must be its own euid and egid, because an unprivileged user
	// namespace can only map those. When the server is root they must not be
	// 0: use a service account that owns the homes.
	HostUID, HostGID int
}

// Jail runs commands in jails. It is safe for concurrent use.
type Jail struct {
	cfg         Config
	root        bool // the server runs as root
	setgroups   bool // drop supplementary groups with setgroups (root with groups)
	landlock    int  // Landlock ABI, 0 when unavailable
	seccomp     bool
	cgroup      cgroupSet // nil when cgroups are not used
	cgroupWhy   string    // why cgroup v2 (and v1) are not used, for Features
	noKeep      string    // why sessions do not keep jails ("" when they do)
	devNull     *os.File
	features    string
	pool        chan *proc
	refill      chan struct{}
	closing     chan struct{}
	mu          sync.Mutex // guards closed and the WaitGroup's Add
	closed      bool
	wg          sync.WaitGroup
	testHookPID func(pid int) // called with the host pid of each jail's PID 1 (tests)
}

// poolSize is the number of jails whose init is started ahead of time, so
// the Go runtime start of the init is off the request path.
const poolSize = 2

// validDir reports whether dir, a working directory relative to the
// home, is clean and stays in the home.
func validDir(dir string) bool {
	return !filepath.IsAbs(dir) && filepath.Clean(dir) == dir && dir != ".." && !strings.HasPrefix(dir, "../")
}

// validUser reports whether name matches ^[a-z_][a-z0-9_-]{0,31}$. It is
// not a regexp so that the jail's init, which runs every package's
// initialisation, does not compile one.
func validUser(name string) bool {
	if len(name) == 0 || len(name) > 32 {
		return false
	}
	for i, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// New checks that the kernel can build jails by building one that runs a
// self-check, and returns a Jail ready to run commands. Its error is one
// line naming what is missing.
func New(cfg Config) (*Jail, error) { return newJail(cfg, nil) }

// newJail is New with a hook called with the host pid of every jail's
// PID 1 as it starts (for tests).
func newJail(cfg Config, hookPID func(pid int)) (*Jail, error) {
	euid := os.Geteuid()
	j := &Jail{cfg: cfg, root: euid == 0, testHookPID: hookPID}
	switch {
	case j.root && (cfg.HostUID <= 0 || cfg.HostGID <= 0):
		return nil, fmt.Errorf("sandbox: running as root, Config.HostUID/HostGID must be an unprivileged service account, not %d/%d", cfg.HostUID, cfg.HostGID)
	case !j.root && (cfg.HostUID != euid || cfg.HostGID != os.Getegid()):
		return nil, fmt.Errorf("sandbox: running as uid %d, Config.HostUID/HostGID must be %d/%d (an unprivileged user namespace can only map the server's own ids)", euid, euid, os.Getegid())
	case cfg.HostUID > 1<<31 || cfg.HostGID > 1<<31:
		return nil, fmt.Errorf("sandbox: HostUID/HostGID %d/%d out of range", cfg.HostUID, cfg.HostGID)
	}
	if err := checkKernel(j.root); err != nil {
		return nil, err
	}
	if j.root {
		groups, err := unix.Getgroups()
		if err != nil {
			return nil, fmt.Errorf("sandbox: getgroups: %w", err)
		}
		j.setgroups = len(groups) > 0
	}
	j.landlock = landlockABI()
	j.seccomp = seccompAvailable()
	j.cgroup, j.cgroupWhy = chooseCgroups(j.root)
	var err error
	if j.devNull, err = os.Open(os.DevNull); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	j.pool = make(chan *proc, poolSize)
	j.refill = make(chan struct{}, 1)
	j.closing = make(chan struct{})
	if err := j.selfCheck(); err != nil {
		j.Close()
		return nil, err
	}
	j.features = j.describe()
	j.wg.Add(1)
	go j.refiller()
	j.kick()
	return j, nil
}

// chooseCgroups returns cgroup v2 when this process can manage a subtree
// with the memory and pids controllers, else cgroup v1 as root, else nil;
// and why the better ones are not usable.
func chooseCgroups(root bool) (cgroupSet, string) {
	var why []string
	mount, own, err := cgroupV2Mount()
	if err == nil {
		var c *cgroupV2
		if c, err = newCgroupV2(mount, own, os.Getpid()); err == nil {
			return c, ""
		}
	}
	why = append(why, "v2: "+err.Error())
	if !root {
		return nil, strings.Join(append(why, "v1: needs root"), "; ")
	}
	if c := newCgroupV1(); c != nil {
		return c, strings.Join(why, "; ")
	}
	return nil, strings.Join(append(why, "v1: no usable memory and pids hierarchies"), "; ")
}

// checkKernel reports kernel settings that certainly prevent user
// namespaces, with the sysctl to change.
func checkKernel(root bool) error {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	if read("/proc/sys/user/max_user_namespaces") == "0" {
		return errors.New("sandbox: user namespaces are disabled (sysctl user.max_user_namespaces=0); set it above 0")
	}
	if root {
		return nil
	}
	if read("/proc/sys/kernel/unprivileged_userns_clone") == "0" {
		return errors.New("sandbox: user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0); enable them or run cubbyd as root")
	}
	if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" {
		return errors.New("sandbox: AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=1); allow them for cubbyd or run it as root")
	}
	return nil
}

// describe builds the Features line.
func (j *Jail) describe() string {
	var b strings.Builder
	b.WriteString("sandbox: namespaces user,mnt,pid,net,ipc,uts,cgroup")
	if j.root {
		fmt.Fprintf(&b, "; mode root (jail uid 1000 = host %d:%d)", j.cfg.HostUID, j.cfg.HostGID)
	} else {
		fmt.Fprintf(&b, "; mode unprivileged userns (jail uid 1000 = host %d:%d, shared with the server)", j.cfg.HostUID, j.cfg.HostGID)
	}
	switch {
	case j.cgroup != nil && j.cgroupWhy == "":
		fmt.Fprintf(&b, "; limits: %s, also rlimits AS,NPROC,CPU,FSIZE,NOFILE,CORE", j.cgroup.describe())
	case j.cgroup != nil:
		fmt.Fprintf(&b, "; limits: %s (not %s), also rlimits AS,NPROC,CPU,FSIZE,NOFILE,CORE", j.cgroup.describe(), j.cgroupWhy)
	default:
		fmt.Fprintf(&b, "; limits: rlimits AS,NPROC,CPU,FSIZE,NOFILE,CORE only (no usable cgroup: %s)", j.cgroupWhy)
	}
	if j.landlock > 0 {
		fmt.Fprintf(&b, "; landlock ABI %d", j.landlock)
	} else {
		b.WriteString("; landlock no")
	}
	if j.seccomp {
		b.WriteString("; seccomp yes")
	} else {
		b.WriteString("; seccomp no")
	}
	fmt.Fprintf(&b, "; spawn: re-exec Go init, %d pre-forked", poolSize)
	switch {
	case j.cgroup == nil:
		b.WriteString("; kept jails: no (they need a memory cgroup)")
	case j.noKeep != "":
		fmt.Fprintf(&b, "; kept jails: no (%s)", j.noKeep)
	default:
		b.WriteString("; kept jails: from a session's 2nd command")
	}
	return b.String()
}

// Features returns one line for the startup log: what enforces each limit,
// the Landlock ABI, seccomp and the spawn mode.
func (j *Jail) Features() string { return j.features }

// Close stops the pre-forked inits. Runs in progress are not interrupted;
// Run after Close returns an error.
func (j *Jail) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	close(j.closing)
	j.mu.Unlock()
	j.wg.Wait()
	for {
		select {
		case p := <-j.pool:
			p.discard()
			continue
		default:
		}
		break
	}
	if j.devNull != nil {
		j.devNull.Close()
	}
	if j.cgroup != nil {
		j.cgroup.close()
	}
	return nil
}

// validate checks spec and returns the cleaned host home path.
func (j *Jail) validate(spec *Spec) (home string, err error) {
	if !validUser(spec.User) {
		return "", fmt.Errorf("sandbox: invalid user name %q", spec.User)
	}
	if !filepath.IsAbs(spec.Home) || filepath.Clean(spec.Home) != spec.Home {
		return "", fmt.Errorf("sandbox: home %q is not a clean absolute path", spec.Home)
	}
	home, err = filepath.EvalSymlinks(spec.Home)
	if err != nil {
		return "", fmt.Errorf("sandbox: home: %w", err)
	}
	st, err := os.Stat(home)
	if err != nil {
		return "", fmt.Errorf("sandbox: home: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("sandbox: home %q is not a directory", spec.Home)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != j.cfg.HostUID {
		return "", fmt.Errorf("sandbox: home %q is owned by uid %d, not HostUID %d", spec.Home, sys.Uid, j.cfg.HostUID)
	}
	if spec.Dir == "" {
		spec.Dir = "."
	}
	if !validDir(spec.Dir) {
		return "", fmt.Errorf("sandbox: invalid working directory %q", spec.Dir)
	}
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return "", errors.New("sandbox: empty command")
	}
	strs := append([]string{spec.User, home, spec.Dir}, spec.Argv...)
	strs = append(strs, spec.Env...)
	for _, s := range strs {
		if strings.IndexByte(s, 0) >= 0 {
			return "", errors.New("sandbox: NUL byte in command")
		}
	}
	return home, nil
}

// validateMounts checks spec's mounts and returns them for the init.
func validateMounts(mounts []Mount) ([]mountSpec, error) {
	if len(mounts) > maxMounts {
		return nil, fmt.Errorf("sandbox: %d mounts, more than %d", len(mounts), maxMounts)
	}
	out := make([]mountSpec, 0, len(mounts))
	seen := make(map[string]bool, len(mounts))
	for _, m := range mounts {
		t := m.Target
		if t == "" || t == "." || filepath.IsAbs(t) || filepath.Clean(t) != t || t == ".." || strings.HasPrefix(t, "../") || strings.IndexByte(t, 0) >= 0 {
			return nil, fmt.Errorf("sandbox: mount target %q is not a clean path inside the home", t)
		}
		if seen[t] {
			return nil, fmt.Errorf("sandbox: two mounts at %q", t)
		}
		seen[t] = true
		ms := mountSpec{Target: t, ReadOnly: m.ReadOnly}
		if m.Source != "" {
			if !filepath.IsAbs(m.Source) || filepath.Clean(m.Source) != m.Source || strings.IndexByte(m.Source, 0) >= 0 {
				return nil, fmt.Errorf("sandbox: mount source %q is not a clean absolute path", m.Source)
			}
			fd, err := openNoSymlinks(unix.AT_FDCWD, m.Source)
			if err != nil {
				return nil, fmt.Errorf("sandbox: mount source %q: %w (it must be a directory reached without symbolic links)", m.Source, err)
			}
			unix.Close(fd)
			ms.Source = m.Source
		}
		out = append(out, ms)
	}
	return out, nil
}

// buildEnv returns the environment of the user's program: fixed variables
// plus TERM, LANG and LC_* from the client.
func buildEnv(user, cwd string, client []string) []string {
	vars := map[string]string{"TERM": "dumb", "LANG": "C.UTF-8"}
	order := []string{"TERM", "LANG"}
	for _, kv := range client {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !(k == "TERM" || k == "LANG" || (strings.HasPrefix(k, "LC_") && isEnvName(k))) {
			continue
		}
		if _, seen := vars[k]; !seen {
			order = append(order, k)
		}
		vars[k] = v
	}
	env := []string{
		"PATH=" + searchPath,
		"HOME=/home/" + user,
		"USER=" + user,
		"LOGNAME=" + user,
		"SHELL=/bin/sh",
		"PWD=" + cwd,
		"TMPDIR=/tmp",
	}
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env
}

func isEnvName(s string) bool {
	for _, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// formatSize formats n bytes for the output-limit notice, e.g. "1.0 MiB".
func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
