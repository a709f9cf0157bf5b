package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// dialRaw is rawLogin for goroutines: it reports failures instead of
// ending the test.
func dialRaw(addr, user string) (*rawConn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	fail := func(err error) (*rawConn, error) {
		nc.Close()
		return nil, err
	}
	if err := wire.WritePreamble(nc); err != nil {
		return fail(err)
	}
	if _, err := wire.ReadPreamble(nc); err != nil {
		return fail(err)
	}
	tc := tls.Client(nc, &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		return fail(err)
	}
	r := &rawConn{nc: nc, tc: tc, wc: wire.NewConn(tc)}
	cs := tc.ConnectionState()
	cb, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		return fail(err)
	}
	cl, err := auth.NewClientLogin(user, []byte(passwords[user]), cb)
	if err != nil {
		return fail(err)
	}
	if err := r.wc.WriteMessage(&wire.AuthStart{Mechanism: auth.Mechanism, Message: cl.First()}); err != nil {
		return fail(err)
	}
	m, err := r.wc.ReadMessage()
	if err != nil {
		return fail(err)
	}
	ch, ok := m.(*wire.AuthChallenge)
	if !ok {
		return fail(fmt.Errorf("login answered with %v; want AuthChallenge", m.Type()))
	}
	final, err := cl.Final(ch.Message)
	if err != nil {
		return fail(err)
	}
	if err := r.wc.WriteMessage(&wire.AuthResponse{Message: final}); err != nil {
		return fail(err)
	}
	if m, err = r.wc.ReadMessage(); err != nil {
		return fail(err)
	}
	ok2, isOK := m.(*wire.AuthOK)
	if !isOK {
		return fail(fmt.Errorf("login answered with %v; want AuthOK", m))
	}
	if err := cl.Verify(ok2.Message); err != nil {
		return fail(err)
	}
	return r, nil
}

// kill ends the connection the way a SIGKILLed process does: a reset,
// no close_notify, no goodbye frame.
func (r *rawConn) kill() {
	r.nc.(*net.TCPConn).SetLinger(0)
	r.nc.Close()
}

