package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/hostkey"
	"github.com/cubby-dev/cubby/auth/knownhosts"
	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// testKDF keeps logins fast under -race; production uses auth.DefaultKDFParams.
var testKDF = auth.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

var passwords = map[string]string{"alice": "alice-password", "bob": "bob-password", "carol": "carol-password"}

// userMap is a fixed UserDB.
type userMap map[string]*users.User

func (m userMap) Lookup(name string) (*users.User, bool) {
	u, ok := m[name]
	if !ok || u.Disabled {
		return nil, false
	}
	return u, true
}

type testServer struct {
	srv     *session.Server
	addr    string
	data    string
	logs    *syncBuffer
	users   userMap
	keySeed []byte
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func makeUsers(t testing.TB) userMap {
	m := userMap{}
	for name, pw := range passwords {
		v, err := auth.NewVerifier([]byte(pw), testKDF)
		if err != nil {
			t.Fatal(err)
		}
		m[name] = &users.User{Name: name, Verifier: v}
	}
	return m
}

type serverOption func(*session.Server)

// startServer runs a Server on 127.0.0.1:0 with a fresh data dir and the
// test users; data may name an existing data dir to reuse.
func startServer(t testing.TB, data string, opts ...serverOption) *testServer {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	return startServerOn(t, "127.0.0.1:0", data, opts...)
}

func startServerOn(t testing.TB, addr, data string, opts ...serverOption) *testServer {
	t.Helper()
	key, _, err := hostkey.LoadOrCreate(data)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := hostkey.Certificate(key)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ts := &testServer{data: data, logs: logs, users: makeUsers(t), keySeed: key.Seed()}
	ts.srv = &session.Server{
		TLSConfig:   &tls.Config{Certificates: []tls.Certificate{cert}},
		Users:       ts.users,
		DataDir:     data,
		FakeSaltKey: []byte("test fake salt key, 32+ bytes long"),
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(ts.srv)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- ts.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, session.ErrServerClosed) {
			t.Errorf("Serve returned %v; want ErrServerClosed", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ts
}

func (ts *testServer) home(user string) string { return filepath.Join(ts.data, "homes", user) }

// clientConfig logs in as user with password, pinning the host key in a
// known_hosts file private to the test.
func clientConfig(t testing.TB, user, password string) client.Config {
	return client.Config{
		User:          user,
		Password:      func() ([]byte, error) { return []byte(password), nil },
		KnownHosts:    &knownhosts.Store{Path: filepath.Join(t.TempDir(), "known_hosts")},
		AcceptNewHost: true,
		Timeout:       10 * time.Second,
	}
}

func (ts *testServer) dial(t testing.TB, user string) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), ts.addr, clientConfig(t, user, passwords[user]))
	if err != nil {
		t.Fatalf("Dial(%s): %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func randomFile(t testing.TB, dir, name string, size int) (string, [32]byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, sha256.Sum256(data)
}

func fileSum(t testing.TB, p string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// rawConn is a logged-in connection driven frame by frame, for tests that
// must misbehave in ways the real client never does.
type rawConn struct {
	nc net.Conn
	tc *tls.Conn
	wc *wire.Conn
}

func rawDial(t testing.TB, ts *testServer) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := wire.WritePreamble(nc); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ReadPreamble(nc); err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(nc, &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return &rawConn{nc: nc, tc: tc, wc: wire.NewConn(tc)}
}

// loginMessages runs a login as user and returns the client's two
// messages, for replay tests.
func (r *rawConn) login(t testing.TB, user, password string) (first, final []byte, err error) {
	t.Helper()
	cs := r.tc.ConnectionState()
	cb, _ := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	cl, err := auth.NewClientLogin(user, []byte(password), cb)
	if err != nil {
		t.Fatal(err)
	}
	first = cl.First()
	r.send(t, &wire.AuthStart{Mechanism: auth.Mechanism, Message: first})
	ch, ok := r.recv(t).(*wire.AuthChallenge)
	if !ok {
		t.Fatal("no AuthChallenge")
	}
	final, err = cl.Final(ch.Message)
	if err != nil {
		t.Fatal(err)
	}
	r.send(t, &wire.AuthResponse{Message: final})
	switch m := r.recv(t).(type) {
	case *wire.AuthOK:
		return first, final, cl.Verify(m.Message)
	case *wire.Error:
		return first, final, m
	default:
		t.Fatalf("login answered with %v", m.Type())
	}
	return
}

func rawLogin(t testing.TB, ts *testServer, user string) *rawConn {
	t.Helper()
	r := rawDial(t, ts)
	if _, _, err := r.login(t, user, passwords[user]); err != nil {
		t.Fatalf("raw login: %v", err)
	}
	return r
}

func (r *rawConn) send(t testing.TB, m wire.Message) {
	t.Helper()
	if err := r.wc.WriteMessage(m); err != nil {
		t.Fatalf("sending %v: %v", m.Type(), err)
	}
}

func (r *rawConn) recv(t testing.TB) wire.Message {
	t.Helper()
	m, err := r.wc.ReadMessage()
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	return m
}
