package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestIdentity(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	uid, gid, _ := testIDs()
	r := sh(t, j, l, "id; cat /proc/self/status /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups")
	wantOK(t, r)
	for _, want := range []string{
		"uid=1000(alice) gid=1000(alice) groups=1000(alice)\n",
		"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
		"CapBnd:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2",
		fmt.Sprintf("1000 %10d          1", uid), fmt.Sprintf("1000 %10d          1", gid),
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("jail output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "\ndeny") {
		t.Errorf("setgroups is not denied:\n%s", r.stdout)
	}
	if uid == 0 || gid == 0 {
		t.Fatalf("test maps the jail to host root")
	}
}

func TestOtherUsersFiles(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	bobAbs := filepath.Join(l.bob, "secret.txt")
	// Links planted in alice's home from the host side.
	links := map[string]string{"rel-link": "../bob/secret.txt", "abs-link": bobAbs, "shadow-link": "/etc/shadow", "users-link": filepath.Join(l.base, "users.toml")}
	for name, target := range links {
		p := filepath.Join(l.alice, name)
		must(t, os.Symlink(target, p))
		l.chownAlice(t, p)
	}
	hardShadow := os.Getuid() == 0 && os.Link("/etc/shadow", filepath.Join(l.alice, "hard-shadow")) == nil
	secrets := []string{bobSecret, usersSecret, dataSecret, "root:"}
	for _, path := range []string{
		"../bob/secret.txt",
		"/home/bob/secret.txt",
		bobAbs,
		"/proc/self/root" + bobAbs,
		"/proc/1/root" + bobAbs,
		"/proc/1/cwd/../bob/secret.txt",
		"rel-link", "abs-link", "shadow-link", "users-link",
		filepath.Join(l.base, "users.toml"),
		filepath.Join(l.base, "data", "blob"),
		filepath.Join(l.homes, "..", "users.toml"),
		"/etc/shadow",
	} {
		t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			wantFail(t, run(t, j, l, nil, "cat", path), secrets...)
		})
	}
	if hardShadow {
		t.Run("hard-shadow", func(t *testing.T) {
			wantFail(t, run(t, j, l, nil, "cat", "hard-shadow"), "root:")
		})
	}
	t.Run("listing", func(t *testing.T) {
		r := sh(t, j, l, "ls -a /home; ls -a /proc/self/root/home; ls -a ..; ls -a /")
		wantOK(t, r)
		if got := strings.Fields(r.stdout); !slices.Equal(got[:9], []string{".", "..", "alice", ".", "..", "alice", ".", "..", "alice"}) {
			t.Errorf("jail sees other homes: %q", got)
		}
		root := strings.Fields(r.stdout)[9:]
		slices.Sort(root)
		want := []string{".", "..", "bin", "dev", "etc", "home", "lib", "lib64", "proc", "sbin", "tmp", "usr"}
		want = slices.DeleteFunc(want, func(d string) bool {
			_, err := os.Lstat("/" + d)
			return d != "." && d != ".." && d != "dev" && d != "etc" && d != "home" && d != "proc" && d != "tmp" && err != nil
		})
		if !slices.Equal(root, want) {
			t.Errorf("jail / = %q, want %q", root, want)
		}
	})
	t.Run("find", func(t *testing.T) {
		r := sh(t, j, l, "find / -path /proc -prune -o \\( -name users.toml -o -name secret.txt -o -name blob -o -name shadow \\) -print 2>/dev/null; echo done")
		if strings.TrimSpace(r.stdout) != "done" {
			t.Errorf("find found host files: %v", r)
		}
	})
	t.Run("hardlink-out", func(t *testing.T) {
		wantFail(t, sh(t, j, l, "ln /usr/bin/su hard-su"))
		wantFail(t, sh(t, j, l, "ln /etc/passwd hard-passwd"))
	})
}

