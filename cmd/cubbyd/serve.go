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
	"log/slog"
	"net"
	"os"
	"path/filepath"
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
	jailUID := fs.Int("jail-uid", defaultJailID, "when run as root: the unprivileged host uid that owns the homes and runs jailed programs")
	jailGID := fs.Int("jail-gid", defaultJailID, "when run as root: the host gid for the same")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

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
	if cfg.HasDemo() && !isLoopback(addr) {
		return fmt.Errorf("%s has demo accounts (demo = true), whose passwords are public; they are served only on a loopback address such as %s, not %s", common.config, demoListen, addr)
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
		DataDir:     common.dataDir(),
		FakeSaltKey: fakeSaltKey(key.Seed()),
		Logger:      log,
		IdleTimeout: *idle,
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
	log.Info("cubbyd starting", "listen", l.Addr().String(), "users", len(cfg.Users), "data", common.dataDir(), "fingerprint", fp)

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
