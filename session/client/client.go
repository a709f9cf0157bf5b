// Package client is the client side of a cubby session: it connects,
// checks the server's identity, logs in, and moves files.
package client

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/knownhosts"
	"github.com/cubby-dev/cubby/wire"
)

// Errors a caller may act on.
var (
	// ErrHostKeyNotAccepted means the user declined an unknown host key.
	ErrHostKeyNotAccepted = errors.New("client: host key not accepted")
)

// Config says who logs in and how the server is trusted.
type Config struct {
	User string
	// Password is called once the server's identity is settled, so that a
	// prompt comes after the host-key question, as in ssh. It is used
	// only when no key logged in; nil means keys only.
	Password func() ([]byte, error)
	// IdentityFile is an SSH private key (OpenSSH or PEM format) to log
	// in with, as ssh -i. It is read when Dial starts.
	IdentityFile string
	// Passphrase asks for the passphrase of an encrypted IdentityFile,
	// without echo. Nil makes an encrypted key an error.
	Passphrase func(file string) ([]byte, error)
	// AgentSocket is the unix socket of a running ssh-agent (what
	// SSH_AUTH_SOCK names). When IdentityFile is empty, the agent's keys
	// are tried, each on its own connection, before the password.
	AgentSocket string
	// PasswordKDF is the argon2id cost of the verifier Passwd computes for
	// a new password; the zero value means auth.DefaultKDFParams.
	PasswordKDF auth.KDFParams
	// KnownHosts pins self-signed server keys (trust on first use).
	KnownHosts *knownhosts.Store
	// AcceptNewHost pins an unknown key without asking; a changed key is
	// still refused.
	AcceptNewHost bool
	// ConfirmHost asks the user whether to trust an unknown key. Nil
	// refuses unknown keys unless AcceptNewHost is set.
	ConfirmHost func(host, fingerprint string) (bool, error)
	// RootCAs verifies CA-issued server certificates; nil uses the system's.
	RootCAs *x509.CertPool
	// Timeout bounds connecting and logging in; zero means 30 s.
	Timeout time.Duration
	// TransferTimeout drops a server silent this long mid-transfer; zero
	// means 2 min.
	TransferTimeout time.Duration
	// CommandTimeout asks the server for this wall-clock limit on each
	// remote command instead of the user's default; zero keeps it.
	CommandTimeout time.Duration
}

// Client is a logged-in session. Its methods run one request at a time.
type Client struct {
	cfg  Config
	nc   net.Conn
	tc   *tls.Conn
	wc   *wire.Conn
	user string
	cwd  string
	mu   sync.Mutex

	// mustChange is the server's word that the user must set a new
	// password first; loginPassword is a copy of the password the
	// session logged in with, kept only while mustChange is set. They
	// have their own lock: mu is held for a whole request, and Close
	// may be called during one.
	pwMu          sync.Mutex
	mustChange    bool
	loginPassword []byte
}

