package session_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// classDB is the test users with shares and drop boxes, as a users file
// with [shares.NAME] and [dropboxes.NAME] tables gives them.
type classDB struct {
	userMap
	f *users.Folders
}

func (c classDB) SharedFolders() *users.Folders { return c.f }

// shiftClock is the real time moved forward by a settable amount: the
// server's clock decides deadlines, and also sets its network deadlines,
// which must stay in the future.
type shiftClock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}

// set moves the clock to t, which must not be before the real time.
func (c *shiftClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shift = time.Until(t)
}

// classroom is a server with the share handouts and the drop box hw3,
// which opens in an hour and closes in three (bob has a day more).
type classroom struct {
	*testServer
	share          string
	clock          *shiftClock
	opens, due, ex time.Time
}

func startClassroom(t testing.TB, data string, opts ...serverOption) *classroom {
	t.Helper()
	cr := &classroom{share: t.TempDir(), clock: &shiftClock{}}
	// Others may read the share, as the jail's uid must.
	must(t, os.Chmod(cr.share, 0o755))
	must(t, os.MkdirAll(filepath.Join(cr.share, "week1"), 0o755))
	for name, text := range map[string]string{"syllabus.txt": "read me", "week1/ex1.txt": "exercise 1", "week1/ex2.txt": "exercise 2"} {
		must(t, os.WriteFile(filepath.Join(cr.share, name), []byte(text), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(cr.share, "answers.txt"), []byte("the answers"), 0o600))
	zone := time.FixedZone("", -5*3600)
	now := time.Now().In(zone).Truncate(time.Minute)
	cr.opens, cr.due, cr.ex = now.Add(time.Hour), now.Add(3*time.Hour), now.Add(27*time.Hour)
	f := &users.Folders{
		Shares:    map[string]*users.Share{"handouts": {Name: "handouts", Path: cr.share, Mode: users.ShareReadOnly}},
		Dropboxes: map[string]*users.Dropbox{"hw3": {Name: "hw3", Opens: cr.opens, Deadline: cr.due, Extensions: map[string]time.Time{"bob": cr.ex}}},
	}
	opts = append([]serverOption{func(s *session.Server) {
		s.Users = classDB{s.Users.(userMap), f}
		s.Now = cr.clock.Now
	}}, opts...)
	cr.testServer = startServer(t, data, opts...)
	return cr
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantRefused fails unless err is a wire error of kind with exactly msg.
func wantRefused(t *testing.T, what string, err error, kind wire.Kind, msg string) {
	t.Helper()
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != kind || we.Message != msg {
		t.Errorf("%s: %v; want %v error %q", what, err, kind, msg)
	}
}

func names(entries []wire.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	slices.Sort(out)
	return out
}

// TestShareReadOnly checks that every user reads the one copy of a share
// and that no transfer writes to it.
func TestShareReadOnly(t *testing.T) {
	cr := startClassroom(t, "")
	ctx := context.Background()
	local := t.TempDir()
	for _, user := range []string{"alice", "bob"} {
		c := cr.dial(t, user)
		ents, err := c.List(ctx, "~/handouts")
		if err != nil || !slices.Equal(names(ents), []string{"answers.txt", "syllabus.txt", "week1"}) {
			t.Fatalf("%s: List(~/handouts) = %q, %v", user, names(ents), err)
		}
		dst := filepath.Join(local, user+"-ex1.txt")
		if _, err := c.Download(ctx, "handouts/week1/ex1.txt", dst, client.TransferOptions{}); err != nil {
			t.Fatalf("%s: download from the share: %v", user, err)
		}
		if b, _ := os.ReadFile(dst); string(b) != "exercise 1" {
			t.Errorf("%s downloaded %q", user, b)
		}
	}
	c := cr.dial(t, "alice")
	// A file others may not read is not handed out, though the server could.
	_, err := c.Download(ctx, "handouts/answers.txt", filepath.Join(local, "answers"), client.TransferOptions{})
	wantRefused(t, "download of a 0600 file of the share", err, wire.KindPermission, "~/handouts/answers.txt: permission denied")

	src, _ := randomFile(t, local, "mine.txt", 100)
	const ro = "~/handouts is read-only (shared by the teacher)"
	for _, remote := range []string{"handouts", "handouts/", "~/handouts/new.txt", "handouts/syllabus.txt", "handouts/week1"} {
		_, err := c.Upload(ctx, src, remote, client.TransferOptions{})
		wantRefused(t, "upload to "+remote, err, wire.KindNotAllowed, ro)
	}
	_, err = c.Mkdir(ctx, "handouts/new", 0o755, false)
	wantRefused(t, "mkdir in the share", err, wire.KindNotAllowed, ro)
	_, err = c.Mkdir(ctx, "handouts/new/deeper", 0o755, true)
	wantRefused(t, "mkdir -p in the share", err, wire.KindNotAllowed, ro)
	if _, err := c.Mkdir(ctx, "handouts/week1", 0o755, true); err != nil {
		t.Errorf("mkdir -p of a folder the share has: %v; want success, as for any existing folder", err)
	}
	err = c.SetAttr(ctx, "handouts/syllabus.txt", true, 0o777, time.Time{})
	wantRefused(t, "chmod in the share", err, wire.KindNotAllowed, ro)
	err = c.SetAttr(ctx, "handouts", false, 0, time.Now())
	wantRefused(t, "touch of the share", err, wire.KindNotAllowed, ro)

	// cd into the share, and relative paths from there.
	if out, _, code := run(t, c, "cd handouts/week1"); code != 0 || out != "" {
		t.Fatalf("cd handouts/week1: %d %q", code, out)
	}
	if out, _, _ := run(t, c, "pwd"); out != "~/handouts/week1\n" {
		t.Errorf("pwd = %q", out)
	}
	if ents, err := c.List(ctx, ""); err != nil || !slices.Equal(names(ents), []string{"ex1.txt", "ex2.txt"}) {
		t.Errorf("List in ~/handouts/week1 = %q, %v", names(ents), err)
	}
	if _, err := c.Download(ctx, "../syllabus.txt", filepath.Join(local, "s.txt"), client.TransferOptions{}); err != nil {
		t.Errorf("download ../syllabus.txt from ~/handouts/week1: %v", err)
	}
	_, err = c.Upload(ctx, src, "", client.TransferOptions{})
	wantRefused(t, "upload into the working directory in the share", err, wire.KindNotAllowed, ro)

	entries, err := os.ReadDir(cr.share)
	if err != nil || len(entries) != 3 {
		t.Errorf("the share has %d entries after the attempts, %v; want the 3 it had", len(entries), err)
	}
	if _, err := os.Stat(filepath.Join(cr.home("alice"), "handouts", "new.txt")); err == nil {
		t.Error("an upload to the share landed in the home instead")
	}
}

func TestDropboxDeadline(t *testing.T) {
	cr := startClassroom(t, "")
	ctx := context.Background()
	local := t.TempDir()
	src, sum := randomFile(t, local, "hw3.pdf", 3000)
	alice, bob := cr.dial(t, "alice"), cr.dial(t, "bob")

	if out, _, _ := run(t, alice, "help"); !strings.Contains(out, "shared folders (read-only): ~/handouts\ndrop box ~/submit/hw3: hw3 opens at "+users.FormatTime(cr.opens)+"; uploads are not accepted yet\n") {
		t.Errorf("help does not tell the folders:\n%s", out)
	}
	_, err := alice.Upload(ctx, src, "submit/hw3/", client.TransferOptions{})
	wantRefused(t, "upload before the box opens", err, wire.KindNotAllowed, "hw3 opens at "+users.FormatTime(cr.opens)+"; uploads are not accepted yet")

	cr.clock.set(cr.opens.Add(time.Minute))
	res, err := alice.Upload(ctx, src, "submit/hw3/", client.TransferOptions{})
	if err != nil || res.Remote != "~/submit/hw3/hw3.pdf" {
		t.Fatalf("upload into the open box: %+v, %v", res, err)
	}
	stored := filepath.Join(cr.data, "dropboxes", "hw3", "alice", "hw3.pdf")
	if got := fileSum(t, stored); got != sum {
		t.Fatalf("%s does not hold the upload", stored)
	}
	if _, err := os.Lstat(filepath.Join(cr.home("alice"), "submit", "hw3", "hw3.pdf")); err == nil {
		t.Error("the submission was stored in the home, where programs can change it")
	}
	if _, err := alice.Mkdir(ctx, "submit/hw3/code", 0o755, false); err != nil {
		t.Fatalf("mkdir in the open box: %v", err)
	}
	if _, err := alice.Upload(ctx, src, "submit/hw3/code/main.go", client.TransferOptions{}); err != nil {
		t.Fatalf("upload into a folder of the box: %v", err)
	}
	tree := filepath.Join(local, "project")
	must(t, os.MkdirAll(filepath.Join(tree, "src"), 0o755))
	must(t, os.WriteFile(filepath.Join(tree, "src", "main.c"), []byte("int main(){}"), 0o644))
	if _, err := alice.UploadTree(ctx, tree, "submit/hw3/project", client.TransferOptions{}, nil); err != nil {
		t.Fatalf("put -r into the open box: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(cr.data, "dropboxes", "hw3", "alice", "project", "src", "main.c")); err != nil || string(b) != "int main(){}" {
		t.Errorf("the tree upload stored %q, %v", b, err)
	}
	if err := alice.SetAttr(ctx, "submit/hw3/hw3.pdf", true, 0o600, time.Time{}); err != nil {
		t.Errorf("chmod in the open box: %v", err)
	}
	ents, err := alice.List(ctx, "~/submit")
	if err != nil || len(ents) != 1 || ents[0].Name != "hw3" || ents[0].Mode != wire.ModeDir|0o755 {
		t.Errorf("List(~/submit) = %+v, %v; want hw3, open (0755)", ents, err)
	}
	if ents, err := alice.List(ctx, "submit/hw3"); err != nil || !slices.Equal(names(ents), []string{"code", "hw3.pdf", "project"}) {
		t.Errorf("List(submit/hw3) = %q, %v", names(ents), err)
	}
	dst := filepath.Join(local, "back.pdf")
	if _, err := alice.Download(ctx, "submit/hw3/hw3.pdf", dst, client.TransferOptions{}); err != nil || fileSum(t, dst) != sum {
		t.Errorf("download of the submission: %v", err)
	}
	_, err = alice.Upload(ctx, src, "submit/", client.TransferOptions{})
	wantRefused(t, "upload into ~/submit", err, wire.KindNotAllowed, "~/submit holds only the drop boxes (hw3); upload into one of them")
	_, err = alice.Upload(ctx, src, "submit/hw4/x.pdf", client.TransferOptions{})
	wantRefused(t, "upload into a box that does not exist", err, wire.KindNotFound, "~/submit/hw4: no such drop box (there are: hw3)")
	_, err = alice.Mkdir(ctx, "submit/new", 0o755, false)
	wantRefused(t, "mkdir in ~/submit", err, wire.KindNotAllowed, "~/submit holds only the drop boxes (hw3); upload into one of them")

	// After the deadline alice is refused; bob's extension still runs.
	cr.clock.set(cr.due.Add(time.Minute))
	closed := "hw3 closed at " + users.FormatTime(cr.due) + "; uploads are no longer accepted"
	_, err = alice.Upload(ctx, src, "submit/hw3/late.pdf", client.TransferOptions{})
	wantRefused(t, "upload after the deadline", err, wire.KindNotAllowed, closed)
	_, err = alice.Mkdir(ctx, "submit/hw3/more", 0o755, false)
	wantRefused(t, "mkdir after the deadline", err, wire.KindNotAllowed, closed)
	err = alice.SetAttr(ctx, "submit/hw3/hw3.pdf", false, 0, time.Now())
	wantRefused(t, "touch after the deadline", err, wire.KindNotAllowed, closed)
	if ents, err := alice.List(ctx, "submit"); err != nil || len(ents) != 1 || ents[0].Mode != wire.ModeDir|0o555 {
		t.Errorf("List(submit) after the deadline = %+v, %v; want hw3 read-only (0555)", ents, err)
	}
	if out, _, _ := run(t, bob, "help"); !strings.Contains(out, "drop box ~/submit/hw3: hw3 is open until "+users.FormatTime(cr.ex)+" (your extension)\n") {
		t.Errorf("help does not tell bob his extension:\n%s", out)
	}
	if _, err := bob.Upload(ctx, src, "submit/hw3/", client.TransferOptions{}); err != nil {
		t.Fatalf("bob's upload within his extension: %v", err)
	}
	if logs := cr.logs.String(); !strings.Contains(logs, "user=bob box=hw3 path=hw3.pdf bytes=3000") || !strings.Contains(logs, "late=true") {
		t.Errorf("the late submission is not logged as late:\n%s", cr.logs)
	}
	cr.clock.set(cr.ex.Add(time.Minute))
	_, err = bob.Upload(ctx, src, "submit/hw3/", client.TransferOptions{})
	wantRefused(t, "bob's upload after his extension", err, wire.KindNotAllowed,
		"hw3 closed at "+users.FormatTime(cr.ex)+" (your extension); uploads are no longer accepted")
	// Reading stays possible, also of the whole of ~/submit.
	if _, err := bob.Download(ctx, "~/submit/hw3/hw3.pdf", filepath.Join(local, "bob.pdf"), client.TransferOptions{}); err != nil {
		t.Errorf("download after the box closed: %v", err)
	}
	if _, err := alice.DownloadTree(ctx, "submit", filepath.Join(local, "mine"), client.TransferOptions{}, nil); err != nil {
		t.Fatalf("get -r submit: %v", err)
	}
	if got := fileSum(t, filepath.Join(local, "mine", "hw3", "code", "main.go")); got != sum {
		t.Error("get -r submit did not fetch the submission")
	}
}

// TestDropboxClosesDuringUpload checks that what counts is when an upload
// ends: one that began before the deadline and ends after it is refused
// and leaves nothing.
func TestDropboxClosesDuringUpload(t *testing.T) {
	cr := startClassroom(t, "")
	cr.clock.set(cr.due.Add(-time.Minute))
	r := rawLogin(t, cr.testServer, "alice")
	data := []byte("my homework")
	r.send(t, &wire.UploadRequest{Path: "submit/hw3/", Name: "hw.txt", Size: uint64(len(data)), Mode: 0o644})
	if _, ok := r.recv(t).(*wire.UploadReady); !ok {
		t.Fatal("no UploadReady")
	}
	r.send(t, &wire.UploadStart{})
	r.send(t, &wire.Data{Bytes: data})
	cr.clock.set(cr.due.Add(time.Minute))
	r.send(t, &wire.UploadEnd{Sum: sha256.Sum256(data)})
	m := r.recv(t)
	we, ok := m.(*wire.Error)
	if !ok || we.Kind != wire.KindNotAllowed || !strings.Contains(we.Message, "hw3 closed at") {
		t.Fatalf("upload ending after the deadline answered %#v; want the box closed", m)
	}
	if _, err := os.Stat(filepath.Join(cr.data, "dropboxes", "hw3", "alice", "hw.txt")); err == nil {
		t.Error("the late upload was stored")
	}
	parts, _ := os.ReadDir(filepath.Join(cr.data, "homes", ".partial", "alice"))
	if len(parts) != 0 {
		t.Errorf("%d partial files kept for an upload that can never be accepted", len(parts))
	}
}

// TestDropboxQuota checks that submissions count against the quota.
func TestDropboxQuota(t *testing.T) {
	cr := startClassroom(t, "")
	cr.users["alice"].Quota = 100 << 10
	cr.clock.set(cr.opens.Add(time.Minute))
	c := cr.dial(t, "alice")
	ctx := context.Background()
	big, _ := randomFile(t, t.TempDir(), "big.bin", 70<<10)
	if _, err := c.Upload(ctx, big, "submit/hw3/", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Upload(ctx, big, "", client.TransferOptions{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindNoSpace || !strings.Contains(we.Message, "quota exceeded") {
		t.Fatalf("upload to the home past the quota, with the rest in a box: %v; want quota exceeded", err)
	}
	_, err = c.Upload(ctx, big, "submit/hw3/again.bin", client.TransferOptions{})
	if !errors.As(err, &we) || we.Kind != wire.KindNoSpace {
		t.Fatalf("a second box upload past the quota: %v; want quota exceeded", err)
	}
	// Replacing the submission with itself fits: only the difference counts.
	if _, err := c.Upload(ctx, big, "submit/hw3/big.bin", client.TransferOptions{}); err != nil {
		t.Errorf("replacing the submission: %v", err)
	}
	// A server that measures the data dir afresh counts the box too.
	cr2 := startClassroom(t, cr.data)
	cr2.users["alice"].Quota = 100 << 10
	_, err = cr2.dial(t, "alice").Upload(ctx, big, "", client.TransferOptions{})
	if !errors.As(err, &we) || we.Kind != wire.KindNoSpace {
		t.Fatalf("after a restart, an upload past the quota with the rest in a box: %v; want quota exceeded", err)
	}
}

// TestFoldersReload checks that the folders follow the users file in
// force: a share removed by a reload is an ordinary folder of the home at
// the next request.
func TestFoldersReload(t *testing.T) {
	cr := startClassroom(t, "")
	c := cr.dial(t, "alice")
	ctx := context.Background()
	if ents, err := c.List(ctx, "handouts"); err != nil || len(ents) != 3 {
		t.Fatalf("List(handouts) = %q, %v", names(ents), err)
	}
	cr.srv.SetUsers(classDB{cr.users, &users.Folders{}})
	must(t, os.MkdirAll(filepath.Join(cr.home("alice"), "handouts"), 0o755))
	src, _ := randomFile(t, t.TempDir(), "mine.txt", 10)
	if _, err := c.Upload(ctx, src, "handouts/", client.TransferOptions{}); err != nil {
		t.Fatalf("upload to ~/handouts once it is no share: %v", err)
	}
	if ents, err := c.List(ctx, "handouts"); err != nil || !slices.Equal(names(ents), []string{"mine.txt"}) {
		t.Errorf("List(handouts) after the reload = %q, %v; want the home's folder", names(ents), err)
	}
}

// TestFoldersInJail checks that programs see the folders where transfers
// do, can read them, and cannot change them.
func TestFoldersInJail(t *testing.T) {
	cr := startClassroom(t, jailDataDir(t), withJail(t))
	// The jail's uid reaches the share through its parents, as a real
	// share under /srv would be.
	for p := cr.share; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		must(t, os.Chmod(p, 0o755))
	}
	setCommands(cr.testServer, "alice", "*")
	cr.clock.set(cr.opens.Add(time.Minute))
	c := cr.dial(t, "alice")
	ctx := context.Background()
	src, _ := randomFile(t, t.TempDir(), "hw3.pdf", 100)
	if _, err := c.Upload(ctx, src, "submit/hw3/", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	steps := []struct{ line, out string }{
		{"ls", "handouts\nsubmit\n"},
		{"ls handouts submit submit/hw3", "handouts:\nanswers.txt\nsyllabus.txt\nweek1\n\nsubmit:\nhw3\n\nsubmit/hw3:\nhw3.pdf\n"},
		{"cat handouts/syllabus.txt handouts/week1/ex1.txt", "read meexercise 1"},
		{"cp handouts/week1/ex1.txt mine.txt", ""},
		{"cat mine.txt", "exercise 1"},
		{"wc -c submit/hw3/hw3.pdf", "100 submit/hw3/hw3.pdf\n"},
		{"ls handouts/*.txt", "handouts/answers.txt\nhandouts/syllabus.txt\n"},
	}
	for _, st := range steps {
		out, errOut, code := run(t, c, st.line)
		if code != 0 || out != st.out {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want 0 and %q", st.line, code, out, errOut, st.out)
		}
	}
	for _, line := range []string{
		"cp mine.txt handouts/", "rm handouts/syllabus.txt", "touch handouts/new", "mkdir handouts/d",
		"mv handouts/syllabus.txt .", "cat handouts/answers.txt",
		"cp mine.txt submit/hw3/", "rm submit/hw3/hw3.pdf", "touch submit/x", "mkdir submit/hw4",
	} {
		if out, errOut, code := run(t, c, line); code == 0 {
			t.Errorf("%s: succeeded (stdout %q, stderr %q); want it refused", line, out, errOut)
		}
	}
	// cd into the share works for programs too.
	run(t, c, "cd handouts/week1")
	if out, errOut, code := run(t, c, "cat ex2.txt"); code != 0 || out != "exercise 2" {
		t.Errorf("cat ex2.txt in ~/handouts/week1: %d %q %q", code, out, errOut)
	}
	run(t, c, "cd")
	if ents, _ := os.ReadDir(cr.share); len(ents) != 3 {
		t.Errorf("the share has %d entries after the attempts; want 3", len(ents))
	}
	if ents, _ := os.ReadDir(filepath.Join(cr.data, "dropboxes", "hw3", "alice")); len(ents) != 1 {
		t.Errorf("the box has %d entries after the attempts; want 1", len(ents))
	}

	// Something of the user's in the way of a folder: the command runs
	// without it and says why.
	must(t, os.Remove(filepath.Join(cr.home("alice"), "handouts")))
	must(t, os.WriteFile(filepath.Join(cr.home("alice"), "handouts"), []byte("mine"), 0o644))
	out, errOut, code := run(t, c, "cat handouts")
	if code != 0 || out != "mine" || !strings.Contains(errOut, "cubby: ~/handouts is not a folder, so the folder the teacher shares as ~/handouts cannot appear there") {
		t.Errorf("with a file at ~/handouts: %d %q %q", code, out, errOut)
	}
}

// TestGlobDotDotsStayCheap checks that a pattern with many ".." after
// names that are no directories (missing here) costs the server one
// lookup per "..": each used to re-place the path before it, which took
// time doubling with every "z/..", so one rm of a line like this held a
// server goroutine for ever. The patterns also go through a share and a
// drop box. Nothing matches, so rm gets each as typed, which names ~/x*.
func TestGlobDotDotsStayCheap(t *testing.T) {
	cr := startClassroom(t, "")
	withTrash(cr.testServer, "alice", 7)
	writeHome(t, cr.testServer, "alice", "x.txt", "kept", 0o644)
	c := cr.dial(t, "alice")
	// A guard against a hang, not a speed test: it takes milliseconds.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, pattern := range []string{
		strings.Repeat("z/../", 64) + "x*",
		"handouts/" + strings.Repeat("z/../", 64) + "../x*",
		"submit/hw3/" + strings.Repeat("z/../", 64) + "../../x*",
	} {
		var stdout, stderr strings.Builder
		code, err := c.Command(ctx, "rm -f "+pattern, nil, &stdout, &stderr)
		if err != nil || code != 0 || stdout.Len() != 0 {
			t.Fatalf("rm -f %.40s…: exit %d, %v, stdout %q, stderr %q", pattern, code, err, stdout.String(), stderr.String())
		}
	}
	if !exists(t, cr.testServer, "alice", "x.txt") {
		t.Error("~/x.txt is gone: the literal pattern was taken for it")
	}
}

// TestDropboxClosedByReloadDuringUpload checks that an upload ending
// after a reload is held to the box as the users file now has it: the
// teacher moved the deadline before now, or removed the box.
func TestDropboxClosedByReloadDuringUpload(t *testing.T) {
	cr := startClassroom(t, "")
	cr.clock.set(cr.opens.Add(time.Minute))
	data := []byte("my homework")
	open := cr.srv.Users.(classDB).f
	for _, tt := range []struct {
		folders *users.Folders
		msg     string
	}{
		{&users.Folders{Dropboxes: map[string]*users.Dropbox{"hw3": {Name: "hw3", Deadline: cr.opens}}}, "hw3 closed at "},
		{&users.Folders{}, "the drop box hw3 no longer exists"},
	} {
		cr.srv.SetUsers(classDB{cr.users, open})
		r := rawLogin(t, cr.testServer, "alice")
		r.send(t, &wire.UploadRequest{Path: "submit/hw3/", Name: "hw.txt", Size: uint64(len(data)), Mode: 0o644})
		if _, ok := r.recv(t).(*wire.UploadReady); !ok {
			t.Fatal("no UploadReady")
		}
		r.send(t, &wire.UploadStart{})
		r.send(t, &wire.Data{Bytes: data})
		cr.srv.SetUsers(classDB{cr.users, tt.folders})
		r.send(t, &wire.UploadEnd{Sum: sha256.Sum256(data)})
		m := r.recv(t)
		if we, ok := m.(*wire.Error); !ok || we.Kind != wire.KindNotAllowed || !strings.Contains(we.Message, tt.msg) {
			t.Errorf("upload ending after the reload answered %#v; want %q", m, tt.msg)
		}
		if _, err := os.Stat(filepath.Join(cr.data, "dropboxes", "hw3", "alice", "hw.txt")); err == nil {
			t.Fatal("the upload was stored")
		}
	}
}

// TestShareLinkIntoPrivateFolder checks that a link in a share does not
// hand out a file the jail's user could not reach: the folder it lies in
// is not searchable by others, though the file itself is readable.
func TestShareLinkIntoPrivateFolder(t *testing.T) {
	cr := startClassroom(t, "")
	must(t, os.Mkdir(filepath.Join(cr.share, "private"), 0o700))
	must(t, os.WriteFile(filepath.Join(cr.share, "private", "key.txt"), []byte("the key"), 0o644))
	must(t, os.Symlink("private/key.txt", filepath.Join(cr.share, "key")))
	must(t, os.Symlink("week1/ex1.txt", filepath.Join(cr.share, "ex1")))
	c := cr.dial(t, "alice")
	ctx := context.Background()
	local := t.TempDir()
	_, err := c.Download(ctx, "handouts/key", filepath.Join(local, "key"), client.TransferOptions{})
	wantRefused(t, "download of a link into a 0700 folder of the share", err, wire.KindPermission, "~/handouts/key: permission denied")
	if _, err := c.Download(ctx, "handouts/ex1", filepath.Join(local, "ex1"), client.TransferOptions{}); err != nil {
		t.Errorf("download of a link to a file others may read: %v", err)
	}
}
