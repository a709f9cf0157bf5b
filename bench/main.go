// Command bench measures cubby side by side with OpenSSH on loopback: the
// round trip of a remote command, a fresh login, a batch of 200 commands in
// one session, and file transfers, with a private sshd and a private cubbyd
// that it starts and stops itself.
//
// Usage (bench/run.sh installs OpenSSH and builds the binaries first):
//
//	go run ./bench -bin DIR [-only cmd,login,batch,xfer,scale] [-rounds 3] [-n 200]
//	    [-login-n 20] [-size 1GiB] [-out FILE]
//
// Every comparison alternates A and B (and rotates the order of the tools
// each round) so that a burst of load from elsewhere on the machine hurts
// both sides alike. Results are printed as tables; -out also writes them as
// markdown.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	bin      string
	only     map[string]bool
	rounds   int
	n        int
	loginN   int
	size     int64
	media    []string
	out      string
	keep     bool
	timeout  time.Duration
	sessions int
	clients  int
	duration time.Duration
}

// sections are the parts -only selects from, in the order they run.
var sections = []string{"cmd", "login", "batch", "xfer", "scale"}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	only := fs.String("only", "cmd,login,batch,xfer", "comma-separated parts to run: "+strings.Join(sections, ","))
	size := fs.String("size", "1GiB", "file size for the transfer part (B, KiB, MiB, GiB)")
	media := fs.String("media", "/dev/shm,/var/tmp", "comma-separated directories to transfer in: tmpfs and disk")
	fs.StringVar(&o.bin, "bin", "", "directory holding the cubbyd and cubby binaries (default: build them into a temporary directory)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of each transfer and of the batch part")
	fs.IntVar(&o.n, "n", 200, "command round trips per side")
	fs.IntVar(&o.loginN, "login-n", 20, "fresh logins per side")
	fs.StringVar(&o.out, "out", "", "also write the results as markdown to `FILE`")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directories and logs")
	fs.DurationVar(&o.timeout, "timeout", 45*time.Minute, "stop the whole run after this long")
	fs.IntVar(&o.sessions, "sessions", 1000, "scale: idle logged-in sessions")
	fs.IntVar(&o.clients, "clients", 200, "scale: active clients in the mixed load")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "scale: length of the mixed load")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.only = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(sections, s) {
			return nil, fmt.Errorf("-only: unknown part %q (want some of %s)", s, strings.Join(sections, ","))
		}
		o.only[s] = true
	}
	var err error
	if o.size, err = parseSize(*size); err != nil {
		return nil, fmt.Errorf("-size: %w", err)
	}
	for _, m := range strings.Split(*media, ",") {
		if m = strings.TrimSpace(m); m != "" {
			o.media = append(o.media, m)
		}
	}
	switch {
	case o.rounds < 1 || o.rounds > 100:
		return nil, errors.New("-rounds must be 1 to 100")
	case o.n < 1 || o.n > 100_000:
		return nil, errors.New("-n must be 1 to 100000")
	case o.loginN < 1 || o.loginN > 10_000:
		return nil, errors.New("-login-n must be 1 to 10000")
	case o.sessions < 1 || o.sessions > 10_000:
		return nil, errors.New("-sessions must be 1 to 10000")
	case o.clients < 1 || o.clients > 2_000:
		return nil, errors.New("-clients must be 1 to 2000")
	case o.duration <= 0 || o.duration > time.Hour:
		return nil, errors.New("-duration must be positive and at most 1h")
	case len(o.media) == 0:
		return nil, errors.New("-media is empty")
	}
	return o, nil
}

// parseSize reads "1GiB", "256MiB", "64KiB" or a number of bytes.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n <= 0 || n > (64<<30)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// bench is one run: its options, its servers and its results.
type bench struct {
	opt     *options
	tmp     string // private temporary directory, mode 0711
	bin     string
	stderr  io.Writer
	user    string // local user, who logs in to the private sshd
	sshd    *sshd
	cubbyd  *cubbyd // serves the cmd, login and batch parts
	tables  []*table
	cleanup []func()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && args[0] == kdfProbeFlag {
		return kdfProbe(stdout)
	}
	opt, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, opt.timeout)
	defer cancel()

	b := &bench{opt: opt, stderr: stderr}
	defer b.close()
	started := time.Now()
	m := describeMachine()
	if err := b.setup(ctx); err != nil {
		return err
	}
	for _, s := range sections {
		if !opt.only[s] {
			continue
		}
		var err error
		switch s {
		case "cmd":
			err = b.benchCommand(ctx)
		case "login":
			err = b.benchLogin(ctx)
		case "batch":
			err = b.benchBatch(ctx)
		case "xfer":
			err = b.benchTransfer(ctx)
		case "scale":
			err = b.benchScale(ctx)
		}
		if err != nil {
			b.report(stdout, m, started)
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return b.report(stdout, m, started)
}

// logf reports progress on stderr.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "bench: "+format+"\n", args...)
}

