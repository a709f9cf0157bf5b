package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCgroupFS mimics the files of a cgroup2 filesystem in a temp dir:
// mkdir adds the interface files the kernel would, with the controllers
// the parent enables; rmdir removes them with the directory.
type fakeCgroupFS struct {
	t    *testing.T
	root string
}

func newFakeCgroupFS(t *testing.T, rootControllers string) *fakeCgroupFS {
	f := &fakeCgroupFS{t: t, root: t.TempDir()}
	f.files(f.root, rootControllers)
	return f
}

// files writes the interface files of a cgroup that has controllers.
func (f *fakeCgroupFS) files(dir, controllers string) {
	f.t.Helper()
	write := func(name, s string) { must(f.t, os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644)) }
	write("cgroup.controllers", controllers)
	write("cgroup.subtree_control", "")
	write("cgroup.procs", "")
	for _, c := range strings.Fields(controllers) {
		switch c {
		case "memory":
			write("memory.max", "max")
			write("memory.swap.max", "max")
		case "pids":
			write("pids.max", "max")
		}
	}
}

// mkcg creates a cgroup as someone else would (systemd), with the given
// processes.
func (f *fakeCgroupFS) mkcg(path, controllers, procs string) string {
	f.t.Helper()
	dir := filepath.Join(f.root, path)
	must(f.t, os.MkdirAll(dir, 0o755))
	f.files(dir, controllers)
	f.write(path, "cgroup.procs", procs)
	return dir
}

func (f *fakeCgroupFS) mkdir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"))
	f.files(dir, strings.ReplaceAll(string(b), "+", ""))
	return nil
}

func (f *fakeCgroupFS) rmdir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			return fmt.Errorf("rmdir %s: directory not empty", dir)
		}
	}
	for _, e := range ents {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	return os.Remove(dir)
}

func (f *fakeCgroupFS) read(path, file string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.root, path, file))
	must(f.t, err)
	return string(b)
}

func (f *fakeCgroupFS) write(path, file, s string) {
	f.t.Helper()
	must(f.t, os.WriteFile(filepath.Join(f.root, path, file), []byte(s), 0o644))
}

func (f *fakeCgroupFS) exists(path string) bool {
	_, err := os.Stat(filepath.Join(f.root, path))
	return err == nil
}

// newV2 runs the setup of cgroupV2 against the fake.
func (f *fakeCgroupFS) newV2(own string, pid int) (*cgroupV2, error) {
	c := &cgroupV2{root: f.root, mkdir: f.mkdir, rmdir: f.rmdir}
	return c, c.setup(own, pid)
}