// homeFiles lists every entry under dir, relative and sorted, with "/"
// after directories.
func homeFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// partialFiles lists the regular files under the partial-upload root.
func partialFiles(t testing.TB, ts *testServer) []string {
	t.Helper()
	var out []string
	root := filepath.Join(ts.data, "homes", ".partial")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestUploadClientsKilledAtRandomPoints kills 100 uploading clients, ten
// at a time, at random points of the exchange: before asking, after
// asking, after the server's answer, after a random prefix of the data,
// and after all the data but before UploadEnd. Some resume what an
// earlier victim left. No old version may change, no partial file may
// appear in a home, the server must keep serving, and a restart after
// the partials' lifetime must sweep every one of them.
func TestUploadClientsKilledAtRandomPoints(t *testing.T) {
	ts := startServer(t, "", func(s *session.Server) {
		s.MaxSessionsPerUser = -1 // the victims' sessions may linger a moment
		s.RequestRate = -1
	})
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))

	type target struct {
		user, path string
		old, new   []byte
	}
	var targets []*target
	for _, user := range []string{"alice", "bob"} {
		for _, p := range []string{"a.bin", "docs/report 1.pdf", "docs/b.bin"} {
			tg := &target{user: user, path: p, old: make([]byte, 1+rng.IntN(64<<10)), new: make([]byte, 64<<10+rng.IntN(960<<10))}
			fillRandom(rng, tg.old)
			fillRandom(rng, tg.new)
			targets = append(targets, tg)
		}
	}
	// The old versions go up through the real client, which also leaves
	// the digest records downloads use.
	ctx := context.Background()
	local := t.TempDir()
	for _, user := range []string{"alice", "bob"} {
		c := ts.dial(t, user)
		if _, err := c.Mkdir(ctx, "docs", 0o755, false); err != nil {
			t.Fatal(err)
		}
		for _, tg := range targets {
			if tg.user != user {
				continue
			}
			p := filepath.Join(local, "old")
			os.WriteFile(p, tg.old, 0o644)
			if _, err := c.Upload(ctx, p, tg.path, client.TransferOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
	}
	wantHome := map[string][]string{}
	for _, user := range []string{"alice", "bob"} {
		wantHome[user] = homeFiles(t, ts.home(user))
	}

	// Each victim's plan: which target, where to die, whether to resume.
	const (
		afterLogin = iota
		afterRequest
		afterReady
		midData
		beforeEnd
		nPoints
	)
	type victim struct {
		tg     *target
		point  int
		resume bool
		cut    float64
	}
	const victims, parallel = 100, 10
	jobs := make(chan victim, victims)
	for range victims {
		jobs <- victim{tg: targets[rng.IntN(len(targets))], point: rng.IntN(nPoints), resume: rng.IntN(2) == 0, cut: rng.Float64()}
	}
	close(jobs)

	var mu sync.Mutex
	stats := map[string]int{}
	count := func(k string) { mu.Lock(); stats[k]++; mu.Unlock() }
	errs := make(chan error, victims)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for v := range jobs {
				if err := runVictim(ts.addr, v.tg.user, v.tg.path, v.tg.new, v.point, v.resume, v.cut, count); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("victims: %v", stats)

	waitFor(t, func() bool { return ts.srv.ActiveConnections() == 0 })

	check := func(when string) {
		t.Helper()
		for _, tg := range targets {
			got, err := os.ReadFile(filepath.Join(ts.home(tg.user), tg.path))
			if err != nil || !bytes.Equal(got, tg.old) {
				t.Errorf("%s: %s's %s is %d bytes (%v); want the old version, %d bytes", when, tg.user, tg.path, len(got), err, len(tg.old))
			}
		}
		for user, want := range wantHome {
			if got := homeFiles(t, ts.home(user)); !slices.Equal(got, want) {
				t.Errorf("%s: %s's home holds %q; want %q", when, user, got, want)
			}
		}
	}
	check("after the kills")
	parts := partialFiles(t, ts)
	t.Logf("%d partial uploads kept for resuming: %q", len(parts), parts)
	if len(parts) > len(targets) {
		t.Errorf("%d partial files for %d targets; want at most one per target", len(parts), len(targets))
	}
	for _, p := range parts {
		if !strings.HasSuffix(p, ".part") {
			t.Errorf("unexpected file %q under .partial", p)
		}
	}

	// The server still serves: the listing a user sees, and a fresh
	// upload and download, byte-exact.
	c := ts.dial(t, "alice")
	for _, dir := range []string{"~", "docs"} {
		entries, err := c.List(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name)
		}
		want := map[string][]string{"~": {"a.bin", "docs"}, "docs": {"b.bin", "report 1.pdf"}}[dir]
		if slices.Sort(names); !slices.Equal(names, want) {
			t.Errorf("ls %s = %q; want %q", dir, names, want)
		}
	}
	fresh, freshSum := randomFile(t, local, "fresh.bin", 300_000)
	if _, err := c.Upload(ctx, fresh, "fresh.bin", client.TransferOptions{}); err != nil {
		t.Fatalf("upload after the kills: %v", err)
	}
	if _, err := c.Download(ctx, "fresh.bin", filepath.Join(local, "fresh.back"), client.TransferOptions{}); err != nil {
		t.Fatalf("download after the kills: %v", err)
	}
	if fileSum(t, filepath.Join(local, "fresh.back")) != freshSum {
		t.Error("round trip after the kills is not byte-exact")
	}
	os.Remove(filepath.Join(ts.home("alice"), "fresh.bin"))
	for _, tg := range targets {
		back := filepath.Join(local, "back")
		dc := c
		if tg.user != "alice" {
			dc = ts.dial(t, tg.user)
		}
		if _, err := dc.Download(ctx, tg.path, back, client.TransferOptions{}); err != nil {
			t.Fatalf("download %s: %v", tg.path, err)
		}
		if got, _ := os.ReadFile(back); !bytes.Equal(got, tg.old) {
			t.Errorf("%s's %s downloads as other bytes than its old version", tg.user, tg.path)
		}
		if dc != c {
			dc.Close()
		}
	}
	c.Close()
	waitFor(t, func() bool { return ts.srv.ActiveConnections() == 0 })

	// The sweep runs at start and hourly; a restart on the same data with
	// the clock past PartialTTL runs it now, as it would a day later.
	ctxS, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctxS); err != nil {
		t.Fatal(err)
	}
	later := startServer(t, ts.data, func(s *session.Server) {
		s.Now = func() time.Time { return time.Now().Add(session.PartialTTL + time.Hour) }
	})
	// The sweep logs after its last removal: wait for both.
	swept := func() bool { return strings.Contains(later.logs.String(), "removed stale partial uploads") }
	waitFor(t, func() bool { return len(partialFiles(t, later)) == 0 && (len(parts) == 0 || swept()) })
	if len(parts) > 0 && !swept() {
		t.Error("the sweep did not log what it removed")
	}
	check("after the sweep")

	// And a resumed upload still works from scratch.
	tg := targets[0]
	p := filepath.Join(local, "new")
	os.WriteFile(p, tg.new, 0o644)
	res, err := later.dial(t, tg.user).Upload(ctx, p, tg.path, client.TransferOptions{Resume: true})
	if err != nil || res.ResumedFrom != 0 {
		t.Fatalf("upload --resume after the sweep: %v, %+v; want a fresh upload", err, res)
	}
	if got, _ := os.ReadFile(filepath.Join(later.home(tg.user), tg.path)); !bytes.Equal(got, tg.new) {
		t.Error("upload after the sweep is not byte-exact")
	}
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// runVictim logs in, uploads data to target and dies at point: 0 after
// login, 1 after the request, 2 after UploadReady, 3 after the fraction
// cut of the data, 4 after all of it but before UploadEnd. With resume it
// continues from what the server offers when that is data's prefix.
func runVictim(addr, user, target string, data []byte, point int, resume bool, cut float64, count func(string)) error {
	r, err := dialRaw(addr, user)
	if err != nil {
		return fmt.Errorf("victim login: %w", err)
	}
	defer r.kill()
	if point == 0 {
		count("after login")
		return nil
	}
	if err := r.wc.WriteMessage(&wire.UploadRequest{Path: target, Size: uint64(len(data)), Mode: 0o644, Resume: resume}); err != nil {
		return err
	}
	if point == 1 {
		count("after request")
		return nil
	}
	m, err := r.wc.ReadMessage()
	if err != nil {
		return fmt.Errorf("victim waiting for UploadReady: %w", err)
	}
	var ready *wire.UploadReady
	switch m := m.(type) {
	case *wire.UploadReady:
		ready = m
	case *wire.Error:
		if m.Kind == wire.KindBusy {
			count("busy")
			return nil
		}
		return fmt.Errorf("upload to %s: %v", target, m)
	default:
		return fmt.Errorf("upload to %s answered with %v", target, m.Type())
	}
	if point == 2 {
		count("after ready")
		return nil
	}
	var start int
	if ready.Offset > 0 {
		if !resume {
			return fmt.Errorf("server offered to resume at %d without --resume", ready.Offset)
		}
		if ready.Offset > uint64(len(data)) || sha256.Sum256(data[:ready.Offset]) != ready.PrefixSum {
			return fmt.Errorf("server offered %d bytes that are not a prefix of the data", ready.Offset)
		}
		start = int(ready.Offset)
		count("resumed")
	}
	if err := r.wc.WriteMessage(&wire.UploadStart{Offset: uint64(start)}); err != nil {
		return err
	}
	end := len(data)
	if point == 3 {
		end = start + int(cut*float64(len(data)-start))
		count("mid data")
	} else {
		count("before end")
	}
	// The peer may already be gone; the kill comes next either way.
	r.wc.WriteData(data[start:end])
	r.wc.Flush()
	return nil
}

// mountTmpfs mounts a tmpfs of size bytes for the test and unmounts it at
// the end. Mounting needs root (CI runs as root, where it must work).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	inCI := os.Getenv("CI") == "true"
	if os.Geteuid() != 0 {
		if inCI {
			t.Fatal("CI must run as root to mount a tmpfs")
		}
		t.Skip("skipping: mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0711", size)); err != nil {
		if inCI {
			t.Fatalf("mounting a tmpfs: %v", err)
		}
		t.Skipf("skipping: cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system is full.
func fillDisk(t *testing.T, name string) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// TestDiskFull runs the server on an 8 MiB tmpfs: an upload larger than
// the free space is refused up front, one that passes that check but
// meets a disk filled meanwhile fails at the write; both say "no space",
// keep the old version and leave nothing behind, and the server goes on.
func TestDiskFull(t *testing.T) {
	data := mountTmpfs(t, 8<<20)
	ts := startServer(t, data)
	ctx := context.Background()
	local := t.TempDir()
	c := ts.dial(t, "alice")
	old, oldSum := randomFile(t, local, "old.bin", 1<<20)
	if _, err := c.Upload(ctx, old, "report.bin", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	stored := filepath.Join(ts.home("alice"), "report.bin")

	serving := func(t *testing.T, c *client.Client) {
		t.Helper()
		if fileSum(t, stored) != oldSum {
			t.Error("the old version changed")
		}
		if n := partialBytes(t, ts, "alice"); n != 0 {
			t.Errorf("%d bytes of partial uploads left on the full disk", n)
		}
		small, smallSum := randomFile(t, local, "small.bin", 100_000)
		if _, err := c.Upload(ctx, small, "small.bin", client.TransferOptions{}); err != nil {
			t.Fatalf("small upload after the failure: %v", err)
		}
		if _, err := c.Download(ctx, "small.bin", filepath.Join(local, "small.back"), client.TransferOptions{}); err != nil {
			t.Fatal(err)
		}
		if fileSum(t, filepath.Join(local, "small.back")) != smallSum {
			t.Error("small round trip is not byte-exact")
		}
		os.Remove(filepath.Join(ts.home("alice"), "small.bin"))
	}

	t.Run("larger than the free space", func(t *testing.T) {
		big, _ := randomFile(t, local, "big.bin", 12<<20)
		_, err := c.Upload(ctx, big, "report.bin", client.TransferOptions{})
		var we *wire.Error
		if !errors.As(err, &we) || we.Kind != wire.KindNoSpace || !strings.Contains(we.Message, "no space") {
			t.Fatalf("upload of 12 MiB to an 8 MiB disk: %v; want a no-space error", err)
		}
		t.Logf("refused with: %v", err)
		serving(t, c) // on the same connection
	})

	t.Run("disk fills during the write", func(t *testing.T) {
		payload := make([]byte, 3<<20)
		fillRandom(rand.New(rand.NewPCG(1, 2)), payload)
		r := rawLogin(t, ts, "alice")
		r.send(t, &wire.UploadRequest{Path: "report.bin", Size: uint64(len(payload)), Mode: 0o644})
		if m, ok := r.recv(t).(*wire.UploadReady); !ok {
			t.Fatalf("got %v; want UploadReady: 3 MiB fit before the filler", m)
		}
		// Passed the up-front check; now someone else takes the space.
		filler := filepath.Join(data, "filler")
		fillDisk(t, filler)
		r.send(t, &wire.UploadStart{})
		r.wc.WriteData(payload)
		r.send(t, &wire.UploadEnd{Sum: sha256.Sum256(payload)})
		e, ok := r.recv(t).(*wire.Error)
		if !ok || e.Kind != wire.KindNoSpace || !strings.Contains(e.Message, "no space") {
			t.Fatalf("upload onto a disk that filled up: got %v; want a no-space error", e)
		}
		t.Logf("refused with: %v", e)
		if fileSum(t, stored) != oldSum {
			t.Error("the old version changed while the disk was full")
		}
		if n := partialBytes(t, ts, "alice"); n != 0 {
			t.Errorf("%d bytes of a failed partial upload kept; want it removed", n)
		}
		os.Remove(filler)
		serving(t, ts.dial(t, "alice"))
		// The session that hit the full disk goes on too.
		r.send(t, &wire.UploadRequest{Path: "tiny.txt", Size: 2})
		if _, ok := r.recv(t).(*wire.UploadReady); !ok {
			t.Fatal("the session that hit the full disk cannot upload again")
		}
		r.send(t, &wire.UploadStart{})
		r.wc.WriteData([]byte("ok"))
		r.send(t, &wire.UploadEnd{Sum: sha256.Sum256([]byte("ok"))})
		if _, ok := r.recv(t).(*wire.TransferDone); !ok {
			t.Fatal("upload on the session that hit the full disk failed")
		}
	})
}

// closedWithin reads from nc until the server ends the connection and
// returns how long that took; Error frames before the end are returned.
func closedWithin(t *testing.T, wc *wire.Conn, nc net.Conn, limit time.Duration) (time.Duration, []*wire.Error) {
	t.Helper()
	start := time.Now()
	nc.SetReadDeadline(start.Add(limit))
	var errs []*wire.Error
	for {
		var err error
		if wc != nil {
			var m wire.Message
			if m, err = wc.ReadMessage(); err == nil {
				if e, ok := m.(*wire.Error); ok {
					errs = append(errs, e)
				}
				continue
			}
		} else {
			_, err = nc.Read(make([]byte, 1024))
			if err == nil {
				continue
			}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection still open after %v", limit)
		}
		return time.Since(start), errs
	}
}

// TestStalledPeersDropped covers stalls the other tests do not: after the
// preamble, after TLS, half-way through a login, half-way through a
// frame header, and half-way through an upload's Data frame. Each
// connection is dropped once its timeout passes, and the server serves on.
func TestStalledPeersDropped(t *testing.T) {
	ts := startServer(t, "", func(s *session.Server) {
		s.HandshakeTimeout = 2 * time.Second // leaves time for a login under -race
		s.IdleTimeout = time.Second
		s.TransferTimeout = time.Second
	})
	preamble := func(t *testing.T) net.Conn {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		if err := wire.WritePreamble(nc); err != nil {
			t.Fatal(err)
		}
		if _, err := wire.ReadPreamble(nc); err != nil {
			t.Fatal(err)
		}
		return nc
	}
	// limit is far above the timeouts, so a server that never drops
	// fails, and loose enough for -race on a busy machine.
	const limit = 15 * time.Second
	// The cases run in parallel; "stalls" ends when all have.
	t.Run("stalls", func(t *testing.T) {
		t.Run("after the preamble", func(t *testing.T) {
			t.Parallel()
			nc := preamble(t)
			d, _ := closedWithin(t, nil, nc, limit)
			t.Logf("dropped after %v", d)
		})
		t.Run("after TLS", func(t *testing.T) {
			t.Parallel()
			r := rawDial(t, ts)
			d, errs := closedWithin(t, r.wc, r.nc, limit)
			t.Logf("dropped after %v with %v", d, errs)
			if len(errs) != 1 || errs[0].Kind != wire.KindTimeout {
				t.Errorf("got %v before the close; want one timeout Error", errs)
			}
		})
		t.Run("half a TLS record", func(t *testing.T) {
			t.Parallel()
			nc := preamble(t)
			nc.Write([]byte{22, 3, 1, 0x02}) // a ClientHello record header, cut short
			d, _ := closedWithin(t, nil, nc, limit)
			t.Logf("dropped after %v", d)
		})
		t.Run("half a login", func(t *testing.T) {
			t.Parallel()
			r := rawDial(t, ts)
			cs := r.tc.ConnectionState()
			cb, _ := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
			cl, err := auth.NewClientLogin("alice", []byte(passwords["alice"]), cb)
			if err != nil {
				t.Fatal(err)
			}
			r.send(t, &wire.AuthStart{Mechanism: auth.Mechanism, Message: cl.First()})
			if _, ok := r.recv(t).(*wire.AuthChallenge); !ok {
				t.Fatal("no AuthChallenge")
			}
			d, errs := closedWithin(t, r.wc, r.nc, limit)
			t.Logf("dropped after %v with %v", d, errs)
			if len(errs) != 1 || errs[0].Kind != wire.KindTimeout {
				t.Errorf("got %v before the close; want one timeout Error", errs)
			}
		})
		t.Run("half a frame header", func(t *testing.T) {
			t.Parallel()
			r := rawLogin(t, ts, "alice")
			r.tc.Write([]byte{byte(wire.TypeUploadRequest), 0, 0})
			d, errs := closedWithin(t, r.wc, r.nc, limit)
			t.Logf("dropped after %v with %v", d, errs)
			if len(errs) != 1 || errs[0].Kind != wire.KindTimeout {
				t.Errorf("got %v before the close; want one timeout Error", errs)
			}
		})
		t.Run("half a Data frame", func(t *testing.T) {
			t.Parallel()
			home := ts.home("alice")
			payload := bytes.Repeat([]byte("x"), 3*wire.DataChunk)
			r := rawLogin(t, ts, "alice")
			os.WriteFile(filepath.Join(home, "keep.bin"), []byte("old version"), 0o644)
			r.send(t, &wire.UploadRequest{Path: "keep.bin", Size: uint64(len(payload))})
			if _, ok := r.recv(t).(*wire.UploadReady); !ok {
				t.Fatal("no UploadReady")
			}
			r.send(t, &wire.UploadStart{})
			r.wc.WriteData(payload[:wire.DataChunk])
			r.wc.Flush()
			// The header of the next frame and half its payload, then nothing.
			r.tc.Write([]byte{byte(wire.TypeData), 0, 4, 0, 0})
			r.tc.Write(payload[:wire.DataChunk/2])
			d, errs := closedWithin(t, r.wc, r.nc, limit)
			t.Logf("dropped after %v with %v", d, errs)
			if len(errs) != 1 || errs[0].Kind != wire.KindTimeout {
				t.Errorf("got %v before the close; want one timeout Error", errs)
			}
			if got, _ := os.ReadFile(filepath.Join(home, "keep.bin")); string(got) != "old version" {
				t.Errorf("keep.bin = %q after a stalled upload; want the old version", got)
			}
			if n := partialBytes(t, ts, "alice"); n != wire.DataChunk {
				t.Errorf("partial holds %d bytes; want the %d delivered, kept for --resume", n, wire.DataChunk)
			}
		})
	})
	waitFor(t, func() bool { return ts.srv.ActiveConnections() == 0 })
	if err := loginOnce(t, ts, "alice", passwords["alice"]); err != nil {
		t.Errorf("login after the stalled peers: %v", err)
	}
}

// TestHugeLengthOutsideRequestLoop sends a 4 GiB frame length where
// TestHostileFrames does not: before the login and inside an upload. The
// server must refuse it at once without allocating, keep the old
// version and go on serving.
func TestHugeLengthOutsideRequestLoop(t *testing.T) {
	ts := startServer(t, "") // default timeouts: a close must come from the refusal
	huge := []byte{byte(wire.TypeData), 0xff, 0xff, 0xff, 0xff}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	t.Run("before login", func(t *testing.T) {
		r := rawDial(t, ts)
		r.tc.Write(huge)
		d, errs := closedWithin(t, r.wc, r.nc, 5*time.Second)
		if len(errs) != 1 || errs[0].Kind != wire.KindProtocol {
			t.Errorf("got %v before the close; want one protocol Error", errs)
		}
		t.Logf("closed after %v with %v", d, errs)
	})
	t.Run("inside an upload", func(t *testing.T) {
		home := ts.home("alice")
		r := rawLogin(t, ts, "alice")
		os.WriteFile(filepath.Join(home, "keep.bin"), []byte("old version"), 0o644)
		r.send(t, &wire.UploadRequest{Path: "keep.bin", Size: 8 << 20})
		if m, ok := r.recv(t).(*wire.UploadReady); !ok {
			t.Fatalf("got %v; want UploadReady", m)
		}
		r.send(t, &wire.UploadStart{})
		r.wc.WriteData([]byte("some bytes"))
		r.wc.Flush()
		r.tc.Write(huge)
		d, errs := closedWithin(t, r.wc, r.nc, 5*time.Second)
		if len(errs) != 1 || errs[0].Kind != wire.KindProtocol {
			t.Errorf("got %v before the close; want one protocol Error", errs)
		}
		t.Logf("closed after %v with %v", d, errs)
		if got, _ := os.ReadFile(filepath.Join(home, "keep.bin")); string(got) != "old version" {
			t.Errorf("keep.bin = %q; want the old version", got)
		}
	})
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("the process allocated %d MiB while refusing 4 GiB frames", grew>>20)
	}
	waitFor(t, func() bool { return ts.srv.ActiveConnections() == 0 })
	if err := loginOnce(t, ts, "alice", passwords["alice"]); err != nil {
		t.Errorf("login after the hostile frames: %v", err)
	}
}
