package session

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/wire"
)

// folderDB is a UserDB without users that declares folders.
type folderDB struct{ f *users.Folders }

func (folderDB) Lookup(string) (*users.User, bool) { return nil, false }
func (d folderDB) SharedFolders() *users.Folders   { return d.f }

// viewSession makes a session for alice whose server declares the share
// handouts (a.txt, b.txt, sub/c.txt, a private file and a private
// directory) and the drop box hw3, open from opens to deadline with an
// extension for bob; now is the server's clock.
func viewSession(t *testing.T, now *time.Time) (*session, string) {
	t.Helper()
	data := t.TempDir()
	share := t.TempDir()
	homeDir := filepath.Join(data, "homes", "alice")
	for _, d := range []string{filepath.Join(share, "sub"), filepath.Join(share, "private"), filepath.Join(homeDir, "notes"), filepath.Join(homeDir, "handouts"), filepath.Join(homeDir, "submit")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(share, "private"), 0o700)
	for name, mode := range map[string]os.FileMode{"a.txt": 0o644, "b.txt": 0o644, "sub/c.txt": 0o644, "key.txt": 0o600, "private/answers": 0o644} {
		if err := os.WriteFile(filepath.Join(share, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(homeDir, "notes", "n.txt"), nil, 0o644)
	deadline := time.Date(2026, 12, 1, 23, 59, 0, 0, time.FixedZone("", -5*3600))
	f := &users.Folders{
		Shares: map[string]*users.Share{"handouts": {Name: "handouts", Path: share, Mode: users.ShareReadOnly}},
		Dropboxes: map[string]*users.Dropbox{"hw3": {Name: "hw3", Opens: deadline.Add(-7 * 24 * time.Hour), Deadline: deadline,
			Extensions: map[string]time.Time{"bob": deadline.Add(48 * time.Hour)}}},
	}
	srv := &Server{DataDir: data, Users: folderDB{f}, Now: func() time.Time { return *now }}
	root, err := os.OpenRoot(homeDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return &session{conn: &conn{srv: srv}, home: &home{user: "alice", root: root}, cwd: ".", log: slog.New(slog.DiscardHandler)}, share
}

func TestViewPlace(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s, _ := viewSession(t, &now)
	v := s.newView()
	defer v.close()
	tests := []struct {
		rel   string
		kind  areaKind
		inner string
		err   wire.Kind // 0: no error
	}{
		{".", inHome, ".", 0},
		{"notes/n.txt", inHome, "notes/n.txt", 0},
		{"handouts", inShare, ".", 0},
		{"handouts/sub/c.txt", inShare, "sub/c.txt", 0},
		{"handoutsx", inHome, "handoutsx", 0},
		{"notes/handouts", inHome, "notes/handouts", 0},
		{"handouts/../notes", inHome, "notes", 0},
		{"handouts/sub/..", inShare, ".", 0},
		{"notes/../handouts/a.txt", inShare, "a.txt", 0},
		{"submit", inSubmit, ".", 0},
		{"submit/hw3", inBox, ".", 0},
		{"submit/hw3/a/b.pdf", inBox, "a/b.pdf", 0},
		{"submit/hw3/../../notes", inHome, "notes", 0},
		{"submit/hw4", inSubmit, "hw4", 0},
		{"submit/hw4/x", 0, "", wire.KindNotFound},
		{"handouts/private/answers", 0, "", wire.KindPermission},
	}
	for _, tt := range tests {
		p, err := v.place(tt.rel)
		if tt.err != 0 {
			if err == nil || toWire(err, tt.rel).Kind != tt.err {
				t.Errorf("place(%q) = %+v, %v; want a %v error", tt.rel, p, err, tt.err)
			}
			continue
		}
		if err != nil || p.kind != tt.kind || p.inner != tt.inner {
			t.Errorf("place(%q) = %+v, %v; want kind %d, inner %q", tt.rel, p, err, tt.kind, tt.inner)
		}
	}
	if _, err := os.Stat(filepath.Join(s.conn.srv.DataDir, "dropboxes", "hw3", "alice")); err != nil {
		t.Errorf("the box's copy for alice was not made on first use: %v", err)
	}
	// A user without boxes in the users file keeps ~/submit as a folder.
	s.conn.srv.Users = folderDB{&users.Folders{}}
	v2 := s.newView()
	defer v2.close()
	if p, err := v2.place("submit/hw3/x"); err != nil || p.kind != inHome || p.inner != "submit/hw3/x" {
		t.Errorf("without drop boxes, place(submit/hw3/x) = %+v, %v; want the home", p, err)
	}
}

func TestViewWritable(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s, _ := viewSession(t, &now)
	v := s.newView()
	defer v.close()
	check := func(rel, want string) {
		t.Helper()
		p, err := v.place(rel)
		if err != nil {
			t.Fatal(err)
		}
		err = v.writable(p)
		switch {
		case want == "" && err != nil:
			t.Errorf("writable(%s) = %v; want nil", rel, err)
		case want != "" && (err == nil || toWire(err, rel).Kind != wire.KindNotAllowed || err.Error() != want):
			t.Errorf("writable(%s) = %v; want not allowed: %q", rel, err, want)
		}
	}
	check("notes/x", "")
	check("handouts/new.txt", "~/handouts is read-only (shared by the teacher)")
	check("handouts", "~/handouts is read-only (shared by the teacher)")
	check("submit", "~/submit holds only the drop boxes (hw3); upload into one of them")
	check("submit/hw3", "~/submit/hw3 is the drop box itself; upload into it")
	check("submit/hw3/a.pdf", "hw3 opens at 2026-11-24 23:59 -05:00; uploads are not accepted yet")
	now = time.Date(2026, 12, 1, 23, 59, 0, 0, time.FixedZone("", -5*3600)) // the deadline itself
	check("submit/hw3/a.pdf", "")
	now = now.Add(time.Second)
	check("submit/hw3/a.pdf", "hw3 closed at 2026-12-01 23:59 -05:00; uploads are no longer accepted")
	s.home.user = "bob"
	check("submit/hw3/a.pdf", "")
	if late, err := boxOpen(v.f.Dropboxes["hw3"], "bob", now); !late || err != nil {
		t.Errorf("bob's upload after the deadline within his extension: late %v, %v; want late", late, err)
	}
	now = now.Add(48 * time.Hour)
	check("submit/hw3/a.pdf", "hw3 closed at 2026-12-03 23:59 -05:00 (your extension); uploads are no longer accepted")
}

func TestViewGlob(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s, _ := viewSession(t, &now)
	tests := []struct {
		cwd, pattern string
		want         []string
	}{
		{".", "handouts/*.txt", []string{"handouts/a.txt", "handouts/b.txt", "handouts/key.txt"}},
		{".", "handouts/*/*.txt", []string{"handouts/sub/c.txt"}},
		{".", "/home/alice/handouts/s*", []string{"/home/alice/handouts/sub"}},
		{"handouts", "*.txt", []string{"a.txt", "b.txt", "key.txt"}},
		{"handouts", "../no*", []string{"../notes"}},
		{"handouts/sub", "../../n*/*", []string{"../../notes/n.txt"}},
		{".", "handouts/private/*", nil},
		{".", "submit/*", []string{"submit/hw3"}},
		{".", "h*/a*", []string{"handouts/a.txt"}},
	}
	for _, tt := range tests {
		s.cwd = tt.cwd
		budget := globBudget
		got, err := s.glob(tt.pattern, maxArgs, &budget)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("in %s, glob(%q) = %q, %v; want %q", tt.cwd, tt.pattern, got, err, tt.want)
		}
	}
}

func TestShareOverlappingDataDir(t *testing.T) {
	now := time.Now()
	s, _ := viewSession(t, &now)
	data := s.conn.srv.DataDir
	for _, path := range []string{data, filepath.Join(data, "homes"), filepath.Dir(data), "/"} {
		f := &users.Folders{Shares: map[string]*users.Share{"handouts": {Name: "handouts", Path: path}}}
		s.conn.srv.Users = folderDB{f}
		v := s.newView()
		_, err := v.place("handouts/x")
		v.close()
		if err == nil || !strings.Contains(err.Error(), "~/handouts is not available right now") {
			t.Errorf("a share of %s: place = %v; want it refused", path, err)
		}
		if _, err := CheckShares(&users.Config{Path: "users.toml", Folders: *f}, data); err == nil || !strings.Contains(err.Error(), "users.toml:0: shares.handouts: "+path+" overlaps cubbyd's data directory") {
			t.Errorf("CheckShares(%s) = %v; want an overlap error", path, err)
		}
	}
	missing := &users.Folders{Shares: map[string]*users.Share{"gone": {Name: "gone", Path: filepath.Join(data, "..", "nothing-here")}}}
	if w, err := CheckShares(&users.Config{Folders: *missing}, data); err != nil || len(w) != 1 || !strings.Contains(w[0], "no such file or directory") {
		t.Errorf("CheckShares(missing) = %q, %v; want one warning", w, err)
	}
}

func TestShareAccessLikeOthers(t *testing.T) {
	now := time.Now()
	s, share := viewSession(t, &now)
	v := s.newView()
	defer v.close()
	if _, err := v.place("handouts/private/answers"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("a file in a directory others may not search: %v; want permission denied", err)
	}
	p, err := v.place("handouts/key.txt")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := v.stat(p, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := shareReadable(fi); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("shareReadable(0600 file) = %v; want permission denied", err)
	}
	if _, err := v.readDirNames("handouts/private"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("listing a 0700 directory of the share: %v; want permission denied", err)
	}
	os.Chmod(filepath.Join(share, "private"), 0o755)
	if names, err := v.readDirNames("handouts/private"); err != nil || !slices.Equal(names, []string{"answers"}) {
		t.Errorf("after chmod 755: %q, %v", names, err)
	}
}

// TestBoxDirModes checks the modes of a drop box's folders under the
// service's umask of 0077: the jail's uid must pass the parents to mount
// its own copy, and list no other.
func TestBoxDirModes(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	srv := &Server{DataDir: t.TempDir()}
	dir, err := srv.makeBoxDir("hw3", "alice")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{filepath.Dir(filepath.Dir(dir)): 0o711, filepath.Dir(dir): 0o711, dir: 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	if _, err := srv.makeBoxDir("hw3", "../bob"); err == nil {
		t.Error("makeBoxDir accepted the user name ../bob")
	}
}

// TestShareOpenedWithoutLinks checks that what serves and mounts a share
// is the directory checked against the data directory: the teacher, who
// owns the folders on a share's path, could otherwise swap in a link to
// the data directory right after the check, and every home and the host
// key would be served and mounted as ~/handouts.
func TestShareOpenedWithoutLinks(t *testing.T) {
	now := time.Now()
	s, share := viewSession(t, &now)
	link := filepath.Join(t.TempDir(), "handouts")
	if err := os.Symlink(share, link); err != nil {
		t.Fatal(err)
	}
	if r, err := openRootNoSymlinks(link); err == nil {
		r.Close()
		t.Error("openRootNoSymlinks followed a link")
	}
	r, err := openRootNoSymlinks(share)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()

	// A share declared through a link is mounted by the path checked,
	// and the jail follows no link on it (sandbox.Mount).
	s.conn.srv.Users = folderDB{&users.Folders{Shares: map[string]*users.Share{"handouts": {Name: "handouts", Path: link}}}}
	v := s.newView()
	defer v.close()
	mounts, notices := v.mounts()
	if len(mounts) != 1 || mounts[0].Source != share || len(notices) != 0 {
		t.Errorf("mounts() = %+v, %q; want %s mounted at handouts", mounts, notices, share)
	}
}
