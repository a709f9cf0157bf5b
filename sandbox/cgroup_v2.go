//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// serverLeaf is the leaf cgroup the server moves itself into when it is
// alone in its cgroup, so that the cgroup can enable controllers for the
// jails (cgroup v2 allows no processes in a cgroup that does).
const serverLeaf = "cubby-server"

// cgroupV2 puts each jail into its own child of a cgroup v2 subtree that
// this process may manage: the root cgroup (as root), its own cgroup when
// it is alone there (typically a systemd unit with Delegate=yes), or a
// sibling when the parent already enables memory and pids.
//
// Each jail's init is created directly in its cgroup with clone3
// CLONE_INTO_CGROUP ([syscall.SysProcAttr.UseCgroupFD]); on kernels
// without it, it is moved there before it reads its request.
type cgroupV2 struct {
	reaper
	root   string // mount point of the unified hierarchy; a fake in tests
	parent string // <base>/cubby-sandbox-<pid>: memory and pids enabled for its children
	swap   bool   // memory.swap.max exists
	useFD  atomic.Bool
	seq    atomic.Uint64
	// undo puts the server back where it was if setup fails after moving
	// it into serverLeaf.
	undo func()
	// mkdir and rmdir create and remove cgroups; tests replace them with
	// a fake that adds the interface files the kernel would.
	mkdir, rmdir func(string) error
}

// cgroupV2Mount returns the mount point of the unified hierarchy
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems) and this
// process's cgroup in it, or an error saying why there is none.
func cgroupV2Mount() (mount, own string, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, pfields := strings.Fields(pre), strings.Fields(post)
		if ok && len(fields) >= 5 && len(pfields) >= 1 && pfields[0] == "cgroup2" && fields[3] == "/" {
			mount = fields[4]
			break
		}
	}
	if mount == "" {
		return "", "", errors.New("no cgroup2 mount")
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return mount, p, nil
		}
	}
	return "", "", errors.New("no cgroup v2 entry in /proc/self/cgroup")
}

// newCgroupV2 sets up jail cgroups in the unified hierarchy mounted at
// root, for process pid whose cgroup is own.
func newCgroupV2(root, own string, pid int) (*cgroupV2, error) {
	c := &cgroupV2{root: root, mkdir: func(p string) error { return os.Mkdir(p, 0o755) }, rmdir: os.Remove}
	if err := c.setup(own, pid); err != nil {
		return nil, err
	}
	return c, nil
}

// v2Controllers are the controllers each jail's cgroup needs.
var v2Controllers = []string{"memory", "pids"}

func (c *cgroupV2) setup(own string, pid int) (err error) {
	if !strings.HasPrefix(own, "/") || filepath.Clean(own) != own {
		return fmt.Errorf("odd cgroup path %q", own)
	}
	if c.root, err = filepath.Abs(c.root); err != nil {
		return err
	}
	defer func() {
		if err != nil && c.undo != nil {
			c.undo()
		}
	}()
	base, err := c.base(own, pid)
	if err != nil {
		return err
	}
	removeStale(base)
	c.parent = filepath.Join(base, fmt.Sprintf("cubby-sandbox-%d", pid))
	if err := c.mkdir(c.parent); err != nil {
		return err
	}
	if err := writeCgroup(c.parent, "cgroup.subtree_control", "+memory +pids"); err != nil {
		c.rmdir(c.parent)
		return fmt.Errorf("enable controllers below %s: %w", c.parent, err)
	}
	// Probe that limits can be set in a child.
	probe := filepath.Join(c.parent, "probe")
	if err := c.mkdir(probe); err != nil {
		c.rmdir(c.parent)
		return err
	}
	_, serr := os.Stat(filepath.Join(probe, "memory.swap.max"))
	c.swap = serr == nil
	cj := &cgroupJail{v2: true, swap: c.swap, dirs: []string{probe}, rmdir: c.rmdir}
	err = cj.setLimits(64<<20, 16)
	cj.remove()
	if err != nil {
		c.rmdir(c.parent)
		return err
	}
	c.useFD.Store(true)
	return nil
}

