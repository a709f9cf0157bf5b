package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/cmd/internal/clitest"
)

// waitLog waits until the server log contains want, and returns how long
// that took.
func waitLog(t *testing.T, srv *server, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for !strings.Contains(srv.log.String(), want) {
		if time.Since(start) > within {
			t.Fatalf("server log lacks %q after %v:\n%s", want, within, srv.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// sinceWritten is the time since the file at path was last modified.
func sinceWritten(path string) time.Duration {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return time.Since(fi.ModTime()).Round(time.Millisecond)
}

// loginUntil retries a one-shot login until it succeeds, and returns how
// long it took.
func loginUntil(t *testing.T, addr, kh, user, password string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, errOut, code := cubby(t, "", []string{"CUBBY_PASSWORD=" + password}, "--known-hosts", kh, "--accept-new-host", user+"@"+addr, "pwd")
		if code == 0 {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s could not log in within %v: %d %s", user, within, code, errOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLiveReload changes users.toml under a running cubbyd with the admin
// commands: an added user logs in within seconds, a deleted user's open
// session is ended with a message, a broken file keeps the old accounts.
func TestLiveReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "users.toml")
	os.WriteFile(cfg, []byte("[defaults]\ncommands = [\"ls\"]\n"), 0o600)
	if _, errOut, code := cubbyd(t, "dana-password-1\n", "user", "add", "dana", "--config", cfg, "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	srv := startCubbyd(t, "--config", cfg, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	kh := filepath.Join(dir, "kh")
	loginUntil(t, srv.addr, kh, "dana", "dana-password-1", 0)

	// A user added while the server runs.
	start := time.Now()
	if _, errOut, code := cubbyd(t, "erin-password-1\n", "user", "add", "erin", "--config", cfg, "--password-stdin"); code != 0 {
		t.Fatalf("user add erin: %s", errOut)
	}
	waitLog(t, srv, `msg="users reloaded" why="file changed" users=2 added=[erin]`, 10*time.Second)
	t.Logf("time to effect, user added: reloaded %v after users.toml was written", sinceWritten(cfg))
	took := loginUntil(t, srv.addr, kh, "erin", "erin-password-1", 10*time.Second)
	t.Logf("erin logged in (one cubby run: %v) %v after `cubbyd user add` started", took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// Dana has a session open when she is deleted.
	sess := exec.Command(filepath.Join(binaries(t), "cubby"), "--known-hosts", kh, "dana@"+srv.addr)
	sess.Env = append(os.Environ(), "CUBBY_PASSWORD=dana-password-1")
	stdin, _ := sess.StdinPipe()
	stdout, _ := sess.StdoutPipe()
	var errOut clitest.Log
	sess.Stderr = &errOut
	if err := sess.Start(); err != nil {
		t.Fatal(err)
	}
	defer sess.Process.Kill()
	out := bufio.NewReader(stdout)
	io.WriteString(stdin, "pwd\n")
	if line, err := out.ReadString('\n'); err != nil || !strings.Contains(line, "~") {
		t.Fatalf("dana's session: %q %v; stderr %s", line, err, errOut.String())
	}
	if _, e, code := cubbyd(t, "", "user", "del", "dana", "--config", cfg); code != 0 {
		t.Fatalf("user del: %s", e)
	}
	waitLog(t, srv, "sessions_ended=1", 10*time.Second)
	t.Logf("time to effect, user deleted: her open session ended %v after users.toml was written", sinceWritten(cfg))
	io.WriteString(stdin, "pwd\n")
	stdin.Close()
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, out); done <- sess.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("dana's client did not end after she was deleted")
	}
	if !strings.Contains(errOut.String(), "removed or disabled by the admin") {
		t.Errorf("dana's client said %q; want the reason her session ended", errOut.String())
	}
	if _, e, code := cubby(t, "", []string{"CUBBY_PASSWORD=dana-password-1"}, "--known-hosts", kh, "dana@"+srv.addr, "pwd"); code != 255 || !strings.Contains(e, "login failed") {
		t.Errorf("deleted dana logs in: %d %s", code, e)
	}

	// A broken file is rejected with file:line, and erin still logs in.
	good, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(append([]byte{}, good...), "[users.frank]\npasword = \"x\"\n"...), 0o600)
	waitLog(t, srv, `msg="users file rejected; keeping the previous configuration" why="file changed" err="`+cfg+":", 10*time.Second)
	loginUntil(t, srv.addr, kh, "erin", "erin-password-1", 0)

	// Disabling is like deleting.
	os.WriteFile(cfg, append(append([]byte{}, good...), "disabled = true\n"...), 0o600)
	waitLog(t, srv, "removed=[erin]", 10*time.Second)
	if _, e, code := cubby(t, "", []string{"CUBBY_PASSWORD=erin-password-1"}, "--known-hosts", kh, "erin@"+srv.addr, "pwd"); code != 255 {
		t.Errorf("disabled erin logs in: %d %s", code, e)
	}
}

// startCubbydLogFile runs cubbyd serve with a JSON log in logPath and
// waits until it listens.
func startCubbydLogFile(t *testing.T, logPath string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), "cubbyd"), append([]string{"serve"}, args...)...)
	var stderr clitest.Log
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, log: &stderr}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("cubbyd stderr:\n%s\nlog file:\n%s", stderr.String(), data)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(logPath)
		for _, line := range strings.Split(string(data), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				s.addr = rec.Addr
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("cubbyd did not log listening in %s within 30s; stderr:\n%s", logPath, stderr.String())
	return nil
}