// Dial connects to addr ("host:port"), settles the server's identity, logs
// in and returns the session.
func Dial(ctx context.Context, addr string, cfg Config) (*Client, error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("client: bad address %q: %w", addr, err)
	}
	c, err := dialTLS(ctx, addr, host, cfg, timeout)
	var unknown *hostKeyError
	if errors.As(err, &unknown) {
		if err := trustNewHost(addr, unknown, cfg); err != nil {
			return nil, err
		}
		c, err = dialTLS(ctx, addr, host, cfg, timeout)
	}
	if err != nil {
		return nil, err
	}
	// fresh returns c, or a new connection if c was used or is old: the
	// server allows little time from accept to login, and a user who was
	// slow at a prompt gets a fresh connection.
	fresh := func() (*dialed, error) {
		if c != nil && time.Since(c.dialed) <= 5*time.Second {
			return c, nil
		}
		if c != nil {
			c.Close()
		}
		c = nil
		return dialTLS(ctx, addr, host, cfg, timeout)
	}
	signers, closeAgent, err := cfg.signers()
	if err != nil {
		c.Close()
		return nil, err
	}
	defer closeAgent()
	var keyErr error
	for _, signer := range signers {
		d, err := fresh()
		if err != nil {
			return nil, err
		}
		c = nil // a failed key login ends the connection
		cl := &Client{cfg: cfg, nc: d.nc, tc: d.tc, wc: wire.NewConn(d.tc)}
		err = cl.keyLogin(signer)
		if err == nil {
			d.nc.SetDeadline(time.Time{})
			return cl, nil
		}
		cl.Close()
		var we *wire.Error
		if !errors.As(err, &we) || we.Kind != wire.KindAuth {
			return nil, err
		}
		keyErr = err
	}
	if cfg.Password == nil {
		if c != nil {
			c.Close()
		}
		if keyErr == nil {
			keyErr = errors.New("client: no key to log in with, and no password")
		}
		return nil, keyErr
	}
	password, err := cfg.Password()
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, err
	}
	if c, err = fresh(); err != nil {
		return nil, err
	}
	cl := &Client{cfg: cfg, nc: c.nc, tc: c.tc, wc: wire.NewConn(c.tc)}
	if err := cl.login(password); err != nil {
		cl.Close()
		return nil, err
	}
	if cl.mustChange {
		cl.loginPassword = slices.Clone(password)
	}
	c.nc.SetDeadline(time.Time{})
	return cl, nil
}

type dialed struct {
	nc     net.Conn
	tc     *tls.Conn
	dialed time.Time
}

func (d *dialed) Close() { d.nc.Close() }

func dialTLS(ctx context.Context, addr, host string, cfg Config, timeout time.Duration) (*dialed, error) {
	start := time.Now()
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: cannot connect to %s: %w", addr, err)
	}
	nc.SetDeadline(start.Add(timeout))
	if err := wire.WritePreamble(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("client: %s: %w", addr, err)
	}
	v, err := wire.ReadPreamble(nc)
	if err != nil {
		nc.Close()
		if errors.Is(err, wire.ErrNotCubby) {
			return nil, fmt.Errorf("client: %s is not a cubby server (it closed the connection or answered something else)", addr)
		}
		return nil, fmt.Errorf("client: %s: %w", addr, err)
	}
	if v != wire.Version {
		nc.Close()
		return nil, &wire.VersionError{Local: wire.Version, Remote: v, RemoteIsServer: true}
	}
	tc := tls.Client(nc, &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: host,
		// The chain is checked in VerifyConnection: a CA-issued certificate
		// by host name, else the pinned host key. The handshake itself still
		// proves the server holds the certificate's private key.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs, addr, host, cfg)
		},
	})
	if err := tc.HandshakeContext(dctx); err != nil {
		nc.Close()
		var hk *hostKeyError
		if errors.As(err, &hk) {
			var unknown *knownhosts.UnknownHostError
			if errors.As(hk.err, &unknown) {
				return nil, hk
			}
			return nil, hk.err
		}
		return nil, fmt.Errorf("client: TLS handshake with %s failed: %w", addr, err)
	}
	return &dialed{nc: nc, tc: tc, dialed: start}, nil
}

// verifyServer accepts a certificate that chains to a trusted CA for
// host, or else one whose key is pinned for addr.
func verifyServer(cs tls.ConnectionState, addr, host string, cfg Config) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("client: server sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, caErr := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: cfg.RootCAs, Intermediates: inter})
	if caErr == nil {
		return nil
	}
	if cfg.KnownHosts == nil {
		return fmt.Errorf("client: server certificate not trusted: %w", caErr)
	}
	if err := cfg.KnownHosts.Check(addr, leaf.PublicKey); err != nil {
		return &hostKeyError{err: err, key: leaf.PublicKey}
	}
	return nil
}

// hostKeyError carries the known-hosts verdict and the key out of the TLS
// handshake, which wraps callback errors in its own.
type hostKeyError struct {
	err error
	key crypto.PublicKey
}

func (e *hostKeyError) Error() string { return e.err.Error() }
func (e *hostKeyError) Unwrap() error { return e.err }

