package session_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// testKey is a fresh Ed25519 key pair.
type testKey struct {
	priv ed25519.PrivateKey
	pub  ssh.PublicKey
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv: priv, pub: pub}
}

// file writes the private key in OpenSSH format, encrypted if passphrase
// is not empty, and returns its path.
func (k testKey) file(t *testing.T, passphrase string) string {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(k.priv, "test key")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(k.priv, "test key", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// withKeys lists keys for user before the server starts.
func withKeys(user string, keys ...ssh.PublicKey) serverOption {
	return func(s *session.Server) { s.Users.(userMap)[user].Keys = keys }
}

// keyConfig logs in as user with keys only (no password).
func keyConfig(t *testing.T, user string) client.Config {
	cfg := clientConfig(t, user, "")
	cfg.Password = nil
	return cfg
}

func wantLoginFailed(t *testing.T, what string, err error) {
	t.Helper()
	we := wantKind(t, what, err, wire.KindAuth)
	if we.Message != auth.ErrLoginFailed.Error() {
		t.Errorf("%s: %q; want the generic %q", what, we.Message, auth.ErrLoginFailed.Error())
	}
}

func TestKeyLoginFile(t *testing.T) {
	k := newTestKey(t)
	ts := startServer(t, "", withKeys("alice", k.pub))
	cfg := keyConfig(t, "alice")
	cfg.IdentityFile = k.file(t, "")
	c, err := dialWith(t, ts, cfg)
	if err != nil {
		t.Fatalf("key login: %v", err)
	}
	if c.User() != "alice" {
		t.Errorf("logged in as %q", c.User())
	}
	if _, err := c.List(context.Background(), "~"); err != nil {
		t.Fatalf("session after key login: %v", err)
	}
	if !strings.Contains(ts.logs.String(), `msg="login succeeded" remote=`) || !strings.Contains(ts.logs.String(), "method=publickey") {
		t.Errorf("server log lacks a publickey login:\n%s", ts.logs)
	}
	// The same key is not bob's.
	cfg = keyConfig(t, "bob")
	cfg.IdentityFile = k.file(t, "")
	_, err = dialWith(t, ts, cfg)
	wantLoginFailed(t, "alice's key for bob", err)
}

func TestKeyLoginEncrypted(t *testing.T) {
	k := newTestKey(t)
	ts := startServer(t, "", withKeys("alice", k.pub))
	path := k.file(t, "correct horse")
	asked := 0
	cfg := keyConfig(t, "alice")
	cfg.IdentityFile = path
	cfg.Passphrase = func(file string) ([]byte, error) {
		asked++
		if file != path {
			t.Errorf("passphrase asked for %q; want %q", file, path)
		}
		return []byte("correct horse"), nil
	}
	if _, err := dialWith(t, ts, cfg); err != nil {
		t.Fatalf("login with an encrypted key: %v", err)
	}
	if asked != 1 {
		t.Errorf("passphrase asked %d times; want 1", asked)
	}
	cfg.Passphrase = func(string) ([]byte, error) { return []byte("battery staple"), nil }
	if _, err := dialWith(t, ts, cfg); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Errorf("wrong passphrase: %v", err)
	}
	cfg.Passphrase = nil
	if _, err := dialWith(t, ts, cfg); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("no way to ask the passphrase: %v", err)
	}
}

// startAgent serves keyring on a unix socket, as ssh-agent does.
func startAgent(t *testing.T, keys ...ed25519.PrivateKey) string {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()
	return sock
}

func TestKeyLoginAgent(t *testing.T) {
	other, listed := newTestKey(t), newTestKey(t)
	ts := startServer(t, "", withKeys("alice", listed.pub))
	// The agent holds an unlisted key first: it is refused, and the
	// listed one is tried next on a new connection.
	cfg := keyConfig(t, "alice")
	cfg.AgentSocket = startAgent(t, other.priv, listed.priv)
	c, err := dialWith(t, ts, cfg)
	if err != nil {
		t.Fatalf("agent login: %v", err)
	}
	if c.User() != "alice" {
		t.Errorf("logged in as %q", c.User())
	}
	// An unlisted key offered is no failed login: no penalty builds up.
	if strings.Contains(ts.logs.String(), "failures=") {
		t.Errorf("an unlisted key counted as a failed login:\n%s", ts.logs)
	}

	// With only unlisted keys, the password is the fallback.
	cfg = clientConfig(t, "alice", passwords["alice"])
	cfg.AgentSocket = startAgent(t, other.priv)
	if _, err := dialWith(t, ts, cfg); err != nil {
		t.Fatalf("password after the agent's keys: %v", err)
	}
	// An agent that is not there is no error either.
	cfg.AgentSocket = filepath.Join(t.TempDir(), "nothing")
	if _, err := dialWith(t, ts, cfg); err != nil {
		t.Fatalf("password without an agent: %v", err)
	}
}