func (b *bench) setup(ctx context.Context) error {
	tmp, err := os.MkdirTemp("", "cubby-bench-")
	if err != nil {
		return err
	}
	b.tmp = tmp
	b.onClose(func() {
		if b.opt.keep {
			b.logf("kept %s", tmp)
			return
		}
		os.RemoveAll(tmp)
	})
	// The jail's uid must be able to pass through to the homes.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return err
	}
	b.bin = b.opt.bin
	if b.bin == "" {
		b.bin = filepath.Join(tmp, "bin")
		b.logf("building cubbyd and cubby")
		if err := buildBinaries(ctx, b.bin); err != nil {
			return err
		}
	}
	for _, name := range []string{"cubbyd", "cubby"} {
		if _, err := os.Stat(filepath.Join(b.bin, name)); err != nil {
			return fmt.Errorf("-bin: %w", err)
		}
	}
	if b.user, err = currentUser(); err != nil {
		return err
	}
	if err := writeUsers(ctx, b.bin, filepath.Join(tmp, "users.toml")); err != nil {
		return err
	}
	needSSH := b.opt.only["cmd"] || b.opt.only["login"] || b.opt.only["batch"] || b.opt.only["xfer"]
	if needSSH {
		if b.sshd, err = startSSHD(ctx, filepath.Join(tmp, "ssh"), b.user); err != nil {
			return err
		}
		b.onClose(b.sshd.stop)
		b.logf("private sshd on %s (pid %d)", b.sshd.addr, b.sshd.cmd.Process.Pid)
		// cubby's bench account takes ssh's key too, so logins can be
		// compared key against key.
		if err := addUserKey(filepath.Join(tmp, "users.toml"), b.sshd.key+".pub"); err != nil {
			return err
		}
	}
	if b.opt.only["cmd"] || b.opt.only["login"] || b.opt.only["batch"] {
		if b.cubbyd, err = b.startCubbyd(ctx, filepath.Join(tmp, "data")); err != nil {
			return err
		}
	}
	return nil
}

// startCubbyd starts a cubbyd with its data in dataDir and the extra
// serve flags, stopped when the run ends.
func (b *bench) startCubbyd(ctx context.Context, dataDir string, extra ...string) (*cubbyd, error) {
	c, err := startCubbyd(ctx, b.bin, filepath.Join(b.tmp, "users.toml"), dataDir, filepath.Join(b.tmp, "cubby_known_hosts"), extra...)
	if err != nil {
		return nil, err
	}
	b.onClose(c.stop)
	b.logf("private cubbyd on %s (pid %d, data %s)", c.addr, c.cmd.Process.Pid, dataDir)
	return c, nil
}

func (b *bench) onClose(f func()) { b.cleanup = append(b.cleanup, f) }

func (b *bench) close() {
	for i := len(b.cleanup) - 1; i >= 0; i-- {
		b.cleanup[i]()
	}
}

// report prints every table and writes the markdown file.
func (b *bench) report(stdout io.Writer, m machine, started time.Time) error {
	m.loadEnd = loadAverage()
	m.elapsed = time.Since(started).Round(time.Second)
	fmt.Fprintln(stdout)
	m.text(stdout)
	for _, t := range b.tables {
		fmt.Fprintln(stdout)
		t.text(stdout)
	}
	if b.opt.out == "" {
		return nil
	}
	var sb strings.Builder
	m.markdown(&sb)
	for _, t := range b.tables {
		sb.WriteString("\n")
		t.markdown(&sb)
	}
	if err := os.WriteFile(b.opt.out, []byte(sb.String()), 0o644); err != nil {
		return err
	}
	b.logf("wrote %s", b.opt.out)
	return nil
}

// machine describes where the run happened.
type machine struct {
	cpus             int
	model, kernel    string
	ssh, goVersion   string
	loadStart        string
	loadEnd          string
	elapsed          time.Duration
	started          time.Time
	commandLine      string
	memTotal, osName string
}

func describeMachine() machine {
	m := machine{
		cpus:        runtime.NumCPU(),
		goVersion:   runtime.Version(),
		loadStart:   loadAverage(),
		started:     time.Now().UTC(),
		commandLine: strings.Join(os.Args[1:], " "),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		m.memTotal = strings.Join(strings.Fields(strings.TrimPrefix(first, "MemTotal:")), " ")
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				m.osName = strings.Trim(v, `"`)
			}
		}
	}
	m.ssh = sshVersion()
	return m
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (m machine) lines() [][2]string {
	return [][2]string{
		{"date (UTC)", m.started.Format("2006-01-02 15:04")},
		{"CPUs", fmt.Sprintf("%d × %s", m.cpus, m.model)},
		{"memory", m.memTotal},
		{"OS, kernel", m.osName + ", Linux " + m.kernel},
		{"OpenSSH", m.ssh},
		{"Go", m.goVersion},
		{"load average (1, 5, 15 min) at start", m.loadStart},
		{"load average at end", m.loadEnd},
		{"flags", m.commandLine},
		{"wall time", m.elapsed.String()},
	}
}

func (m machine) text(w io.Writer) {
	fmt.Fprintln(w, "== machine")
	for _, l := range m.lines() {
		fmt.Fprintf(w, "  %-38s %s\n", l[0], l[1])
	}
}

func (m machine) markdown(w io.Writer) {
	fmt.Fprintln(w, "### Machine")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| | |")
	fmt.Fprintln(w, "|---|---|")
	for _, l := range m.lines() {
		fmt.Fprintf(w, "| %s | `%s` |\n", l[0], l[1])
	}
}
