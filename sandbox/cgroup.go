//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cgroupSet gives each jail its own cgroup with memory and pids limits.
// prepare runs before the jail's init is started; place runs once it
// exists (the init waits for its request, so it cannot run anything before
// it is placed).
type cgroupSet interface {
	prepare() (*cgroupJail, error)
	place(cj *cgroupJail, pid int) error
	removeLater(cj *cgroupJail)
	close()
	describe() string
}

// cgroupJail is the cgroup of one jail: two directories (memory and pids)
// with v1, one with v2.
type cgroupJail struct {
	v2    bool
	swap  bool     // v2: memory.swap.max exists
	dirs  []string // v1: memory, pids
	fd    *os.File // v2: the directory, for CLONE_INTO_CGROUP; nil once used or when not used
	rmdir func(string) error
}

// reaper removes jail cgroups in the background, off the request path.
type reaper struct {
	mu       sync.Mutex     // guards closed and removing.Add
	closed   bool           // removals are synchronous after close
	removing sync.WaitGroup // background removals of jail cgroups
}

func (r *reaper) removeLater(cj *cgroupJail) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		cj.remove()
		return
	}
	r.removing.Add(1)
	go func() {
		defer r.removing.Done()
		cj.remove()
	}()
}

// stop waits for the background removals; later ones run synchronously.
func (r *reaper) stop() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.removing.Wait()
}

// cgroupV1 puts each jail into its own memory and pids cgroup of the v1
// hierarchies, below the server's own cgroups. It needs root.
type cgroupV1 struct {
	reaper
	mem, pids string // per-Jail parent directories
	seq       atomic.Uint64
}

func (c *cgroupV1) describe() string { return "memory+pids by cgroup v1" }

// newCgroupV1 returns nil when v1 memory and pids controllers are not
// usable.
func newCgroupV1() *cgroupV1 {
	mounts := v1Mounts()
	own := ownCgroups()
	memRoot, pidsRoot := mounts["memory"], mounts["pids"]
	if memRoot == "" || pidsRoot == "" || own["memory"] == "" || own["pids"] == "" {
		return nil
	}
	removeStale(filepath.Join(memRoot, own["memory"]))
	removeStale(filepath.Join(pidsRoot, own["pids"]))
	name := fmt.Sprintf("cubby-sandbox-%d", os.Getpid())
	c := &cgroupV1{
		mem:  filepath.Join(memRoot, own["memory"], name),
		pids: filepath.Join(pidsRoot, own["pids"], name),
	}
	if os.Mkdir(c.mem, 0o755) != nil {
		return nil
	}
	if os.Mkdir(c.pids, 0o755) != nil {
		os.Remove(c.mem)
		return nil
	}
	// Probe that limits can be set in a child.
	cj := &cgroupJail{dirs: []string{filepath.Join(c.mem, "probe"), filepath.Join(c.pids, "probe")}, rmdir: os.Remove}
	err := errors.Join(os.Mkdir(cj.dirs[0], 0o755), os.Mkdir(cj.dirs[1], 0o755))
	if err == nil {
		err = cj.setLimits(64<<20, 16)
	}
	cj.remove()
	if err != nil {
		c.close()
		return nil
	}
	return c
}

// removeStale removes the cgroups of servers that died without Close.
func removeStale(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "cubby-sandbox-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "cubby-sandbox-"))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // still running
		}
		jails, _ := filepath.Glob(filepath.Join(d, "jail-*"))
		for _, jd := range jails {
			os.Remove(jd)
		}
		os.Remove(d)
	}
}

// v1Mounts maps controller names to the mount points of v1 hierarchies.
func v1Mounts() map[string]string {
	m := map[string]string{}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, pfields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(pfields) < 3 || pfields[0] != "cgroup" || fields[3] != "/" {
			continue
		}
		for _, opt := range strings.Split(pfields[2], ",") {
			if opt == "memory" || opt == "pids" {
				m[opt] = fields[4]
			}
		}
	}
	return m
}

// ownCgroups maps v1 controller names to this process's cgroup paths.
func ownCgroups() map[string]string {
	m := map[string]string{}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			m[c] = parts[2]
		}
	}
	return m
}

// prepare makes the jail's cgroups.
func (c *cgroupV1) prepare() (*cgroupJail, error) {
	name := "jail-" + strconv.FormatUint(c.seq.Add(1), 10)
	cj := &cgroupJail{dirs: []string{filepath.Join(c.mem, name), filepath.Join(c.pids, name)}, rmdir: os.Remove}
	if err := errors.Join(os.Mkdir(cj.dirs[0], 0o755), os.Mkdir(cj.dirs[1], 0o755)); err != nil {
		cj.remove()
		return nil, fmt.Errorf("sandbox: cgroup: %w", err)
	}
	return cj, nil
}

// place moves pid into the jail's cgroups.
func (c *cgroupV1) place(cj *cgroupJail, pid int) error {
	p := []byte(strconv.Itoa(pid))
	if err := errors.Join(os.WriteFile(filepath.Join(cj.dirs[0], "cgroup.procs"), p, 0), os.WriteFile(filepath.Join(cj.dirs[1], "cgroup.procs"), p, 0)); err != nil {
		return fmt.Errorf("sandbox: cgroup: %w", err)
	}
	return nil
}

func (cj *cgroupJail) setLimits(memory, pids int64) error {
	if cj.v2 {
		return cj.setLimitsV2(memory, pids)
	}
	mem := []byte(strconv.FormatInt(memory, 10))
	err := errors.Join(
		os.WriteFile(filepath.Join(cj.dirs[0], "memory.limit_in_bytes"), mem, 0),
		os.WriteFile(filepath.Join(cj.dirs[1], "pids.max"), []byte(strconv.FormatInt(pids, 10)), 0),
	)
	// Swap accounting may be off; when it is on, cap memory+swap too.
	if sw := filepath.Join(cj.dirs[0], "memory.memsw.limit_in_bytes"); err == nil {
		if _, serr := os.Stat(sw); serr == nil {
			err = os.WriteFile(sw, mem, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("sandbox: cgroup limits: %w", err)
	}
	return nil
}

// remove deletes the jail's cgroups. They are empty once the PID namespace
// is gone, but the kernel may report EBUSY for a moment.
func (cj *cgroupJail) remove() {
	if cj.fd != nil {
		cj.fd.Close()
	}
	for _, d := range cj.dirs {
		for i := 0; i < 50; i++ {
			err := cj.rmdir(d)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// close removes the Jail's parent cgroups. Those of runs still in progress
// stay until a later New removes them as stale.
func (c *cgroupV1) close() {
	c.stop()
	(&cgroupJail{dirs: []string{c.mem, c.pids}, rmdir: os.Remove}).remove()
}
