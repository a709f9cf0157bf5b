//go:build linux

package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestPasswdAndKeyLogin runs the real binaries: alice changes her password
// with passwd (three lines on stdin), after which only the new one works
// and the users file keeps its comments; then a key listed in the file
// logs her in with -i.
func TestPasswdAndKeyLogin(t *testing.T) {
	dir := traversableTempDir(t)
	cfg := filepath.Join(dir, "users.toml")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub, _ := ssh.NewPublicKey(priv.Public())
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	example, err := os.ReadFile("../../users.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " test"
	text := strings.Replace(string(example), "\n[users.alice]\n", "\n[users.alice]\nkeys = [\""+line+"\"]\n", 1)
	os.WriteFile(cfg, []byte(text), 0o600)
	addr, log := startCubbyd(t, "--config", cfg, "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	common := []string{"--known-hosts", filepath.Join(dir, "kh"), "--accept-new-host"}
	run := func(stdin string, env []string, args ...string) (string, string, int) {
		return runCubby(t, dir, stdin, append(env, "SSH_AUTH_SOCK="), append(common, args...)...)
	}

	out, errOut, code := run("alice-demo-pw\nnew password 1\nnew password 1\n", []string{"CUBBY_PASSWORD=alice-demo-pw"}, "alice@"+addr, "passwd")
	if code != 0 || !strings.Contains(out, "password changed") {
		t.Fatalf("passwd: status %d, stdout %q, stderr %q\n%s", code, out, errOut, log)
	}
	if _, errOut, code := run("", []string{"CUBBY_PASSWORD=new password 1"}, "alice@"+addr, "pwd"); code != 0 {
		t.Fatalf("new password: status %d, %s", code, errOut)
	}
	if _, errOut, code := run("", []string{"CUBBY_PASSWORD=alice-demo-pw"}, "alice@"+addr, "pwd"); code != exitConnect || !strings.Contains(errOut, "wrong user name or password") {
		t.Fatalf("old password: status %d, %s", code, errOut)
	}
	data, _ := os.ReadFile(cfg)
	if !strings.Contains(string(data), "# Demo account. Log in as \"alice\"") || !strings.Contains(string(data), line) {
		t.Error("the users file lost its comments or alice's key")
	}

	out, errOut, code = run("", nil, "-i", keyFile, "alice@"+addr, "pwd")
	if code != 0 || strings.TrimSpace(out) != "~" {
		t.Fatalf("key login: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.Contains(log.String(), "method=publickey") {
		t.Errorf("cubbyd log lacks the key login:\n%s", log)
	}
}