// base returns the cgroup below which the jails' parent is created, after
// making sure it enables memory and pids for its children.
func (c *cgroupV2) base(own string, pid int) (string, error) {
	ownDir := filepath.Join(c.root, own)
	if err := hasControllers(ownDir, "cgroup.controllers"); err != nil {
		return "", err
	}
	if own == "/" {
		// The root cgroup may have processes and enable controllers.
		if err := writeCgroup(ownDir, "cgroup.subtree_control", "+memory +pids"); err != nil {
			return "", fmt.Errorf("enable controllers in %s: %w", ownDir, err)
		}
		return ownDir, nil
	}
	if filepath.Base(own) == serverLeaf {
		// An earlier Jail of this process moved it here already.
		parent := filepath.Dir(ownDir)
		if hasControllers(parent, "cgroup.subtree_control") == nil {
			return parent, nil
		}
	}
	procs, err := os.ReadFile(filepath.Join(ownDir, "cgroup.procs"))
	if err != nil {
		return "", err
	}
	if others := slices.DeleteFunc(strings.Fields(string(procs)), func(p string) bool { return p == strconv.Itoa(pid) }); len(others) == 0 {
		// Alone in our cgroup: move into a leaf, then enable the
		// controllers for the children of our cgroup.
		leaf := filepath.Join(ownDir, serverLeaf)
		if err := c.mkdir(leaf); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
		if err := writeCgroup(leaf, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			c.rmdir(leaf)
			return "", fmt.Errorf("move the server into %s: %w", leaf, err)
		}
		c.undo = func() {
			writeCgroup(ownDir, "cgroup.procs", strconv.Itoa(pid))
			c.rmdir(leaf)
		}
		if err := writeCgroup(ownDir, "cgroup.subtree_control", "+memory +pids"); err != nil {
			return "", fmt.Errorf("enable controllers in %s: %w", ownDir, err)
		}
		return ownDir, nil
	}
	// Other processes share our cgroup: use a sibling, if the parent
	// already enables the controllers (it has no processes then).
	parent := filepath.Dir(ownDir)
	if err := hasControllers(parent, "cgroup.subtree_control"); err != nil {
		return "", fmt.Errorf("%s has other processes and %w", ownDir, err)
	}
	return parent, nil
}

// hasControllers checks that the controller list in dir/file has the
// memory and pids controllers.
func hasControllers(dir, file string) error {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return err
	}
	have := strings.Fields(string(b))
	var missing []string
	for _, c := range v2Controllers {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s lacks %s", filepath.Join(dir, file), strings.Join(missing, ","))
	}
	return nil
}

// writeCgroup writes one value to an existing cgroup interface file.
func writeCgroup(dir, file, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	return errors.Join(err, f.Close())
}

func (c *cgroupV2) describe() string {
	return fmt.Sprintf("memory+pids by cgroup v2 (%s)", c.parent)
}

// prepare makes the jail's cgroup and, unless the kernel lacks
// CLONE_INTO_CGROUP, opens it for the clone of the init.
func (c *cgroupV2) prepare() (*cgroupJail, error) {
	dir := filepath.Join(c.parent, "jail-"+strconv.FormatUint(c.seq.Add(1), 10))
	if err := c.mkdir(dir); err != nil {
		return nil, fmt.Errorf("sandbox: cgroup: %w", err)
	}
	cj := &cgroupJail{v2: true, swap: c.swap, dirs: []string{dir}, rmdir: c.rmdir}
	if c.useFD.Load() {
		f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			cj.remove()
			return nil, fmt.Errorf("sandbox: cgroup: %w", err)
		}
		cj.fd = f
	}
	return cj, nil
}

// place moves pid into the jail's cgroup, unless clone3 already put it
// there.
func (c *cgroupV2) place(cj *cgroupJail, pid int) error {
	if cj.fd != nil {
		cj.fd.Close()
		cj.fd = nil
		return nil
	}
	if err := writeCgroup(cj.dirs[0], "cgroup.procs", strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("sandbox: cgroup: %w", err)
	}
	return nil
}

// noCgroupFD is called when clone3 with CLONE_INTO_CGROUP failed: later
// inits are moved with cgroup.procs instead.
func (c *cgroupV2) noCgroupFD(cj *cgroupJail) {
	c.useFD.Store(false)
	if cj != nil && cj.fd != nil {
		cj.fd.Close()
		cj.fd = nil
	}
}

func (cj *cgroupJail) setLimitsV2(memory, pids int64) error {
	dir := cj.dirs[0]
	err := writeCgroup(dir, "memory.max", strconv.FormatInt(memory, 10))
	if err == nil && cj.swap {
		err = writeCgroup(dir, "memory.swap.max", "0")
	}
	if err == nil {
		err = writeCgroup(dir, "pids.max", strconv.FormatInt(pids, 10))
	}
	if err != nil {
		return fmt.Errorf("sandbox: cgroup limits: %w", err)
	}
	return nil
}

// close removes the jails' parent cgroup. Those of runs still in progress
// stay until a later New removes them as stale.
func (c *cgroupV2) close() {
	c.stop()
	(&cgroupJail{dirs: []string{c.parent}, rmdir: c.rmdir}).remove()
}