func TestEtc(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	r := sh(t, j, l, "ls -A /etc; echo @; cat /etc/passwd; getent passwd alice")
	wantOK(t, r)
	list, passwd, _ := strings.Cut(r.stdout, "@\n")
	for _, f := range strings.Fields(list) {
		if !slices.Contains([]string{"group", "hostname", "hosts", "ld.so.cache", "localtime", "nsswitch.conf", "passwd"}, f) {
			t.Errorf("unexpected /etc/%s in the jail", f)
		}
	}
	if !strings.Contains(passwd, "alice:x:1000:1000:alice:/home/alice:/bin/sh") || strings.Contains(passwd, "daemon:") {
		t.Errorf("passwd = %q", passwd)
	}
}

func TestProcIsolation(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	r := run(t, j, l, nil, "ls", "/proc")
	wantOK(t, r)
	var pids []string
	for _, f := range strings.Fields(r.stdout) {
		if _, err := strconv.Atoi(f); err == nil {
			pids = append(pids, f)
		}
	}
	// In a kept jail, PID 1 is the keeper and the program one more.
	if keptMode && (len(pids) != 2 || pids[0] != "1") || !keptMode && !slices.Equal(pids, []string{"1"}) {
		t.Errorf("jail sees processes %q, want only its own pid 1 (and the program, in a kept jail)", pids)
	}
	for _, script := range []string{
		"echo 1 > /proc/sys/kernel/sysrq",
		"echo b > /proc/sysrq-trigger",
		"echo 1 > /proc/sys/user/max_user_namespaces",
	} {
		wantFail(t, sh(t, j, l, script))
	}
	r = sh(t, j, l, "cat /proc/kcore /proc/keys /proc/timer_list | wc -c; cat /proc/sys/user/max_user_namespaces")
	if strings.Fields(r.stdout)[0] != "0" || !strings.HasSuffix(r.stdout, "\n0\n") {
		t.Errorf("masked /proc files readable or nested userns allowed: %v", r)
	}
}

func TestNetwork(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	// Control: the same connect works from the host.
	if err := exec.Command("bash", "-c", fmt.Sprintf("echo x > /dev/tcp/127.0.0.1/%d", port)).Run(); err != nil {
		t.Fatalf("control connect from the host failed: %v", err)
	}
	<-accepted
	wantFail(t, run(t, j, l, nil, "bash", "-c", fmt.Sprintf("echo x > /dev/tcp/127.0.0.1/%d", port)))
	wantFail(t, run(t, j, l, nil, "bash", "-c", fmt.Sprintf("echo x > /dev/tcp/localhost/%d", port)))
	select {
	case <-accepted:
		t.Error("the jail connected to the host's listener")
	case <-time.After(100 * time.Millisecond):
	}
	r := run(t, j, l, nil, "cat", "/proc/net/dev")
	wantOK(t, r)
	if n := strings.Count(r.stdout, ":"); n != 1 || !strings.Contains(r.stdout, "lo:") {
		t.Errorf("jail has network interfaces other than lo:\n%s", r.stdout)
	}
}

func TestReadOnlySystem(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	for _, script := range []string{
		"touch /usr/cubby-x", "touch /usr/bin/cubby-x", "echo x >> /usr/bin/ls", "rm -f /usr/bin/ls",
		"touch /etc/x", "echo x >> /etc/passwd", "touch /x", "mkdir /x", "touch /dev/x", "touch /home/x",
		"touch /proc/x",
	} {
		t.Run(script, func(t *testing.T) { wantFail(t, sh(t, j, l, script)) })
	}
	// Controls: the home and /tmp are writable.
	wantOK(t, sh(t, j, l, "echo x > f && mkdir d && mv f d/ && cat d/f && rm -r d && echo y > /tmp/f && cat /tmp/f && echo z > /dev/null"))
}

func TestSetuidInert(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	for _, p := range []string{"/usr/bin/su", "/usr/bin/passwd"} {
		st, err := os.Stat(p)
		if err != nil || st.Mode()&os.ModeSetuid == 0 {
			t.Logf("%s is not setuid on this host; checking it anyway", p)
		}
	}
	r := run(t, j, l, nil, "su", "-c", "id", "root")
	wantFail(t, r, "uid=0")
	r = run(t, j, l, nil, "passwd", "-d", "alice")
	wantFail(t, r)
	r = sh(t, j, l, "ls -ln /usr/bin/su; su -c 'echo rooted' </dev/null")
	wantFail(t, r, "rooted")
}

