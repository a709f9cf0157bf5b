package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strings"

	"golang.org/x/term"

	"github.com/cubby-dev/cubby/auth/knownhosts"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/session/client/shell"
)

// exitConnect is the status when the client cannot connect or log in, as
// ssh uses it.
const exitConnect = 255

const usage = `usage: cubby [options] [USER@]HOST[:PORT] [COMMAND [ARGS...]]
       cubby [options] -b FILE [USER@]HOST[:PORT]
       cubby verify-receipt [--file LOCAL] RECEIPT...

commands: upload LOCAL... [REMOTE], download REMOTE... [LOCAL] (-r for folders,
--resume to continue an interrupted transfer), lcd, lpwd, lls, passwd, help;
anything else runs on the server. Without a command, cubby reads commands from a prompt
(line editing, history, Tab completion), or line by line from a pipe.
Login: with the SSH key given by -i (an encrypted key asks for its
passphrase), else with the keys of a running ssh-agent ($SSH_AUTH_SOCK), then
with the password, from a prompt, --password-stdin, or $CUBBY_PASSWORD.
An account whose password was set by the admin (a one-time password) must
choose a new one at its first login: cubby asks for it on the terminal.
Exit status: the remote command's, 1 when a client command fails, 255 when
cubby cannot connect or log in.

options:`

// knownHostsHelp describes the --known-hosts flag of every command.
const knownHostsHelp = "known hosts file (default: known_hosts in the user's config dir, cubby/)"

// newFlagSet is the flag set of the command name: it reports to stderr,
// and -h prints usage and the options.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, interrupt <-chan os.Signal) int {
	if len(args) > 0 && args[0] == "verify-receipt" {
		return verifyReceipts(args[1:], stdout, stderr)
	}
	fs := newFlagSet("cubby", usage, stderr)
	port := fs.String("p", "5050", "server port")
	knownHostsPath := fs.String("known-hosts", "", knownHostsHelp)
	acceptNew := fs.Bool("accept-new-host", false, "pin an unknown server key without asking (a changed key is still refused)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	timeout := fs.Duration("timeout", 0, "wall-clock limit for each remote command, up to the server's cap for you (default: the server's)")
	batch := fs.String("b", "", "run the commands in `FILE` (- for stdin) like sftp -b: echo each, stop at the first that fails unless its line starts with -")
	quiet := fs.Bool("q", false, "no progress bars")
	identity := fs.String("i", "", "log in with the SSH private key in `FILE` (such as ~/.ssh/id_ed25519); its public key must be in your keys on the server")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 2
	}
	if *batch != "" && fs.NArg() > 1 {
		fmt.Fprintln(stderr, "cubby: -b runs the commands of a file; give no command after the host")
		return 2
	}
	userName, addr, err := parseTarget(fs.Arg(0), *port)
	if err != nil {
		fmt.Fprintln(stderr, "cubby:", err)
		return 2
	}
	if userName == "" {
		if userName, err = localUser(); err != nil {
			fmt.Fprintln(stderr, "cubby:", err)
			return 2
		}
	}
	khPath := *knownHostsPath
	if khPath == "" {
		if khPath, err = knownhosts.DefaultPath(); err != nil {
			fmt.Fprintln(stderr, "cubby:", err)
			return exitConnect
		}
	}
	in := bufio.NewReader(stdin)
	tty := terminal(stdin)
	var batchFile io.Reader
	switch *batch {
	case "":
	case "-":
		batchFile = in
	default:
		f, err := os.Open(*batch)
		if err != nil {
			fmt.Fprintln(stderr, "cubby: batch file:", err)
			return 1
		}
		defer f.Close()
		batchFile = f
	}
	cfg := client.Config{
		User:           userName,
		KnownHosts:     &knownhosts.Store{Path: khPath},
		AcceptNewHost:  *acceptNew,
		CommandTimeout: *timeout,
		Password: func() ([]byte, error) {
			return password(userName, addr, *pwStdin, getenv, in, tty, stderr)
		},
		IdentityFile: *identity,
	}
	if *identity == "" {
		cfg.AgentSocket = getenv("SSH_AUTH_SOCK")
	}
	if tty != nil {
		cfg.ConfirmHost = func(host, fp string) (bool, error) { return confirmHost(host, fp, in, stderr) }
		cfg.Passphrase = func(file string) ([]byte, error) {
			return readSecret(tty, stderr, fmt.Sprintf("Enter passphrase for key '%s': ", file))
		}
	}
	dialCtx, stopDial := context.WithCancel(ctx)
	go func() {
		select {
		case <-interrupt:
			stopDial()
		case <-dialCtx.Done():
		}
	}()
	c, err := client.Dial(dialCtx, addr, cfg)
	stopDial()
	if err != nil {
		fmt.Fprintln(stderr, "cubby:", shell.UserMessage(err))
		return exitConnect
	}
	defer c.Close()
	sh := shell.New(c, hostOnly(addr), stdout, stderr)
	sh.Interrupt = interrupt
	if dir, err := shell.DefaultReceiptDir(); err == nil {
		sh.ReceiptDir = dir
	}
	if tty != nil {
		sh.ReadPassword = func(prompt string) ([]byte, error) { return readSecret(tty, stderr, prompt) }
	}
	if c.MustChangePassword() {
		// The new password is asked for on the terminal only: a script
		// cannot choose one that its user will know.
		if tty == nil || batchFile != nil || *pwStdin {
			fmt.Fprintf(stderr, "cubby: %s must set a new password first: log in once interactively with cubby\n", c.User())
			return exitConnect
		}
		if err := sh.ChangeRequiredPassword(ctx); err != nil {
			fmt.Fprintln(stderr, "cubby:", shell.UserMessage(err))
			return exitConnect
		}
	}
	out := terminal(stdout)
	if out != nil && !*quiet {
		restore := enableVT(out)
		defer restore()
		sh.Progress = true
		sh.Width = func() int {
			w, _, err := term.GetSize(int(out.Fd()))
			if err != nil {
				return 80
			}
			return w
		}
	}
	switch {
	case batchFile != nil:
		return sh.Batch(ctx, batchFile)
	case fs.NArg() > 1:
		sh.Stdin = in
		return sh.Exec(ctx, fs.Args()[1:])
	case tty != nil && out != nil && in.Buffered() == 0:
		return sh.Interactive(ctx, tty, out, openHistory(stderr))
	}
	return sh.Loop(ctx, in, tty != nil)
}

