//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runIn runs argv as alice through the session s.
func runIn(t testing.TB, s *Session, l *layout, adjust func(*Spec), argv ...string) result {
	t.Helper()
	return runOn(t, s.Run, l, adjust, argv...)
}

// keptSession returns a session of a jail that keeps jails, with its
// first command run. Kept jails need a memory cgroup: an unprivileged run
// without a delegated cgroup has none, and sessions then run every
// command like Jail.Run (TestSessionWithoutCgroup).
func keptSession(t *testing.T) (*Jail, *Session, *layout) {
	t.Helper()
	j, l := newTestJail(t), newLayout(t)
	if j.cgroup == nil {
		t.Skipf("no kept jails without a memory cgroup: %s", j.Features())
	}
	if j.noKeep != "" {
		t.Fatalf("kept jails are off: %s", j.noKeep)
	}
	s := j.NewSession()
	t.Cleanup(s.Close)
	wantOK(t, runIn(t, s, l, nil, "true"))
	return j, s, l
}

// marker writes a file in the jail's /tmp (a kept jail keeps it) and
// returns a command that prints it.
func sameJail(t *testing.T, s *Session, l *layout) func() bool {
	t.Helper()
	id := fmt.Sprint(time.Now().UnixNano())
	wantOK(t, runIn(t, s, l, nil, "sh", "-c", "echo "+id+" > /tmp/marker"))
	return func() bool {
		r := runIn(t, s, l, nil, "cat", "/tmp/marker")
		return r.err == nil && strings.TrimSpace(r.stdout) == id
	}
}

func TestSessionKeepsJail(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	if j.cgroup == nil {
		t.Skipf("no kept jails without a memory cgroup: %s", j.Features())
	}
	s := j.NewSession()
	defer s.Close()
	r := runIn(t, s, l, nil, "sh", "-c", "echo one > /tmp/m; cat /proc/1/comm")
	wantOK(t, r)
	if strings.TrimSpace(r.stdout) != "sh" {
		t.Errorf("first command: PID 1 is %q, want the program itself (a fresh jail)", r.stdout)
	}
	// A background process outlives its command only until the command
	// ends: the keeper kills it.
	r = runIn(t, s, l, nil, "sh", "-c", "test -e /tmp/m && echo stale; echo two > /tmp/m; cat /proc/1/comm; sleep 1000 & echo $!")
	wantOK(t, r)
	f := strings.Fields(r.stdout)
	if len(f) != 2 || f[0] != "cubby-jail" {
		t.Fatalf("second command: got %q, want PID 1 cubby-jail and the pid of sleep", r.stdout)
	}
	r = runIn(t, s, l, nil, "sh", "-c", "cat /tmp/m; test -e /proc/"+f[1]+" && echo sleep-alive; ls /proc | grep -c '^[0-9]'")
	wantOK(t, r)
	// /tmp kept; sleep gone; processes: keeper, sh, ls, grep.
	if r.stdout != "two\n4\n" {
		t.Errorf("third command: got %q, want the kept /tmp, no sleep and 4 processes", r.stdout)
	}
}

func TestKeptJailSameRestrictions(t *testing.T) {
	j, s, l := keptSession(t)
	r := runIn(t, s, l, nil, "sh", "-c", selfCheckScript)
	wantOK(t, r)
	if err := j.verify(r.stdout); err != nil {
		t.Error(err)
	}
	r = runIn(t, s, l, nil, "sh", "-c", "ulimit -c; ulimit -t; ulimit -f; ulimit -n; ulimit -p")
	wantOK(t, r)
	d := DefaultLimits()
	want := fmt.Sprintf("0\n%d\n%d\n%d\n%d\n", int(d.CPUTime.Seconds()), d.FileSize/512, d.OpenFiles, d.Processes+keeperTasks)
	if r.stdout != want {
		t.Errorf("rlimits (core, cpu, fsize, nofile, nproc) = %q, want %q", r.stdout, want)
	}
	// A hard limit cannot be raised again.
	wantFail(t, runIn(t, s, l, nil, "sh", "-c", "ulimit -n 100000"))
}

