package session_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// treeDigest describes a tree: per relative path, the file hash (or "dir"),
// the permission bits and the mtime.
func treeDigest(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, _ := d.Info()
		what := "dir"
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			what = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		mtime := info.ModTime().Unix()
		if rel == "." {
			mtime = 0 // the top directory's own time is not carried
		}
		out[rel] = fmt.Sprintf("%s %v %d", what, info.Mode().Perm(), mtime)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRecursiveTransferRoundTrip(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t, "alice")
	src := filepath.Join(t.TempDir(), "project")
	old := time.Date(2025, 4, 29, 21, 12, 34, 0, time.UTC)
	for i := range 1000 {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", i%25), fmt.Sprintf("e%d", i%3))
		os.MkdirAll(dir, 0o755)
		p := filepath.Join(dir, fmt.Sprintf("f%04d.txt", i))
		os.WriteFile(p, []byte(fmt.Sprintf("file %d\n", i)), 0o644)
		os.Chtimes(p, old, old.Add(time.Duration(i)*time.Second))
	}
	for i, size := range []int{3 << 20, 5 << 20, 1<<20 + 7} {
		randomFile(t, src, fmt.Sprintf("big%d.bin", i), size)
	}
	os.Chmod(filepath.Join(src, "d01"), 0o750)
	os.Chmod(filepath.Join(src, "big0.bin"), 0o600)
	os.Chmod(filepath.Join(src, "big1.bin"), 0o4755) // setuid must not survive
	for _, d := range []string{"d00", "d01", "d02/e1"} {
		os.Chtimes(filepath.Join(src, d), old, old)
	}
	os.Symlink("/etc/passwd", filepath.Join(src, "link"))

	ctx := context.Background()
	var skipped []string
	res, err := c.UploadTree(ctx, src, "project", client.TransferOptions{}, func(p, why string) { skipped = append(skipped, p) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 1003 || len(skipped) != 1 {
		t.Errorf("uploaded %d files, skipped %v; want 1003 and the symlink", res.Files, skipped)
	}
	if fi, _ := os.Stat(filepath.Join(ts.home("alice"), "project", "big1.bin")); fi.Mode()&os.ModeSetuid != 0 {
		t.Error("setuid bit survived the upload")
	}
	back := filepath.Join(t.TempDir(), "back")
	if _, err := c.DownloadTree(ctx, "project", back, client.TransferOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(src, "link"))
	os.Chmod(filepath.Join(src, "big1.bin"), 0o755)
	want, got := treeDigest(t, src), treeDigest(t, back)
	if len(got) != len(want) {
		t.Errorf("tree has %d entries after the round trip; want %d", len(got), len(want))
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q after the round trip; want %q", p, got[p], w)
		}
	}
}

func TestListMkdirSetAttr(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t, "alice")
	ctx := context.Background()
	if p, err := c.Mkdir(ctx, "a/b/c", 0o750, true); err != nil || p != "~/a/b/c" {
		t.Fatalf("Mkdir -p: %q %v", p, err)
	}
	if _, err := c.Mkdir(ctx, "a/b/c", 0o750, true); err != nil {
		t.Errorf("Mkdir -p of an existing dir: %v", err)
	}
	if _, err := c.Mkdir(ctx, "a", 0o750, false); err == nil {
		t.Error("Mkdir of an existing dir without parents succeeded")
	}
	if _, err := c.Mkdir(ctx, "../bob/x", 0o755, true); err == nil {
		t.Error("Mkdir outside the home succeeded")
	}
	mt := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := c.SetAttr(ctx, "a/b", true, 0o4711, mt); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(ts.home("alice"), "a", "b"))
	if fi.Mode().Perm() != 0o711 || fi.Mode()&os.ModeSetuid != 0 || !fi.ModTime().Equal(mt) {
		t.Errorf("after SetAttr: %v %v", fi.Mode(), fi.ModTime())
	}
	os.Symlink("/etc", filepath.Join(ts.home("alice"), "a", "etc-link"))
	entries, err := c.List(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]uint32{}
	for _, e := range entries {
		kinds[e.Name] = e.Mode & wire.ModeTypeMask
	}
	if kinds["b"] != wire.ModeDir || kinds["etc-link"] != wire.ModeSymlink || len(kinds) != 2 {
		t.Errorf("List(a) = %v", entries)
	}
	// A link is listed as itself, never followed out of the home.
	if got, err := c.List(ctx, "a/etc-link/"); err != nil || len(got) != 1 || got[0].Mode&wire.ModeTypeMask != wire.ModeSymlink {
		t.Errorf("List(a/etc-link/) = %v, %v; want the link itself", got, err)
	}
	if _, err := c.List(ctx, "a/etc-link/ssl"); err == nil {
		t.Error("listing through a symlink out of the home succeeded")
	}
	// A name that is not UTF-8 (made by a program in the jail) is left out
	// of listings instead of breaking the session.
	os.WriteFile(filepath.Join(ts.home("alice"), "a", "bad-\xff-name"), nil, 0o644)
	if got, err := c.List(ctx, "a"); err != nil || len(got) != 2 {
		t.Errorf("List(a) with a non-UTF-8 name = %v, %v; want the 2 others", got, err)
	}
	// Paging: more entries than one Listing holds.
	dir := filepath.Join(ts.home("alice"), "many")
	os.Mkdir(dir, 0o755)
	for i := range wire.MaxListing + 100 {
		os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), nil, 0o644)
	}
	entries, err = c.List(ctx, "many")
	if err != nil || len(entries) != wire.MaxListing+100 {
		t.Errorf("List(many) = %d entries, %v; want %d", len(entries), err, wire.MaxListing+100)
	}
}
