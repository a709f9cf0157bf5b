package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/cmd/internal/clitest"
)

// bins builds cubbyd and cubby once for these tests; bin is their directory.
var (
	bins clitest.Binaries
	bin  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// server is a running cubbyd: its address and its log.
type server struct {
	addr string
	cmd  *exec.Cmd
	log  fmt.Stringer
}

// binaries builds the binaries on first use and sets bin.
func binaries(t *testing.T) string {
	bin = bins.Dir(t)
	return bin
}

// startCubbyd runs cubbyd serve with args and waits until it listens.
func startCubbyd(t *testing.T, args ...string) *server {
	t.Helper()
	return startCubbydIn(t, "", args...)
}

// startCubbydIn is startCubbyd in working directory dir.
func startCubbydIn(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	s := clitest.StartCubbyd(t, binaries(t), dir, args...)
	return &server{addr: s.Addr, cmd: s.Cmd, log: s.Log}
}

// cubby runs the client and returns its stdout, stderr and exit status.
func cubby(t *testing.T, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	return clitest.Run(t, filepath.Join(binaries(t), "cubby"), "", stdin, env, args...)
}

func cubbyd(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return clitest.Run(t, filepath.Join(binaries(t), "cubbyd"), "", stdin, nil, args...)
}

func traversableTempDir(t *testing.T) string { return clitest.TraversableTempDir(t) }

// TestDemoQuickstart walks the README's first steps with the example
// users file: serve the demo accounts on loopback, log in, move the seed's
// file (spaces in its path) up and back, and get honest exit statuses.
func TestDemoQuickstart(t *testing.T) {
	dir := t.TempDir()
	srv := startCubbyd(t, "--config", "../../users.example.toml", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	kh := filepath.Join(dir, "known_hosts")
	local := filepath.Join(dir, "MY STUFFS", "CSC 574", "CSC 574 Programming_Assignment_1.pdf")
	os.MkdirAll(filepath.Dir(local), 0o755)
	content := bytes.Repeat([]byte("%PDF-1.4 seed "), 50_000)
	os.WriteFile(local, content, 0o644)
	common := []string{"--known-hosts", kh, "--accept-new-host", "--password-stdin", "alice@" + srv.addr}

	out, errOut, code := cubby(t, "alice-demo-pw\n", nil, append(common, "upload", local)...)
	if code != 0 || !strings.Contains(out, "~/CSC 574 Programming_Assignment_1.pdf") {
		t.Fatalf("upload: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	stored := filepath.Join(dir, "data", "homes", "alice", "CSC 574 Programming_Assignment_1.pdf")
	if got, _ := os.ReadFile(stored); !bytes.Equal(got, content) {
		t.Fatal("the stored file differs from the upload")
	}

	// The prompt loop reads commands from a non-terminal stdin.
	script := "upload " + local + "\ndownload \"CSC 574 Programming_Assignment_1.pdf\" " + filepath.Join(dir, "back.pdf") + "\nquit\n"
	out, errOut, code = cubby(t, script, []string{"CUBBY_PASSWORD=alice-demo-pw"}, "--known-hosts", kh, "alice@"+srv.addr)
	if code != 0 {
		t.Fatalf("session: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "back.pdf")); !bytes.Equal(got, content) {
		t.Fatal("the downloaded file differs")
	}

	_, errOut, code = cubby(t, "alice-demo-pw\n", nil, append(common, "download", "no-such-file")...)
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("failed download: status %d, stderr %q; want 1 and a reason", code, errOut)
	}
	_, errOut, code = cubby(t, "wrong-password\n", nil, append(common, "upload", local)...)
	if code != 255 || !strings.Contains(errOut, "login failed") {
		t.Errorf("wrong password: status %d, stderr %q; want 255", code, errOut)
	}
	_, errOut, code = cubby(t, "x\n", nil, "--known-hosts", kh, "--password-stdin", "-p", "1", "alice@127.0.0.1", "upload", local)
	if code != 255 {
		t.Errorf("unreachable server: status %d, stderr %q; want 255", code, errOut)
	}

	// The key the client pinned is the one cubbyd fingerprint prints.
	fp, _, code := cubbyd(t, "", "fingerprint", "--data", filepath.Join(dir, "data"))
	if code != 0 || !strings.Contains(srv.log.String(), strings.TrimSpace(fp)) {
		t.Errorf("fingerprint %q (status %d) not in the server log", fp, code)
	}
	for _, want := range []string{"msg=connected", "msg=\"login succeeded\"", "msg=upload", "sha256=", "active=", "msg=disconnected"} {
		if !strings.Contains(srv.log.String(), want) {
			t.Errorf("server log lacks %s", want)
		}
	}
}

func TestDemoAccountsOnlyOnLoopback(t *testing.T) {
	_, errOut, code := cubbyd(t, "", "serve", "--config", "../../users.example.toml", "--data", t.TempDir(), "--listen", "0.0.0.0:0")
	if code == 0 || !strings.Contains(errOut, "demo accounts") {
		t.Fatalf("serve with demo accounts on 0.0.0.0: status %d, stderr %q; want a refusal", code, errOut)
	}
}

func TestUserAdminAndLogin(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "users.toml")
	os.WriteFile(cfg, []byte("# class of 2026\n[defaults]\ncommands = [\"ls\"] # keep me\n"), 0o600)
	if _, errOut, code := cubbyd(t, "s3cret-password\n", "user", "add", "dana", "--config", cfg, "--password-stdin"); code != 0 {
		t.Fatalf("user add: %d %s", code, errOut)
	}
	if _, errOut, code := cubbyd(t, "short\n", "user", "add", "erin", "--config", cfg, "--password-stdin"); code == 0 || !strings.Contains(errOut, "too short") {
		t.Errorf("short password accepted: %d %s", code, errOut)
	}
	if _, errOut, code := cubbyd(t, "s3cret-password\n", "user", "add", "Bad!Name", "--config", cfg, "--password-stdin"); code == 0 {
		t.Errorf("bad name accepted: %s", errOut)
	}
	data, _ := os.ReadFile(cfg)
	if !strings.Contains(string(data), "# class of 2026") || !strings.Contains(string(data), "# keep me") {
		t.Errorf("comments lost:\n%s", data)
	}
	if fi, _ := os.Stat(cfg); fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v; want 0600", fi.Mode().Perm())
	}
	out, _, _ := cubbyd(t, "", "user", "list", "--config", cfg)
	if !strings.Contains(out, "dana") {
		t.Errorf("user list: %q", out)
	}

	srv := startCubbyd(t, "--config", cfg, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	local := filepath.Join(dir, "a.txt")
	os.WriteFile(local, []byte("hello"), 0o644)
	kh := filepath.Join(dir, "kh")
	if _, errOut, code := cubby(t, "s3cret-password\n", nil, "--known-hosts", kh, "--accept-new-host", "--password-stdin", "dana@"+srv.addr, "upload", local); code != 0 {
		t.Fatalf("new user's upload: %d %s", code, errOut)
	}
	if _, errOut, code := cubbyd(t, "n3w-password-1\n", "user", "passwd", "dana", "--config", cfg, "--password-stdin"); code != 0 {
		t.Fatalf("user passwd: %d %s", code, errOut)
	}
	// The running server reloads the file: the new password works.
	loginUntil(t, srv.addr, kh, "dana", "n3w-password-1", 10*time.Second)
	if _, errOut, code := cubbyd(t, "", "user", "del", "dana", "--config", cfg); code != 0 {
		t.Fatalf("user del: %d %s", code, errOut)
	}
	out, _, _ = cubbyd(t, "", "user", "list", "--config", cfg)
	if strings.Contains(out, "dana") {
		t.Errorf("dana still listed after del: %q", out)
	}
}

func TestBadUsersFileStopsServe(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"unknown key", "[users.alice]\npasword = \"x\"\n", "users.toml:2:"},
		{"syntax", "[defaults]\ncommands = [\"ls\"\n", "users.toml:"},
		{"bad verifier", "[users.alice]\npassword = \"plaintext\"\n", "users.toml:2:"},
		{"bad name", "[users.Alice]\npassword = \"x\"\n", "users.toml:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "users.toml")
			os.WriteFile(cfg, []byte(tt.content), 0o600)
			_, errOut, code := cubbyd(t, "", "serve", "--config", cfg, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("serve with %s: status %d, stderr %q; want an error containing %q", tt.name, code, errOut, tt.want)
			}
		})
	}
}