func TestKeeperUnreachable(t *testing.T) {
	_, s, l := keptSession(t)
	same := sameJail(t, s, l)
	for _, script := range []string{
		"cat /proc/1/environ", "ls /proc/1/fd", "cat /proc/1/maps", "cat /proc/1/mem", "ls /proc/1/root/",
		"ls -l /proc/1/exe", "cat /proc/1/exe > x",
	} {
		t.Run(script, func(t *testing.T) { wantFail(t, runIn(t, s, l, nil, "sh", "-c", script)) })
	}
	// PID 1 catches whatever a program sends it and goes on.
	r := runIn(t, s, l, nil, "sh", "-c", "for s in TERM INT HUP QUIT USR1 USR2 ALRM PIPE STOP KILL; do kill -s $s 1; done; sleep 0.1; echo sent")
	if !strings.Contains(r.stdout, "sent") {
		t.Errorf("signals: %v", r)
	}
	if !same() {
		t.Error("the kept jail was lost after signals to its PID 1")
	}
}

func TestKeptJailExitsAndErrors(t *testing.T) {
	_, s, l := keptSession(t)
	same := sameJail(t, s, l)
	must(t, os.WriteFile(filepath.Join(l.alice, "noexec.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755))
	l.chownAlice(t, filepath.Join(l.alice, "noexec.sh"))
	for _, tc := range []struct {
		argv   []string
		dir    string
		code   int
		errHas string
	}{
		{argv: []string{"sh", "-c", "exit 7"}, code: 7},
		{argv: []string{"sh", "-c", "kill -9 $$"}, code: 137},
		{argv: []string{"no-such-program"}, code: 127, errHas: "command not found"},
		{argv: []string{"./noexec.sh"}, code: 126, errHas: "cannot execute"},
		{argv: []string{"pwd"}, dir: "missing", code: -1, errHas: "working directory missing"},
	} {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			r := runIn(t, s, l, func(sp *Spec) { sp.Dir = tc.dir }, tc.argv...)
			if r.code != tc.code || tc.errHas == "" && r.err != nil || tc.errHas != "" && (r.err == nil || !strings.Contains(r.err.Error(), tc.errHas)) {
				t.Errorf("got %v, want exit %d and an error with %q", r, tc.code, tc.errHas)
			}
			if errors.Is(r.err, ErrNotFound) != (tc.code == 127) {
				t.Errorf("ErrNotFound: got %v", r.err)
			}
		})
	}
	if !same() {
		t.Error("the kept jail was lost after failed commands")
	}
}

func TestKeptJailKilled(t *testing.T) {
	_, s, l := keptSession(t)
	for _, tc := range []struct {
		name   string
		adjust func(*Spec)
		ctx    func() (context.Context, context.CancelFunc)
		argv   []string
		want   error
	}{
		{"timeout", func(sp *Spec) { sp.Limits.WallClock = 300 * time.Millisecond }, nil, []string{"sleep", "30"}, ErrTimeout},
		{"output", func(sp *Spec) { sp.Limits.Output = 4096 }, nil, []string{"yes"}, ErrOutputLimit},
		{"cancel", nil, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}, []string{"sleep", "30"}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			same := sameJail(t, s, l)
			spec := Spec{User: "alice", Home: l.alice, Argv: tc.argv, Limits: Limits{WallClock: 30 * time.Second}}
			if tc.adjust != nil {
				tc.adjust(&spec)
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			start := time.Now()
			code, err := s.Run(ctx, spec)
			if !errors.Is(err, tc.want) || code != 137 {
				t.Errorf("got exit %d, %v; want 137, %v", code, err, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			// The killed jail is given up; the next command gets a new one.
			if same() {
				t.Error("the next command ran in the killed jail")
			}
			wantOK(t, runIn(t, s, l, nil, "true"))
		})
	}
}

func TestKeptJailStdinUsageAndCwd(t *testing.T) {
	_, s, l := keptSession(t)
	must(t, os.Mkdir(filepath.Join(l.alice, "sub dir"), 0o755))
	l.chownAlice(t, filepath.Join(l.alice, "sub dir"))
	var usage Usage
	r := runIn(t, s, l, func(sp *Spec) {
		sp.Stdin = strings.NewReader("hello\n")
		sp.Dir = "sub dir"
		sp.Usage = &usage
		sp.Env = []string{"LANG=C.UTF-8", "EVIL=1"}
	}, "sh", "-c", "cat; pwd; echo $LANG $EVIL; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
	wantOK(t, r)
	if r.stdout != "hello\n/home/alice/sub dir\nC.UTF-8\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if usage.CPUTime <= 0 || usage.CPUTime > 30*time.Second {
		t.Errorf("usage %v", usage.CPUTime)
	}
}

func TestKeptJailKeyChange(t *testing.T) {
	_, s, l := keptSession(t)
	same := sameJail(t, s, l)
	// Other limits need another jail; the old one is given up.
	r := runIn(t, s, l, func(sp *Spec) { sp.Limits.TmpSize = 1 << 20 }, "sh", "-c", "test -e /tmp/marker && echo old; df -k /tmp | tail -1")
	wantOK(t, r)
	if f := strings.Fields(r.stdout); len(f) < 2 || f[1] != "1024" {
		t.Errorf("with a 1 MiB /tmp: got %q, want a fresh /tmp of 1024 KiB", r.stdout)
	}
	if same() {
		t.Error("back to the default limits: the old jail came back")
	}
	// So does another memory limit: the kept jail's /tmp counts in its
	// memory cgroup, whose limit cannot go below what it holds.
	same = sameJail(t, s, l)
	r = runIn(t, s, l, func(sp *Spec) { sp.Limits.Memory = 256 << 20 }, "sh", "-c", "test -e /tmp/marker && echo old; echo ok")
	if r.code != 0 || r.err != nil || r.stdout != "ok\n" {
		t.Errorf("with another memory limit: %v; want a new jail", r)
	}
	if same() {
		t.Error("back to the default memory limit: the old jail came back")
	}
}

func TestKeptJailConcurrentAndClose(t *testing.T) {
	_, s, l := keptSession(t)
	wantOK(t, runIn(t, s, l, nil, "true"))
	s.mu.Lock()
	pid := s.kept.p.cmd.Process.Pid
	s.mu.Unlock()
	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runIn(t, s, l, nil, "sh", "-c", fmt.Sprintf("sleep 0.2; echo %d", i))
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.code != 0 || strings.TrimSpace(r.stdout) != fmt.Sprint(i) {
			t.Errorf("concurrent command %d: %v", i, r)
		}
	}
	s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the kept jail's PID 1 (host pid %d) still runs after Close", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantOK(t, runIn(t, s, l, nil, "true")) // after Close: like Jail.Run
}

func TestKeptJailIdle(t *testing.T) {
	_, s, l := keptSession(t)
	same := sameJail(t, s, l)
	s.dropIdle() // what the idle timer calls
	s.mu.Lock()
	k := s.kept
	s.mu.Unlock()
	if k != nil {
		t.Fatal("still kept after dropIdle")
	}
	if same() {
		t.Error("the dropped jail came back")
	}
}

// A program named by a relative path is found from the command's working
// directory, as in a fresh jail: same status, same error.
func TestKeptJailRelativeProgram(t *testing.T) {
	j, s, l := keptSession(t)
	sub := filepath.Join(l.alice, "sub")
	must(t, os.Mkdir(sub, 0o755))
	l.chownAlice(t, sub)
	for _, f := range []string{filepath.Join(sub, "here.sh"), filepath.Join(l.alice, "above.sh")} {
		must(t, os.WriteFile(f, []byte("#!/bin/sh\necho ran\n"), 0o755))
		l.chownAlice(t, f)
	}
	inSub := func(sp *Spec) { sp.Dir = "sub" }
	for _, argv0 := range []string{"./here.sh", "./above.sh", "../above.sh", "sub/here.sh"} {
		t.Run(argv0, func(t *testing.T) {
			fresh := j.NewSession() // its first command runs in a fresh jail
			defer fresh.Close()
			want := runIn(t, fresh, l, inSub, argv0)
			got := runIn(t, s, l, inSub, argv0)
			if got.code != want.code || fmt.Sprint(got.err) != fmt.Sprint(want.err) || got.stdout != want.stdout {
				t.Errorf("kept jail: %v; a fresh jail: %v", got, want)
			}
		})
	}
}

// A program can send the keeper a signal with a code of its choosing
// (rt_sigqueueinfo, or F_SETOWN and F_SETSIG on a file): SIGSEGV, SIGBUS,
// SIGFPE, SIGILL, SIGTRAP, SIGSTKFLT or SIGSYS so sent look to the Go
// runtime like a fault of its own, which it would crash on. The keeper
// must ignore them like any other signal.
func TestKeeperSurvivesFaultSignals(t *testing.T) {
	if _, err := os.Stat("/usr/bin/perl"); err != nil {
		t.Skip("needs perl in the jail to make raw system calls")
	}
	_, s, l := keptSession(t)
	same := sameJail(t, s, l)
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGSTKFLT, syscall.SIGSYS} {
		for how, script := range map[string]string{
			// siginfo_t: signo, errno, code = SI_QUEUE (-1), then padding to 128 bytes.
			"sigqueue": fmt.Sprintf(`my $i = pack("iii", %[2]d, 0, -1) . ("\0" x 116); syscall(%[1]d, 1, %[2]d, $i) == 0 or die "rt_sigqueueinfo: $!";`, unix.SYS_RT_SIGQUEUEINFO, sig),
			// SIGIO replaced by sig, with si_code POLL_IN, when the pipe gets data.
			"F_SETSIG": fmt.Sprintf(`pipe(my $r, my $w) or die; fcntl($r, %d, 1) or die "F_SETOWN: $!"; fcntl($r, %d, %d) or die "F_SETSIG: $!"; fcntl($r, %d, %d) or die "F_SETFL: $!"; syswrite($w, "x");`,
				unix.F_SETOWN, unix.F_SETSIG, sig, unix.F_SETFL, unix.O_ASYNC|unix.O_NONBLOCK),
		} {
			t.Run(fmt.Sprintf("%s %v", how, sig), func(t *testing.T) {
				wantOK(t, runIn(t, s, l, nil, "perl", "-e", script+` select(undef, undef, undef, 0.1); print "sent\n";`))
			})
		}
	}
	if !same() {
		t.Error("the kept jail was lost")
	}
}

