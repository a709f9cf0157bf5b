package session_test

import (
	"testing"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/wire"
)

// TestReplayedLoginRefused records a successful login's client messages
// and replays them on a new connection: channel binding and the fresh
// server nonce must make it fail.
func TestReplayedLoginRefused(t *testing.T) {
	ts := startServer(t, "")
	r1 := rawDial(t, ts)
	first, final, err := r1.login(t, "alice", passwords["alice"])
	if err != nil {
		t.Fatalf("recorded login failed: %v", err)
	}
	r2 := rawDial(t, ts)
	r2.send(t, &wire.AuthStart{Mechanism: auth.Mechanism, Message: first})
	if _, ok := r2.recv(t).(*wire.AuthChallenge); !ok {
		t.Fatal("no challenge")
	}
	r2.send(t, &wire.AuthResponse{Message: final})
	m := r2.recv(t)
	var we *wire.Error
	if e, ok := m.(*wire.Error); ok {
		we = e
	}
	if we == nil || we.Kind != wire.KindAuth {
		t.Fatalf("replayed login got %#v; want an auth Error", m)
	}
	if _, err := r2.wc.ReadMessage(); err == nil {
		t.Error("connection stays open after a failed login")
	}
}