// openHistory opens the prompt's history in the user's config dir; a
// history that cannot be read is kept in memory for this run only.
func openHistory(stderr io.Writer) *shell.History {
	warn := func(err error) {
		// It is told right after a line is read, in raw mode: \r too.
		fmt.Fprintf(stderr, "cubby: history not saved: %s\r\n", shell.UserMessage(err))
	}
	p, err := shell.DefaultHistoryPath()
	if err != nil {
		h, _ := shell.OpenHistory("", 0)
		return h
	}
	h, err := shell.OpenHistory(p, shell.DefaultHistoryLines)
	if err != nil {
		warn(err)
	}
	h.Warn = warn
	return h
}

// parseTarget splits [USER@]HOST[:PORT]; HOST may be an IPv6 address,
// bare or in brackets.
func parseTarget(target, defaultPort string) (userName, addr string, err error) {
	if i := strings.LastIndex(target, "@"); i >= 0 {
		userName, target = target[:i], target[i+1:]
		if userName == "" {
			return "", "", fmt.Errorf("%q: empty user name before @", target)
		}
	}
	host, port := target, defaultPort
	switch {
	case strings.HasPrefix(target, "["):
		if h, p, err := net.SplitHostPort(target); err == nil {
			host, port = h, p
		} else {
			host = strings.TrimSuffix(strings.TrimPrefix(target, "["), "]")
		}
	case strings.Count(target, ":") == 1:
		host, port, _ = strings.Cut(target, ":")
	}
	if host == "" {
		return "", "", fmt.Errorf("%q: missing host", target)
	}
	return userName, net.JoinHostPort(host, port), nil
}

func hostOnly(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func localUser() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("cannot tell your user name; give it as USER@HOST: %w", err)
	}
	name := u.Username
	if i := strings.LastIndexAny(name, `\`); i >= 0 { // DOMAIN\user on Windows
		name = name[i+1:]
	}
	return strings.ToLower(name), nil
}

// terminal returns r or w as a terminal file, or nil if it is not one.
func terminal(rw any) *os.File {
	if f, ok := rw.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

// password gets the password from --password-stdin, $CUBBY_PASSWORD or a
// prompt without echo, in that order.
func password(userName, addr string, fromStdin bool, getenv func(string) string, in *bufio.Reader, tty *os.File, stderr io.Writer) ([]byte, error) {
	switch {
	case fromStdin:
		line, err := in.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the password from stdin: %w", err)
		}
		if len(line) == 0 {
			return nil, errors.New("--password-stdin: standard input is empty")
		}
		return bytes.TrimRight(line, "\r\n"), nil
	case getenv("CUBBY_PASSWORD") != "":
		return []byte(getenv("CUBBY_PASSWORD")), nil
	case tty != nil:
		return readSecret(tty, stderr, fmt.Sprintf("%s@%s's password: ", userName, addr))
	}
	return nil, errors.New("no password: standard input is not a terminal; use --password-stdin or CUBBY_PASSWORD")
}

func confirmHost(host, fp string, in *bufio.Reader, stderr io.Writer) (bool, error) {
	fmt.Fprintf(stderr, "The authenticity of host %s can't be established.\nIts key fingerprint is %s.\n", host, fp)
	for {
		fmt.Fprint(stderr, "Are you sure you want to continue connecting (yes/no)? ")
		line, err := in.ReadString('\n')
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "yes":
			return true, nil
		case "no":
			return false, nil
		}
		if err != nil {
			return false, err
		}
		fmt.Fprintln(stderr, "Please type 'yes' or 'no'.")
	}
}

// readSecret shows prompt on stderr and reads a line from the terminal
// without echo.
func readSecret(tty *os.File, stderr io.Writer, prompt string) ([]byte, error) {
	fmt.Fprint(stderr, prompt)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(stderr)
	return pw, err
}