// A program may change, with the rights of its uid, what the keeper passes
// on to the programs it starts: its rlimits (prlimit), and the nice value,
// scheduling policy, CPU affinity and I/O priority of the thread that
// forks them. What one command changes so must not reach the next.
func TestKeptJailNotReusedAfterTampering(t *testing.T) {
	j, s, l := keptSession(t)
	const state = "ulimit -n; nice; chrt -p $$ | cut -d: -f2; taskset -p $$ | cut -d: -f2; ionice -p $$"
	base := runIn(t, s, l, nil, "sh", "-c", state)
	wantOK(t, base)
	for _, tamper := range []string{
		"prlimit --pid 1 --nofile=5:5",
		"renice -n 10 -p 1",
		"chrt -i -p 0 1",
		"taskset -p 1 1",
		"ionice -c 3 -p 1",
	} {
		t.Run(tamper, func(t *testing.T) {
			s := j.NewSession()
			defer s.Close()
			wantOK(t, runIn(t, s, l, nil, "true"))
			wantOK(t, runIn(t, s, l, nil, "sh", "-c", tamper+" >/dev/null"))
			r := runIn(t, s, l, nil, "sh", "-c", state)
			if r.code != 0 || r.err != nil || r.stdout != base.stdout {
				t.Errorf("after %q: %v; want %q", tamper, r, base.stdout)
			}
		})
	}
}

