package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/knownhosts"
	"github.com/cubby-dev/cubby/session/client"
)

// opTimeout bounds one command round trip or login.
const opTimeout = 30 * time.Second

// timeRun runs name with args and returns how long it took. Standard
// output is discarded; standard error is kept for the error message.
func timeRun(ctx context.Context, stdin string, name string, args ...string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, bytes.TrimSpace(errOut.Bytes()))
	}
	return d, nil
}

// dial logs in to cubbyd in this process.
func (c *cubbyd) dial(ctx context.Context) (*client.Client, error) {
	return client.Dial(ctx, c.addr, client.Config{
		User:          benchUser,
		Password:      func() ([]byte, error) { return []byte(benchPassword), nil },
		KnownHosts:    &knownhosts.Store{Path: c.knownHosts},
		AcceptNewHost: true,
		Timeout:       opTimeout,
	})
}

// runTrue runs the jailed `true` in a logged-in session.
func runTrue(ctx context.Context, cl *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	code, err := cl.Command(ctx, "true", nil, discard, discard)
	if err == nil && code != 0 {
		err = fmt.Errorf("cubby: true exited %d", code)
	}
	return err
}

// contender is one side of an interleaved comparison.
type contender struct {
	name string
	run  func(context.Context) (time.Duration, error)
	d    durations
}

