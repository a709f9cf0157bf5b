package session_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// wantPasswordChange checks that each request of c is refused until the
// password is changed, and that the session stays open.
func wantPasswordChange(t *testing.T, c *client.Client, user string) {
	t.Helper()
	ctx := context.Background()
	local := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(local, []byte("data"), 0o644)
	requests := []struct {
		name string
		do   func() error
	}{
		{"List", func() error { _, err := c.List(ctx, "~"); return err }},
		{"Mkdir", func() error { _, err := c.Mkdir(ctx, "d", 0o755, false); return err }},
		{"SetAttr", func() error { return c.SetAttr(ctx, "~", true, 0o700, time.Time{}) }},
		{"Upload", func() error { _, err := c.Upload(ctx, local, "", client.TransferOptions{}); return err }},
		{"Download", func() error {
			_, err := c.Download(ctx, "f.txt", filepath.Join(t.TempDir(), "g"), client.TransferOptions{})
			return err
		}},
		{"Command", func() error { _, err := c.Command(ctx, "pwd", nil, io.Discard, io.Discard); return err }},
	}
	want := user + " must set a new password first (cubby asks at login)"
	for _, r := range requests {
		we := wantKind(t, r.name+" before the password change", r.do(), wire.KindPasswordChange)
		if we.Message != want {
			t.Errorf("%s: message %q; want %q", r.name, we.Message, want)
		}
	}
}

// TestMustChangePassword logs in to an account whose password was set for
// it: every request but Passwd is refused, Passwd unlocks the session at
// once and clears the flag in the users file, and the flag follows the
// users file when the server reloads it.
func TestMustChangePassword(t *testing.T) {
	ts, path := usersFileServer(t)
	v, err := auth.NewVerifier([]byte(passwords["carol"]), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.AddUsers(path, []users.NewUser{{Name: "carol", Verifier: v, Email: "carol@example.edu", MustChangePassword: true}}, nil); err != nil {
		t.Fatal(err)
	}
	loaded, err := users.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.SetUsers(loaded)

	cfg := clientConfig(t, "carol", passwords["carol"])
	cfg.PasswordKDF = testKDF
	c, err := dialWith(t, ts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !c.MustChangePassword() || string(c.LoginPassword()) != passwords["carol"] {
		t.Fatalf("MustChangePassword %v, LoginPassword %q; want true and the login password", c.MustChangePassword(), c.LoginPassword())
	}
	wantPasswordChange(t, c, "carol")
	// Another user of the same server is not held up.
	if _, err := ts.dial(t, "alice").List(context.Background(), "~"); err != nil {
		t.Fatalf("alice: %v", err)
	}

	const newPW = "carol's own password"
	if err := c.Passwd(context.Background(), c.LoginPassword(), []byte(newPW)); err != nil {
		t.Fatalf("Passwd: %v", err)
	}
	if c.MustChangePassword() || c.LoginPassword() != nil {
		t.Errorf("after Passwd: MustChangePassword %v, LoginPassword %q; want false, nil", c.MustChangePassword(), c.LoginPassword())
	}
	if _, err := c.List(context.Background(), "~"); err != nil {
		t.Fatalf("List after Passwd: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("must_change_password")) || !bytes.Contains(data, []byte(`email = "carol@example.edu"`)) {
		t.Errorf("users file after Passwd:\n%s", data)
	}

	// A new login with the new password is not asked to change it; the
	// one-time password no longer works.
	c2, err := dialWith(t, ts, clientConfig(t, "carol", newPW))
	if err != nil {
		t.Fatal(err)
	}
	if c2.MustChangePassword() {
		t.Error("login after the change still must change the password")
	}
	_, err = dialWith(t, ts, clientConfig(t, "carol", passwords["carol"]))
	wantKind(t, "login with the one-time password after the change", err, wire.KindAuth)

	// The admin sets the flag again: the open session follows the file
	// at the reload, and so does clearing it.
	flagged, err := users.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	flagged.Users["carol"].MustChangePassword = true
	ts.srv.SetUsers(flagged)
	wantPasswordChange(t, c2, "carol")
	cleared, err := users.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.SetUsers(cleared)
	if _, err := c2.List(context.Background(), "~"); err != nil {
		t.Fatalf("List after the flag was cleared: %v", err)
	}
	if strings.Contains(ts.logs.String(), newPW) || strings.Contains(ts.logs.String(), passwords["carol"]) {
		t.Error("a password reached the server log")
	}
}

// TestMustChangePasswordKeyLogin checks that a key login carries the flag
// too, and keeps no password.
func TestMustChangePasswordKeyLogin(t *testing.T) {
	k := newTestKey(t)
	ts := startServer(t, "", withKeys("alice", k.pub), func(s *session.Server) {
		s.Users.(userMap)["alice"].MustChangePassword = true
	})
	cfg := keyConfig(t, "alice")
	cfg.IdentityFile = k.file(t, "")
	c, err := dialWith(t, ts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !c.MustChangePassword() || c.LoginPassword() != nil {
		t.Fatalf("MustChangePassword %v, LoginPassword %q; want true, nil", c.MustChangePassword(), c.LoginPassword())
	}
	wantPasswordChange(t, c, "alice")
}

// TestPasswdKeepsFolders checks that a password change keeps the shares
// and drop boxes in force: the accounts it puts in force at once used to
// be a copy of the users file without them, so that after any user's
// passwd every ~/handouts was an empty folder of the home and ~/submit
// took uploads past every deadline, until the next reload.
func TestPasswdKeepsFolders(t *testing.T) {
	ts, path := usersFileServer(t)
	share := t.TempDir()
	must(t, os.Chmod(share, 0o755))
	must(t, os.WriteFile(filepath.Join(share, "syllabus.txt"), []byte("read me"), 0o644))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.WriteString("\n[shares.handouts]\npath = \"" + share + "\"\n")
	must(t, err)
	must(t, f.Close())
	cfg, err := users.Load(path)
	must(t, err)
	ts.srv.SetUsers(cfg)

	c := ts.dial(t, "alice")
	if err := c.Passwd(context.Background(), []byte(passwords["alice"]), []byte("alice's new password")); err != nil {
		t.Fatalf("Passwd: %v", err)
	}
	ents, err := ts.dial(t, "bob").List(context.Background(), "~/handouts")
	if err != nil || len(ents) != 1 || ents[0].Name != "syllabus.txt" {
		t.Errorf("bob's ~/handouts after alice's passwd: %q, %v; want the share", names(ents), err)
	}
}
