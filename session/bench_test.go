package session_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/hostkey"
	"github.com/cubby-dev/cubby/session/client"
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

// BenchmarkTransferVsTLS moves benchSize bytes per iteration three ways
// on loopback — a bare Go TLS 1.3 copy (the ceiling), a cubby upload and
// a cubby download through the real Server and client — and reports each
// rate and the ratios to the ceiling.
//
//	go test -run=NONE -bench=TransferVsTLS -benchtime=5x ./session/
func BenchmarkTransferVsTLS(b *testing.B) {
	dir := benchDir(b)
	ts := startServer(b, filepath.Join(dir, "data"))
	c := ts.dial(b, "alice")
	local, _ := randomFile(b, dir, "src.bin", benchSize)
	back := filepath.Join(dir, "back.bin")
	ctx := context.Background()

	key, _, err := hostkey.LoadOrCreate(filepath.Join(dir, "data"))
	if err != nil {
		b.Fatal(err)
	}
	cert, _ := hostkey.Certificate(key)

	var tlsTime, upTime, downTime time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		tlsCopy(b, cert, benchSize)
		tlsTime += time.Since(start)

		start = time.Now()
		if _, err := c.Upload(ctx, local, "dst.bin", client.TransferOptions{}); err != nil {
			b.Fatal(err)
		}
		upTime += time.Since(start)

		start = time.Now()
		if _, err := c.Download(ctx, "dst.bin", back, client.TransferOptions{}); err != nil {
			b.Fatal(err)
		}
		downTime += time.Since(start)
	}
	mib := float64(benchSize) / (1 << 20) * float64(b.N)
	tlsRate, upRate, downRate := mib/tlsTime.Seconds(), mib/upTime.Seconds(), mib/downTime.Seconds()
	b.ReportMetric(tlsRate, "tls-MiB/s")
	b.ReportMetric(upRate, "upload-MiB/s")
	b.ReportMetric(downRate, "download-MiB/s")
	b.ReportMetric(upRate/tlsRate, "upload/tls")
	b.ReportMetric(downRate/tlsRate, "download/tls")
}

// tlsCopy sends n bytes over a fresh TLS 1.3 loopback connection in
// DataChunk writes and waits until the reader has them all.
func tlsCopy(b *testing.B, cert tls.Certificate, n int64) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer nc.Close()
		tc := tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
		_, err = io.CopyBuffer(io.Discard, tc, make([]byte, wire.DataChunk))
		done <- err
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	buf := make([]byte, wire.DataChunk)
	for sent := int64(0); sent < n; sent += int64(len(buf)) {
		if _, err := tc.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	tc.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