// TestSeedTranscript replays the seed project's demo through the real
// binaries: an unquoted upload path with spaces typed at the prompt, then
// ls, mkdir, mv, rm -r — run in alice's jail — and quit.
func TestSeedTranscript(t *testing.T) {
	dir := traversableTempDir(t)
	cfg := filepath.Join(dir, "users.toml")
	example, err := os.ReadFile("../../users.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg, example, 0o600)
	// Relative paths, as in the README's first command.
	srv := startCubbydIn(t, dir, "--config", "users.toml", "--listen", "127.0.0.1:0")
	if !strings.Contains(srv.log.String(), "jail ready") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cubbyd could not build the jail, which CI requires:\n%s", srv.log)
		}
		t.Skipf("no jail on this machine:\n%s", srv.log)
	}
	local := filepath.Join(t.TempDir(), "MY STUFFS", "CSC 574", "CSC 574 Programming_Assignment_1.pdf")
	os.MkdirAll(filepath.Dir(local), 0o755)
	os.WriteFile(local, []byte("%PDF-1.4 assignment"), 0o644)
	script := strings.Join([]string{
		"upload " + local,
		"ls",
		"mkdir newfolder",
		"mkdir testfolder",
		`mv "CSC 574 Programming_Assignment_1.pdf" newfolder/`,
		"ls",
		"rm -r testfolder",
		"ls",
		"ls newfolder",
		"quit",
	}, "\n") + "\n"
	out, errOut, code := cubby(t, script, []string{"CUBBY_PASSWORD=alice-demo-pw"}, "--known-hosts", filepath.Join(dir, "kh"), "--accept-new-host", "alice@"+srv.addr)
	want := "uploaded " + local + " to ~/CSC 574 Programming_Assignment_1.pdf"
	if code != 0 || errOut != "" || !strings.HasPrefix(out, want) {
		t.Fatalf("status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := strings.SplitN(out, "\n", 2)
	wantRest := "CSC 574 Programming_Assignment_1.pdf\n" + // ls
		"newfolder\ntestfolder\n" + // ls after mv
		"newfolder\n" + // ls after rm -r
		"CSC 574 Programming_Assignment_1.pdf\n" // ls newfolder
	if lines[1] != wantRest {
		t.Errorf("transcript:\n%s\nwant after the upload line:\n%s", lines[1], wantRest)
	}
	// One-shot mode returns the remote status.
	_, errOut, code = cubby(t, "", []string{"CUBBY_PASSWORD=alice-demo-pw"}, "--known-hosts", filepath.Join(dir, "kh"), "alice@"+srv.addr, "ls", "missing-file")
	if code != 2 || !strings.Contains(errOut, "missing-file") {
		t.Errorf("one-shot ls missing-file: status %d, stderr %q; want 2", code, errOut)
	}
	// bob has the default commands list, without python3.
	_, errOut, code = cubby(t, "", []string{"CUBBY_PASSWORD=bob-demo-pw"}, "--known-hosts", filepath.Join(dir, "kh"), "bob@"+srv.addr, "python3")
	if code != 126 || !strings.Contains(errOut, "'python3' is not allowed for bob") {
		t.Errorf("one-shot python3: status %d, stderr %q; want 126 and not allowed for bob", code, errOut)
	}
	// stdin reaches a one-shot command.
	out, errOut, code = cubby(t, "dear diary\n", []string{"CUBBY_PASSWORD=alice-demo-pw"}, "--known-hosts", filepath.Join(dir, "kh"), "alice@"+srv.addr, "cat")
	if code != 0 || out != "dear diary\n" {
		t.Errorf("one-shot cat with stdin: %d %q %q", code, out, errOut)
	}
}
