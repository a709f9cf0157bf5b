package shell

import (
	"errors"
	"io/fs"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/google/shlex"
)

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		line    string
		windows bool
		want    []string
	}{
		{`a b  c`, false, []string{"a", "b", "c"}},
		{`"a b" c`, false, []string{"a b", "c"}},
		{`'a "b"' c`, false, []string{`a "b"`, "c"}},
		{`a\ b`, false, []string{"a b"}},
		{`C:\Users\x.pdf`, false, []string{`C:Usersx.pdf`}},
		{`C:\Users\x.pdf`, true, []string{`C:\Users\x.pdf`}},
		{`"C:\My Stuff\x.pdf" remote`, true, []string{`C:\My Stuff\x.pdf`, "remote"}},
		{`""`, false, []string{""}},
	}
	for _, tt := range tests {
		got, err := splitArgs(tt.line, tt.windows)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitArgs(%q, windows=%v) = %q, %v; want %q", tt.line, tt.windows, got, err, tt.want)
		}
	}
	if _, err := splitArgs(`"open`, false); err == nil {
		t.Error("unterminated quote accepted")
	}
}

type fakeInfo struct{ dir bool }

func (f fakeInfo) Name() string       { return "" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return 0 }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.dir }
func (f fakeInfo) Sys() any           { return nil }

// TestSeedUploadLine checks the seed's exact line on every OS: the whole
// unquoted rest names one existing file, so it is one path.
func TestSeedUploadLine(t *testing.T) {
	const seed = `C:\Users\Admin\Desktop\MY STUFFS\CSC 574\CSC 574 Programming_Assignment_1.pdf`
	stat := func(p string) (os.FileInfo, error) {
		if p == seed {
			return fakeInfo{}, nil
		}
		return nil, fs.ErrNotExist
	}
	for _, windows := range []bool{true, false} {
		got, err := localArgs(" "+seed, windows, stat)
		if err != nil || !reflect.DeepEqual(got, []string{seed}) {
			t.Errorf("windows=%v: localArgs(seed) = %q, %v; want the one path", windows, got, err)
		}
	}
	// A quoted path with a target is split as usual.
	got, _ := localArgs(`"`+seed+`" newfolder/`, true, stat)
	if !reflect.DeepEqual(got, []string{seed, "newfolder/"}) {
		t.Errorf("quoted seed with a target = %q", got)
	}
	// When the whole rest is not a file, words split.
	got, _ = localArgs(`a.txt b.txt`, true, func(string) (os.FileInfo, error) { return nil, errors.New("no") })
	if !reflect.DeepEqual(got, []string{"a.txt", "b.txt"}) {
		t.Errorf("two words = %q", got)
	}
}

// TestQuoteArgsRoundTrip checks that one-shot argv survives the server's
// shlex split unchanged, while glob characters stay bare for expansion.
func TestQuoteArgsRoundTrip(t *testing.T) {
	tests := [][]string{
		{"mv", "CSC 574.pdf", "newfolder/"},
		{"echo", `it's "quoted"`, `back\slash`, "$HOME", "a;b", "x|y", "(z)", "#h"},
		{"ls", ""},
		{"rm", "*.txt"},
	}
	for _, argv := range tests {
		line := quoteArgs(argv)
		got, err := shlex.Split(line)
		if argv[len(argv)-1] == "" {
			// shlex drops empty words; the server then sees one less argument.
			continue
		}
		if err != nil || !reflect.DeepEqual(got, argv) {
			t.Errorf("quoteArgs(%q) = %q, which splits to %q, %v", argv, line, got, err)
		}
	}
	if got := quoteArgs([]string{"rm", "*.txt"}); got != "rm *.txt" {
		t.Errorf("globs were quoted: %q", got)
	}
}

// TestUploadLineArgs checks the whole reading of typed upload lines,
// options first, with the seed's Windows path on every OS.
func TestUploadLineArgs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	const seed = `C:\Users\Admin\Desktop\MY STUFFS\CSC 574\CSC 574 Programming_Assignment_1.pdf`
	// On this OS the seed's path is a file name with backslashes; make it exist.
	if err := os.WriteFile(seed, nil, 0o644); err != nil {
		t.Skipf("cannot make a file named like the seed's path here: %v", err)
	}
	os.WriteFile("a b.txt", nil, 0o644)
	tests := []struct {
		rest    string
		windows bool
		want    []string
	}{
		{seed, true, []string{seed}},
		{" " + seed + " ", true, []string{seed}},
		{"--resume " + seed, true, []string{"--resume", seed}},
		{"-q --resume " + seed, true, []string{"-q", "--resume", seed}},
		{`"` + seed + `" newfolder/`, true, []string{seed, "newfolder/"}},
		{"a b.txt", false, []string{"a b.txt"}},
		{`"a b.txt" x.txt dir/`, false, []string{"a b.txt", "x.txt", "dir/"}},
		{`*.pdf remote/`, true, []string{"*.pdf", "remote/"}},
	}
	for _, tt := range tests {
		s := &Shell{Windows: tt.windows}
		got, err := s.lineArgs("put", tt.rest)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("windows=%v: lineArgs(put, %q) = %q, %v; want %q", tt.windows, tt.rest, got, err, tt.want)
		}
	}
}