// interleave runs every contender n times, one after another, rotating
// which goes first, after warm runs that are not recorded.
func interleave(ctx context.Context, n, warm int, cs []*contender) error {
	for i := -warm; i < n; i++ {
		for j := range cs {
			c := cs[(j+max(i, 0))%len(cs)]
			if err := ctx.Err(); err != nil {
				return err
			}
			d, err := c.run(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if i >= 0 {
				c.d = append(c.d, d)
			}
		}
	}
	return nil
}

// timed adapts a function without its own timing to a contender's run.
func timed(f func(context.Context) error) func(context.Context) (time.Duration, error) {
	return func(ctx context.Context) (time.Duration, error) {
		start := time.Now()
		err := f(ctx)
		return time.Since(start), err
	}
}

func latencyTable(title string, cs []*contender) *table {
	t := &table{title: title, head: []string{"what", "n", "p50 ms", "p99 ms", "min–max ms"}}
	for _, c := range cs {
		t.add(c.name, fmt.Sprint(len(c.d)), ms(c.d.median()), ms(c.d.pct(99)), ms(c.d.min())+"–"+ms(c.d.max()))
	}
	return t
}

// benchCommand compares a jailed `true` in a logged-in cubby session with
// `ssh host true` over an established multiplexed master.
func (b *bench) benchCommand(ctx context.Context) error {
	n := b.opt.n
	b.logf("command round trip: %d each, interleaved", n)
	cl, err := b.cubbyd.dial(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()

	mux, stopMaster, err := b.sshd.startMaster(ctx, filepath.Join(b.sshd.dir, "ctl"))
	if err != nil {
		return err
	}
	defer stopMaster()
	cubby := &contender{name: "cubby: jailed `true` in a logged-in session (client library)", run: timed(func(ctx context.Context) error { return runTrue(ctx, cl) })}
	ssh := &contender{name: "ssh: `ssh host true` over a multiplexed master", run: func(ctx context.Context) (time.Duration, error) {
		return timeRun(ctx, "", "ssh", append(mux, "true")...)
	}}
	local := &contender{name: "reference: local fork+exec of `true`", run: func(ctx context.Context) (time.Duration, error) {
		return timeRun(ctx, "", "true")
	}}
	cs := []*contender{cubby, ssh, local}
	if err := interleave(ctx, n, 5, cs); err != nil {
		return err
	}
	t := latencyTable("Command round trip", cs)
	t.note("cubby/ssh at p50: %s", verdict(ratio(cubby.d.median(), ssh.d.median()), 0.6, true))
	t.note("cubby/ssh at p99: %.2f", ratio(cubby.d.pct(99), ssh.d.pct(99)))
	t.note("the ssh figure includes starting the ssh client process (compare the local fork+exec reference); cubby's is a request in a session that is already open, as an interactive cubby prompt sends it")
	t.note("cubby's session keeps its jail from its 2nd command on (README, Design: kept jails), so the samples are kept-jail commands; a fresh jail per command is `go test -bench=RunTrue ./sandbox` (BenchmarkRunTrue against BenchmarkSessionRunTrue)")
	b.tables = append(b.tables, t)
	return nil
}

// startMaster starts a multiplexing ssh master on the control socket ctl,
// in the background with stdio detached, and checks it. It returns the ssh
// arguments that reuse it and a func that stops it.
func (s *sshd) startMaster(ctx context.Context, ctl string) ([]string, func(), error) {
	mux := append([]string{"-S", ctl, "-o", "ControlMaster=auto", "-o", "ControlPersist=60"}, s.common()...)
	mux = append(mux, "-p", s.port, s.user+"@127.0.0.1")
	master := exec.CommandContext(ctx, "ssh", append([]string{"-M", "-f", "-N"}, mux...)...)
	if out, err := master.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("ssh master: %w: %s", err, out)
	}
	stop := func() {
		command(context.Background(), 10*time.Second, "", "ssh", append([]string{"-O", "exit"}, mux...)...)
	}
	if err := command(ctx, 10*time.Second, "", "ssh", append([]string{"-O", "check"}, mux...)...); err != nil {
		stop()
		return nil, nil, fmt.Errorf("ssh master not running: %w", err)
	}
	return mux, stop, nil
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// benchLogin compares a fresh login and first command: the cubby binary
// against `ssh host true` without a master.
func (b *bench) benchLogin(ctx context.Context) error {
	n := b.opt.loginN
	b.logf("fresh login to first command: %d each, interleaved", n)
	cubbyBin := filepath.Join(b.bin, "cubby")
	c, s := b.cubbyd, b.sshd
	// Pin cubbyd's key outside the measurement.
	if _, err := timeRun(ctx, benchPassword+"\n", cubbyBin, c.cubbyArgs("true")...); err != nil {
		return err
	}
	fresh := append([]string{"-o", "ControlMaster=no", "-o", "ControlPath=none"}, s.sshArgs("true")...)
	cubby := &contender{name: "cubby: `cubby --password-stdin bench@host true` (binary)", run: func(ctx context.Context) (time.Duration, error) {
		return timeRun(ctx, benchPassword+"\n", cubbyBin, c.cubbyArgs("true")...)
	}}
	keyArgs := []string{"-q", "-i", s.key, "--known-hosts", c.knownHosts, benchUser + "@" + c.addr, "true"}
	cubbyKey := &contender{name: "cubby: `cubby -i KEY bench@host true` (binary, the same ed25519 key as ssh)", run: func(ctx context.Context) (time.Duration, error) {
		return timeRun(ctx, "", cubbyBin, keyArgs...)
	}}
	ssh := &contender{name: "ssh: `ssh host true` (fresh connection, ed25519 key)", run: func(ctx context.Context) (time.Duration, error) {
		return timeRun(ctx, "", "ssh", fresh...)
	}}
	inProc := &contender{name: "cubby in-process: Dial + `true` + Close (no process start)", run: timed(func(ctx context.Context) error {
		cl, err := c.dial(ctx)
		if err != nil {
			return err
		}
		defer cl.Close()
		return runTrue(ctx, cl)
	})}
	kdf := &contender{name: "of which: argon2id alone (m=64 MiB, t=3, p=4), warm, in-process", run: timed(func(context.Context) error {
		_, err := auth.NewVerifier([]byte(benchPassword), auth.DefaultKDFParams())
		return err
	})}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cold := &contender{name: "of which: argon2id alone, cold, in a fresh process (as the binary runs it)", run: func(ctx context.Context) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, self, kdfProbeFlag).Output()
		if err != nil {
			return 0, fmt.Errorf("KDF probe: %w", err)
		}
		return time.ParseDuration(strings.TrimSpace(string(out)))
	}}
	cs := []*contender{cubbyKey, cubby, ssh, inProc, kdf, cold}
	if err := interleave(ctx, n, 2, cs); err != nil {
		return err
	}
	t := latencyTable("Fresh login to first command", cs)
	t.note("key against key, cubby -i/ssh at p50: %s", verdict(ratio(cubbyKey.d.median(), ssh.d.median()), 0.75, true))
	t.note("cubby's password login/ssh's key login at p50: %s", verdict(ratio(cubby.d.median(), ssh.d.median()), 0.75, true))
	t.note("argon2id, run cold as the binary runs it, is %.0f%% of cubby's p50 login (%s of %s ms); without it cubby/ssh would be %.2f",
		100*ratio(cold.d.median(), cubby.d.median()), ms(cold.d.median()), ms(cubby.d.median()),
		ratio(cubby.d.median()-cold.d.median(), ssh.d.median()))
	t.note("cold argon2id costs more than warm because a fresh process page-faults in its 64 MiB; the in-process row reuses memory the Go heap already holds, and pays no process start")
	b.tables = append(b.tables, t)
	return nil
}

// kdfProbeFlag makes the program time one argon2id derivation in a fresh
// process, print the duration and exit.
const kdfProbeFlag = "-kdf-probe"

func kdfProbe(stdout io.Writer) error {
	start := time.Now()
	if _, err := auth.NewVerifier([]byte(benchPassword), auth.DefaultKDFParams()); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, time.Since(start))
	return err
}
