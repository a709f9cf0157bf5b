package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/cubby-dev/cubby/auth/hostkey"
	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/sandbox"
	"github.com/cubby-dev/cubby/session"
)

// defaultJailID is the host uid and gid of jailed programs when cubbyd
// runs as root: an id no distribution allocates, never root's.
const defaultJailID = 61000

const (
	defaultPort       = "5050"
	demoListen        = "127.0.0.1:" + defaultPort
	publicListen      = ":" + defaultPort
	shutdownGraceTime = 10 * time.Second
)

// commonFlags are the flags every subcommand that reads the setup shares.
type commonFlags struct {
	config, data string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "users.toml", "users file")
	fs.StringVar(&c.data, "data", "", "data directory (host key, homes); default: cubby-data beside the users file")
}

// dataDir is absolute: the jail binds homes by absolute path.
func (c *commonFlags) dataDir() string {
	d := c.data
	if d == "" {
		d = filepath.Join(filepath.Dir(c.config), "cubby-data")
	}
	if abs, err := filepath.Abs(d); err == nil {
		return abs
	}
	return d
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cubbyd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var common commonFlags
	common.register(fs)
	listen := fs.String("listen", "", "address to listen on (default "+publicListen+", or "+demoListen+" when the users file has demo accounts)")
	certFile := fs.String("tls-cert", "", "CA-issued certificate (PEM) instead of the self-signed host key certificate")
	keyFile := fs.String("tls-key", "", "private key (PEM) for --tls-cert")
	idle := fs.Duration("idle-timeout", session.DefaultIdleTimeout, "close sessions idle this long")
	grace := fs.Duration("login-grace", session.DefaultHandshakeTimeout, "close connections not logged in this long after accept")
	jailUID := fs.Int("jail-uid", defaultJailID, "when run as root: the unprivileged host uid that owns the homes and runs jailed programs")
	jailGID := fs.Int("jail-gid", defaultJailID, "when run as root: the host gid for the same")
	var lf logFlags
	fs.StringVar(&lf.format, "log-format", "text", "log format: text or json (one JSON object a line)")
	fs.StringVar(&lf.level, "log-level", "info", "least severe records logged: debug, info, warn or error")
	fs.StringVar(&lf.file, "log-file", "", "append the log to this file (reopened on SIGHUP) instead of stderr")
	reloadEvery := fs.Duration("reload-interval", time.Second, "check the users file for changes this often (0: only on SIGHUP)")
	startups := fs.String("max-startups", session.DefaultStartups.String(), "connections waiting to log in, start:rate:full: past start, drop the oldest waiting one with rate% chance, rising to 100% at full")
	maxSessions := fs.Int("max-sessions", session.DefaultMaxSessions, "logged-in sessions in total (-1: no limit)")
	maxPerUser := fs.Int("max-sessions-per-user", session.DefaultMaxSessionsPerUser, "logged-in sessions per user (-1: no limit)")
	reqRate := fs.Float64("max-request-rate", session.DefaultRequestRate, "requests per second per session, in bursts of twice that; faster ones wait (-1: no limit)")
	freeFailures := fs.Int("login-free-failures", session.DefaultFreeFailures, "failed logins per user and address before penalties (1 s, doubling)")
	penaltyMax := fs.Duration("login-penalty-max", session.DefaultPenaltyMax, "longest penalty for one user and address")
	addrCap := fs.Int("login-addr-failures", session.DefaultAddrFailureCap, "failed logins per address per hour, over all names, before names new to that address are refused")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *freeFailures < 1 || *addrCap < 1 || *penaltyMax < time.Second {
		return &usageError{"--login-free-failures and --login-addr-failures must be at least 1, --login-penalty-max at least 1s"}
	}
	st, err := session.ParseStartups(*startups)
	if err != nil {
		return &usageError{"--max-startups: " + err.Error()}
	}
	log, logFile, err := lf.newLogger(stderr)
	if err != nil {
		return err
	}
	if logFile != nil {
		defer logFile.Close()
	}

	cfg, err := users.Load(common.config)
	if err != nil {
		return err
	}
	if open, err := users.WorldReadable(common.config); err == nil && open {
		log.Warn("users file is readable by other local users; chmod 600 it", "path", common.config)
	}
	addr := *listen
	if addr == "" {
		addr = publicListen
		if cfg.HasDemo() {
			addr = demoListen
		}
	}
	demoOK := func(cfg *users.Config) error {
		if cfg.HasDemo() && !isLoopback(addr) {
			return fmt.Errorf("%s has demo accounts (demo = true), whose passwords are public; they are served only on a loopback address such as %s, not %s", common.config, demoListen, addr)
		}
		return nil
	}
	// accept vets a users file before it is put in force, at start and
	// at each reload, and logs what is odd but allowed.
	accept := func(cfg *users.Config) error {
		if err := demoOK(cfg); err != nil {
			return err
		}
		warnings, err := session.CheckShares(cfg, common.dataDir())
		if err != nil {
			return err
		}
		for _, w := range append(slices.Clone(cfg.Warnings), warnings...) {
			log.Warn("users file", "warning", w)
		}
		return nil
	}
	if err := accept(cfg); err != nil {
		return err
	}

	key, created, err := hostkey.LoadOrCreate(common.dataDir())
	if err != nil {
		return err
	}
	fp, err := hostkey.Fingerprint(key.Public())
	if err != nil {
		return err
	}
	if created {
		log.Info("created host key", "path", filepath.Join(common.dataDir(), hostkey.FileName), "fingerprint", fp)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS13}
	if *certFile != "" || *keyFile != "" {
		if *certFile == "" || *keyFile == "" {
			return &usageError{"--tls-cert and --tls-key go together"}
		}
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("loading --tls-cert/--tls-key: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	} else {
		cert, err := hostkey.Certificate(key)
		if err != nil {
			return err
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}

	srv := &session.Server{
		TLSConfig:   tlsCfg,
		Users:       cfg,
		UsersFile:   common.config,
		DataDir:     common.dataDir(),
		FakeSaltKey: fakeSaltKey(key.Seed()),
		ReceiptKey:  key,
		Logger:      log,
		IdleTimeout: *idle,

		HandshakeTimeout:   *grace,
		MaxStartups:        st,
		MaxSessions:        *maxSessions,
		MaxSessionsPerUser: *maxPerUser,
		RequestRate:        *reqRate,
		Guard: &session.LoginGuard{
			FreeFailures:   *freeFailures,
			PenaltyMax:     *penaltyMax,
			AddrFailureCap: *addrCap,
			AddrLeak:       time.Hour / time.Duration(*addrCap),
		},
	}
	jailCfg := sandbox.Config{HostUID: os.Geteuid(), HostGID: os.Getegid()}
	if os.Geteuid() == 0 {
		jailCfg = sandbox.Config{HostUID: *jailUID, HostGID: *jailGID}
		srv.HomeOwner = &session.Owner{UID: *jailUID, GID: *jailGID}
	}
	if err := session.PrepareDataDir(common.dataDir()); err != nil {
		return err
	}
	jail, err := sandbox.New(jailCfg)
	if err != nil {
		srv.JailError = err
		log.Error("remote commands are DISABLED: the jail cannot be built; uploads and downloads still work", "reason", err)
	} else {
		defer jail.Close()
		srv.Jail = jail
		log.Info("jail ready", "features", jail.Features())
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("cubbyd starting", "listen", l.Addr().String(), "users", len(cfg.Users), "data", common.dataDir(), "fingerprint", fp,
		"max_startups", st.String(), "max_sessions", *maxSessions, "max_sessions_per_user", *maxPerUser,
		"max_request_rate", *reqRate, "login_grace", *grace, "idle_timeout", *idle)

	// SIGHUP reloads the users file (and reopens the log file); so does a
	// change to the file, noticed within --reload-interval.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rl := newReloader(common.config, cfg, log, accept, func(c *users.Config) int { return srv.SetUsers(c) })
	if logFile != nil {
		rl.onHUP = func() {
			if err := logFile.Reopen(); err != nil {
				log.Error("cannot reopen the log file; still writing to the old one", "err", err)
			}
		}
	}
	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	go rl.run(rctx, *reloadEvery, hup)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownGraceTime)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGraceTime)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, session.ErrServerClosed) {
		return serr
	}
	return err
}

// fakeSaltKey derives the key for unknown users' fake salts from the host
// key, so the salts stay the same across restarts without another secret.
func fakeSaltKey(seed []byte) []byte {
	m := hmac.New(sha256.New, seed)
	m.Write([]byte("cubby fake salt key"))
	return m.Sum(nil)
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func fingerprint(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fingerprint", stderr)
	var common commonFlags
	common.register(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	key, _, err := hostkey.LoadOrCreate(common.dataDir())
	if err != nil {
		return err
	}
	fp, err := hostkey.Fingerprint(key.Public())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, fp)
	return nil
}

// parseFlags parses flags that may come before or after the n positional
// arguments a subcommand expects, and returns those arguments.
func parseFlags(fs *flag.FlagSet, args []string, n int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != n {
		return nil, &usageError{fmt.Sprintf("%s: want %d argument(s), got %d", fs.Name(), n, len(pos))}
	}
	return pos, nil
}
