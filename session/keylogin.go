package session

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/wire"
	"golang.org/x/crypto/ssh"
)

// pickCertificate returns the certificate cfg would present for hi: its
// GetCertificate's, else the first of Certificates the client supports,
// else the first. The connection records it so that public-key logins can
// bind to it.
func pickCertificate(cfg *tls.Config, hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cfg.GetCertificate != nil {
		cert, err := cfg.GetCertificate(hi)
		if err != nil || cert != nil {
			return cert, err
		}
	}
	if len(cfg.Certificates) == 0 {
		return nil, errors.New("session: no certificate configured")
	}
	for i := range cfg.Certificates {
		if hi.SupportsCertificate(&cfg.Certificates[i]) == nil {
			return &cfg.Certificates[i], nil
		}
	}
	return &cfg.Certificates[0], nil
}

// keyLogin runs a public-key login whose AuthStart message is start:
//
//	C: AuthStart{CUBBY-PUBKEY-TLS-EXPORTER, user ‖ public key}
//	S: AuthChallenge{32 random bytes}       or Error{auth}
//	C: AuthResponse{SSH signature}
//	S: AuthOK                               or Error{auth}
//
// A key that is not listed for the user (or an unknown or disabled user)
// gets the same Error as a wrong password, at once; it does not count as
// a failed login, since a client with several agent keys offers each in
// turn and nothing secret is guessed. A signature that does not verify
// counts like a wrong password.
func (c *conn) keyLogin(wc *wire.Conn, start []byte) (string, error) {
	remote := c.nc.RemoteAddr().String()
	user, key, err := auth.ParsePubkeyStart(start)
	if err != nil {
		c.log.Info("login failed", "method", c.method, "reason", err)
		return "", c.authFailed(wc, err)
	}
	guard := c.srv.Guard
	v, err := c.checkGuard(wc, user, remote)
	if err != nil {
		return "", err
	}
	if !c.srv.keyListed(user, key) {
		err := fmt.Errorf("%w: user %q: key %s not listed (or unknown or disabled user)", auth.ErrLoginFailed, user, ssh.FingerprintSHA256(key))
		c.log.Info("login failed", "user", GuardName(user), "method", c.method, "reason", err)
		return "", c.authFailed(wc, err)
	}
	challenge, err := auth.NewChallenge()
	if err != nil {
		c.writeError(wc, &wire.Error{Kind: wire.KindInternal, Message: "internal server error"})
		return "", err
	}
	resp, err := c.challenge(wc, challenge, v, user)
	if err != nil {
		return "", err
	}
	if err := auth.VerifyPubkeyLogin(key, user, challenge, c.cb, c.serverID, resp.Message); err != nil {
		p := guard.Failed(user, remote)
		c.log.Info("login failed", "user", GuardName(user), "method", c.method, "key", ssh.FingerprintSHA256(key), "reason", err, "failures", p.Failures)
		if p.Duration > 0 {
			c.log.Warn("login penalty", "user", GuardName(user), "failures", p.Failures, "penalty", p.Duration)
		}
		return "", c.authFailed(wc, err)
	}
	guard.Succeeded(user, remote)
	c.log.Info("public key accepted", "user", user, "key", ssh.FingerprintSHA256(key))
	c.pendingFinal = nil
	return user, nil
}

// keyListed reports whether key is one of user's keys and user may log in.
func (s *Server) keyListed(user string, key ssh.PublicKey) bool {
	if users.ValidName(user) != nil {
		return false
	}
	u, ok := s.userDB().Lookup(user)
	if !ok {
		return false
	}
	listed := false
	for _, k := range u.Keys {
		if auth.SameKey(k, key) {
			listed = true
		}
	}
	return listed
}
