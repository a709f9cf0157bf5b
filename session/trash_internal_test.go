package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseRm(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		want     rmOptions
		operands []string
		err      string
	}{
		{[]string{"a", "b"}, rmOptions{}, []string{"a", "b"}, ""},
		{[]string{"-rf", "a"}, rmOptions{recursive: true, force: true}, []string{"a"}, ""},
		{[]string{"-R", "a", "-d"}, rmOptions{recursive: true, dir: true}, []string{"a"}, ""},
		{[]string{"--recursive", "--force", "--dir", "a"}, rmOptions{true, true, true}, []string{"a"}, ""},
		{[]string{"--", "-r", "--", "-"}, rmOptions{}, []string{"-r", "--", "-"}, ""},
		{[]string{"-"}, rmOptions{}, []string{"-"}, ""},
		{[]string{"-ri", "a"}, rmOptions{}, nil, "unknown option -i"},
		{[]string{"--interactive=never", "a"}, rmOptions{}, nil, "unknown option --interactive=never"},
	} {
		o, ops, err := parseRm(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "/usr/bin/rm") {
				t.Errorf("parseRm(%q) error %v; want %q naming /usr/bin/rm", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || o != tt.want || !reflect.DeepEqual(ops, tt.operands) {
			t.Errorf("parseRm(%q) = %+v, %q, %v; want %+v, %q", tt.args, o, ops, err, tt.want, tt.operands)
		}
	}
}

func TestParseInfo(t *testing.T) {
	when := time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)
	it := trashItem{path: "a b/new\nline \"q\".txt", when: when, reason: reasonUpload, size: 1234}
	got, err := parseInfo(formatInfo(it))
	if err != nil || got != it {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, it)
	}
	for _, bad := range []string{
		"Path=\"/etc/passwd\"\nDeletionDate=2026-01-01T00:00:00Z\n",
		"Path=\"../x\"\nDeletionDate=2026-01-01T00:00:00Z\n",
		"Path=\"a/../../x\"\nDeletionDate=2026-01-01T00:00:00Z\n",
		"Path=\".trash/files/x\"\nDeletionDate=2026-01-01T00:00:00Z\n",
		"Path=\".\"\nDeletionDate=2026-01-01T00:00:00Z\n",
		"Path=\"~/x\"\nDeletionDate=2026-01-01T00:00:00Z\n",
		"Path=unquoted\nDeletionDate=2026-01-01T00:00:00Z\n",
		"Path=\"x\"\nDeletionDate=yesterday\n",
		"Path=\"x\"\n",
		"",
		strings.Repeat("x", maxInfoSize),
	} {
		if it, err := parseInfo([]byte(bad)); err == nil {
			t.Errorf("parseInfo(%.40q) = %+v; want an error", bad, it)
		}
	}
	// Unknown reasons and bad sizes are dropped, not trusted.
	it, err = parseInfo([]byte("Path=\"x\"\nDeletionDate=2026-01-01T00:00:00Z\nReason=\x1b[31m\nSize=-5\n"))
	if err != nil || it.reason != "" || it.size != 0 {
		t.Errorf("parseInfo kept a bad reason or size: %+v, %v", it, err)
	}
}

// TestRemoverStopsOnCancel: a tree removal checks its context at every
// entry, so a Cancel stops an rm -r of any size.
func TestRemoverStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	for i := range 50 {
		p := filepath.Join(dir, "tree", strings.Repeat("d/", i%5), "f"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &remover{ctx: ctx}
	if err := r.at(int(d.Fd()), "tree", 0); !errors.Is(err, context.Canceled) || r.bytes != 0 {
		t.Errorf("canceled removal: %v, %d bytes; want context.Canceled and nothing removed", err, r.bytes)
	}
	r = &remover{ctx: context.Background()}
	if err := r.at(int(d.Fd()), "tree", 0); err != nil || r.bytes < 50 {
		t.Errorf("removal: %v, %d bytes", err, r.bytes)
	}
	if _, err := os.Lstat(filepath.Join(dir, "tree")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the tree is still there: %v", err)
	}
}