func TestCgroupV2Fake(t *testing.T) {
	const pid = 4242
	parentName := "cubby-sandbox-" + strconv.Itoa(pid)
	for _, tc := range []struct {
		name    string
		arrange func(f *fakeCgroupFS)
		own     string
		base    string // where the jails' parent must be created
		check   func(t *testing.T, f *fakeCgroupFS)
	}{
		{
			name: "root cgroup",
			own:  "/",
			base: "/",
			check: func(t *testing.T, f *fakeCgroupFS) {
				if got := f.read("/", "cgroup.subtree_control"); got != "+memory +pids" {
					t.Errorf("root subtree_control = %q", got)
				}
			},
		},
		{
			name: "delegated unit, alone",
			arrange: func(f *fakeCgroupFS) {
				f.write("/", "cgroup.subtree_control", "memory pids")
				f.mkcg("/system.slice", "memory pids", "")
				f.write("/system.slice", "cgroup.subtree_control", "memory pids")
				f.mkcg("/system.slice/cubbyd.service", "memory pids", strconv.Itoa(pid)+"\n")
			},
			own:  "/system.slice/cubbyd.service",
			base: "/system.slice/cubbyd.service",
			check: func(t *testing.T, f *fakeCgroupFS) {
				// The server moved into a leaf, then the unit enabled the
				// controllers for its children.
				if got := f.read("/system.slice/cubbyd.service/"+serverLeaf, "cgroup.procs"); got != strconv.Itoa(pid) {
					t.Errorf("server leaf cgroup.procs = %q", got)
				}
				if got := f.read("/system.slice/cubbyd.service", "cgroup.subtree_control"); got != "+memory +pids" {
					t.Errorf("unit subtree_control = %q", got)
				}
			},
		},
		{
			name: "already in the server leaf",
			arrange: func(f *fakeCgroupFS) {
				f.write("/", "cgroup.subtree_control", "memory pids")
				f.mkcg("/svc", "memory pids", "")
				f.write("/svc", "cgroup.subtree_control", "memory pids")
				f.mkcg("/svc/"+serverLeaf, "memory pids", strconv.Itoa(pid)+"\n")
			},
			own:  "/svc/" + serverLeaf,
			base: "/svc",
		},
		{
			name: "shared cgroup, parent enables the controllers",
			arrange: func(f *fakeCgroupFS) {
				f.write("/", "cgroup.subtree_control", "memory pids")
				f.mkcg("/user.slice", "memory pids", "")
				f.write("/user.slice", "cgroup.subtree_control", "memory pids")
				f.mkcg("/user.slice/session-1.scope", "memory pids", strconv.Itoa(pid)+"\n77\n")
			},
			own:  "/user.slice/session-1.scope",
			base: "/user.slice",
			check: func(t *testing.T, f *fakeCgroupFS) {
				if got := f.read("/user.slice/session-1.scope", "cgroup.procs"); got != strconv.Itoa(pid)+"\n77\n" {
					t.Errorf("processes were moved: %q", got)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCgroupFS(t, "cpu memory pids hugetlb")
			if tc.arrange != nil {
				tc.arrange(f)
			}
			c, err := f.newV2(tc.own, pid)
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
			parent := filepath.Join(tc.base, parentName)
			if c.parent != filepath.Join(f.root, parent) {
				t.Fatalf("jails' parent = %s, want %s", c.parent, filepath.Join(f.root, parent))
			}
			if got := f.read(parent, "cgroup.subtree_control"); got != "+memory +pids" {
				t.Errorf("parent subtree_control = %q", got)
			}
			if f.exists(filepath.Join(parent, "probe")) {
				t.Error("probe cgroup left behind")
			}
			if !strings.Contains(c.describe(), "cgroup v2") {
				t.Errorf("describe() = %q", c.describe())
			}
			if tc.check != nil {
				tc.check(t, f)
			}

			// One jail, created with CLONE_INTO_CGROUP.
			cj, err := c.prepare()
			must(t, err)
			jail := filepath.Join(parent, "jail-1")
			if cj.fd == nil || cj.dirs[0] != filepath.Join(f.root, jail) {
				t.Fatalf("prepare: fd %v, dirs %q", cj.fd, cj.dirs)
			}
			must(t, cj.setLimits(100<<20, 7))
			for file, want := range map[string]string{"memory.max": "104857600", "memory.swap.max": "0", "pids.max": "7", "cgroup.procs": ""} {
				if got := f.read(jail, file); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
			must(t, c.place(cj, 99))
			if cj.fd != nil {
				t.Error("place kept the cgroup fd open")
			}

			// One jail on a kernel without CLONE_INTO_CGROUP.
			c.noCgroupFD(nil)
			cj2, err := c.prepare()
			must(t, err)
			if cj2.fd != nil {
				t.Error("prepare opened the cgroup after noCgroupFD")
			}
			must(t, c.place(cj2, 1234))
			if got := f.read(filepath.Join(parent, "jail-2"), "cgroup.procs"); got != "1234" {
				t.Errorf("jail-2 cgroup.procs = %q", got)
			}

			c.removeLater(cj)
			c.removeLater(cj2)
			c.close()
			for _, p := range []string{jail, filepath.Join(parent, "jail-2"), parent} {
				if f.exists(p) {
					t.Errorf("%s not removed", p)
				}
			}
		})
	}
}

func TestCgroupV2FakeUnusable(t *testing.T) {
	const pid = 4242
	for _, tc := range []struct {
		name, rootControllers, own, want string
		arrange                          func(f *fakeCgroupFS)
	}{
		// This machine's hybrid unified hierarchy.
		{name: "no controllers", rootControllers: "hugetlb", own: "/", want: "lacks memory,pids"},
		{name: "no pids", rootControllers: "cpu memory", own: "/", want: "lacks pids"},
		{
			name: "shared cgroup, parent without controllers", rootControllers: "memory pids", own: "/a/b", want: "other processes",
			arrange: func(f *fakeCgroupFS) {
				f.write("/", "cgroup.subtree_control", "memory pids")
				f.mkcg("/a", "memory pids", "")
				f.mkcg("/a/b", "memory pids", strconv.Itoa(pid)+" 77")
			},
		},
		{name: "bad path", rootControllers: "memory pids", own: "/a/../..", want: "odd cgroup path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCgroupFS(t, tc.rootControllers)
			if tc.arrange != nil {
				tc.arrange(f)
			}
			before := listTree(t, f.root)
			_, err := f.newV2(tc.own, pid)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("setup error = %v, want one containing %q", err, tc.want)
			}
			if after := listTree(t, f.root); after != before {
				t.Errorf("failed setup changed the tree:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestCgroupV2FakeUndo checks that a failed setup puts the server back into
// its cgroup.
func TestCgroupV2FakeUndo(t *testing.T) {
	const pid = 4242
	f := newFakeCgroupFS(t, "memory pids")
	f.write("/", "cgroup.subtree_control", "memory pids")
	unit := f.mkcg("/svc", "memory pids", strconv.Itoa(pid))
	// The unit's subtree_control is not writable (not delegated).
	must(t, os.Remove(filepath.Join(unit, "cgroup.subtree_control")))
	if _, err := f.newV2("/svc", pid); err == nil {
		t.Fatal("setup succeeded without a writable subtree_control")
	}
	if got := f.read("/svc", "cgroup.procs"); got != strconv.Itoa(pid) {
		t.Errorf("server not moved back: cgroup.procs = %q", got)
	}
	if f.exists("/svc/" + serverLeaf) {
		t.Error("server leaf left behind")
	}
}

// listTree lists the files and contents below dir, for comparison.
func listTree(t *testing.T, dir string) string {
	var b strings.Builder
	must(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s ", strings.TrimPrefix(p, dir))
		if !d.IsDir() {
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "=%q ", c)
		}
		return nil
	}))
	return b.String()
}

// TestCgroupV2 checks real cgroup v2 jails. It needs a unified hierarchy
// with the memory and pids controllers that this process may manage; this
// is a property of the host, not of the jail (which then uses cgroup v1 or
// rlimits), so it skips elsewhere even under CI=true.
func TestCgroupV2(t *testing.T) {
	var mu sync.Mutex
	var pids []int
	j := newTestJailHook(t, func(pid int) {
		mu.Lock()
		defer mu.Unlock()
		pids = append(pids, pid)
	})
	c, ok := j.cgroup.(*cgroupV2)
	if !ok {
		t.Skipf("no usable cgroup v2 on this host, so nothing to test; the jail uses the fallback (skipped even under CI=true, a missing v2 does not stop jails): %s", j.Features())
	}
	l := newLayout(t)
	const mem, nproc = 96 << 20, 20
	done := make(chan result, 1)
	go func() {
		var out, errOut syncBuffer
		code, err := j.Run(context.Background(), Spec{User: "alice", Home: l.alice, Argv: []string{"sleep", "1"},
			Stdout: &out, Stderr: &errOut, Limits: Limits{Memory: mem, Processes: nproc}})
		done <- result{code, err, out.String(), errOut.String()}
	}()
	// Find the running jail's cgroup from the host.
	var dir string
	for deadline := time.Now().Add(5 * time.Second); dir == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		ps := append([]int(nil), pids...)
		mu.Unlock()
		for _, pid := range ps {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				p, ok := strings.CutPrefix(line, "0::")
				d := filepath.Join(c.root, p)
				if !ok || filepath.Dir(d) != c.parent {
					continue
				}
				if lim, err := os.ReadFile(filepath.Join(d, "memory.max")); err == nil && strings.TrimSpace(string(lim)) == strconv.Itoa(mem) {
					dir = d
				}
			}
		}
	}
	if dir == "" {
		t.Fatalf("no jail init in a child of %s with memory.max %d (pids %v)", c.parent, mem, pids)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "pids.max")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(nproc) {
		t.Errorf("pids.max = %q, %v; want %d", b, err, nproc)
	}
	if r := <-done; r.code != 0 || r.err != nil {
		t.Fatalf("Run: %v", r)
	}
	// The cgroup is removed off the request path.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after the jail ended", dir)
		}
	}
	// A memory hog is stopped by the cgroup (or RLIMIT_AS).
	r := run(t, j, l, func(s *Spec) { s.Limits.Memory = 64 << 20 }, "sh", "-c", "head -c 400000000 /dev/zero | tail | wc -c")
	if r.code == 0 && strings.TrimSpace(r.stdout) == "400000000" {
		t.Errorf("a 400 MB hog survived a 64 MiB limit: %v", r)
	}
}
