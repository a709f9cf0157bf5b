package session_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/hostkey"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/session/stream"
	"github.com/cubby-dev/cubby/wire"
)

// benchSize is the file moved per iteration.
const benchSize = 256 << 20

// benchDir prefers tmpfs so the figures measure the protocol, not the disk.
func benchDir(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "cubby-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

// BenchmarkTransferVsTLS moves benchSize bytes per iteration five ways on
// loopback, one after another in every iteration:
//
//   - tls: a bare Go TLS 1.3 copy from memory to nowhere (the ceiling);
//   - tls+sha: the same copy with SHA-256 on both sides, each overlapped
//     with the network through session/stream (the integrity ceiling);
//   - tls+sha+file: that, reading the source file and writing a new file
//     (what any verified file copy must do, without cubby's protocol);
//   - upload and download: cubby through the real Server and client.
//
// It reports each rate, each rate over the tls rate, and the process CPU
// time (user+system, both ends together) per GiB moved. Both ends share
// the machine's cores, so on a machine with few cores the rates follow
// the CPU time.
//
//	go test -run=NONE -bench=TransferVsTLS -benchtime=3x ./session/
//
// CUBBY_BENCH_PROFILE=prefix writes a CPU profile per phase to
// prefix-<phase>.prof; goroutines carry a "side" label (client or server),
// so `go tool pprof -tagfocus=side=server` shows one end's work.
func BenchmarkTransferVsTLS(b *testing.B) {
	dir := benchDir(b)
	var ts *testServer
	pprof.Do(context.Background(), pprof.Labels("side", "server"), func(context.Context) {
		ts = startServer(b, filepath.Join(dir, "data"))
	})
	c := ts.dial(b, "alice")
	local, _ := randomFile(b, dir, "src.bin", benchSize)
	back := filepath.Join(dir, "back.bin")
	copied := filepath.Join(dir, "copy.bin")

	key, _, err := hostkey.LoadOrCreate(filepath.Join(dir, "data"))
	if err != nil {
		b.Fatal(err)
	}
	cert, _ := hostkey.Certificate(key)
	mem := make([]byte, stream.ChunkSize)

	type phase struct {
		name      string
		run       func(ctx context.Context)
		wall, cpu time.Duration
		prof      *os.File
	}
	phases := []*phase{
		{name: "tls", run: func(ctx context.Context) { tlsCopy(ctx, b, cert, benchSize) }},
		{name: "tls+sha", run: func(ctx context.Context) {
			tlsHashCopy(ctx, b, cert, zeroFile{mem}, io.Discard, benchSize)
		}},
		{name: "tls+sha+file", run: func(ctx context.Context) {
			src, err := os.Open(local)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			dst, err := os.Create(copied + ".tmp")
			if err != nil {
				b.Fatal(err)
			}
			tlsHashCopy(ctx, b, cert, src, dst, benchSize)
			if err := dst.Close(); err != nil {
				b.Fatal(err)
			}
			if err := os.Rename(copied+".tmp", copied); err != nil {
				b.Fatal(err)
			}
		}},
		{name: "upload", run: func(ctx context.Context) {
			if _, err := c.Upload(ctx, local, "dst.bin", client.TransferOptions{}); err != nil {
				b.Fatal(err)
			}
		}},
		{name: "download", run: func(ctx context.Context) {
			if _, err := c.Download(ctx, "dst.bin", back, client.TransferOptions{}); err != nil {
				b.Fatal(err)
			}
		}},
	}
	if prefix := os.Getenv("CUBBY_BENCH_PROFILE"); prefix != "" {
		for _, p := range phases {
			if p.prof, err = os.Create(fmt.Sprintf("%s-%s.prof", prefix, p.name)); err != nil {
				b.Fatal(err)
			}
		}
	}

	b.ResetTimer()
	for b.Loop() {
		for _, p := range phases {
			if p.prof != nil {
				// One profile per phase, covering its last iteration.
				p.prof.Truncate(0)
				p.prof.Seek(0, io.SeekStart)
				pprof.StartCPUProfile(p.prof)
			}
			cpu0, start := cpuTime(), time.Now()
			pprof.Do(context.Background(), pprof.Labels("side", "client", "phase", p.name), p.run)
			p.wall += time.Since(start)
			p.cpu += cpuTime() - cpu0
			if p.prof != nil {
				pprof.StopCPUProfile()
			}
		}
	}
	b.StopTimer()

	mib := float64(benchSize) / (1 << 20) * float64(b.N)
	gib := mib / 1024
	tlsRate := mib / phases[0].wall.Seconds()
	for _, p := range phases {
		rate := mib / p.wall.Seconds()
		b.ReportMetric(rate, p.name+"-MiB/s")
		b.ReportMetric(p.cpu.Seconds()/gib, p.name+"-CPU-s/GiB")
		if p != phases[0] {
			b.ReportMetric(rate/tlsRate, p.name+"/tls")
		}
		if p.prof != nil {
			p.prof.Close()
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tlsPair connects a TLS 1.3 client and server over loopback and runs
// serve on the server's end in a goroutine labelled side=server; the
// returned wait gives serve's error.
func tlsPair(ctx context.Context, b *testing.B, cert tls.Certificate, serve func(io.Reader) error) (c *tls.Conn, wait func() error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go pprof.Do(ctx, pprof.Labels("side", "server"), func(context.Context) {
		defer l.Close()
		nc, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		done <- serve(tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}))
	})
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	return tls.Client(nc, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}), func() error { return <-done }
}

// tlsCopy sends n bytes over a fresh TLS 1.3 loopback connection in
// DataChunk writes and waits until the reader has them all.
func tlsCopy(ctx context.Context, b *testing.B, cert tls.Certificate, n int64) {
	tc, wait := tlsPair(ctx, b, cert, func(r io.Reader) error {
		_, err := io.CopyBuffer(io.Discard, r, make([]byte, wire.DataChunk))
		return err
	})
	buf := make([]byte, wire.DataChunk)
	for sent := int64(0); sent < n; sent += int64(len(buf)) {
		if _, err := tc.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	tc.Close()
	if err := wait(); err != nil {
		b.Fatal(err)
	}
}

// tlsHashCopy is tlsCopy with the integrity cubby needs and nothing else:
// the sender reads src and hashes it while sending, the receiver writes
// dst and hashes it while receiving (both overlapped as in cubby), and the
// digests are compared. There is no framing.
func tlsHashCopy(ctx context.Context, b *testing.B, cert tls.Certificate, src io.ReaderAt, dst io.Writer, n int64) {
	recvSum := make(chan []byte, 1)
	tc, wait := tlsPair(ctx, b, cert, func(r io.Reader) error {
		h := sha256.New()
		sink := stream.NewSink(dst, wire.DataChunk, h)
		buf := make([]byte, wire.DataChunk)
		for {
			m, err := io.ReadFull(r, buf) // whole chunks, as cubby's frames
			sink.Write(buf[:m])
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				sink.Close()
				return err
			}
		}
		err := sink.Close()
		recvSum <- h.Sum(nil)
		return err
	})
	h := sha256.New()
	s := stream.NewSource(src, 0, n, stream.ChunkSize, h)
	for {
		chunk, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		for len(chunk) > 0 {
			m := min(len(chunk), wire.DataChunk)
			if _, err := tc.Write(chunk[:m]); err != nil {
				b.Fatal(err)
			}
			chunk = chunk[m:]
		}
	}
	s.Close()
	tc.Close()
	if err := wait(); err != nil {
		b.Fatal(err)
	}
	if got := <-recvSum; !bytes.Equal(got, h.Sum(nil)) {
		b.Fatal("tlsHashCopy: digests differ")
	}
}

// zeroFile is an endless file made of one repeated buffer.
type zeroFile struct{ b []byte }

func (z zeroFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], z.b[(off+int64(n))%int64(len(z.b)):])
	}
	return n, nil
}

