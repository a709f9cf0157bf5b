package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchUser and benchPassword are cubbyd's account for the run.
const (
	benchUser     = "bench"
	benchPassword = "bench-password-1"
)

// sshdPath is the OpenSSH server run privately; the system's service,
// its config and its keys are never touched.
const sshdPath = "/usr/sbin/sshd"

// command runs name with args, bounded by timeout, and returns its error
// with the output on failure.
func command(ctx context.Context, timeout time.Duration, stdin string, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

func buildBinaries(ctx context.Context, dir string) error {
	return command(ctx, 5*time.Minute, "", "go", "build", "-o", dir+"/",
		"github.com/cubby-dev/cubby/cmd/cubbyd", "github.com/cubby-dev/cubby/cmd/cubby")
}

func currentUser() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", err
	}
	return u.Username, nil
}

// writeUsers creates the users file: every program allowed, one account.
func writeUsers(ctx context.Context, bin, path string) error {
	if err := os.WriteFile(path, []byte("[defaults]\ncommands = [\"*\"]\n"), 0o600); err != nil {
		return err
	}
	return command(ctx, time.Minute, benchPassword+"\n", filepath.Join(bin, "cubbyd"),
		"user", "add", benchUser, "--config", path, "--password-stdin")
}

// addUserKey lists the public key in pubFile for the bench account, the
// last table writeUsers left in the users file.
func addUserKey(users, pubFile string) error {
	pub, err := os.ReadFile(pubFile)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(users, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "keys = [%q]\n", strings.TrimSpace(string(pub)))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// sshd is a private OpenSSH server with its own host key, config and
// authorized key, on a free loopback port.
type sshd struct {
	dir, addr, port, user string
	key, knownHosts       string
	cmd                   *exec.Cmd
	done                  chan struct{}
}

func startSSHD(ctx context.Context, dir, userName string) (*sshd, error) {
	if _, err := os.Stat(sshdPath); err != nil {
		return nil, fmt.Errorf("OpenSSH server missing (bench/run.sh installs it): %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &sshd{dir: dir, user: userName,
		key:        filepath.Join(dir, "id_ed25519"),
		knownHosts: filepath.Join(dir, "known_hosts"),
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	for _, k := range []string{hostKey, s.key} {
		if err := command(ctx, 30*time.Second, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cubby-bench", "-f", k); err != nil {
			return nil, err
		}
	}
	pub, err := os.ReadFile(s.key + ".pub")
	if err != nil {
		return nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		return nil, err
	}
	// The login shell's rc files would be timed too: Debian's bash reads
	// ~/.bashrc for ssh commands, and a developer's (pyenv, nvm, ...) can
	// cost 100 ms. An empty HOME measures OpenSSH, not the rc files.
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`# Private sshd for cubby's benchmark; nothing here touches the system's.
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
MaxSessions 64
MaxStartups 100:30:200
LogLevel ERROR
Subsystem sftp /usr/lib/openssh/sftp-server
SetEnv HOME=%s
`, hostKey, filepath.Join(dir, "sshd.pid"), authorized, home)
	configPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	// Debian's sshd refuses to start as root without its privilege
	// separation directory, which only the system service creates.
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, err
		}
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	s.addr = net.JoinHostPort("127.0.0.1", s.port)
	logFile, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(sshdPath, "-D", "-e", "-f", configPath, "-p", s.port)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s.done = make(chan struct{})
	go func() {
		s.cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := waitBanner(ctx, s.addr, "SSH-", s.done); err != nil {
		s.stop()
		log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
		return nil, fmt.Errorf("sshd: %w\n%s", err, log)
	}
	// Pin the host key once, outside any measurement.
	if err := command(ctx, 30*time.Second, "", "ssh", s.sshArgs("true")...); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitBanner dials addr until the server greets with prefix, for at most
// 10 s or until done closes.
func waitBanner(ctx context.Context, addr, prefix string, done <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("exited at start")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, prefix) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no greeting within 10s")
}

// common are the client options every ssh, scp and sftp call shares: no
// user or system config, only the run's key, its own known_hosts.
func (s *sshd) common() []string {
	return []string{
		"-F", "/dev/null",
		"-i", s.key,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "UserKnownHostsFile=" + s.knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=accept-new",
		"-o", "BatchMode=yes",
		"-o", "LogLevel=ERROR",
	}
}

// sshArgs are the arguments of `ssh host remote...`.
func (s *sshd) sshArgs(remote ...string) []string {
	a := append(s.common(), "-p", s.port, s.user+"@127.0.0.1")
	return append(a, remote...)
}

// target is USER@127.0.0.1:PATH for scp.
func (s *sshd) target(path string) string { return s.user + "@127.0.0.1:" + path }

func (s *sshd) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func sshVersion() string {
	out, _ := exec.Command("ssh", "-V").CombinedOutput()
	return strings.TrimSpace(string(out))
}

// cubbyd is a private cubby server on a free loopback port.
type cubbyd struct {
	addr, data, knownHosts string
	cmd                    *exec.Cmd
	done                   chan struct{}
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

func startCubbyd(ctx context.Context, bin, users, data, knownHosts string, extra ...string) (*cubbyd, error) {
	c := &cubbyd{data: data, knownHosts: knownHosts}
	if err := os.MkdirAll(filepath.Dir(data), 0o711); err != nil {
		return nil, err
	}
	logFile, err := os.Create(data + ".log")
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--config", users, "--data", data, "--listen", "127.0.0.1:0"}, extra...)
	c.cmd = exec.Command(filepath.Join(bin, "cubbyd"), args...)
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	found := make(chan string, 1)
	c.done = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		c.cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	select {
	case c.addr = <-found:
		return c, nil
	case <-c.done:
		log, _ := os.ReadFile(data + ".log")
		return nil, fmt.Errorf("cubbyd exited before listening:\n%s", log)
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	c.stop()
	return nil, errors.New("cubbyd did not start listening within 30s")
}

// pid is cubbyd's process id.
func (c *cubbyd) pid() int { return c.cmd.Process.Pid }

// stop asks cubbyd to shut down gracefully, then kills it after 15 s.
func (c *cubbyd) stop() {
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// cubbyArgs are the arguments of the cubby binary for a one-shot command.
func (c *cubbyd) cubbyArgs(remote ...string) []string {
	a := []string{"-q", "--password-stdin", "--known-hosts", c.knownHosts, "--accept-new-host", benchUser + "@" + c.addr}
	return append(a, remote...)
}

// procStatus returns a field of /proc/PID/status in KiB ("VmRSS",
// "VmHWM"), or 0.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// treeRSS sums VmRSS (KiB) over pid and all its descendants.
func treeRSS(pid int) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	parent := map[int]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces; the fields after it do not.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		parent[p] = pp
	}
	var sum int64
	for p := range parent {
		for q, hops := p, 0; q > 1 && hops < 64; q, hops = parent[q], hops+1 {
			if q == pid {
				sum += procStatus(p, "VmRSS")
				break
			}
		}
	}
	return sum
}

// rssSampler records the peak of a memory reading while it runs.
type rssSampler struct {
	stop chan struct{}
	done chan int64
}

// sampleRSS polls read every 20 ms until the returned sampler is ended.
func sampleRSS(read func() int64) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		peak := read()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				s.done <- max(peak, read())
				return
			case <-t.C:
				peak = max(peak, read())
			}
		}
	}()
	return s
}

// end stops sampling and returns the peak in KiB.
func (s *rssSampler) end() int64 {
	close(s.stop)
	return <-s.done
}

// discard is an io.Writer for output nobody reads.
var discard io.Writer = io.Discard
