package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeRandomFile writes size pseudo-random bytes to path and returns
// their SHA-256.
func writeRandomFile(t *testing.T, path string, size int64) [32]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	src := io.LimitReader(rand.NewChaCha8([32]byte{'c', 'u', 'b', 'b', 'y'}), size)
	if _, err := io.Copy(io.MultiWriter(f, h), src); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func sumFile(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// dirBytes sums the sizes of the regular files in dir.
func dirBytes(dir string) int64 {
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// TestServerKilledMidUploadResumes SIGKILLs cubbyd while the real client
// uploads, restarts it on the same data directory and port, and resumes
// with upload --resume: the file arrives byte-exact, the client says it
// resumed, and the host key the client pinned still holds. Partial
// uploads older than a day, planted before the restart, are gone once
// the server starts; younger ones stay.
func TestServerKilledMidUploadResumes(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	args := []string{"--config", "../../users.example.toml", "--data", data}
	srv := startCubbyd(t, append(args, "--listen", "127.0.0.1:0")...)
	kh := filepath.Join(dir, "known_hosts")
	local := filepath.Join(dir, "big file.bin")
	const size = 128 << 20
	want := writeRandomFile(t, local, size)
	partials := filepath.Join(data, "homes", ".partial", "alice")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	up := exec.CommandContext(ctx, filepath.Join(binaries(t), "cubby"), "--known-hosts", kh, "--accept-new-host", "--password-stdin", "alice@"+srv.addr, "upload", local, "big.bin")
	up.Stdin = strings.NewReader("alice-demo-pw\n")
	var upOut, upErr bytes.Buffer
	up.Stdout, up.Stderr = &upOut, &upErr
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- up.Wait() }()

	// Kill the server as soon as the partial holds a MiB.
	deadline := time.Now().Add(30 * time.Second)
	for dirBytes(partials) < 1<<20 {
		select {
		case err := <-exited:
			t.Fatalf("the upload ended (%v) before the server could be killed; stdout %q, stderr %q", err, upOut.String(), upErr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no partial upload after 30s; server log:\n%s", srv.log)
		}
		time.Sleep(time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	if err == nil {
		t.Fatalf("the client reported success for an upload whose server was killed; stdout %q", upOut.String())
	}
	t.Logf("client after the kill: %v, stderr %q", err, upErr.String())
	kept := dirBytes(partials)
	t.Logf("partial upload kept: %d of %d bytes", kept, size)
	if kept <= 0 || kept >= size {
		t.Fatalf("partial holds %d bytes; want part of %d", kept, size)
	}
	if entries, _ := os.ReadDir(filepath.Join(data, "homes", "alice")); len(entries) != 0 {
		t.Errorf("alice's home holds %v after the crash; want nothing", entries)
	}

	// Interrupted uploads from long ago, and one from yesterday evening.
	plant := func(user, name string, age time.Duration) string {
		p := filepath.Join(data, "homes", ".partial", user, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, bytes.Repeat([]byte("stale"), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-age)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := []string{
		plant("alice", strings.Repeat("a1", 16)+".part", 25*time.Hour),
		plant("bob", strings.Repeat("b2", 16)+".part", 30*24*time.Hour),
	}
	young := plant("alice", strings.Repeat("c3", 16)+".part", 23*time.Hour)

	// The same port, so the pinned key is checked, not re-pinned.
	srv2 := startCubbyd(t, append(args, "--listen", srv.addr)...)
	waitLog(t, srv2, "removed stale partial uploads", 10*time.Second)
	for _, p := range stale {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("stale partial %s still there after the restart (%v)", p, err)
		}
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("a partial younger than a day was removed: %v", err)
	}
	os.Remove(young)

	out, errOut, code := cubby(t, "alice-demo-pw\n", nil, "--known-hosts", kh, "--password-stdin", "alice@"+srv2.addr, "upload", "--resume", local, "big.bin")
	if code != 0 {
		t.Fatalf("upload --resume: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	t.Logf("upload --resume: %s", strings.TrimSpace(out))
	if !strings.Contains(out, "resumed after") {
		t.Errorf("upload --resume output %q does not say it resumed", out)
	}
	if !strings.Contains(srv2.log.String(), "resumed=true") {
		t.Error("the server log does not record a resumed upload")
	}
	if got := sumFile(t, filepath.Join(data, "homes", "alice", "big.bin")); got != want {
		t.Fatal("the resumed upload is not byte-exact")
	}
	if n := dirBytes(partials); n != 0 {
		t.Errorf("%d bytes of partial uploads left after the resumed upload completed", n)
	}
}