// A home or a mounted folder replaced on the host (a restore, a new
// week's handouts put in place of the old) is what the next command sees,
// as in a fresh jail, not the directory the kept jail bound.
func TestKeptJailSeesReplacedDirectories(t *testing.T) {
	_, s, l := keptSession(t)
	share, _, mounts := classLayout(t, l)
	ls := func() string {
		t.Helper()
		r := runIn(t, s, l, withMounts(mounts), "sh", "-c", "ls ~ ~/handouts")
		wantOK(t, r)
		return r.stdout
	}
	ls()
	ls() // in the kept jail for these mounts
	must(t, os.Rename(share, share+".old"))
	must(t, os.Mkdir(share, 0o755))
	must(t, os.WriteFile(filepath.Join(share, "week2.txt"), nil, 0o644))
	if got := ls(); !strings.Contains(got, "week2.txt") || strings.Contains(got, "notes.txt") {
		t.Errorf("after new handouts: %q; want week2.txt, not notes.txt", got)
	}
	must(t, os.Rename(l.alice, l.alice+".old"))
	must(t, os.Mkdir(l.alice, 0o700))
	l.chownAlice(t, l.alice)
	must(t, os.WriteFile(filepath.Join(l.alice, "restored.txt"), nil, 0o644))
	l.chownAlice(t, filepath.Join(l.alice, "restored.txt"))
	if got := ls(); !strings.Contains(got, "restored.txt") {
		t.Errorf("after a new home: %q; want restored.txt", got)
	}
}

