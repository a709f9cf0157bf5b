package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// xferTimeout bounds one transfer.
const xferTimeout = 10 * time.Minute

// tool moves a file one way: from src to dst, both local paths, one of
// them reached through the tool's server.
type tool struct {
	name string
	up   func(ctx context.Context) error // src → server dir
	down func(ctx context.Context) error // server file → local dir
	// server, if set, is the process tree whose memory is sampled.
	server    func() int64
	upRates   rates
	downRates rates
	peakKiB   int64
}

// medium is one directory the transfers run in (tmpfs or disk).
type medium struct {
	dir     string // private dir on the medium, 0711
	src     string // the file to upload, size bytes
	sum     [32]byte
	upDir   string // where sshd-side uploads land
	downDir string // where downloads land
}

// makeSource writes size pseudo-random (incompressible) bytes to path and
// returns their SHA-256.
func makeSource(path string, size int64) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Create(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	var seed [32]byte
	rand.Read(seed[:])
	r := mrand.NewChaCha8(seed)
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, r, size); err != nil {
		return sum, err
	}
	if err := w.Flush(); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, f.Close()
}

func fileSum(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// check verifies a transferred file: its size always, its SHA-256 when
// full is set; then removes it.
func check(path string, size int64, want [32]byte, full bool) error {
	defer os.Remove(path)
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Size() != size {
		return fmt.Errorf("%s has %d bytes, want %d", path, fi.Size(), size)
	}
	if !full {
		return nil
	}
	got, err := fileSum(path)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: SHA-256 differs from the source", path)
	}
	return nil
}

// benchTransfer times uploads and downloads of one file with every tool,
// on each medium.
func (b *bench) benchTransfer(ctx context.Context) error {
	for _, dir := range b.opt.media {
		if err := b.transferOn(ctx, dir); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	return nil
}

func mediumName(dir string) string {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) == nil && st.Type == 0x01021994 { // TMPFS_MAGIC
		return dir + " (tmpfs)"
	}
	return dir + " (disk)"
}