// trustNewHost pins the key of an unknown host if the user (or
// AcceptNewHost) agrees.
func trustNewHost(addr string, hk *hostKeyError, cfg Config) error {
	var unknown *knownhosts.UnknownHostError
	errors.As(hk.err, &unknown)
	ok := cfg.AcceptNewHost
	if !ok && cfg.ConfirmHost != nil {
		var err error
		if ok, err = cfg.ConfirmHost(unknown.Host, unknown.Fingerprint); err != nil {
			return err
		}
	}
	if !ok {
		return fmt.Errorf("%w: %s has key fingerprint %s; to trust it, connect from a terminal and answer yes, or use --accept-new-host", ErrHostKeyNotAccepted, unknown.Host, unknown.Fingerprint)
	}
	return cfg.KnownHosts.Add(addr, hk.key)
}

func (c *Client) login(password []byte) error {
	cs := c.tc.ConnectionState()
	cb, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		return fmt.Errorf("client: channel binding: %w", err)
	}
	cl, err := auth.NewClientLogin(c.cfg.User, password, cb)
	if err != nil {
		return err
	}
	if err := c.wc.WriteMessage(&wire.AuthStart{Mechanism: auth.Mechanism, Message: cl.First()}); err != nil {
		return fmt.Errorf("client: sending login: %w", err)
	}
	ch, err := expect[*wire.AuthChallenge](c)
	if err != nil {
		return err
	}
	final, err := cl.Final(ch.Message)
	if err != nil {
		return err
	}
	if err := c.wc.WriteMessage(&wire.AuthResponse{Message: final}); err != nil {
		return fmt.Errorf("client: sending login: %w", err)
	}
	ok, err := expect[*wire.AuthOK](c)
	if err != nil {
		return err
	}
	if err := cl.Verify(ok.Message); err != nil {
		return err
	}
	c.user, c.cwd, c.mustChange = ok.User, ok.Cwd, ok.MustChange
	return nil
}

// expect reads one message and returns it as T; an Error frame is
// returned as the error, anything else is a protocol error.
func expect[T wire.Message](c *Client) (T, error) {
	m, err := c.wc.ReadMessage()
	if err != nil {
		var zero T
		return zero, c.readError(err)
	}
	return as[T](m)
}

// as is m as a T, the Error the server sent instead, or a protocol error.
func as[T wire.Message](m wire.Message) (T, error) {
	var zero T
	if t, ok := m.(T); ok {
		return t, nil
	}
	if e, ok := m.(*wire.Error); ok {
		return zero, e
	}
	return zero, fmt.Errorf("client: protocol error: server sent %v, want %T", m.Type(), zero)
}

func (c *Client) readError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("client: the server stopped answering: %w", err)
	}
	return fmt.Errorf("client: connection to the server lost: %w", err)
}

// User is the logged-in user; Cwd the remote working directory ("~/x").
func (c *Client) User() string { return c.user }
func (c *Client) Cwd() string  { return c.cwd }

// MustChangePassword reports whether the server requires a new password
// (see Passwd) before it serves anything else: the account's password was
// set for the user, such as a one-time password from a roster import.
func (c *Client) MustChangePassword() bool {
	c.pwMu.Lock()
	defer c.pwMu.Unlock()
	return c.mustChange
}

// LoginPassword returns a copy of the password the session logged in with
// while MustChangePassword is true, so that the caller need not ask again
// for the current password, and nil after a key login or once the password
// was changed. The caller should clear the copy when done with it.
func (c *Client) LoginPassword() []byte {
	c.pwMu.Lock()
	defer c.pwMu.Unlock()
	return slices.Clone(c.loginPassword)
}

// passwordChanged records that the session's password is the user's own.
func (c *Client) passwordChanged() {
	c.pwMu.Lock()
	defer c.pwMu.Unlock()
	c.mustChange = false
	clear(c.loginPassword)
	c.loginPassword = nil
}

// Close ends the session.
func (c *Client) Close() error {
	c.pwMu.Lock()
	clear(c.loginPassword)
	c.loginPassword = nil
	c.pwMu.Unlock()
	return c.nc.Close()
}