// A quota's room left, the file-size limit, shrinks as a user writes: the
// kept jail lowers it for the next command; only a larger one needs a new
// jail.
func TestKeptJailFileSize(t *testing.T) {
	_, s, l := keptSession(t)
	limit := func(bytes int64) func(*Spec) { return func(sp *Spec) { sp.Limits.FileSize = bytes } }
	fsize := func(bytes int64) string {
		t.Helper()
		r := runIn(t, s, l, limit(bytes), "sh", "-c", "ulimit -f; ulimit -H -f")
		wantOK(t, r)
		return strings.Join(strings.Fields(r.stdout), " ")
	}
	if got := fsize(1 << 20); got != "2048 2048" {
		t.Errorf("1 MiB: ulimit -f, -H -f = %q, want 2048 2048 (512-byte blocks)", got)
	}
	wantOK(t, runIn(t, s, l, limit(1<<20), "sh", "-c", "echo here > /tmp/marker"))
	marked := func(bytes int64) bool {
		r := runIn(t, s, l, limit(bytes), "cat", "/tmp/marker")
		return r.err == nil && r.stdout == "here\n"
	}
	if got := fsize(512 << 10); got != "1024 1024" {
		t.Errorf("512 KiB: %q, want 1024 1024", got)
	}
	r := runIn(t, s, l, limit(512<<10), "sh", "-c", "head -c 600000 /dev/zero > big")
	if r.code != 128+int(syscall.SIGXFSZ) {
		t.Errorf("writing 600000 bytes under a 512 KiB limit: %v, want SIGXFSZ", r)
	}
	if !marked(512 << 10) {
		t.Error("a lower file-size limit gave up the kept jail")
	}
	if got := fsize(2 << 20); got != "4096 4096" {
		t.Errorf("2 MiB: %q, want 4096 4096", got)
	}
	if marked(2 << 20) {
		t.Error("a higher file-size limit ran in the old jail, whose limit cannot be raised")
	}
}

// The keeper reaps every process of a command, so the CPU time of one the
// program left behind (orphaned to PID 1) counts in its usage.
func TestKeptJailCountsOrphans(t *testing.T) {
	_, s, l := keptSession(t)
	const busy = `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`
	cpu := func(script string) time.Duration {
		t.Helper()
		var u Usage
		wantOK(t, runIn(t, s, l, func(sp *Spec) { sp.Usage = &u }, "sh", "-c", script))
		return u.CPUTime
	}
	direct := cpu(busy)
	// The subshell exits at once; its child, orphaned, does the work while
	// the program waits for its file without waiting for it as a child.
	orphaned := cpu(`rm -f /tmp/o; (sh -c '` + busy + `; touch /tmp/o' &); while [ ! -e /tmp/o ]; do sleep 0.05; done`)
	if direct <= 0 || orphaned < direct/2 {
		t.Errorf("the loop alone used %v; the program whose orphan ran it reported %v, want at least half", direct, orphaned)
	}
}
