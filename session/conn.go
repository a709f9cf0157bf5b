package session

import (
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/wire"
)

// conn is one client connection, from accept to close.
type conn struct {
	srv    *Server
	nc     net.Conn
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	shutdownOnce sync.Once
	draining     atomic.Bool
	// kicked holds the message for a session the admin ended.
	kicked atomic.Pointer[string]
	// pendingFinal is the server-final message, held until the home opens.
	pendingFinal []byte
	// method is how the user logged in, for logs: "password" or "publickey".
	method string
	// cb is the connection's tls-exporter channel binding and serverID the
	// SHA-256 of the certificate it presented; set before the login.
	cb, serverID []byte

	// Guarded by srv.mu: the place among the connections waiting to log
	// in (nil once logged in or dropped), and the user once logged in.
	waiting *list.Element
	user    string
}

// kickGrace is how long a kicked session may take to end its request and
// say why before its connection is closed under it.
const kickGrace = 3 * time.Second

// kick ends the session with msg: a running program is killed, the loop
// tells the client why, and the connection closes within kickGrace.
func (c *conn) kick(msg string) {
	if !c.kicked.CompareAndSwap(nil, &msg) {
		return
	}
	c.cancel()
	c.nc.SetReadDeadline(time.Now())
	time.AfterFunc(kickGrace, func() { c.nc.Close() })
}

// kickMessage returns the reason the session was ended, or "".
func (c *conn) kickMessage() string {
	if p := c.kicked.Load(); p != nil {
		return *p
	}
	return ""
}

// shutdown ends the session once its current request is done: closing
// the read side would lose a request in flight, so the idle wait is cut
// short by an immediate read deadline, and a request in progress finishes.
func (c *conn) shutdown() {
	c.shutdownOnce.Do(func() {
		c.draining.Store(true)
		c.nc.SetReadDeadline(time.Now())
	})
}

func (c *conn) serve() {
	defer c.srv.forget(c)
	defer c.cancel()
	defer c.nc.Close()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic serving connection", "panic", r, "stack", string(debug.Stack()))
		}
	}()

	hsTimeout := orDefault(c.srv.HandshakeTimeout, DefaultHandshakeTimeout)
	c.nc.SetDeadline(c.srv.now().Add(hsTimeout))

	v, err := wire.ReadPreamble(c.nc)
	if err != nil {
		c.log.Info("closing: bad preamble", "err", err)
		return
	}
	if err := wire.WritePreamble(c.nc); err != nil {
		return
	}
	if v != wire.Version {
		c.log.Info("closing: protocol version mismatch", "err", &wire.VersionError{Local: wire.Version, Remote: v})
		return
	}

	cfg := c.srv.TLSConfig.Clone()
	cfg.MinVersion = tls.VersionTLS13
	// Every certificate goes through GetCertificate (crypto/tls skips it
	// when Certificates is set and the client sends no server name), so
	// the one served is known.
	cfg.Certificates = nil
	var served *tls.Certificate
	cfg.GetCertificate = func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		cert, err := pickCertificate(c.srv.TLSConfig, hi)
		served = cert
		return cert, err
	}
	tc := tls.Server(c.nc, cfg)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.log.Info("closing: TLS handshake failed", "err", err)
		return
	}
	if served == nil || len(served.Certificate) == 0 {
		c.log.Error("closing: no certificate was served")
		return
	}
	id := sha256.Sum256(served.Certificate[0])
	c.serverID = id[:]
	wc := wire.NewConn(tc)

	user, err := c.login(tc, wc)
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, auth.ErrLoginFailed) {
			c.log.Info("closing: login failed", "err", err)
		}
		return
	}
	if err := c.srv.loggedIn(c, user); err != nil {
		c.log.Warn("login refused", "user", user, "method", c.method, "reason", err)
		c.writeError(wc, toWire(err, ""))
		return
	}
	c.nc.SetDeadline(time.Time{})
	c.log = c.log.With("user", user)

	h, err := c.srv.openHome(user)
	if err != nil {
		c.log.Error("closing: cannot open home", "err", err)
		c.writeError(wc, &wire.Error{Kind: wire.KindInternal, Message: "cannot open your home folder; ask the admin to check the server log"})
		return
	}
	defer h.root.Close()
	s := &session{conn: c, wc: wc, home: h, cwd: ".", log: c.log}
	if u, ok := c.srv.userDB().Lookup(user); ok {
		// Before the session starts, so that it never sees expired
		// items; cheap when nothing expired: it reads the records only.
		s.purgeTrash(c.ctx, u)
	}
	mustChange := c.srv.mustChangePassword(user)
	if err := wc.WriteMessage(&wire.AuthOK{Message: c.pendingFinal, User: user, Cwd: "~", MustChange: mustChange}); err != nil {
		return
	}
	c.pendingFinal = nil
	c.log.Info("login succeeded", "method", c.method, "must_change_password", mustChange)
	// The folders' mount points appear in the home at once (ls ~).
	fv := s.newView()
	fv.mounts()
	fv.close()
	s.run(c.ctx)
}