// TestDownloadDigestRecord checks the digest an upload records: a
// download of the unchanged file uses it, and one of a file changed in
// place afterwards — same size, mtime put back — is hashed afresh,
// because the change moved the ctime.
func TestDownloadDigestRecord(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t, "alice")
	dir := t.TempDir()
	local, sum := randomFile(t, dir, "f.bin", 3<<20+5)
	ctx := context.Background()
	if _, err := c.Upload(ctx, local, "f.bin", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	download := func(name string) (*client.Result, bool) {
		t.Helper()
		before := len(ts.logs.String())
		res, err := c.Download(ctx, "f.bin", filepath.Join(dir, name), client.TransferOptions{})
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		return res, bytes.Contains([]byte(ts.logs.String()[before:]), []byte("sha256_recorded=true"))
	}

	res, recorded := download("a.bin")
	if res.Sum != sum || fileSum(t, filepath.Join(dir, "a.bin")) != sum {
		t.Fatal("first download: wrong content")
	}
	if !recorded {
		t.Log("no digest record: this file system's ctime is too coarse; checking correctness only")
	}

	remote := filepath.Join(ts.home("alice"), "f.bin")
	fi, err := os.Stat(remote)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(remote, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var one [1]byte
	f.ReadAt(one[:], 1<<20)
	one[0] ^= 0xff
	if _, err := f.WriteAt(one[:], 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(remote, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(remote); fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("the in-place change did not keep size and mtime")
	}
	changed := fileSum(t, remote)

	res, recorded = download("b.bin")
	if recorded {
		t.Error("download of a file changed in place used the digest recorded at upload")
	}
	if res.Sum != changed || fileSum(t, filepath.Join(dir, "b.bin")) != changed {
		t.Error("download of the changed file: wrong digest or content")
	}
}
