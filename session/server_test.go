package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

func TestLogin(t *testing.T) {
	ts := startServer(t, "")
	tests := []struct {
		name, user, password string
		wantErr              bool
	}{
		{"ok", "alice", passwords["alice"], false},
		{"wrong password", "alice", "not-her-password", true},
		{"unknown user", "mallory", "whatever-password", true},
		{"bad user name", "Mallory!", "whatever-password", true},
	}
	var failures []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.Dial(context.Background(), ts.addr, clientConfig(t, tt.user, tt.password))
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				if c.User() != tt.user || c.Cwd() != "~" {
					t.Errorf("logged in as %q in %q; want %q in ~", c.User(), c.Cwd(), tt.user)
				}
				if fi, err := os.Stat(ts.home(tt.user)); err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("home after first login: %v, %v; want a 0700 directory", fi, err)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded; want a login failure")
			}
			var we *wire.Error
			if !errors.As(err, &we) || we.Kind != wire.KindAuth {
				t.Fatalf("Dial error = %v; want a wire.Error of kind auth", err)
			}
			failures = append(failures, err.Error())
		})
	}
	// Wrong password and unknown users must be indistinguishable.
	for _, f := range failures[1:] {
		if f != failures[0] {
			t.Errorf("login failures differ: %q vs %q", f, failures[0])
		}
	}
}

