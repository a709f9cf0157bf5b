package session_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/sandbox"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// jailOwner is the host account jailed programs run as in these tests.
func jailOwner() sandbox.Config {
	if os.Geteuid() == 0 {
		return sandbox.Config{HostUID: 61000, HostGID: 61000}
	}
	return sandbox.Config{HostUID: os.Geteuid(), HostGID: os.Getegid()}
}

// withJail gives the server a real jail. Without one the test fails under
// CI (where the jail must work) and is skipped elsewhere, saying why.
func withJail(t testing.TB) serverOption {
	t.Helper()
	cfg := jailOwner()
	j, err := sandbox.New(cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the jail cannot be built, and CI requires it: %v", err)
		}
		t.Skipf("the jail cannot be built here: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return func(s *session.Server) {
		s.Jail = j
		if os.Geteuid() == 0 {
			s.HomeOwner = &session.Owner{UID: cfg.HostUID, GID: cfg.HostGID}
		}
	}
}

// jailDataDir makes a data dir whose parents the jail's uid can traverse.
func jailDataDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	for p := d; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// run runs a line and returns stdout, stderr and the status.
func run(t testing.TB, c *client.Client, line string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code, err := c.Command(context.Background(), line, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("Command(%q): %v", line, err)
	}
	return out.String(), errOut.String(), code
}

func setCommands(ts *testServer, user string, cmds ...string) {
	ts.users[user].Commands = cmds
}

