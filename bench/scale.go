package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cubby-dev/cubby/session/client"
)

// scaleDialLimit bounds how long the scale part spends logging clients in.
const scaleDialLimit = 5 * time.Minute

// dialMany logs n sessions in to srv, two at a time (argon2id makes each
// login cost a core for tens of milliseconds), within scaleDialLimit.
func dialMany(ctx context.Context, srv *cubbyd, n int) ([]*client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, scaleDialLimit)
	defer cancel()
	out := make([]*client.Client, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				cl, err := srv.dial(ctx)
				if err != nil {
					errs <- fmt.Errorf("login %d: %w", i, err)
					cancel()
					return
				}
				out[i] = cl
			}
		})
	}
	wg.Wait()
	close(errs)
	var got []*client.Client
	for _, cl := range out {
		if cl != nil {
			got = append(got, cl)
		}
	}
	if err := <-errs; err != nil {
		closeAll(got)
		return nil, err
	}
	return got, nil
}

func closeAll(cs []*client.Client) {
	for _, c := range cs {
		c.Close()
	}
}

// benchScale measures server memory per idle session, then a mixed load
// of many active clients. Every session logs in as the one bench user, so
// its cubbyd runs without the session limits (16 per user by default).
func (b *bench) benchScale(ctx context.Context) error {
	srv, err := b.startCubbyd(ctx, filepath.Join(b.tmp, "scale-data"), "--max-sessions", "-1", "--max-sessions-per-user", "-1")
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := b.idleSessions(ctx, srv); err != nil {
		return err
	}
	return b.mixedLoad(ctx, srv)
}

func (b *bench) idleSessions(ctx context.Context, srv *cubbyd) error {
	n := b.opt.sessions
	pid := srv.pid()
	warm, err := srv.dial(ctx)
	if err != nil {
		return err
	}
	warm.Close()
	time.Sleep(time.Second)
	before := procStatus(pid, "VmRSS")
	b.logf("scale: logging in %d idle sessions", n)
	start := time.Now()
	cs, err := dialMany(ctx, srv, n)
	if err != nil {
		return err
	}
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	after := procStatus(pid, "VmRSS")
	// One request on each shows every session is alive.
	alive := 0
	for _, c := range cs {
		lctx, cancel := context.WithTimeout(ctx, opTimeout)
		if _, err := c.List(lctx, "."); err == nil {
			alive++
		}
		cancel()
	}
	time.Sleep(time.Second)
	afterUse := procStatus(pid, "VmRSS")
	closeAll(cs)

	per := float64(after-before) / float64(len(cs))
	t := &table{title: fmt.Sprintf("%d idle logged-in sessions", len(cs)), head: []string{"figure", "value"}}
	t.add("cubbyd RSS before", fmt.Sprintf("%.1f MiB", float64(before)/1024))
	t.add(fmt.Sprintf("cubbyd RSS with %d idle sessions", len(cs)), fmt.Sprintf("%.1f MiB", float64(after)/1024))
	t.add("RSS per idle session", fmt.Sprintf("%.0f KiB (target ≤ 200 KiB: %s)", per, map[bool]string{true: "met", false: "MISSED"}[per <= 200]))
	t.add("RSS after one listing on each", fmt.Sprintf("%.1f MiB (%.0f KiB per session)", float64(afterUse)/1024, float64(afterUse-before)/float64(len(cs))))
	t.add("sessions answering a listing", fmt.Sprintf("%d of %d", alive, len(cs)))
	t.add("time to log them in, two at a time", took.Round(time.Millisecond).String())
	b.tables = append(b.tables, t)
	return nil
}

// loadFile is a local file the mixed load uploads, with its hash.
type loadFile struct {
	path string
	size int64
	sum  [32]byte
}

// loadStats collects the outcome of one kind of operation.
type loadStats struct {
	mu    sync.Mutex
	d     durations
	bytes int64
	errs  int
	first error
}

func (s *loadStats) record(d time.Duration, n int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs++
		if s.first == nil {
			s.first = err
		}
		return
	}
	s.d = append(s.d, d)
	s.bytes += n
}