// TestSIGHUPReloadAndJSONLog turns polling off, so only SIGHUP reloads,
// and checks the JSON audit log in a file.
func TestSIGHUPReloadAndJSONLog(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "users.toml")
	os.WriteFile(cfg, nil, 0o600)
	if _, errOut, code := cubbyd(t, "gina-password-1\n", "user", "add", "gina", "--config", cfg, "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	logPath := filepath.Join(dir, "audit.log")
	srv := startCubbydLogFile(t, logPath, "--config", cfg, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--reload-interval", "0", "--log-format", "json", "--log-level", "debug", "--log-file", logPath, "--max-startups", "10:30:100")
	kh := filepath.Join(dir, "kh")
	if _, errOut, code := cubbyd(t, "hank-password-1\n", "user", "add", "hank", "--config", cfg, "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, _, code := cubby(t, "", []string{"CUBBY_PASSWORD=hank-password-1"}, "--known-hosts", kh, "--accept-new-host", "hank@"+srv.addr, "pwd"); code != 255 {
		t.Errorf("hank logged in without a reload; polling should be off")
	}
	start := time.Now()
	srv.cmd.Process.Signal(syscall.SIGHUP)
	for {
		data, _ := os.ReadFile(logPath)
		if strings.Contains(string(data), `"msg":"users reloaded","why":"SIGHUP"`) {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("no reload within 10s of SIGHUP")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("time to effect, SIGHUP: reloaded %v after the signal", time.Since(start).Round(time.Millisecond))
	loginUntil(t, srv.addr, kh, "hank", "hank-password-1", 10*time.Second)
	cubby(t, "", []string{"CUBBY_PASSWORD=wrong-password"}, "--known-hosts", kh, "gina@"+srv.addr, "pwd")

	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(logPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v; want 0600", fi.Mode().Perm())
	}
	seen := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		seen[rec["msg"].(string)] = rec
	}
	for msg, keys := range map[string][]string{
		"cubbyd starting": {"max_startups", "max_sessions", "login_grace"},
		"users reloaded":  {"why", "added", "removed", "changed", "sessions_ended", "took"},
		"login succeeded": {"remote", "user", "method"},
		"login failed":    {"remote", "user", "method", "reason", "failures"},
	} {
		rec, ok := seen[msg]
		if !ok {
			t.Errorf("JSON log lacks %q:\n%s", msg, data)
			continue
		}
		for _, k := range keys {
			if _, ok := rec[k]; !ok {
				t.Errorf("%q record lacks %s: %v", msg, k, rec)
			}
		}
	}
	if rec := seen["users reloaded"]; rec != nil && rec["why"] != "SIGHUP" {
		t.Errorf("reload record: %v; want why=SIGHUP", rec)
	}
	if strings.Contains(string(data), "hank-password-1") || strings.Contains(string(data), "wrong-password") {
		t.Error("a password reached the log")
	}
	if rec := seen["cubbyd starting"]; rec != nil && rec["max_startups"] != "10:30:100" {
		t.Errorf("--max-startups not applied: %v", rec["max_startups"])
	}
}

func TestServeFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--log-format", "xml"},
		{"--log-level", "loud"},
		{"--max-startups", "100:30:10"},
	} {
		_, errOut, code := cubbyd(t, "", append([]string{"serve", "--config", "../../users.example.toml", "--data", t.TempDir(), "--listen", "127.0.0.1:0"}, args...)...)
		if code != 2 {
			t.Errorf("serve %v: status %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
}