func (b *bench) transferOn(ctx context.Context, base string) error {
	size := b.opt.size
	name := mediumName(base)
	dir, err := os.MkdirTemp(base, "cubby-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if !b.opt.keep {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o711); err != nil {
		return err
	}
	m := &medium{dir: dir, src: filepath.Join(dir, "src.bin"), upDir: filepath.Join(dir, "ssh-up"), downDir: filepath.Join(dir, "down")}
	for _, d := range []string{m.upDir, m.downDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	b.logf("transfers on %s: writing a %d MiB source file", name, size>>20)
	if m.sum, err = makeSource(m.src, size); err != nil {
		return err
	}
	srv, err := b.startCubbyd(ctx, filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	defer srv.stop()
	cubbyBin := filepath.Join(b.bin, "cubby")
	stdin := benchPassword + "\n"
	home := filepath.Join(srv.data, "homes", benchUser)
	// Seed the file downloads read, and pin the host key.
	if err := command(ctx, xferTimeout, stdin, cubbyBin, srv.cubbyArgs("upload", m.src, "seed.bin")...); err != nil {
		return err
	}
	idleKiB := procStatus(srv.pid(), "VmRSS")
	s := b.sshd
	upTo := filepath.Join(m.upDir, "up.bin")
	downTo := filepath.Join(m.downDir, "down.bin")
	sshTree := func() int64 { return treeRSS(s.cmd.Process.Pid) }
	scp := func(legacy bool) *tool {
		args := func(from, to string) []string {
			a := append(s.common(), "-q", "-P", s.port)
			if legacy {
				a = append(a, "-O")
			}
			return append(a, from, to)
		}
		return &tool{server: sshTree,
			up: func(ctx context.Context) error {
				return command(ctx, xferTimeout, "", "scp", args(m.src, s.target(upTo))...)
			},
			down: func(ctx context.Context) error {
				return command(ctx, xferTimeout, "", "scp", args(s.target(m.src), downTo)...)
			},
		}
	}
	legacy, sftpSCP := scp(true), scp(false)
	legacy.name, sftpSCP.name = "scp -O (legacy scp protocol)", "scp (sftp protocol)"
	sftp := &tool{name: "sftp -b (put / get)", server: sshTree}
	// sftp reads its batch from stdin; the two directions differ only there.
	sftpArgs := append(s.common(), "-q", "-P", s.port, "-b", "-", s.user+"@127.0.0.1")
	sftp.up = func(ctx context.Context) error {
		return command(ctx, xferTimeout, fmt.Sprintf("put %s %s\n", m.src, upTo), "sftp", sftpArgs...)
	}
	sftp.down = func(ctx context.Context) error {
		return command(ctx, xferTimeout, fmt.Sprintf("get %s %s\n", m.src, downTo), "sftp", sftpArgs...)
	}
	cubby := &tool{name: "cubby (binary, one-shot)",
		server: func() int64 { return procStatus(srv.pid(), "VmRSS") },
		up: func(ctx context.Context) error {
			return command(ctx, xferTimeout, stdin, cubbyBin, srv.cubbyArgs("upload", m.src, "up.bin")...)
		},
		down: func(ctx context.Context) error {
			return command(ctx, xferTimeout, stdin, cubbyBin, srv.cubbyArgs("download", "seed.bin", downTo)...)
		},
	}
	ceiling := &tool{name: "Go TLS 1.3 loopback copy (ceiling, in-process)",
		up:   func(ctx context.Context) error { return tlsCopy(ctx, m.src, upTo) },
		down: func(ctx context.Context) error { return tlsCopy(ctx, m.src, downTo) },
	}
	tools := []*tool{cubby, legacy, sftpSCP, sftp, ceiling}
	// Where each tool's upload lands, to check and remove it.
	landed := func(t *tool) string {
		if t == cubby {
			return filepath.Join(home, "up.bin")
		}
		return upTo
	}
	for r := 0; r < b.opt.rounds; r++ {
		for _, dirUp := range []bool{true, false} {
			for j := range tools {
				t := tools[(j+r)%len(tools)]
				if err := ctx.Err(); err != nil {
					return err
				}
				f, dst := t.down, downTo
				if dirUp {
					f, dst = t.up, landed(t)
				}
				// Start each transfer with no dirty pages of the last.
				syscall.Sync()
				var rss *rssSampler
				if t.server != nil {
					rss = sampleRSS(t.server)
				}
				start := time.Now()
				err := f(ctx)
				d := time.Since(start)
				if rss != nil {
					t.peakKiB = max(t.peakKiB, rss.end())
				}
				if err != nil {
					return fmt.Errorf("%s: %w", t.name, err)
				}
				if err := check(dst, size, m.sum, r == 0); err != nil {
					return fmt.Errorf("%s: %w", t.name, err)
				}
				rate := mibps(size, d)
				if dirUp {
					t.upRates = append(t.upRates, rate)
				} else {
					t.downRates = append(t.downRates, rate)
				}
				b.logf("  round %d %-5s %-48s %7.1f MiB/s", r+1, map[bool]string{true: "up", false: "down"}[dirUp], t.name, rate)
			}
		}
	}
	hwm := procStatus(srv.pid(), "VmHWM")

	t := &table{
		title: fmt.Sprintf("Transfer of %s on %s, %d rounds", sizeString(size), name, b.opt.rounds),
		head:  []string{"tool", "upload MiB/s (median)", "min–max", "download MiB/s (median)", "min–max", "server RSS peak"},
	}
	for _, x := range tools {
		peak := "-"
		if x.server != nil {
			peak = fmt.Sprintf("%.1f MiB", float64(x.peakKiB)/1024)
		}
		t.add(x.name, fmt.Sprintf("%.0f", x.upRates.median()), x.upRates.span(), fmt.Sprintf("%.0f", x.downRates.median()), x.downRates.span(), peak)
	}
	for _, dir := range []struct {
		name string
		get  func(*tool) rates
	}{{"upload", func(x *tool) rates { return x.upRates }}, {"download", func(x *tool) rates { return x.downRates }}} {
		c := dir.get(cubby).median()
		t.note("%s: cubby/scp -O %s; cubby/scp(sftp) %s; cubby/sftp %s; cubby/TLS %s", dir.name,
			verdict(c/dir.get(legacy).median(), 1.5, false), verdict(c/dir.get(sftpSCP).median(), 1.5, false),
			verdict(c/dir.get(sftp).median(), 1.5, false), verdict(c/dir.get(ceiling).median(), 0.8, false))
	}
	t.note("cubbyd RSS: %.1f MiB idle before the transfers, peak %.1f MiB sampled every 20 ms during them, VmHWM %.1f MiB over its life: %s",
		float64(idleKiB)/1024, float64(cubby.peakKiB)/1024, float64(hwm)/1024,
		map[bool]string{true: "target ≤ 32 MiB met", false: "target ≤ 32 MiB MISSED"}[hwm <= 32<<10])
	t.note("sshd's figure is its whole process tree (listener, per-connection sshd processes, scp or sftp-server)")
	t.note("every transfer includes starting the client, connecting and logging in; cubby fsyncs each received file before renaming it into place (the server on upload, the client on download), scp, sftp and the TLS ceiling do not fsync")
	b.tables = append(b.tables, t)
	return nil
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// tlsCopy copies src to dst through a TLS 1.3 connection over loopback
// inside this process: the cost of encryption and the kernel's socket and
// file paths, with no protocol around them.
func tlsCopy(ctx context.Context, src, dst string) error {
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}})
	if err != nil {
		return err
	}
	defer l.Close()
	recv := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			recv <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(xferTimeout))
		f, err := os.Create(dst)
		if err != nil {
			recv <- err
			return
		}
		_, err = io.CopyBuffer(f, c, make([]byte, 256<<10))
		recv <- errors.Join(err, f.Close())
	}()
	var d tls.Dialer
	d.Config = &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	c, err := d.DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(xferTimeout))
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyBuffer(c, f, make([]byte, 256<<10)); err != nil {
		return err
	}
	if err := c.(*tls.Conn).CloseWrite(); err != nil {
		return err
	}
	select {
	case err := <-recv:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func selfSigned() (tls.Certificate, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}
