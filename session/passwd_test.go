package session_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// usersFileServer runs a server whose accounts come from a users file
// (with comments), which it may edit for password changes.
func usersFileServer(t *testing.T, opts ...serverOption) (*testServer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.toml")
	text := "# class accounts\n[defaults]\ncommands = [\"ls\"] # keep this comment\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob"} {
		v, err := auth.NewVerifier([]byte(passwords[name]), testKDF)
		if err != nil {
			t.Fatal(err)
		}
		if err := users.AddUser(path, name, v); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := users.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]serverOption{func(s *session.Server) {
		s.Users = cfg
		s.UsersFile = path
		s.MinPasswordKDF = testKDF
	}}, opts...)
	return startServer(t, "", opts...), path
}

func dialWith(t *testing.T, ts *testServer, cfg client.Config) (*client.Client, error) {
	t.Helper()
	c, err := client.Dial(context.Background(), ts.addr, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func wantKind(t *testing.T, what string, err error, kind wire.Kind) *wire.Error {
	t.Helper()
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != kind {
		t.Fatalf("%s: %v; want an Error of kind %v", what, err, kind)
	}
	return we
}

func TestPasswd(t *testing.T) {
	ts, path := usersFileServer(t)
	const newPW = "a brand new password"
	cfg := clientConfig(t, "alice", passwords["alice"])
	cfg.PasswordKDF = testKDF
	c, err := dialWith(t, ts, cfg)
	if err != nil {
		t.Fatal(err)
	}

	// A wrong old password is refused and changes nothing; the session goes on.
	err = c.Passwd(context.Background(), []byte("not my password"), []byte(newPW))
	we := wantKind(t, "Passwd with a wrong old password", err, wire.KindAuth)
	if !strings.Contains(we.Message, "current password is wrong") {
		t.Errorf("wrong old password: %q", we.Message)
	}
	if _, err := c.List(context.Background(), "~"); err != nil {
		t.Fatalf("session after a refused passwd: %v", err)
	}

	if err := c.Passwd(context.Background(), []byte(passwords["alice"]), []byte(newPW)); err != nil {
		t.Fatalf("Passwd: %v", err)
	}
	// The new password works at once (in memory), the old one no more.
	if _, err := dialWith(t, ts, clientConfig(t, "alice", newPW)); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	_, err = dialWith(t, ts, clientConfig(t, "alice", passwords["alice"]))
	wantKind(t, "login with the old password", err, wire.KindAuth)
	// bob is untouched.
	if _, err := dialWith(t, ts, clientConfig(t, "bob", passwords["bob"])); err != nil {
		t.Fatalf("bob: %v", err)
	}

	// The file has the new verifier, and its comments.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# class accounts\n", "# keep this comment\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("users file lost %q:\n%s", want, data)
		}
	}
	if strings.Contains(string(data), newPW) {
		t.Error("users file holds the new password in clear")
	}
	loaded, err := users.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// A server started afresh from the file takes the new password only.
	ts2 := startServer(t, "", func(s *session.Server) { s.Users = loaded })
	if _, err := dialWith(t, ts2, clientConfig(t, "alice", newPW)); err != nil {
		t.Fatalf("new password after a restart: %v", err)
	}
	_, err = dialWith(t, ts2, clientConfig(t, "alice", passwords["alice"]))
	wantKind(t, "old password after a restart", err, wire.KindAuth)
	if strings.Contains(ts.logs.String(), newPW) || strings.Contains(ts.logs.String(), passwords["alice"]) {
		t.Error("a password reached the server log")
	}
}

func TestPasswdRefusals(t *testing.T) {
	t.Run("no users file", func(t *testing.T) {
		ts := startServer(t, "")
		cfg := clientConfig(t, "alice", passwords["alice"])
		cfg.PasswordKDF = testKDF
		c, err := dialWith(t, ts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Passwd(context.Background(), []byte(passwords["alice"]), []byte("new password 1"))
		we := wantKind(t, "Passwd without a users file", err, wire.KindUnavailable)
		if !strings.Contains(we.Message, "cannot change passwords") {
			t.Errorf("message %q", we.Message)
		}
	})
	t.Run("weak verifier", func(t *testing.T) {
		ts, _ := usersFileServer(t, func(s *session.Server) { s.MinPasswordKDF = auth.KDFParams{} })
		cfg := clientConfig(t, "alice", passwords["alice"])
		cfg.PasswordKDF = testKDF // far below auth.MinNewKDFParams
		c, err := dialWith(t, ts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Passwd(context.Background(), []byte(passwords["alice"]), []byte("new password 1"))
		wantKind(t, "Passwd with a weak verifier", err, wire.KindInvalid)
		if _, err := dialWith(t, ts, clientConfig(t, "alice", passwords["alice"])); err != nil {
			t.Fatalf("old password after a refused change: %v", err)
		}
	})
	t.Run("penalties", func(t *testing.T) {
		ts, _ := usersFileServer(t)
		cfg := clientConfig(t, "alice", passwords["alice"])
		cfg.PasswordKDF = testKDF
		c, err := dialWith(t, ts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; ; i++ {
			err := c.Passwd(context.Background(), []byte("guess"), []byte("new password 1"))
			we := wantKind(t, "guessing the old password", err, wire.KindAuth)
			if strings.Contains(we.Message, "too many failed logins for alice") {
				if i != session.DefaultFreeFailures+2 {
					t.Errorf("penalty after %d guesses; want after %d", i-1, session.DefaultFreeFailures+1)
				}
				break
			}
			if i > 10 {
				t.Fatal("no penalty after 10 wrong old passwords")
			}
		}
		// The penalty covers logins of alice from this address too.
		_, err = dialWith(t, ts, clientConfig(t, "alice", passwords["alice"]))
		we := wantKind(t, "login during the penalty", err, wire.KindAuth)
		if !strings.Contains(we.Message, "too many failed logins") {
			t.Errorf("login during the penalty: %q", we.Message)
		}
	})
}
