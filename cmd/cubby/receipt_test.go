//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cubby-dev/cubby/cmd/internal/clitest"
)

// TestReceipts submits into a drop box through the real binaries: each
// upload saves a receipt, cubby verify-receipt accepts it and refuses a
// changed copy, and cubbyd receipts lists it.
func TestReceipts(t *testing.T) {
	dir := traversableTempDir(t)
	cfg := filepath.Join(dir, "users.toml")
	example, err := os.ReadFile("../../users.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg, append(example, "\n[dropboxes.hw3]\ndeadline = 2099-12-01T23:59:00-05:00\n"...), 0o600)
	data := filepath.Join(dir, "data")
	addr, log := startCubbyd(t, "--config", cfg, "--data", data, "--listen", "127.0.0.1:0")

	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "report.pdf"), []byte("my homework, final version\n"), 0o644)
	os.Mkdir(filepath.Join(work, "code"), 0o755)
	os.WriteFile(filepath.Join(work, "code", "a.go"), []byte("package a\n"), 0o644)
	os.WriteFile(filepath.Join(work, "code", "b.go"), []byte("package b\n"), 0o644)
	kh := filepath.Join(dir, "known_hosts")
	// Receipts go to the config dir, here XDG_CONFIG_HOME.
	env := []string{"CUBBY_PASSWORD=alice-demo-pw", "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	common := []string{"--known-hosts", kh, "--accept-new-host", "alice@" + addr}
	saved := regexp.MustCompile(`(?m)^receipt saved: (.+)$`)

	out, errOut, code := runCubby(t, work, "", env, append(common, "put", "report.pdf", "~/submit/hw3/")...)
	m := saved.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("put into the box: status %d, no receipt saved\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", code, out, errOut, log)
	}
	rpath := m[1]
	if want := filepath.Join(dir, "config", "cubby", "receipts", "127.0.0.1", "hw3"); filepath.Dir(rpath) != want || !strings.HasSuffix(rpath, "-report.pdf.receipt") {
		t.Errorf("receipt saved at %s; want <time>-report.pdf.receipt in %s", rpath, want)
	}
	if fi, err := os.Stat(rpath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("receipt file: %v, %v; want mode 0600", fi, err)
	}

	verify := func(args ...string) (string, int) {
		t.Helper()
		out, errOut, code := runCubby(t, work, "", nil, append([]string{"verify-receipt", "--known-hosts", kh}, args...)...)
		return out + errOut, code
	}
	out, code = verify(rpath)
	if want := "OK: alice submitted ~/submit/hw3/report.pdf (27 bytes, sha256 "; code != 0 || !strings.HasPrefix(out, want) ||
		!strings.Contains(out, ") to "+addr+" at ") || !strings.HasSuffix(out, "; on time\n") {
		t.Errorf("verify-receipt: status %d\n%s\nwant 0 and %q ... to %s at ...; on time", code, out, want, addr)
	}
	if out, code = verify("--file", filepath.Join(work, "report.pdf"), rpath); code != 0 || !strings.Contains(out, "is the file submitted") {
		t.Errorf("verify-receipt --file (the same file): status %d\n%s", code, out)
	}
	if out, code = verify("--file", filepath.Join(work, "code", "a.go"), rpath); code != 1 || !strings.Contains(out, "is not the file submitted") {
		t.Errorf("verify-receipt --file (another file): status %d\n%s; want 1", code, out)
	}

	// One byte changed in the size or the SHA-256 line: refused.
	text, err := os.ReadFile(rpath)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"size: ", "sha256: "} {
		i := strings.Index(string(text), "\n"+field)
		if i < 0 {
			t.Fatalf("receipt has no %q line:\n%s", field, text)
		}
		i += 1 + bytes.IndexByte(text[i+1:], '\n') - 1 // the value's last digit
		bad := bytes.Clone(text)
		bad[i] = "10"[min(1, int(bad[i]-'0'))] // another digit
		tampered := filepath.Join(work, "tampered.receipt")
		os.WriteFile(tampered, bad, 0o600)
		if out, code = verify(tampered); code != 1 || out != "INVALID: signature does not match: the receipt was changed\n" {
			t.Errorf("verify-receipt of a receipt with its %q line changed: status %d\n%s; want 1 and the INVALID line", field, code, out)
		}
	}
	// Valid, but by a key this known_hosts does not pin.
	out, _, code = runCubby(t, work, "", nil, "verify-receipt", "--known-hosts", filepath.Join(work, "empty"), rpath)
	if code != 1 || !strings.HasPrefix(out, "INVALID: signature valid but made by a key you have not pinned") {
		t.Errorf("verify-receipt without the pin: status %d\n%s; want 1", code, out)
	}

	// A folder gives one receipt per file; a batch saves them too.
	batch := filepath.Join(work, "cmds.txt")
	os.WriteFile(batch, []byte("put -r code ~/submit/hw3/\n"), 0o644)
	out, errOut, code = runCubby(t, work, "", env, append([]string{"-b", batch}, common...)...)
	if got := saved.FindAllStringSubmatch(out, -1); code != 0 || len(got) != 2 {
		t.Fatalf("put -r in a batch: status %d, %d receipts saved; want 2\nstdout:\n%s\nstderr:\n%s", code, len(got), out, errOut)
	}

	cubbyd := filepath.Join(binaries(t), "cubbyd")
	out, errOut, code = clitest.Run(t, cubbyd, "", "", nil, "receipts", "hw3", "--config", cfg, "--data", data)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "TIME (UTC)") ||
		!strings.Contains(lines[1], "  alice  ~/submit/hw3/report.pdf  27  ") || !strings.Contains(out, "~/submit/hw3/code/b.go") {
		t.Errorf("cubbyd receipts hw3: status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	out, _, code = clitest.Run(t, cubbyd, "", "", nil, "receipts", "hw3", "--user", "bob", "--config", cfg, "--data", data)
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("cubbyd receipts hw3 --user bob: status %d\n%s; want nothing", code, out)
	}
}
