package session_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// withTrash gives user a trash kept days days.
func withTrash(ts *testServer, user string, days int) { ts.users[user].TrashDays = days }

// writeHome writes a file into user's home directly, making its folder.
func writeHome(t testing.TB, ts *testServer, user, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(ts.home(user), filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func exists(t testing.TB, ts *testServer, user, rel string) bool {
	t.Helper()
	_, err := os.Lstat(filepath.Join(ts.home(user), filepath.FromSlash(rel)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// trashCount counts the items and records in user's trash.
func trashCount(t testing.TB, ts *testServer, user string) (items, records int) {
	t.Helper()
	f, _ := os.ReadDir(filepath.Join(ts.home(user), ".trash", "files"))
	i, _ := os.ReadDir(filepath.Join(ts.home(user), ".trash", "info"))
	return len(f), len(i)
}

// commandError runs a line that the server must refuse with an Error frame.
func commandError(t testing.TB, c *client.Client, line string) *wire.Error {
	t.Helper()
	_, err := c.Command(context.Background(), line, nil, &bytes.Buffer{}, &bytes.Buffer{})
	var we *wire.Error
	if !errors.As(err, &we) {
		t.Fatalf("%s: %v; want an Error frame", line, err)
	}
	return we
}

func TestRmBuiltin(t *testing.T) {
	ts := startServer(t, "") // no jail: rm is the session's own
	withTrash(ts, "alice", 7)
	for _, f := range []string{"a.txt", "d/x", "d/y/z", "e/1", "p.log", "q.log", "keep.txt", "-weird", "s1/f", "s2/f"} {
		writeHome(t, ts, "alice", f, "data of "+f, 0o644)
	}
	if err := os.Mkdir(filepath.Join(ts.home("alice"), "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := ts.dial(t, "alice")
	for _, tt := range []struct {
		line       string
		code       int
		stderr     string // a substring; "" means no stderr at all
		gone, kept []string
	}{
		{"rm a.txt", 0, "", []string{"a.txt"}, nil},
		{"rm d", 1, "rm: cannot remove 'd': Is a directory\n", nil, []string{"d/y/z"}},
		{"rm -d d", 1, "rm: cannot remove 'd': Directory not empty\n", nil, []string{"d/y/z"}},
		{"rm -d empty", 0, "", []string{"empty"}, nil},
		{"rm -r d", 0, "", []string{"d"}, nil},
		{"rm --recursive e", 0, "", []string{"e"}, nil},
		{"rm missing", 1, "rm: cannot remove 'missing': No such file or directory\n", nil, nil},
		{"rm -f missing", 0, "", nil, nil},
		{"rm *.log", 0, "", []string{"p.log", "q.log"}, []string{"keep.txt"}},
		{"rm -- -weird", 0, "", []string{"-weird"}, nil},
		{"rm -r s1 missing s2", 1, "rm: cannot remove 'missing': No such file or directory\n", []string{"s1", "s2"}, nil},
		{"rm .trash/info", 1, "It is in the trash; use trash empty", nil, []string{".trash/info"}},
		{"rm -rf ~", 1, "It is your home", nil, []string{"keep.txt"}},
		{"rm -r .", 1, "refusing to remove '.' or '..'", nil, []string{"keep.txt"}},
		{"rm ../bob/x", 1, "Path is outside your home", nil, nil},
	} {
		var out, errOut bytes.Buffer
		code, err := c.Command(context.Background(), tt.line, nil, &out, &errOut)
		if err != nil {
			t.Fatalf("%s: %v", tt.line, err)
		}
		if code != tt.code || out.Len() != 0 || (tt.stderr == "") != (errOut.Len() == 0) || !strings.Contains(errOut.String(), tt.stderr) {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want %d, nothing, %q", tt.line, code, out.String(), errOut.String(), tt.code, tt.stderr)
		}
		for _, g := range tt.gone {
			if exists(t, ts, "alice", g) {
				t.Errorf("%s: %s is still there", tt.line, g)
			}
		}
		for _, k := range tt.kept {
			if !exists(t, ts, "alice", k) {
				t.Errorf("%s: %s is gone", tt.line, k)
			}
		}
	}
	// a.txt, empty, d, e, p.log, q.log, -weird, s1, s2.
	if items, records := trashCount(t, ts, "alice"); items != 9 || records != 9 {
		t.Errorf("trash holds %d items and %d records; want 9 and 9", items, records)
	}
	for _, line := range []string{"rm -i keep.txt", "rm --interactive keep.txt"} {
		if we := commandError(t, c, line); we.Kind != wire.KindInvalid || !strings.Contains(we.Message, "/usr/bin/rm") {
			t.Errorf("%s: %v; want an invalid-argument error naming /usr/bin/rm", line, we)
		}
	}
	if we := commandError(t, c, "rm"); !strings.Contains(we.Message, "missing operand") {
		t.Errorf("rm: %v; want missing operand", we)
	}

	// Removing the working folder leaves the session in its parent.
	writeHome(t, ts, "alice", "w/sub/f", "x", 0o644)
	if _, _, code := run(t, c, "cd w/sub"); code != 0 {
		t.Fatal("cd failed")
	}
	if _, _, code := run(t, c, "rm -r ~/w/sub"); code != 0 || c.Cwd() != "~/w" {
		t.Errorf("rm of the working folder: status %d, cwd %s; want 0, ~/w", code, c.Cwd())
	}
}

func TestUndelete(t *testing.T) {
	ts := startServer(t, "")
	withTrash(ts, "alice", 7)
	writeHome(t, ts, "alice", "notes.txt", "first notes", 0o640)
	writeHome(t, ts, "alice", "proj/src/main.c", "int main;", 0o600)
	c := ts.dial(t, "alice")

	if _, _, code := run(t, c, "rm notes.txt"); code != 0 {
		t.Fatal("rm failed")
	}
	out, _, code := run(t, c, "trash list")
	if code != 0 || !strings.Contains(out, "~/notes.txt  (rm)") || !strings.Contains(out, "1 item,") {
		t.Errorf("trash list = %d %q; want ~/notes.txt (rm)", code, out)
	}
	out, _, code = run(t, c, "undelete ~/notes.txt")
	if code != 0 || !strings.HasPrefix(out, "restored ~/notes.txt") {
		t.Errorf("undelete: %d %q", code, out)
	}
	p := filepath.Join(ts.home("alice"), "notes.txt")
	if data, err := os.ReadFile(p); err != nil || string(data) != "first notes" {
		t.Errorf("restored content %q, %v", data, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("restored mode %v, %v; want 0640", fi.Mode(), err)
	}
	if items, records := trashCount(t, ts, "alice"); items != 0 || records != 0 {
		t.Errorf("after undelete the trash holds %d items, %d records", items, records)
	}

	// A file back at the old path is never replaced.
	run(t, c, "rm notes.txt")
	writeHome(t, ts, "alice", "notes.txt", "new notes", 0o644)
	we := commandError(t, c, "undelete notes.txt")
	if we.Kind != wire.KindExists || !strings.HasPrefix(we.Message, "undelete: ~/notes.txt exists; move it away first") {
		t.Errorf("undelete over a file: %v", we)
	}
	// ... but the old one can go elsewhere, into missing folders.
	if out, _, code := run(t, c, "undelete notes.txt old/2025/notes-v1.txt"); code != 0 {
		t.Errorf("undelete to a new path: %d %q", code, out)
	}
	if data, _ := os.ReadFile(filepath.Join(ts.home("alice"), "old/2025/notes-v1.txt")); string(data) != "first notes" {
		t.Errorf("restored elsewhere: %q", data)
	}

	// A whole tree, from a subfolder, into a folder that is gone.
	run(t, c, "rm -r proj")
	if _, _, code := run(t, c, "cd old"); code != 0 {
		t.Fatal("cd old")
	}
	if we := commandError(t, c, "undelete ~/proj/src"); we.Kind != wire.KindNotFound {
		t.Errorf("undelete of a path inside a trashed tree: %v; want not found", we)
	}
	if out, _, code := run(t, c, "undelete ../proj"); code != 0 {
		t.Errorf("undelete ../proj: %d %q", code, out)
	}
	if data, _ := os.ReadFile(filepath.Join(ts.home("alice"), "proj/src/main.c")); string(data) != "int main;" {
		t.Errorf("restored tree: %q", data)
	}

	// Two deletions of one path: the newest comes back first.
	for _, v := range []string{"v1", "v2"} {
		writeHome(t, ts, "alice", "v.txt", v, 0o644)
		run(t, c, "rm ~/v.txt")
	}
	run(t, c, "undelete ~/v.txt")
	if data, _ := os.ReadFile(filepath.Join(ts.home("alice"), "v.txt")); string(data) != "v2" {
		t.Errorf("undelete brought back %q; want the newest, v2", data)
	}

	for _, tt := range []struct{ line, want string }{
		{"undelete", "usage: undelete PATH [NEWPATH]"},
		{"undelete never-was", "nothing deleted from ~/old/never-was is in the trash"},
		{"trash", "usage: trash list | trash empty"},
	} {
		if we := commandError(t, c, tt.line); !strings.Contains(we.Message, tt.want) {
			t.Errorf("%s: %q; want %q", tt.line, we.Message, tt.want)
		}
	}
}

func TestUploadOverKeepsOldVersion(t *testing.T) {
	ts := startServer(t, "")
	withTrash(ts, "alice", 7)
	c := ts.dial(t, "alice")
	ctx := context.Background()
	v1, sum1 := randomFile(t, t.TempDir(), "report.pdf", 20_000)
	v2, sum2 := randomFile(t, t.TempDir(), "report.pdf", 30_000)
	for _, f := range []string{v1, v2} {
		if _, err := c.Upload(ctx, f, "", client.TransferOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := fileSum(t, filepath.Join(ts.home("alice"), "report.pdf")); got != sum2 {
		t.Fatal("the upload did not replace the file")
	}
	out, _, _ := run(t, c, "trash list")
	if !strings.Contains(out, "~/report.pdf  (overwritten by upload)") || !strings.Contains(out, "19.5 KiB") {
		t.Errorf("trash list = %q; want the old report, 19.5 KiB, overwritten by upload", out)
	}
	if out, _, code := run(t, c, "undelete report.pdf report-v1.pdf"); code != 0 {
		t.Fatalf("undelete: %d %q", code, out)
	}
	if got := fileSum(t, filepath.Join(ts.home("alice"), "report-v1.pdf")); got != sum1 {
		t.Error("the old version came back changed")
	}

	// A trash that cannot be used stops the upload, not the old version.
	if err := os.RemoveAll(filepath.Join(ts.home("alice"), ".trash")); err != nil {
		t.Fatal(err)
	}
	writeHome(t, ts, "alice", ".trash", "not a folder", 0o644)
	_, err := c.Upload(ctx, v1, "report.pdf", client.TransferOptions{})
	var we *wire.Error
	if !errors.As(err, &we) || !strings.Contains(we.Message, "upload not stored") || !strings.Contains(we.Message, "kept for --resume") {
		t.Errorf("upload with a broken trash: %v; want it refused, kept for --resume", err)
	}
	if got := fileSum(t, filepath.Join(ts.home("alice"), "report.pdf")); got != sum2 {
		t.Error("the old version was replaced although it could not be kept")
	}
	os.Remove(filepath.Join(ts.home("alice"), ".trash"))
	if _, err := c.Upload(ctx, v1, "report.pdf", client.TransferOptions{Resume: true}); err != nil {
		t.Errorf("resumed upload after fixing the trash: %v", err)
	}
}

func TestTrashRetention(t *testing.T) {
	// The clock starts at the real time: the server's deadlines use it.
	clock := &fakeClock{t: time.Now()}
	ts := startServer(t, "", func(s *session.Server) { s.Now = clock.Now })
	withTrash(ts, "alice", 7)
	writeHome(t, ts, "alice", "old.txt", "old", 0o644)
	writeHome(t, ts, "alice", "tree/a/b", "deep", 0o644)
	writeHome(t, ts, "alice", "new.txt", "new", 0o644)
	c := ts.dial(t, "alice")
	run(t, c, "rm -r old.txt tree")
	clock.Advance(3 * 24 * time.Hour)
	run(t, c, "rm new.txt")

	// Six days on, nothing has expired; a new session purges nothing.
	clock.Advance(3 * 24 * time.Hour)
	ts.dial(t, "alice")
	if items, _ := trashCount(t, ts, "alice"); items != 3 {
		t.Fatalf("after 6 days the trash holds %d items; want 3", items)
	}
	// At seven days the first two go when a session starts.
	clock.Advance(24 * time.Hour)
	ts.dial(t, "alice")
	if items, records := trashCount(t, ts, "alice"); items != 1 || records != 1 {
		t.Errorf("after 7 days the trash holds %d items, %d records; want 1, 1", items, records)
	}
	// trash list purges too.
	clock.Advance(3 * 24 * time.Hour)
	out, _, _ := run(t, c, "trash list")
	if !strings.Contains(out, "the trash is empty") {
		t.Errorf("trash list after 10 days = %q; want empty", out)
	}
	if items, records := trashCount(t, ts, "alice"); items != 0 || records != 0 {
		t.Errorf("after 10 days the trash holds %d items, %d records", items, records)
	}
}

func TestTrashQuota(t *testing.T) {
	ts := startServer(t, "")
	withTrash(ts, "alice", 7)
	ts.users["alice"].Quota = 100_000
	c := ts.dial(t, "alice")
	ctx := context.Background()
	a, _ := randomFile(t, t.TempDir(), "a.bin", 60_000)
	if _, err := c.Upload(ctx, a, "", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	run(t, c, "rm a.bin")
	out, _, _ := run(t, c, "quota")
	// The trash's folders count, as every folder does.
	trashed := regexp.MustCompile(`, (\d+\.\d KiB) of it in ~/\.trash\n`).FindStringSubmatch(out)
	if trashed == nil {
		t.Errorf("quota = %q; want the trash counted", out)
	}
	b, _ := randomFile(t, t.TempDir(), "b.bin", 60_000)
	_, err := c.Upload(ctx, b, "", client.TransferOptions{})
	msg, ok := quotaRefusal(err)
	if !ok || !strings.HasSuffix(msg, "("+trashed[1]+" of it in ~/.trash; `trash empty` frees it)") {
		t.Fatalf("upload with the quota full of trash: %v; want a refusal naming the trash", err)
	}
	// Replacing a file keeps the old one, so it counts whole.
	if _, err := c.Upload(ctx, a, "x.bin", client.TransferOptions{}); err == nil {
		t.Error("upload past the quota succeeded")
	}
	out, _, code := run(t, c, "trash empty")
	if code != 0 || !strings.HasPrefix(out, "freed ") || !strings.Contains(out, "(1 item)") {
		t.Errorf("trash empty = %d %q", code, out)
	}
	if _, err := c.Upload(ctx, b, "", client.TransferOptions{}); err != nil {
		t.Errorf("upload after trash empty: %v", err)
	}
	out, _, _ = run(t, c, "quota")
	if strings.Contains(out, "trash") {
		t.Errorf("quota after trash empty = %q", out)
	}
}

func TestRmWithoutTrash(t *testing.T) {
	ts := startServer(t, "") // the test users keep no trash
	ts.users["alice"].Quota = 1 << 20
	writeHome(t, ts, "alice", "big/a", strings.Repeat("x", 100_000), 0o644)
	writeHome(t, ts, "alice", "big/b/c", strings.Repeat("y", 100_000), 0o644)
	c := ts.dial(t, "alice")
	before, _, _ := run(t, c, "quota")
	if _, _, code := run(t, c, "rm -r big"); code != 0 {
		t.Fatal("rm -r failed")
	}
	if exists(t, ts, "alice", "big") || exists(t, ts, "alice", ".trash") {
		t.Error("rm without a trash left the tree or made a trash")
	}
	after, _, _ := run(t, c, "quota")
	if !strings.HasPrefix(after, "used 4.0 KiB") && !strings.HasPrefix(after, "used 0 B") {
		t.Errorf("quota before %q, after %q; want the tree's bytes freed", before, after)
	}
	out, _, _ := run(t, c, "help")
	if !strings.Contains(out, "trash is off") {
		t.Errorf("help = %q; want it to say rm deletes for real", out)
	}
}

// TestSystemRmDeletesForReal: /usr/bin/rm runs in the jail and keeps no
// trash; the bare word rm is the built-in.
func TestSystemRmDeletesForReal(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	withTrash(ts, "alice", 7)
	setCommands(ts, "alice", "rm", "ls")
	c := ts.dial(t, "alice")
	ctx := context.Background()
	for _, name := range []string{"a.txt", "b.txt"} {
		f, _ := randomFile(t, t.TempDir(), name, 100)
		if _, err := c.Upload(ctx, f, "", client.TransferOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := run(t, c, "/usr/bin/rm a.txt"); code != 0 {
		t.Fatalf("/usr/bin/rm: %d %q", code, errOut)
	}
	if _, _, code := run(t, c, "rm b.txt"); code != 0 {
		t.Fatal("rm failed")
	}
	out, _, _ := run(t, c, "trash list")
	if strings.Contains(out, "a.txt") || !strings.Contains(out, "~/b.txt") {
		t.Errorf("trash list = %q; want b.txt only", out)
	}
	out, _, _ = run(t, c, "help")
	if !strings.Contains(out, "/usr/bin/rm is the system rm and deletes for real") {
		t.Errorf("help = %q; want it to name /usr/bin/rm", out)
	}
}

// TestTrashHostileRecords: the user's programs can write anything into
// ~/.trash; the session reads it as untrusted input.
func TestTrashHostileRecords(t *testing.T) {
	ts := startServer(t, "")
	withTrash(ts, "alice", 7)
	writeHome(t, ts, "alice", "f.txt", "mine", 0o644)
	c := ts.dial(t, "alice")
	run(t, c, "rm f.txt")
	info := filepath.Join(ts.home("alice"), ".trash", "info")
	files := filepath.Join(ts.home("alice"), ".trash", "files")
	// A FIFO would block a reader that opened it; a link leads elsewhere;
	// a record may name a path outside the home.
	if err := syscall.Mkfifo(filepath.Join(info, "20260101T000000Z-00000001.info"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeHome(t, ts, "alice", "fake.info", "Path=\"g.txt\"\nDeletionDate=2026-01-01T00:00:00Z\n", 0o644)
	writeHome(t, ts, "alice", ".trash/files/20260101T000000Z-00000002", "planted", 0o644)
	if err := os.Symlink("../../fake.info", filepath.Join(info, "20260101T000000Z-00000002.info")); err != nil {
		t.Fatal(err)
	}
	writeHome(t, ts, "alice", ".trash/info/20260101T000000Z-00000003.info", "Path=\"../bob/secret\"\nDeletionDate=2026-01-01T00:00:00Z\n", 0o644)
	writeHome(t, ts, "alice", ".trash/files/20260101T000000Z-00000003", "x", 0o644)
	out, _, code := run(t, c, "trash list")
	if code != 0 || !strings.Contains(out, "~/f.txt") || strings.Contains(out, "bob") || strings.Contains(out, "g.txt") || !strings.Contains(out, "1 item,") {
		t.Errorf("trash list = %d %q; want only ~/f.txt", code, out)
	}
	if we := commandError(t, c, "undelete ../bob/secret"); we.Kind != wire.KindOutsideHome {
		t.Errorf("undelete ../bob/secret: %v; want outside home", we)
	}
	if out, _, code := run(t, c, "undelete f.txt"); code != 0 {
		t.Errorf("undelete f.txt: %d %q", code, out)
	}
	// trash empty clears all of it, planted entries included.
	if _, _, code := run(t, c, "trash empty"); code != 0 {
		t.Error("trash empty failed")
	}
	if exists(t, ts, "alice", ".trash") {
		ents, _ := os.ReadDir(files)
		t.Errorf("trash empty left ~/.trash (%d items)", len(ents))
	}
}

// TestTrashLeavesSharesAndBoxes: the trash is the home's. rm refuses what
// a share or a drop box holds, undelete restores only into the home, and
// an upload over a submission keeps no copy in the home's trash.
func TestTrashLeavesSharesAndBoxes(t *testing.T) {
	cr := startClassroom(t, "")
	withTrash(cr.testServer, "alice", 7)
	cr.clock.set(cr.opens.Add(time.Minute))
	c := cr.dial(t, "alice")
	ctx := context.Background()
	src, _ := randomFile(t, t.TempDir(), "hw.pdf", 1000)
	for range 2 {
		if _, err := c.Upload(ctx, src, "submit/hw3/", client.TransferOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct{ line, want string }{
		{"rm handouts/syllabus.txt", "rm: cannot remove 'handouts/syllabus.txt': ~/handouts is read-only"},
		{"rm -r handouts", "rm: cannot remove 'handouts': ~/handouts is read-only"},
		{"rm submit/hw3/hw.pdf", "rm: cannot remove 'submit/hw3/hw.pdf': A drop box keeps what you hand in"},
		{"rm -r submit", "rm: cannot remove 'submit': ~/submit holds only the drop boxes"},
	} {
		_, errOut, code := run(t, c, tt.line)
		if code != 1 || !strings.HasPrefix(errOut, tt.want) {
			t.Errorf("%s: status %d, stderr %q; want 1, %q", tt.line, code, errOut, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(cr.share, "syllabus.txt")); err != nil {
		t.Errorf("the share lost a file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cr.data, "dropboxes", "hw3", "alice", "hw.pdf")); err != nil {
		t.Errorf("the drop box lost the submission: %v", err)
	}
	if exists(t, cr.testServer, "alice", ".trash") {
		t.Error("an upload into a drop box or a refused rm made a trash in the home")
	}
	writeHome(t, cr.testServer, "alice", "n.txt", "n", 0o644)
	run(t, c, "rm n.txt")
	if we := commandError(t, c, "undelete n.txt handouts/n.txt"); we.Kind != wire.KindNotAllowed {
		t.Errorf("undelete into a share: %v; want not allowed", we)
	}
	if out, _, code := run(t, c, "undelete n.txt"); code != 0 {
		t.Errorf("undelete n.txt: %d %q", code, out)
	}
}

// TestFifosNeverBlock checks that a FIFO a user's program makes where the
// server expects a folder or a file makes a request fail, not wait for a
// writer: ~/.trash/info as a FIFO held every login of its user in the
// purge of the trash for ever (and the server's shutdown with it).
func TestFifosNeverBlock(t *testing.T) {
	ts := startServer(t, "")
	withTrash(ts, "alice", 7)
	home := ts.home("alice")
	must(t, os.MkdirAll(filepath.Join(home, ".trash", "files"), 0o755))
	must(t, syscall.Mkfifo(filepath.Join(home, ".trash", "info"), 0o644))
	must(t, syscall.Mkfifo(filepath.Join(home, "pipe"), 0o644))
	writeHome(t, ts, "alice", "a.txt", "old", 0o644)
	c := ts.dial(t, "alice") // the login purges the trash
	ctx := context.Background()

	if we := commandError(t, c, "trash list"); we.Kind != wire.KindNotDir {
		t.Errorf("trash list with a FIFO for ~/.trash/info: %v; want a not-a-folder error", we)
	}
	_, err := c.Download(ctx, "pipe", filepath.Join(t.TempDir(), "got"), client.TransferOptions{})
	wantKind(t, "Download(~/pipe)", err, wire.KindInvalid)
	local := filepath.Join(t.TempDir(), "x")
	must(t, os.WriteFile(local, []byte("new"), 0o644))
	_, err = c.Upload(ctx, local, "pipe/x", client.TransferOptions{})
	wantKind(t, "Upload(~/pipe/x)", err, wire.KindNotDir)
	// Replacing a file keeps the old version in ~/.trash/files; with the
	// records' folder a FIFO, the upload is refused and nothing is lost.
	must(t, os.Remove(filepath.Join(home, ".trash", "files")))
	must(t, syscall.Mkfifo(filepath.Join(home, ".trash", "files"), 0o644))
	must(t, os.Remove(filepath.Join(home, ".trash", "info")))
	if _, err = c.Upload(ctx, local, "a.txt", client.TransferOptions{}); err == nil {
		t.Error("an upload over ~/a.txt with a FIFO for ~/.trash/files succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(home, "a.txt")); string(b) != "old" {
		t.Errorf("~/a.txt is %q; want the old version kept", b)
	}
}