// TestSeedDemo is the seed's demo transcript, done right.
func TestSeedDemo(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	setCommands(ts, "alice", "ls", "mkdir", "mv", "rm", "cp", "cat")
	c := ts.dial(t, "alice")
	dir := filepath.Join(t.TempDir(), "MY STUFFS", "CSC 574")
	os.MkdirAll(dir, 0o755)
	local, _ := randomFile(t, dir, "CSC 574 Programming_Assignment_1.pdf", 5000)
	if _, err := c.Upload(context.Background(), local, "", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	steps := []struct{ line, want string }{
		{"ls", "CSC 574 Programming_Assignment_1.pdf\n"},
		{"mkdir newfolder", ""},
		{"mkdir testfolder", ""},
		{`mv "CSC 574 Programming_Assignment_1.pdf" newfolder/`, ""},
		{"rm -r testfolder", ""},
		{"ls", "newfolder\n"},
		{"ls newfolder", "CSC 574 Programming_Assignment_1.pdf\n"},
	}
	for _, st := range steps {
		out, errOut, code := run(t, c, st.line)
		if code != 0 || out != st.want {
			t.Fatalf("%s: status %d, stdout %q, stderr %q; want 0 and %q", st.line, code, out, errOut, st.want)
		}
	}
	if _, err := os.Stat(filepath.Join(ts.home("alice"), "newfolder", "CSC 574 Programming_Assignment_1.pdf")); err != nil {
		t.Errorf("the file is not where mv put it: %v", err)
	}
}

func TestCommandStatusAndErrors(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	setCommands(ts, "alice", "ls", "sh", "cat", "echo")
	c := ts.dial(t, "alice")

	_, errOut, code := run(t, c, "ls missing-file")
	if code != 2 || !strings.Contains(errOut, "missing-file") {
		t.Errorf("ls missing-file: status %d, stderr %q; want 2", code, errOut)
	}
	out, errOut, code := run(t, c, `sh -c 'echo out; echo err >&2; exit 3'`)
	if code != 3 || out != "out\n" || errOut != "err\n" {
		t.Errorf("sh: %d %q %q; want 3, out, err kept apart", code, out, errOut)
	}
	// The audit record says what the command cost.
	if !regexp.MustCompile(`msg=command .*argv0=sh args=2 argv="\\"sh\\" \\"-c\\" \\"echo out; echo err >&2; exit 3\\"" cwd=~ exit=3 duration=\S+ cpu=[0-9]\S* limit=""`).MatchString(ts.logs.String()) {
		t.Errorf("no audit record with the cpu time of sh:\n%s", ts.logs)
	}
	_, err := c.Command(context.Background(), "python3 -c 1", nil, &bytes.Buffer{}, &bytes.Buffer{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindNotAllowed || we.Message != "'python3' is not allowed for alice" {
		t.Errorf("python3: %v; want 'python3' is not allowed for alice", err)
	}
	setCommands(ts, "alice", users.AnyCommand)
	_, err = c.Command(context.Background(), "no-such-program", nil, &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.As(err, &we) || we.Kind != wire.KindCommandNotFound {
		t.Errorf("missing program: %v; want command not found", err)
	}
	// No shell: operators are ordinary arguments.
	out, _, _ = run(t, c, "echo a ; rm -rf ~ && $(id) | x")
	if out != "a ; rm -rf /home/alice && $(id) | x\n" {
		t.Errorf("echo with operators printed %q", out)
	}
}

func TestCdPwdGlob(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	setCommands(ts, "alice", users.AnyCommand)
	c := ts.dial(t, "alice")
	for _, line := range []string{"mkdir -p a/b", "touch a/x.txt a/y.txt a/z.pdf a/.hidden.txt"} {
		if _, errOut, code := run(t, c, line); code != 0 {
			t.Fatalf("%s: %d %s", line, code, errOut)
		}
	}
	steps := []struct{ line, out, cwd string }{
		{"pwd", "~\n", "~"},
		{"cd a", "", "~/a"},
		{"pwd", "~/a\n", "~/a"},
		{"echo *.txt", "x.txt y.txt\n", "~/a"},
		{"echo '*.txt' \"*.txt\" \\*.txt", "*.txt *.txt *.txt\n", "~/a"},
		{"echo *.nomatch", "*.nomatch\n", "~/a"},
		{"echo ?.pdf ~ ~/a/[xy].txt", "z.pdf /home/alice /home/alice/a/x.txt /home/alice/a/y.txt\n", "~/a"},
		{"echo ../a/*.pdf", "../a/z.pdf\n", "~/a"},
		{"cd b", "", "~/a/b"},
		{"cd", "", "~"},
	}
	for _, st := range steps {
		out, errOut, code := run(t, c, st.line)
		if code != 0 || out != st.out || c.Cwd() != st.cwd {
			t.Errorf("%s: status %d, out %q, err %q, cwd %s; want %q in %s", st.line, code, out, errOut, c.Cwd(), st.out, st.cwd)
		}
	}
	for _, bad := range []string{"cd ..", "cd /etc", "cd ../bob", "cd a/x.txt", "cd nowhere"} {
		if _, err := c.Command(context.Background(), bad, nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil && c.Cwd() != "~" {
			t.Errorf("%s moved to %s", bad, c.Cwd())
		}
	}
	if _, err := c.Command(context.Background(), "cd /etc", nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("cd /etc succeeded")
	}
	// A glob never lists another user's home.
	os.MkdirAll(ts.home("bob"), 0o700)
	os.WriteFile(filepath.Join(ts.home("bob"), "secret.txt"), []byte("x"), 0o600)
	out, _, _ := run(t, c, "echo ../bob/* /home/bob/*")
	if strings.Contains(out, "secret") {
		t.Errorf("glob revealed bob's files: %q", out)
	}
}

func TestCommandStdinAndCancel(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	setCommands(ts, "alice", users.AnyCommand)
	c := ts.dial(t, "alice")

	notes := strings.Repeat("line of notes\n", 10_000)
	var out bytes.Buffer
	code, err := c.Command(context.Background(), "tee notes.txt", strings.NewReader(notes), &out, &bytes.Buffer{})
	if err != nil || code != 0 {
		t.Fatalf("tee: %d %v", code, err)
	}
	if got, _ := os.ReadFile(filepath.Join(ts.home("alice"), "notes.txt")); string(got) != notes || out.String() != notes {
		t.Errorf("tee stored %d bytes and echoed %d; want %d", len(got), out.Len(), len(notes))
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.Command(ctx, "sleep 30", nil, &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.Is(err, client.ErrCanceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("canceled sleep: %v after %v; want ErrCanceled at once", err, time.Since(start))
	}
	if out, _, code := run(t, c, "pwd"); code != 0 || out != "~\n" {
		t.Errorf("session after cancel: %q %d", out, code)
	}
}

func TestDisconnectKillsCommand(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	setCommands(ts, "alice", users.AnyCommand)
	raw := rawLogin(t, ts, "alice")
	const marker = "31.4159"
	raw.send(t, &wire.Command{Line: "sleep " + marker})
	waitFor(t, func() bool { return sleepers(marker) > 0 })
	raw.nc.Close()
	waitFor(t, func() bool { return sleepers(marker) == 0 })
}

// sleepers counts host processes whose command line is "sleep <marker>".
func sleepers(marker string) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && string(b) == "sleep\x00"+marker+"\x00" {
			n++
		}
	}
	return n
}

func TestCommandsRefusedWithoutJail(t *testing.T) {
	ts := startServer(t, "", func(s *session.Server) { s.JailError = errors.New("sandbox: user namespaces are disabled") })
	setCommands(ts, "alice", "ls")
	c := ts.dial(t, "alice")
	_, err := c.Command(context.Background(), "ls", nil, &bytes.Buffer{}, &bytes.Buffer{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindUnavailable || !strings.Contains(we.Message, "user namespaces are disabled") {
		t.Fatalf("ls without a jail: %v; want unavailable with the reason", err)
	}
	// Built-ins and transfers still work.
	if out, _, code := run(t, c, "pwd"); code != 0 || out != "~\n" {
		t.Errorf("pwd without a jail: %q %d", out, code)
	}
}

func TestUserLimits(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	setCommands(ts, "alice", users.AnyCommand)
	ts.users["alice"].Limits = users.Limits{Timeout: time.Second, MaxTimeout: 3 * time.Second, Output: 1024}
	c := ts.dial(t, "alice")
	start := time.Now()
	_, errOut, code := run(t, c, "sleep 20")
	if code == 0 || time.Since(start) > 10*time.Second {
		t.Errorf("sleep 20 with a 1s timeout: status %d after %v, stderr %q", code, time.Since(start), errOut)
	}
	out, errOut, _ := run(t, c, "head -c 5000 /dev/zero")
	if len(out) > 1024 || !strings.Contains(errOut, "output limit") {
		t.Errorf("output cap 1 KiB: got %d bytes, stderr %q", len(out), errOut)
	}
	cfg := clientConfig(t, "alice", passwords["alice"])
	cfg.CommandTimeout = time.Hour
	c2, err := client.Dial(context.Background(), ts.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, err = c2.Command(context.Background(), "true", nil, &bytes.Buffer{}, &bytes.Buffer{})
	var we *wire.Error
	if !errors.As(err, &we) || !strings.Contains(we.Message, "more than your limit of 3s") {
		t.Errorf("asking for 1h over a 3s cap: %v", err)
	}
}

// TestUploadedFilesBelongToTheJail checks that what the server stores is
// usable by the user's programs: as root, files and directories the server
// makes are given to the jail's uid.
func TestUploadedFilesBelongToTheJail(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	setCommands(ts, "alice", users.AnyCommand)
	c := ts.dial(t, "alice")
	local, _ := randomFile(t, t.TempDir(), "notes.txt", 100)
	if _, err := c.Mkdir(context.Background(), "made/by/server", 0o755, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upload(context.Background(), local, "made/by/server/notes.txt", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"sh -c 'echo more >> made/by/server/notes.txt'", "touch made/new", "touch made/by/new", "chmod 600 made/by/server/notes.txt"} {
		if _, errOut, code := run(t, c, line); code != 0 {
			t.Errorf("%s: status %d, %s", line, code, errOut)
		}
	}
}

// keepers returns the host pids of this process's kept jails' PID 1s.
func keepers(t testing.TB) []int {
	t.Helper()
	var pids []int
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		if strings.Contains(string(st), "Name:\tcubby-jail\n") && strings.Contains(string(st), "\nPPid:\t"+strconv.Itoa(os.Getpid())+"\n") {
			pid, _ := strconv.Atoi(e.Name())
			pids = append(pids, pid)
		}
	}
	return pids
}

// A session's second command runs in the jail the session keeps; each
// session keeps its own, and it ends with the session.
func TestKeptJailPerSession(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	setCommands(ts, "alice", users.AnyCommand)
	before := len(keepers(t))
	c1, c2 := ts.dial(t, "alice"), ts.dial(t, "alice")
	pid1 := func(c *client.Client) string {
		out, errOut, code := run(t, c, "cat /proc/1/comm")
		if code != 0 {
			t.Fatalf("cat /proc/1/comm: %d %q", code, errOut)
		}
		return strings.TrimSpace(out)
	}
	if got := pid1(c1); got != "cat" {
		t.Errorf("first command: PID 1 is %q, want cat (a fresh jail)", got)
	}
	if got := pid1(c1); got != "cubby-jail" {
		t.Skipf("second command: PID 1 is %q, not a kept jail (no memory cgroup here?)", got)
	}
	run(t, c1, "sh -c 'echo c1 > /tmp/who'")
	pid1(c2)
	pid1(c2)
	if out, _, _ := run(t, c2, "sh -c 'cat /tmp/who 2>/dev/null; echo end'"); out != "end\n" {
		t.Errorf("another session sees the first one's /tmp: %q", out)
	}
	if out, _, _ := run(t, c1, "cat /tmp/who"); out != "c1\n" {
		t.Errorf("the session's kept /tmp: %q", out)
	}
	if n := len(keepers(t)) - before; n != 2 {
		t.Errorf("%d kept jails for two sessions, want 2", n)
	}
	c1.Close()
	c2.Close()
	deadline := time.Now().Add(10 * time.Second)
	for len(keepers(t)) > before {
		if time.Now().After(deadline) {
			t.Fatalf("kept jails outlive their sessions: %v", keepers(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
