package session

import (
	"errors"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		cwd, p string
		want   string
		err    error
	}{
		{".", "a.txt", "a.txt", nil},
		{".", "", ".", nil},
		{"dir", "a.txt", "dir/a.txt", nil},
		{"dir", "..", ".", nil},
		{"dir", "../b", "b", nil},
		{".", "~", ".", nil},
		{"dir", "~/x/../y", "y", nil},
		{".", "/home/alice", ".", nil},
		{".", "/home/alice/notes/a", "notes/a", nil},
		{".", "a//b/./c/", "a/b/c", nil},
		{".", "..", "", ErrOutsideHome},
		{"dir", "../..", "", ErrOutsideHome},
		{".", "../bob/secret", "", ErrOutsideHome},
		{".", "/etc/passwd", "", ErrOutsideHome},
		{".", "/home/alicex/a", "", ErrOutsideHome},
		{".", "/home/bob/a", "", ErrOutsideHome},
		{".", "~/../bob", "", ErrOutsideHome},
		{".", "~bob/x", "~bob/x", nil}, // a file named "~bob", as in a shell without that user
		{".", "a\x00b", "", ErrBadPath},
		{".", strings.Repeat("n", 256), "", ErrBadPath},
		{".", strings.Repeat("a/", 2049), "", ErrBadPath},
	}
	for _, tt := range tests {
		got, err := resolve("alice", tt.cwd, tt.p)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("resolve(alice, %q, %q) = %q, %v; want %q, %v", tt.cwd, tt.p, got, err, tt.want, tt.err)
		}
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"a", "../x", "~/a/../../b", "/home/alice/..", "a\x00", "/etc"} {
		f.Add("dir", s)
	}
	f.Fuzz(func(t *testing.T, cwd, p string) {
		cwd, err := resolve("alice", ".", cwd)
		if err != nil {
			return
		}
		rel, err := resolve("alice", cwd, p)
		if err != nil {
			return
		}
		if rel == ".." || strings.HasPrefix(rel, "../") || strings.HasPrefix(rel, "/") || strings.Contains(rel, "\x00") {
			t.Fatalf("resolve(%q, %q) = %q escapes the home", cwd, p, rel)
		}
		for _, elem := range strings.Split(rel, "/") {
			if elem == ".." || elem == "" {
				t.Fatalf("resolve(%q, %q) = %q is not clean", cwd, p, rel)
			}
		}
	})
}