func TestMknod(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	wantFail(t, run(t, j, l, nil, "mknod", "null2", "c", "1", "3"))
	wantFail(t, run(t, j, l, nil, "mknod", "/tmp/null2", "c", "1", "3"))
	wantFail(t, run(t, j, l, nil, "mknod", "sda", "b", "8", "0"))
	wantOK(t, run(t, j, l, nil, "mkfifo", "fifo")) // control
}

func TestNestedNamespaces(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	for _, args := range [][]string{{"unshare", "-U", "true"}, {"unshare", "-Ur", "true"}, {"unshare", "-m", "true"}, {"unshare", "-n", "true"}} {
		wantFail(t, run(t, j, l, nil, args...))
	}
	wantFail(t, sh(t, j, l, "mount -t tmpfs none /tmp"))
}

func TestLeakedFD(t *testing.T) {
	l := newLayout(t)
	secretPath := filepath.Join(l.base, "data", "blob")
	// No O_CLOEXEC: the fd is inherited by every child the test starts.
	fd, err := syscall.Open(secretPath, syscall.O_RDONLY, 0)
	must(t, err)
	defer syscall.Close(fd)
	dirFD, err := syscall.Open(l.base, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	must(t, err)
	defer syscall.Close(dirFD)

	var mu sync.Mutex
	var inits, leaks int
	j := newTestJailHook(t, func(pid int) {
		_, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
		mu.Lock()
		defer mu.Unlock()
		inits++
		if err == nil {
			leaks++
		}
	})
	r := sh(t, j, l, fmt.Sprintf("ls /proc/self/fd; cat /proc/self/fd/%d; cat /dev/fd/%d; ls /proc/self/fd/%d/", fd, fd, dirFD))
	wantFail(t, r, dataSecret, "users.toml")
	if got := strings.Fields(r.stdout); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Errorf("jail has fds %q, want 0 1 2 and ls's own 3", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if leaks == 0 {
		t.Errorf("the fd reached none of %d inits: the test did not exercise close_range", inits)
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("CUBBY_SERVER_SECRET", "hunter2-env")
	j, l := newTestJail(t), newLayout(t)
	r := run(t, j, l, func(s *Spec) {
		s.Env = []string{"TERM=xterm-256color", "LANG=de_DE.UTF-8", "LC_ALL=C", "LD_PRELOAD=/tmp/x.so", "PATH=/tmp", "FOO=bar", "LC_BAD-NAME=x"}
	}, "env")
	wantOK(t, r)
	var keys []string
	for _, kv := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"HOME", "LANG", "LC_ALL", "LOGNAME", "PATH", "PWD", "SHELL", "TERM", "TMPDIR", "USER"}
	if !slices.Equal(keys, want) {
		t.Errorf("env keys = %q, want %q", keys, want)
	}
	for _, kv := range []string{"TERM=xterm-256color", "LANG=de_DE.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/alice"} {
		if !strings.Contains(r.stdout, kv+"\n") {
			t.Errorf("env lacks %s:\n%s", kv, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "hunter2") {
		t.Errorf("server environment leaked:\n%s", r.stdout)
	}
}

// hostProcs returns the host pids whose command line contains marker.
func hostProcs(t testing.TB, marker string) []int {
	t.Helper()
	var pids []int
	ents, err := os.ReadDir("/proc")
	must(t, err)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(b), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// hostProcsInNS returns the host pids in the pid namespace ns.
func hostProcsInNS(t testing.TB, ns string) []int {
	t.Helper()
	var pids []int
	ents, err := os.ReadDir("/proc")
	must(t, err)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if got, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && got == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestForkBomb(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	marker := fmt.Sprintf("cubby-bomb-%d", time.Now().UnixNano())
	start := time.Now()
	r := run(t, j, l, func(s *Spec) {
		s.Limits.Processes = 24
		s.Limits.WallClock = 5 * time.Second
	}, "sh", "-c", "f(){ f | f & }; f; sleep 2", marker)
	if !strings.Contains(strings.ToLower(r.stderr), "fork") {
		t.Errorf("the bomb did not hit the process limit: %v", r)
	}
	if left := hostProcs(t, marker); len(left) > 0 {
		t.Errorf("bomb processes survived the jail: %v", left)
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("host cannot fork after the bomb: %v", err)
	}
	t.Logf("bomb contained in %v: %v", time.Since(start), r.err)
}

func TestMemoryLimit(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	hog := func(bytes int) result {
		// tail keeps an unterminated line in memory.
		return run(t, j, l, func(s *Spec) { s.Limits.Memory = 64 << 20 }, "sh", "-c", fmt.Sprintf("head -c %d /dev/zero | tail | wc -c", bytes))
	}
	wantOK(t, hog(4<<20)) // control
	r := hog(400 << 20)
	if r.code == 0 && strings.TrimSpace(r.stdout) == strconv.Itoa(400<<20) {
		t.Errorf("a 400 MiB hog survived a 64 MiB limit: %v", r)
	}
	wantFail(t, run(t, j, l, func(s *Spec) { s.Limits.Memory = 64 << 20 }, "tail", "/dev/zero"))
}

func TestOutputLimit(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	r := run(t, j, l, func(s *Spec) { s.Limits.Output = 64 << 10 }, "yes")
	if !errors.Is(r.err, ErrOutputLimit) {
		t.Fatalf("yes: want ErrOutputLimit, got %v", r.err)
	}
	if len(r.stdout) != 64<<10 {
		t.Errorf("forwarded %d bytes, want %d", len(r.stdout), 64<<10)
	}
	if !strings.Contains(r.stderr, "cubby: output limit of 64.0 KiB reached; command stopped\n") {
		t.Errorf("no notice on stderr: %q", r.stderr)
	}
	// Stdout and stderr share the limit.
	r = run(t, j, l, func(s *Spec) { s.Limits.Output = 1000 }, "sh", "-c", "yes err >&2 & yes out")
	if !errors.Is(r.err, ErrOutputLimit) || len(r.stdout)+len(r.stderr) > 1000+200 {
		t.Errorf("shared limit: %v", r)
	}
	// The default limit is 1 MiB.
	r = run(t, j, l, nil, "yes")
	if !errors.Is(r.err, ErrOutputLimit) || len(r.stdout) != 1<<20 || !strings.Contains(r.stderr, "of 1.0 MiB reached") {
		t.Errorf("default limit: err %v, %d bytes, stderr %q", r.err, len(r.stdout), r.stderr)
	}
}

func TestCancelKillsEverything(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	marker := fmt.Sprintf("29.%d", time.Now().UnixNano()%1000000+1000000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type res struct {
		code int
		err  error
	}
	done := make(chan res, 1)
	go func() {
		code, err := j.Run(ctx, Spec{User: "alice", Home: l.alice, Argv: []string{"sh", "-c", "sleep " + marker + " & sleep " + marker + "; :"}})
		done <- res{code, err}
	}()
	// The check can fail: it sees the jail's processes while they run.
	var pids []int
	for deadline := time.Now().Add(10 * time.Second); len(pids) < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		pids = hostProcs(t, marker)
	}
	if len(pids) < 3 {
		t.Fatalf("jail processes not found on the host: %v", pids)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pids[0]))
	must(t, err)
	if got := hostProcsInNS(t, ns); len(got) < 3 {
		t.Fatalf("processes in the jail's pid namespace: %v", got)
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) || r.code != 137 {
			t.Errorf("Run = %d, %v; want 137, context.Canceled", r.code, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if left := hostProcs(t, marker); len(left) > 0 {
		t.Errorf("processes survived: %v", left)
	}
	if left := hostProcsInNS(t, ns); len(left) > 0 {
		t.Errorf("processes of the jail's pid namespace survived: %v", left)
	}
}

func TestWallClock(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	start := time.Now()
	r := run(t, j, l, func(s *Spec) { s.Limits.WallClock = 300 * time.Millisecond }, "sleep", "10")
	if !errors.Is(r.err, ErrTimeout) || r.code != 137 {
		t.Errorf("want 137, ErrTimeout; got %v", r)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

func TestExitStatus(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	must(t, os.WriteFile(filepath.Join(l.alice, "notes.txt"), []byte("x"), 0o644))
	l.chownAlice(t, filepath.Join(l.alice, "notes.txt"))
	for _, tc := range []struct {
		argv    []string
		code    int
		wantErr error
	}{
		{[]string{"sh", "-c", "exit 3"}, 3, nil},
		{[]string{"false"}, 1, nil},
		{[]string{"true"}, 0, nil},
		{[]string{"/usr/bin/true"}, 0, nil},
		{[]string{"sh", "-c", `sh -c 'kill -9 $$'`}, 137, nil},
		{[]string{"no-such-program-cubby"}, 127, ErrNotFound},
		{[]string{"/usr/bin/no-such-program-cubby"}, 127, ErrNotFound},
		{[]string{"notes.txt"}, 127, ErrNotFound}, // not looked up in the cwd
		{[]string{"./notes.txt"}, 127, ErrNotFound},
	} {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			r := run(t, j, l, nil, tc.argv...)
			if r.code != tc.code || !errors.Is(r.err, tc.wantErr) {
				t.Errorf("got %v; want exit %d, err %v", r, tc.code, tc.wantErr)
			}
		})
	}
}

func TestNoExecHome(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	b, err := os.ReadFile("/usr/bin/true")
	must(t, err)
	p := filepath.Join(l.alice, "mytrue")
	must(t, os.WriteFile(p, b, 0o755))
	l.chownAlice(t, p)
	r := run(t, j, l, nil, "./mytrue")
	if r.code != 126 || r.err == nil {
		t.Errorf("executing a file of the home: %v", r)
	}
	wantFail(t, run(t, j, l, nil, "/lib64/ld-linux-x86-64.so.2", "./mytrue"))
	wantOK(t, sh(t, j, l, "echo 'echo script-ran' > s.sh && sh s.sh")) // scripts still run through sh
}

func TestWorkingDir(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	must(t, os.MkdirAll(filepath.Join(l.alice, "sub", "deeper"), 0o755))
	l.chownAlice(t, filepath.Join(l.alice, "sub"))
	l.chownAlice(t, filepath.Join(l.alice, "sub", "deeper"))
	for dir, want := range map[string]string{"": "/home/alice", ".": "/home/alice", "sub/deeper": "/home/alice/sub/deeper"} {
		r := run(t, j, l, func(s *Spec) { s.Dir = dir }, "sh", "-c", "pwd; echo $PWD")
		wantOK(t, r)
		if r.stdout != want+"\n"+want+"\n" {
			t.Errorf("Dir %q: pwd = %q, want %q", dir, r.stdout, want)
		}
	}
	for _, dir := range []string{"..", "../bob", "/etc", "sub/../..", "./sub", "sub/", "sub/../sub"} {
		r := run(t, j, l, func(s *Spec) { s.Dir = dir }, "pwd")
		if r.err == nil || r.stdout != "" {
			t.Errorf("Dir %q accepted: %v", dir, r)
		}
	}
	if r := run(t, j, l, func(s *Spec) { s.Dir = "missing" }, "pwd"); r.err == nil {
		t.Errorf("missing Dir accepted: %v", r)
	}
}

func TestSpecValidation(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	for name, adjust := range map[string]func(*Spec){
		"user upper":    func(s *Spec) { s.User = "Alice" },
		"user slash":    func(s *Spec) { s.User = "a/b" },
		"user long":     func(s *Spec) { s.User = strings.Repeat("a", 33) },
		"home relative": func(s *Spec) { s.Home = "homes/alice" },
		"home unclean":  func(s *Spec) { s.Home = l.alice + "/../bob" },
		"home other":    func(s *Spec) { s.Home = l.bob },
		"empty argv":    func(s *Spec) { s.Argv = nil },
		"nul":           func(s *Spec) { s.Argv = []string{"echo", "a\x00b"} },
		"negative":      func(s *Spec) { s.Limits.Memory = -1 },
	} {
		if name == "home other" && os.Geteuid() != 0 {
			continue // bob's home has the same owner when unprivileged
		}
		if r := run(t, j, l, adjust, "true"); r.err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFilesOwnedByHostUID(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	wantOK(t, sh(t, j, l, "echo hi > made && mkdir madedir"))
	uid, gid, _ := testIDs()
	for _, name := range []string{"made", "madedir"} {
		st, err := os.Stat(filepath.Join(l.alice, name))
		must(t, err)
		sys := st.Sys().(*syscall.Stat_t)
		if int(sys.Uid) != uid || int(sys.Gid) != gid {
			t.Errorf("%s is owned by %d:%d, want %d:%d", name, sys.Uid, sys.Gid, uid, gid)
		}
	}
}

func TestStreamingAndStdin(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	first := make(chan time.Time, 1)
	w := writerFunc(func(p []byte) (int, error) {
		select {
		case first <- time.Now():
		default:
		}
		return len(p), nil
	})
	start := time.Now()
	code, err := j.Run(context.Background(), Spec{User: "alice", Home: l.alice, Argv: []string{"sh", "-c", "echo first; sleep 1; echo second"}, Stdout: w})
	if code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	if d := (<-first).Sub(start); d > 800*time.Millisecond {
		t.Errorf("first output arrived after %v: not streamed", d)
	}
	r := run(t, j, l, func(s *Spec) { s.Stdin = strings.NewReader("hello stdin\n") }, "cat")
	if r.stdout != "hello stdin\n" {
		t.Errorf("stdin: %v", r)
	}
	r = run(t, j, l, nil, "cat")
	wantOK(t, r)
	r = sh(t, j, l, "echo to-stdout > /dev/stdout; echo to-stderr > /dev/stderr; head -c 4 /dev/urandom | wc -c")
	wantOK(t, r)
	if r.stdout != "to-stdout\n4\n" || r.stderr != "to-stderr\n" {
		t.Errorf("stdio through /dev: %v", r)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestSignalsCannotReachHost(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	victim := exec.Command("sleep", "30")
	if os.Geteuid() == 0 {
		uid, gid, _ := testIDs()
		victim.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	must(t, victim.Start())
	defer victim.Process.Kill()
	sh(t, j, l, "kill -9 -1; kill -9 "+strconv.Itoa(victim.Process.Pid))
	time.Sleep(50 * time.Millisecond)
	if err := victim.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the jail killed a host process of its uid: %v", err)
	}
}

func TestConcurrentRuns(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			var out syncBuffer
			code, err := j.Run(context.Background(), Spec{User: "alice", Home: l.alice, Argv: []string{"echo", strconv.Itoa(i)}, Stdout: &out})
			if err == nil && (code != 0 || out.String() != strconv.Itoa(i)+"\n") {
				err = fmt.Errorf("run %d: exit %d, out %q", i, code, out.String())
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestNewRejectsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		if _, err := New(Config{HostUID: os.Geteuid() + 1, HostGID: os.Getegid()}); err == nil {
			t.Error("New accepted a foreign HostUID when unprivileged")
		}
		return
	}
	for _, cfg := range []Config{{}, {HostUID: 0, HostGID: 1000}, {HostUID: 1000, HostGID: 0}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted mapping the jail to host root", cfg)
		}
	}
}

func TestFeaturesAndClose(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	f := j.Features()
	t.Log(f)
	if strings.Contains(f, "\n") || !strings.Contains(f, "landlock") || !strings.Contains(f, "seccomp") {
		t.Errorf("Features() = %q", f)
	}
	must(t, j.Close())
	if r := run(t, j, l, nil, "true"); r.err == nil {
		t.Error("Run after Close succeeded")
	}
}