// login runs the login exchange the client asks for, SCRAM or public
// key, and returns the authenticated user. The server-final message waits
// in pendingFinal until the home is open, so that AuthOK is only sent for
// a session that can really start.
func (c *conn) login(tc *tls.Conn, wc *wire.Conn) (string, error) {
	cs := tc.ConnectionState()
	cb, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		return "", fmt.Errorf("session: channel binding: %w", err)
	}
	c.cb = cb
	// The name is known once First has parsed it; the guard decides
	// before the password is checked.
	var claimed string
	lookup := func(name string) (auth.Verifier, bool) {
		claimed = name
		return c.srv.lookup(name)
	}
	sl := auth.NewServerLogin(lookup, c.srv.FakeSaltKey, cb)
	remote := c.nc.RemoteAddr().String()

	m, err := wc.ReadMessage()
	if err != nil {
		return "", c.protocolError(wc, err)
	}
	start, ok := m.(*wire.AuthStart)
	if !ok {
		return "", c.unexpected(wc, m, "AuthStart")
	}
	switch start.Mechanism {
	case auth.Mechanism:
		c.method = "password"
	case auth.PubkeyMechanism:
		c.method = "publickey"
		return c.keyLogin(wc, start.Message)
	default:
		c.writeError(wc, &wire.Error{Kind: wire.KindAuth, Message: fmt.Sprintf("login mechanism %q is not supported; this server uses %s and %s", start.Mechanism, auth.Mechanism, auth.PubkeyMechanism)})
		return "", fmt.Errorf("session: unsupported mechanism %q", start.Mechanism)
	}
	first, err := sl.First(start.Message)
	if err != nil {
		c.log.Info("login failed", "user", claimed, "method", "password", "reason", err)
		return "", c.authFailed(wc, err)
	}
	guard := c.srv.Guard
	v, err := c.checkGuard(wc, claimed, remote)
	if err != nil {
		return "", err
	}
	resp, err := c.challenge(wc, first, v, claimed)
	if err != nil {
		return "", err
	}
	final, err := sl.Final(resp.Message)
	if err != nil {
		p := guard.Failed(claimed, remote)
		c.log.Info("login failed", "user", GuardName(claimed), "method", "password", "reason", err, "failures", p.Failures)
		if p.Duration > 0 {
			c.log.Warn("login penalty", "user", GuardName(claimed), "failures", p.Failures, "penalty", p.Duration)
		}
		return "", c.authFailed(wc, err)
	}
	guard.Succeeded(claimed, remote)
	c.pendingFinal = final
	return sl.User(), nil
}

func (c *conn) authFailed(wc *wire.Conn, err error) error {
	c.writeError(wc, &wire.Error{Kind: wire.KindAuth, Message: auth.ErrLoginFailed.Error()})
	return err
}

// protocolError answers a framing or decoding failure with an Error frame
// before the connection closes, and passes plain disconnects through.
func (c *conn) protocolError(wc *wire.Conn, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.writeError(wc, &wire.Error{Kind: wire.KindTimeout, Message: "timed out waiting for the client"})
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	c.writeError(wc, &wire.Error{Kind: wire.KindProtocol, Message: "protocol error: " + err.Error()})
	return err
}

func (c *conn) unexpected(wc *wire.Conn, m wire.Message, want string) error {
	err := fmt.Errorf("session: got %v, want %s", m.Type(), want)
	c.writeError(wc, &wire.Error{Kind: wire.KindProtocol, Message: "protocol error: " + err.Error()[len("session: "):]})
	return err
}

func (c *conn) writeError(wc *wire.Conn, e *wire.Error) {
	c.nc.SetWriteDeadline(c.srv.now().Add(5 * time.Second))
	if err := wc.WriteMessage(e); err != nil {
		c.log.Debug("writing error frame failed", "err", err)
	}
}

// checkGuard asks the login guard about user from remote and answers a
// refusal (a penalty in force) before any secret is checked.
func (c *conn) checkGuard(wc *wire.Conn, user, remote string) (Verdict, error) {
	v := c.srv.Guard.Check(user, remote)
	if v.Refuse {
		c.log.Warn("login refused: too many failures", "user", GuardName(user), "method", c.method, "rule", v.Why, "retry_in", v.RetryIn.Round(time.Millisecond))
		c.writeError(wc, &wire.Error{Kind: wire.KindAuth, Message: v.Message})
		return v, fmt.Errorf("session: login of %q refused by the %s rule for %v", user, v.Why, v.RetryIn)
	}
	return v, nil
}

// challenge sends msg as the AuthChallenge, reads the AuthResponse and
// then waits out any delay the guard asked for.
func (c *conn) challenge(wc *wire.Conn, msg []byte, v Verdict, user string) (*wire.AuthResponse, error) {
	if err := wc.WriteMessage(&wire.AuthChallenge{Message: msg}); err != nil {
		return nil, err
	}
	m, err := wc.ReadMessage()
	if err != nil {
		return nil, c.protocolError(wc, err)
	}
	resp, ok := m.(*wire.AuthResponse)
	if !ok {
		return nil, c.unexpected(wc, m, "AuthResponse")
	}
	if v.Delay > 0 {
		c.log.Info("login delayed: many failures for this user", "user", GuardName(user), "delay", v.Delay)
		t := time.NewTimer(v.Delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil, c.ctx.Err()
		}
	}
	return resp, nil
}