func TestKeyLoginWrongKey(t *testing.T) {
	listed, wrong := newTestKey(t), newTestKey(t)
	ts := startServer(t, "", withKeys("alice", listed.pub))
	cfg := keyConfig(t, "alice")
	cfg.IdentityFile = wrong.file(t, "")
	_, err := dialWith(t, ts, cfg)
	wantLoginFailed(t, "an unlisted key", err)
	// An unknown user looks the same.
	cfg.User = "mallory"
	_, err = dialWith(t, ts, cfg)
	wantLoginFailed(t, "an unknown user", err)

	// A listed public key with a signature by another key is a failed login.
	r := rawDial(t, ts)
	start, err := auth.PubkeyStart("alice", listed.pub)
	if err != nil {
		t.Fatal(err)
	}
	r.send(t, &wire.AuthStart{Mechanism: auth.PubkeyMechanism, Message: start})
	ch, ok := r.recv(t).(*wire.AuthChallenge)
	if !ok {
		t.Fatal("no challenge for a listed key")
	}
	cs := r.tc.ConnectionState()
	cb, _ := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	id := sha256.Sum256(cs.PeerCertificates[0].Raw)
	data := auth.PubkeySignedData("alice", listed.pub, ch.Message, cb, id[:])
	signer, _ := ssh.NewSignerFromKey(wrong.priv)
	sig, _ := signer.Sign(rand.Reader, data)
	r.send(t, &wire.AuthResponse{Message: ssh.Marshal(sig)})
	wantLoginFailed(t, "a forged signature", errorOf(r.recv(t)))
	if !strings.Contains(ts.logs.String(), "failures=1") {
		t.Errorf("a bad signature did not count as a failure:\n%s", ts.logs)
	}
}

func errorOf(m wire.Message) error {
	if e, ok := m.(*wire.Error); ok {
		return e
	}
	return errors.New("got " + m.Type().String())
}

// keyLoginRaw logs in with k on r and returns the signature it sent.
func keyLoginRaw(t *testing.T, r *rawConn, k testKey) (sig []byte, reply wire.Message) {
	t.Helper()
	start, err := auth.PubkeyStart("alice", k.pub)
	if err != nil {
		t.Fatal(err)
	}
	r.send(t, &wire.AuthStart{Mechanism: auth.PubkeyMechanism, Message: start})
	ch, ok := r.recv(t).(*wire.AuthChallenge)
	if !ok {
		t.Fatal("no challenge")
	}
	cs := r.tc.ConnectionState()
	cb, _ := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	id := sha256.Sum256(cs.PeerCertificates[0].Raw)
	signer, _ := ssh.NewSignerFromKey(k.priv)
	sig, err = auth.SignPubkeyLogin(signer, "alice", ch.Message, cb, id[:])
	if err != nil {
		t.Fatal(err)
	}
	r.send(t, &wire.AuthResponse{Message: sig})
	return sig, r.recv(t)
}

// TestKeyLoginReplay replays a good signature on another connection: the
// channel binding (and the fresh challenge) make it worthless there.
func TestKeyLoginReplay(t *testing.T) {
	k := newTestKey(t)
	ts := startServer(t, "", withKeys("alice", k.pub))
	sig, reply := keyLoginRaw(t, rawDial(t, ts), k)
	if _, ok := reply.(*wire.AuthOK); !ok {
		t.Fatalf("genuine key login answered with %v", reply.Type())
	}
	r := rawDial(t, ts)
	start, _ := auth.PubkeyStart("alice", k.pub)
	r.send(t, &wire.AuthStart{Mechanism: auth.PubkeyMechanism, Message: start})
	if _, ok := r.recv(t).(*wire.AuthChallenge); !ok {
		t.Fatal("no challenge")
	}
	r.send(t, &wire.AuthResponse{Message: sig})
	wantLoginFailed(t, "a replayed signature", errorOf(r.recv(t)))
}
