// Package clitest runs the real cubby and cubbyd binaries for the
// commands' end-to-end tests: it builds them once, starts servers on
// loopback and runs clients.
package clitest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binaries builds cubby and cubbyd (with the race detector) on first use.
type Binaries struct {
	once sync.Once
	dir  string
	err  error
}

// Dir returns the directory holding both binaries, building them first.
func (b *Binaries) Dir(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "cubby-bin-"); b.err != nil {
			return
		}
		for _, pkg := range []string{"github.com/cubby-dev/cubby/cmd/cubbyd", "github.com/cubby-dev/cubby/cmd/cubby"} {
			if out, err := exec.Command("go", "build", "-race", "-o", b.dir, pkg).CombinedOutput(); err != nil {
				b.err = fmt.Errorf("building %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.dir
}

// Remove deletes the built binaries; call it from TestMain after m.Run.
func (b *Binaries) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// Log collects output written by one goroutine and read by the test.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Server is a running cubbyd.
type Server struct {
	Addr string
	Cmd  *exec.Cmd
	Log  *Log
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// StartCubbyd runs `cubbyd serve args...` in dir (empty: the test's) until
// the test ends (SIGINT, then a 15 s grace) and waits until it listens.
func StartCubbyd(t testing.TB, bin, dir string, args ...string) *Server {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "cubbyd"), append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Cmd: cmd, Log: &Log{}}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Error("cubbyd did not stop within 15s of SIGINT")
		}
		if t.Failed() {
			t.Logf("cubbyd log:\n%s", s.Log)
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			io.WriteString(s.Log, sc.Text()+"\n")
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			t.Fatalf("cubbyd exited before listening:\n%s", s.Log)
		}
		s.Addr = addr
	case <-time.After(30 * time.Second):
		t.Fatal("cubbyd did not start listening within 30s")
	}
	return s
}

// Run runs a binary in dir with stdin and extra environment, bounded to
// 60 s, and returns its stdout, stderr and exit status.
func Run(t testing.TB, path, dir, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errOut.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// TraversableTempDir is a temp dir whose parents the jail's uid can pass,
// so homes under it can be bound into a jail.
func TraversableTempDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	for p := d; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return d
}
