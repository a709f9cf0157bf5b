package session

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestFormatSize(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{12_900_000, "12.3 MiB"},
		{950 << 20, "950.0 MiB"},
		{1 << 30, "1.0 GiB"},
		{-2048, "-2.0 KiB"},
	} {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %q; want %q", tt.n, got, tt.want)
		}
	}
}

// TestWalkHome checks the accounting rule: st_size of files, directories
// and links, each inode once, links never followed.
func TestWalkHome(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(outside, "secret"), make([]byte, 1<<20), 0o644))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "sub", "f"), make([]byte, 1000), 0o644))
	must(os.Link(filepath.Join(dir, "sub", "f"), filepath.Join(dir, "hard")))
	must(os.Symlink(outside, filepath.Join(dir, "out")))
	var want int64
	for _, p := range []string{".", "sub", "sub/f", "out"} {
		fi, err := os.Lstat(filepath.Join(dir, p))
		must(err)
		want += fi.Size()
	}
	got, entries, err := walkHome(context.Background(), dir, true)
	if err != nil || got != want || entries != 4 {
		t.Errorf("walkHome = %d, %d entries, %v; want %d, 4 entries", got, entries, err, want)
	}
	if n, _, err := walkHome(context.Background(), filepath.Join(dir, "missing"), false); n != 0 || err != nil {
		t.Errorf("walkHome(missing) = %d, %v; want 0, nil", n, err)
	}
}