func (b *bench) mixedLoad(ctx context.Context, srv *cubbyd) error {
	dir := filepath.Join(b.tmp, "load")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var files []loadFile
	for _, size := range []int64{4 << 10, 64 << 10, 1 << 20} {
		f := loadFile{path: filepath.Join(dir, fmt.Sprintf("src-%d", size)), size: size}
		var err error
		if f.sum, err = makeSource(f.path, size); err != nil {
			return err
		}
		files = append(files, f)
	}
	b.logf("scale: logging in %d clients for the mixed load", b.opt.clients)
	cs, err := dialMany(ctx, srv, b.opt.clients)
	if err != nil {
		return err
	}
	defer closeAll(cs)
	b.logf("scale: %d clients, upload/download/list for %v", len(cs), b.opt.duration)
	stats := map[string]*loadStats{"upload": {}, "download": {}, "list": {}}
	rss := sampleRSS(func() int64 { return procStatus(srv.pid(), "VmRSS") })
	lctx, cancel := context.WithTimeout(ctx, b.opt.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { clientLoop(lctx, i, c, files, dir, stats) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak := rss.end()

	t := &table{
		title: fmt.Sprintf("Mixed load: %d clients for %v (upload, download and list in turn; 4 KiB, 64 KiB, 1 MiB files)", len(cs), elapsed.Round(time.Second)),
		head:  []string{"operation", "done", "errors", "per second", "MiB/s", "p50 ms", "p99 ms"},
	}
	total := 0
	for _, name := range []string{"upload", "download", "list"} {
		s := stats[name]
		total += s.errs
		p50, p99 := "-", "-"
		if len(s.d) > 0 {
			p50, p99 = ms(s.d.median()), ms(s.d.pct(99))
		}
		t.add(name, fmt.Sprint(len(s.d)), fmt.Sprint(s.errs), fmt.Sprintf("%.0f", float64(len(s.d))/elapsed.Seconds()),
			fmt.Sprintf("%.1f", float64(s.bytes)/(1<<20)/elapsed.Seconds()), p50, p99)
		if s.first != nil {
			t.note("first %s error: %v", name, s.first)
		}
	}
	t.note("errors: %d (target 0: %s); every upload's and download's SHA-256 is checked against the source", total, map[bool]string{true: "met", false: "MISSED"}[total == 0])
	t.note("cubbyd peak RSS during the load: %.1f MiB", float64(peak)/1024)
	t.note("operations still running when the time ran out are cut off and not counted as errors")
	b.tables = append(b.tables, t)
	return nil
}

// clientLoop is one client of the mixed load: upload, download and list
// in turn until ctx ends.
func clientLoop(ctx context.Context, i int, c *client.Client, files []loadFile, dir string, stats map[string]*loadStats) {
	remote := fmt.Sprintf("load-%d.bin", i)
	local := filepath.Join(dir, fmt.Sprintf("down-%d.bin", i))
	defer os.Remove(local)
	for k := 0; ctx.Err() == nil; k++ {
		f := files[(i+k)%len(files)]
		start := time.Now()
		res, err := c.Upload(ctx, f.path, remote, client.TransferOptions{})
		if ctx.Err() != nil {
			return
		}
		if err == nil && res.Sum != f.sum {
			err = fmt.Errorf("upload of %s: SHA-256 differs", f.path)
		}
		stats["upload"].record(time.Since(start), f.size, err)
		if err != nil {
			continue
		}
		start = time.Now()
		_, err = c.Download(ctx, remote, local, client.TransferOptions{})
		if ctx.Err() != nil {
			return
		}
		took := time.Since(start)
		if err == nil {
			var got [32]byte
			if got, err = fileSum(local); err == nil && got != f.sum {
				err = fmt.Errorf("download of %s: SHA-256 differs", remote)
			}
		}
		stats["download"].record(took, f.size, err)
		start = time.Now()
		_, err = c.List(ctx, ".")
		if ctx.Err() != nil {
			return
		}
		stats["list"].record(time.Since(start), 0, err)
	}
}
