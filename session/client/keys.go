package client

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/wire"
)

// maxAgentKeys bounds how many agent keys are offered, each on its own
// connection, before the password.
const maxAgentKeys = 8

// signers returns the keys to try: the IdentityFile's, or else the
// agent's (none if the agent cannot be reached). The returned func
// releases the agent connection; call it when the login is over.
func (cfg *Config) signers() ([]ssh.Signer, func(), error) {
	nop := func() {}
	if cfg.IdentityFile != "" {
		s, err := LoadIdentity(cfg.IdentityFile, cfg.Passphrase)
		if err != nil {
			return nil, nop, err
		}
		return []ssh.Signer{s}, nop, nil
	}
	if cfg.AgentSocket == "" {
		return nil, nop, nil
	}
	conn, err := net.Dial("unix", cfg.AgentSocket)
	if err != nil {
		return nil, nop, nil // as ssh: an agent that is not there is no error
	}
	all, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, nop, nil
	}
	var out []ssh.Signer
	for _, s := range all {
		if auth.CheckPubkey(s.PublicKey()) == nil && len(out) < maxAgentKeys {
			out = append(out, s)
		}
	}
	return out, func() { conn.Close() }, nil
}

// LoadIdentity reads an SSH private key file. An encrypted key's
// passphrase is asked with passphrase (nil: an encrypted key is an error).
// The key must be of a type auth.CheckPubkey accepts.
func LoadIdentity(path string, passphrase func(file string) ([]byte, error)) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client: identity file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if _, ok := errors.AsType[*ssh.PassphraseMissingError](err); ok {
		if passphrase == nil {
			return nil, fmt.Errorf("client: %s is encrypted and there is no terminal to ask for its passphrase", path)
		}
		pp, perr := passphrase(path)
		if perr != nil {
			return nil, perr
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(data, pp)
		clear(pp)
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fmt.Errorf("client: wrong passphrase for %s", path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("client: %s is not a usable SSH private key: %w", path, err)
	}
	if err := auth.CheckPubkey(signer.PublicKey()); err != nil {
		return nil, fmt.Errorf("client: %s: %w", path, err)
	}
	return signer, nil
}

// keyLogin logs in with signer: it offers the public key, signs the
// server's challenge bound to this TLS connection and the server's
// certificate, and sends the signature. The private key stays in signer.
func (c *Client) keyLogin(signer ssh.Signer) error {
	cs := c.tc.ConnectionState()
	cb, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		return fmt.Errorf("client: channel binding: %w", err)
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("client: server sent no certificate")
	}
	serverID := sha256.Sum256(cs.PeerCertificates[0].Raw)
	start, err := auth.PubkeyStart(c.cfg.User, signer.PublicKey())
	if err != nil {
		return err
	}
	if err := c.wc.WriteMessage(&wire.AuthStart{Mechanism: auth.PubkeyMechanism, Message: start}); err != nil {
		return fmt.Errorf("client: sending login: %w", err)
	}
	ch, err := expect[*wire.AuthChallenge](c)
	if err != nil {
		return err
	}
	sig, err := auth.SignPubkeyLogin(signer, c.cfg.User, ch.Message, cb, serverID[:])
	if err != nil {
		return err
	}
	if err := c.wc.WriteMessage(&wire.AuthResponse{Message: sig}); err != nil {
		return fmt.Errorf("client: sending login: %w", err)
	}
	ok, err := expect[*wire.AuthOK](c)
	if err != nil {
		return err
	}
	c.user, c.cwd, c.mustChange = ok.User, ok.Cwd, ok.MustChange
	return nil
}
