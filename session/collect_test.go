package session_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session"
)

func TestCollect(t *testing.T) {
	data := t.TempDir()
	box := filepath.Join(data, "dropboxes", "hw3")
	alice, bob, dave := filepath.Join(box, "alice"), filepath.Join(box, "bob"), filepath.Join(box, "dave")
	must(t, os.MkdirAll(filepath.Join(alice, "code", "empty"), 0o700))
	must(t, os.MkdirAll(bob, 0o700))
	must(t, os.MkdirAll(dave, 0o700))
	mtime := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for name, mode := range map[string]os.FileMode{"report.pdf": 0o600, "code/main.go": 0o644, "code/run.sh": 0o700 | os.ModeSetuid} {
		p := filepath.Join(alice, name)
		must(t, os.WriteFile(p, []byte("content of "+name), 0o600))
		must(t, os.Chmod(p, mode))
		must(t, os.Chtimes(p, mtime, mtime))
	}
	must(t, os.WriteFile(filepath.Join(dave, "old.txt"), []byte("x"), 0o644))
	outside := filepath.Join(t.TempDir(), "secret")
	must(t, os.WriteFile(outside, []byte("not a submission"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(alice, "link")))
	must(t, syscall.Mkfifo(filepath.Join(alice, "fifo"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(box, "carol"))) // never followed

	zone := time.FixedZone("", -5*3600)
	deadline := time.Now().In(zone).Add(time.Hour).Truncate(time.Minute)
	cfg := &users.Config{Path: "users.toml", Users: map[string]*users.User{"alice": {Name: "alice"}, "bob": {Name: "bob"}, "carol": {Name: "carol"}}}
	cfg.Dropboxes = map[string]*users.Dropbox{"hw3": {Name: "hw3", Deadline: deadline}}

	dest := filepath.Join(t.TempDir(), "hw3-collected")
	var out bytes.Buffer
	if err := session.Collect(context.Background(), cfg, data, "hw3", dest, &out); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	must(t, syscall.Stat(filepath.Join(alice, "code", "run.sh"), &st))
	last := users.FormatTime(time.Unix(st.Ctim.Unix()).In(zone))
	want := "alice: 3 files, 66 B, last upload " + last + "; skipped 2 that are not files or folders: alice/fifo, alice/link\n" +
		"bob: nothing submitted\n" +
		"carol: nothing submitted; skipped 1 that are not files or folders: carol\n" +
		"dave: 1 file, 1 B, last upload "
	if !strings.HasPrefix(out.String(), want) || !strings.Contains(out.String(), " (not in users.toml)\nhw3: 2 of 4 users submitted (0 late), 4 files, 67 B, into "+dest+"\n") {
		t.Errorf("Collect wrote:\n%s\nwant it to start with\n%s", out.String(), want)
	}
	for name, mode := range map[string]os.FileMode{"alice/report.pdf": 0o644, "alice/code/main.go": 0o644, "alice/code/run.sh": 0o755, "dave/old.txt": 0o644} {
		fi, err := os.Lstat(filepath.Join(dest, name))
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, %v; want mode %v", name, fi.Mode(), err, mode)
			continue
		}
		if strings.HasPrefix(name, "alice/") && !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v; want %v kept", name, fi.ModTime(), mtime)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dest, "alice", "code", "main.go")); err != nil || string(b) != "content of code/main.go" {
		t.Errorf("copied content %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "alice", "code", "empty")); err != nil || !fi.IsDir() {
		t.Errorf("empty folder not kept: %v", err)
	}
	for _, p := range []string{"bob", "carol", "alice/link", "alice/fifo"} {
		if _, err := os.Lstat(filepath.Join(dest, p)); err == nil {
			t.Errorf("%s was collected", p)
		}
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o700 {
		t.Errorf("the collected folder has mode %v; want 0700", fi.Mode().Perm())
	}

	// Collecting again into the same folder is refused; after the
	// deadline, the uploads are late (alice's within her extension).
	out.Reset()
	if err := session.Collect(context.Background(), cfg, data, "hw3", dest, &out); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("collecting into a full folder: %v", err)
	}
	ext := time.Now().In(zone).Add(24 * time.Hour).Truncate(time.Minute)
	cfg.Dropboxes["hw3"] = &users.Dropbox{Name: "hw3", Deadline: deadline.Add(-3 * time.Hour), Extensions: map[string]time.Time{"alice": ext}}
	if err := session.Collect(context.Background(), cfg, data, "hw3", filepath.Join(t.TempDir(), "again"), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), ", late (extension until "+users.FormatTime(ext)+");") || !strings.Contains(out.String(), "(2 late)") {
		t.Errorf("late uploads not reported:\n%s", out.String())
	}
	if err := session.Collect(context.Background(), cfg, data, "hw9", filepath.Join(t.TempDir(), "x"), &out); err == nil || err.Error() != `users.toml has no drop box "hw9" (it has: hw3)` {
		t.Errorf("collecting an unknown box: %v", err)
	}
}

// TestCollectRefusesLinks checks that collect, which runs as root, never
// writes through a symbolic link on the way to its destination: a link as
// the destination, or as a folder above it.
func TestCollectRefusesLinks(t *testing.T) {
	data := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(data, "dropboxes", "hw3", "alice"), 0o700))
	must(t, os.WriteFile(filepath.Join(data, "dropboxes", "hw3", "alice", "a.txt"), []byte("a"), 0o600))
	cfg := &users.Config{Path: "users.toml", Users: map[string]*users.User{"alice": {Name: "alice"}}}
	cfg.Dropboxes = map[string]*users.Dropbox{"hw3": {Name: "hw3", Deadline: time.Now().Add(time.Hour)}}
	base := t.TempDir()
	elsewhere := filepath.Join(base, "elsewhere")
	must(t, os.Mkdir(elsewhere, 0o755))
	must(t, os.Symlink(elsewhere, filepath.Join(base, "link")))
	for _, dest := range []string{filepath.Join(base, "link"), filepath.Join(base, "link", "hw3")} {
		var out bytes.Buffer
		err := session.Collect(context.Background(), cfg, data, "hw3", dest, &out)
		if err == nil || !strings.Contains(err.Error(), "a symbolic link is on its way") {
			t.Errorf("collect into %s: %v; want a refusal naming the link", dest, err)
		}
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "alice")); !os.IsNotExist(err) {
		t.Errorf("collect wrote through the link: %v", err)
	}
	// The same folder reached without the link works.
	var out bytes.Buffer
	if err := session.Collect(context.Background(), cfg, data, "hw3", elsewhere, &out); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(elsewhere, "alice", "a.txt")); err != nil || string(got) != "a" {
		t.Errorf("collected a.txt: %q, %v", got, err)
	}
}

// TestCollectQuotesNames checks that a name a user gave in their box
// reaches the admin's terminal quoted: folders nested past the depth
// collect copies are named in its report, and a user can make them with
// mkdir -p, under any name.
func TestCollectQuotesNames(t *testing.T) {
	data := t.TempDir()
	deep := filepath.Join(data, "dropboxes", "hw3", "alice", strings.Repeat("d/", 256)+"\x1b[2Jx")
	must(t, os.MkdirAll(deep, 0o700))
	cfg := &users.Config{Path: "users.toml", Users: map[string]*users.User{"alice": {Name: "alice"}}}
	cfg.Dropboxes = map[string]*users.Dropbox{"hw3": {Name: "hw3", Deadline: time.Now().Add(time.Hour)}}
	var out bytes.Buffer
	if err := session.Collect(context.Background(), cfg, data, "hw3", filepath.Join(t.TempDir(), "out"), &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\x1b") || !strings.Contains(out.String(), `/d/\x1b[2Jx" (too deep)`) {
		t.Errorf("Collect wrote:\n%q\nwant the deep folder's name quoted", out.String())
	}
}