func TestConcurrentClientsByteExact(t *testing.T) {
	ts := startServer(t, "")
	const clients = 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []string{"alice", "bob", "carol"}[i%3]
			c, err := client.Dial(context.Background(), ts.addr, clientConfig(t, user, passwords[user]))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			dir := t.TempDir()
			local, want := randomFile(t, dir, fmt.Sprintf("f%d.bin", i), 100_000+i*37_011)
			name := fmt.Sprintf("client-%d.bin", i)
			if _, err := c.Upload(context.Background(), local, name, client.TransferOptions{}); err != nil {
				errs <- fmt.Errorf("client %d upload: %w", i, err)
				return
			}
			back := filepath.Join(dir, "back.bin")
			if _, err := c.Download(context.Background(), name, back, client.TransferOptions{}); err != nil {
				errs <- fmt.Errorf("client %d download: %w", i, err)
				return
			}
			if fileSum(t, back) != want || fileSum(t, filepath.Join(ts.home(user), name)) != want {
				errs <- fmt.Errorf("client %d: bytes changed in transit", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestUploadTargets(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t, "alice")
	ctx := context.Background()
	local, want := randomFile(t, t.TempDir(), "report.pdf", 1000)
	if err := os.MkdirAll(filepath.Join(ts.home("alice"), "newfolder"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		remote, want string
	}{
		{"", "report.pdf"},
		{"newfolder", "newfolder/report.pdf"},
		{"newfolder/", "newfolder/report.pdf"},
		{"renamed.pdf", "renamed.pdf"},
		{"~/newfolder/other.pdf", "newfolder/other.pdf"},
		{"/home/alice/abs.pdf", "abs.pdf"},
	}
	for _, tt := range tests {
		res, err := c.Upload(ctx, local, tt.remote, client.TransferOptions{})
		if err != nil {
			t.Errorf("Upload(%q): %v", tt.remote, err)
			continue
		}
		if res.Remote != "~/"+tt.want {
			t.Errorf("Upload(%q) stored at %s; want ~/%s", tt.remote, res.Remote, tt.want)
		}
		if fileSum(t, filepath.Join(ts.home("alice"), tt.want)) != want {
			t.Errorf("Upload(%q): stored bytes differ", tt.remote)
		}
	}
	if _, err := c.Upload(ctx, local, "missing-dir/x.pdf", client.TransferOptions{}); err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("upload into a missing directory: %v; want no such file or directory", err)
	}
	// The session still works after a refused request.
	if _, err := c.Upload(ctx, local, "", client.TransferOptions{}); err != nil {
		t.Errorf("upload after an error: %v", err)
	}
}

func TestWindowsPathBaseName(t *testing.T) {
	// A name with backslashes is an ordinary file name on Linux; the
	// client sends filepath.Base of its own OS, so on Windows the seed's
	// path becomes its last element. Here we check that the server stores
	// exactly the name it is given and never interprets separators in it.
	ts := startServer(t, "")
	c := ts.dial(t, "alice")
	local, _ := randomFile(t, t.TempDir(), `CSC 574 Programming_Assignment_1.pdf`, 10)
	res, err := c.Upload(context.Background(), local, "", client.TransferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Remote != "~/CSC 574 Programming_Assignment_1.pdf" {
		t.Errorf("stored as %q", res.Remote)
	}
}

func TestOtherUsersFilesUnreachable(t *testing.T) {
	ts := startServer(t, "")
	bob := ts.dial(t, "bob")
	secret, _ := randomFile(t, t.TempDir(), "secret.txt", 64)
	if _, err := bob.Upload(context.Background(), secret, "secret.txt", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	alice := ts.dial(t, "alice")
	aliceHome := ts.home("alice")
	// Links a hostile user could have made (with a later jailed ln -s).
	links := map[string]string{
		"to-bob":        "../bob",
		"to-bob-abs":    ts.home("bob"),
		"to-secret":     "../bob/secret.txt",
		"to-etc-passwd": "/etc/passwd",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(aliceHome, name)); err != nil {
			t.Fatal(err)
		}
	}
	paths := []string{
		"../bob/secret.txt", "~/../bob/secret.txt", "/home/bob/secret.txt",
		filepath.Join(ts.home("bob"), "secret.txt"), "to-bob/secret.txt", "to-bob-abs/secret.txt",
		"to-secret", "to-etc-passwd", "/etc/passwd", "..", "../../../../etc/passwd",
		"a\x00b",
	}
	dir := t.TempDir()
	for _, p := range paths {
		_, err := alice.Download(context.Background(), p, filepath.Join(dir, "got"), client.TransferOptions{})
		var we *wire.Error
		if !errors.As(err, &we) || (we.Kind != wire.KindOutsideHome && we.Kind != wire.KindInvalid) {
			t.Errorf("alice downloading %q: %v; want refused as outside the home", p, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "got")); err == nil {
			t.Fatalf("alice downloading %q got a file", p)
		}
	}
	// Nor can she write there.
	for _, p := range []string{"../bob/planted.txt", "to-bob/planted.txt", "/home/bob/planted.txt", "to-bob-abs/planted.txt"} {
		if _, err := alice.Upload(context.Background(), secret, p, client.TransferOptions{}); err == nil {
			t.Errorf("alice uploading to %q succeeded", p)
		}
	}
	if _, err := os.Stat(filepath.Join(ts.home("bob"), "planted.txt")); err == nil {
		t.Error("a file was planted in bob's home")
	}
	// Uploading over a link replaces the link, never writes through it.
	if _, err := alice.Upload(context.Background(), secret, "to-etc-passwd", client.TransferOptions{}); err != nil {
		t.Fatalf("upload over a symlink: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(aliceHome, "to-etc-passwd")); err != nil || fi.Mode()&os.ModeSymlink != 0 {
		t.Errorf("the symlink was not replaced by a file: %v %v", fi, err)
	}
}

func TestKilledUploadKeepsOldVersionAndResumes(t *testing.T) {
	ts := startServer(t, "")
	ctx := context.Background()
	dir := t.TempDir()
	old, oldSum := randomFile(t, dir, "old.bin", 50_000)
	c := ts.dial(t, "alice")
	if _, err := c.Upload(ctx, old, "doc.bin", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// A raw client that dies after half of the new version.
	newFile, newSum := randomFile(t, dir, "new.bin", 3<<20)
	data, _ := os.ReadFile(newFile)
	raw := rawLogin(t, ts, "alice")
	raw.send(t, &wire.UploadRequest{Path: "doc.bin", Size: uint64(len(data)), Mode: 0o644})
	if _, ok := raw.recv(t).(*wire.UploadReady); !ok {
		t.Fatal("no UploadReady")
	}
	raw.send(t, &wire.UploadStart{})
	half := len(data) / 2
	if err := raw.wc.WriteData(data[:half]); err != nil {
		t.Fatal(err)
	}
	raw.wc.Flush()
	// Wait until the server has stored what was sent, then die without a
	// goodbye, as a killed process does.
	waitFor(t, func() bool { return partialBytes(t, ts, "alice") == int64(half) })
	raw.nc.(*net.TCPConn).SetLinger(0)
	raw.nc.Close()

	waitFor(t, func() bool { return ts.srv.ActiveConnections() == 0 })
	if got := fileSum(t, filepath.Join(ts.home("alice"), "doc.bin")); got != oldSum {
		t.Fatal("the old version changed after an interrupted upload")
	}
	entries, _ := os.ReadDir(ts.home("alice"))
	for _, e := range entries {
		if e.Name() != "doc.bin" {
			t.Errorf("home has %q after an interrupted upload; want only doc.bin", e.Name())
		}
	}

	c = ts.dial(t, "alice")
	res, err := c.Upload(ctx, newFile, "doc.bin", client.TransferOptions{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != int64(half) {
		t.Errorf("resumed from %d; want %d", res.ResumedFrom, half)
	}
	if got := fileSum(t, filepath.Join(ts.home("alice"), "doc.bin")); got != newSum {
		t.Fatal("resumed upload is not byte-exact")
	}
}

func TestResumeRestartsWhenPrefixDiffers(t *testing.T) {
	ts := startServer(t, "")
	dir := t.TempDir()
	a, _ := randomFile(t, dir, "a.bin", 1<<20)
	b, bSum := randomFile(t, dir, "b.bin", 1<<20)
	raw := rawLogin(t, ts, "alice")
	data, _ := os.ReadFile(a)
	raw.send(t, &wire.UploadRequest{Path: "x.bin", Size: uint64(len(data))})
	raw.recv(t)
	raw.send(t, &wire.UploadStart{})
	raw.wc.WriteData(data[:len(data)/2])
	raw.wc.Flush()
	raw.nc.Close()
	waitFor(t, func() bool { return ts.srv.ActiveConnections() == 0 })

	// Another file of the same size must not be spliced onto a's prefix.
	c := ts.dial(t, "alice")
	res, err := c.Upload(context.Background(), b, "x.bin", client.TransferOptions{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != 0 {
		t.Errorf("resumed from %d with a different file; want 0", res.ResumedFrom)
	}
	if fileSum(t, filepath.Join(ts.home("alice"), "x.bin")) != bSum {
		t.Fatal("stored file is not b")
	}
}

func TestCorruptUploadRejected(t *testing.T) {
	ts := startServer(t, "")
	raw := rawLogin(t, ts, "alice")
	os.WriteFile(filepath.Join(ts.home("alice"), "keep.txt"), []byte("old"), 0o644)
	raw.send(t, &wire.UploadRequest{Path: "keep.txt", Size: 5})
	raw.recv(t)
	raw.send(t, &wire.UploadStart{})
	raw.wc.WriteData([]byte("hello"))
	raw.send(t, &wire.UploadEnd{Sum: [32]byte{1}})
	e, ok := raw.recv(t).(*wire.Error)
	if !ok || e.Kind != wire.KindChecksum {
		t.Fatalf("got %v; want a checksum error", e)
	}
	if got, _ := os.ReadFile(filepath.Join(ts.home("alice"), "keep.txt")); string(got) != "old" {
		t.Errorf("keep.txt = %q after a corrupt upload; want old", got)
	}
}

func TestDownloadResume(t *testing.T) {
	ts := startServer(t, "")
	os.MkdirAll(ts.home("alice"), 0o700)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	os.WriteFile(filepath.Join(ts.home("alice"), "big.bin"), data, 0o640)
	dir := t.TempDir()
	target := filepath.Join(dir, "big.bin")
	// A partial left by an interrupted download.
	os.WriteFile(client.PartialName(target), data[:300_000], 0o600)
	os.WriteFile(target, []byte("previous local version"), 0o600)

	c := ts.dial(t, "alice")
	res, err := c.Download(context.Background(), "big.bin", dir, client.TransferOptions{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != 300_000 {
		t.Errorf("resumed from %d; want 300000", res.ResumedFrom)
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, data) {
		t.Fatal("resumed download is not byte-exact")
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v; want 0640 from the server", fi.Mode().Perm())
	}
	if _, err := os.Stat(client.PartialName(target)); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}

	// A damaged partial restarts from zero instead of corrupting the file.
	os.WriteFile(client.PartialName(target), []byte("garbage that is not a prefix"), 0o600)
	res, err = c.Download(context.Background(), "big.bin", dir, client.TransferOptions{Resume: true})
	if err != nil || res.ResumedFrom != 0 {
		t.Fatalf("download over a bad partial: %v, resumed from %v; want a fresh download", err, res)
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, data) {
		t.Fatal("download over a bad partial is not byte-exact")
	}
}

func TestFailedDownloadKeepsLocalFile(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t, "alice")
	dir := t.TempDir()
	target := filepath.Join(dir, "keep.txt")
	os.WriteFile(target, []byte("mine"), 0o600)
	if _, err := c.Download(context.Background(), "does-not-exist", target, client.TransferOptions{}); err == nil {
		t.Fatal("download of a missing file succeeded")
	}
	if got, _ := os.ReadFile(target); string(got) != "mine" {
		t.Errorf("local file clobbered: %q", got)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	ts := startServer(t, "", func(s *session.Server) { s.HandshakeTimeout = 300 * time.Millisecond })
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = nc.Read(make([]byte, 1))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent client: read = %v; want the server to close the connection", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("server took %v to drop a silent client", time.Since(start))
	}
}

func TestProtocolVersionMismatch(t *testing.T) {
	ts := startServer(t, "")
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(append([]byte(wire.Magic), wire.Version+1))
	v, err := wire.ReadPreamble(nc)
	if err != nil || v != wire.Version {
		t.Fatalf("server preamble: %d, %v", v, err)
	}
	if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after a version mismatch the server should close; read: %v", err)
	}
	// And a non-cubby client gets nothing back.
	nc2, _ := net.Dial("tcp", ts.addr)
	defer nc2.Close()
	nc2.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	nc2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _ := nc2.Read(make([]byte, 64)); n != 0 {
		t.Errorf("server answered %d bytes to HTTP", n)
	}
}

func TestHostileFrames(t *testing.T) {
	ts := startServer(t, "")
	tests := []struct {
		name  string
		frame []byte
	}{
		{"4 GiB length", []byte{byte(wire.TypeData), 0xff, 0xff, 0xff, 0xff}},
		{"unknown type", []byte{0x7e, 0, 0, 0, 0}},
		{"undecodable request", []byte{byte(wire.TypeUploadRequest), 0, 0, 0, 1, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := rawLogin(t, ts, "alice")
			raw.tc.Write(tt.frame)
			m := raw.recv(t)
			if e, ok := m.(*wire.Error); !ok || e.Kind != wire.KindProtocol {
				t.Fatalf("got %#v; want a protocol Error", m)
			}
			if _, err := raw.wc.ReadMessage(); err == nil {
				t.Error("connection still open after a protocol error")
			}
		})
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	ts := startServer(t, "")
	cfg := clientConfig(t, "alice", passwords["alice"])
	c, err := client.Dial(context.Background(), ts.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Same address, new host key: a different data dir.
	addr := ts.addr
	ts.srv.Close()
	waitFor(t, func() bool { return ts.srv.ActiveConnections() == 0 })
	impostor := startServerOn(t, addr, t.TempDir())
	_, err = client.Dial(context.Background(), impostor.addr, cfg)
	if err == nil || !strings.Contains(err.Error(), "CHANGED") {
		t.Fatalf("Dial to a changed host key: %v; want a loud refusal", err)
	}
	// Without --accept-new-host and no prompt, an unknown host is refused.
	cfg2 := clientConfig(t, "alice", passwords["alice"])
	cfg2.AcceptNewHost = false
	if _, err := client.Dial(context.Background(), impostor.addr, cfg2); !errors.Is(err, client.ErrHostKeyNotAccepted) {
		t.Fatalf("Dial to an unknown host without consent: %v", err)
	}
}

func TestShutdownEndsIdleSessions(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := c.Upload(context.Background(), os.Args[0], "x", client.TransferOptions{}); err == nil {
		t.Error("upload after shutdown succeeded")
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, "", func(s *session.Server) { s.IdleTimeout = 200 * time.Millisecond })
	raw := rawLogin(t, ts, "alice")
	raw.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	m := raw.recv(t)
	if e, ok := m.(*wire.Error); !ok || e.Kind != wire.KindTimeout {
		t.Fatalf("idle session got %#v; want a timeout Error", m)
	}
}

// partialBytes sums the sizes of user's partial uploads.
func partialBytes(t testing.TB, ts *testServer, user string) int64 {
	entries, _ := os.ReadDir(filepath.Join(ts.data, "homes", ".partial", user))
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
