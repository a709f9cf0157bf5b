package shell

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cubby-dev/cubby/wire"
)

// fakeLister answers List from a map of directory listings, keyed by
// cleaned path ("." for the working directory), as the server would,
// and records what was asked.
type fakeLister struct {
	dirs  map[string][]wire.Entry
	asked []string
}

func (f *fakeLister) List(_ context.Context, dir string) ([]wire.Entry, error) {
	f.asked = append(f.asked, dir)
	key := "."
	if dir != "" {
		key = path.Clean(dir)
	}
	ents, ok := f.dirs[key]
	if !ok {
		return nil, &wire.Error{Kind: wire.KindNotFound, Message: dir + ": no such file or directory"}
	}
	return ents, nil
}

func dirEnt(name string) wire.Entry  { return wire.Entry{Name: name, Mode: wire.ModeDir | 0o755} }
func fileEnt(name string) wire.Entry { return wire.Entry{Name: name, Mode: wire.ModeRegular | 0o644} }

func newFakeLister() *fakeLister {
	return &fakeLister{dirs: map[string][]wire.Entry{
		".":         {dirEnt("projects"), dirEnt("photos"), fileEnt("notes.txt"), fileEnt("CSC 574.pdf"), fileEnt(".secret"), fileEnt("report.pdf")},
		"projects":  {fileEnt("plan.txt"), dirEnt("old")},
		"~":         {dirEnt("projects"), fileEnt("notes.txt")},
		"My Folder": {fileEnt("a b.txt")},
	}}
}

func TestCompleteRemote(t *testing.T) {
	tests := []struct {
		line    string
		want    string
		matches []string
	}{
		// The first word completes command names.
		{"dow", "download ", nil},
		{"l", "l", []string{"lcd", "lls", "lpwd"}},
		{"q", "quit ", nil},
		{"c", "cd ", nil},
		{"zzz", "zzz", nil},
		// Remote paths for remote commands, cd and download.
		{"cd proj", "cd projects/", nil},
		{"cd p", "cd p", []string{"photos/", "projects/"}},
		{"cd n", "cd n", nil}, // cd completes folders only
		{"ls pr", "ls projects/", nil},
		{"ls projects/p", "ls projects/plan.txt ", nil},
		{"cat not", "cat notes.txt ", nil},
		{"get rep", "get report.pdf ", nil},
		{"download ~/pro", "download ~/projects/", nil},
		{"rm .se", "rm .secret ", nil},
		{"rm CSC", `rm CSC\ 574.pdf `, nil},
		{`rm "CSC`, `rm "CSC 574.pdf" `, nil},
		{"rm 'CSC", `rm 'CSC 574.pdf' `, nil},
		{`ls My\ Folder/a`, `ls My\ Folder/a\ b.txt `, nil},
		{"mv notes.txt pro", "mv notes.txt projects/", nil},
		// Common prefixes complete, hidden names stay hidden.
		{"ls ", "ls ", []string{"CSC 574.pdf", "notes.txt", "photos/", "projects/", "report.pdf"}},
		{"ls missing/x", "ls missing/x", nil},
		{"get -", "get -", nil},
		{"help up", "help upload ", nil},
		{"und", "undelete ", nil},
		{"tr", "trash ", nil},
		{"trash l", "trash list ", nil},
		{"trash ", "trash ", []string{"empty", "list"}},
		{"trash list x", "trash list x", nil},
		{"undelete pro", "undelete projects/", nil},
		{"quit x", "quit x", nil},
	}
	for _, tt := range tests {
		c := &Completer{Remote: newFakeLister()}
		got := c.Complete(context.Background(), tt.line, len(tt.line))
		if got.Line != tt.want || got.Pos != len(tt.want) || !reflect.DeepEqual(got.Matches, tt.matches) {
			t.Errorf("Complete(%q) = %q (pos %d), matches %q; want %q, %q", tt.line, got.Line, got.Pos, got.Matches, tt.want, tt.matches)
		}
	}
}

// TestCompleteMidLine completes the word before the cursor and keeps the
// rest of the line.
func TestCompleteMidLine(t *testing.T) {
	c := &Completer{Remote: newFakeLister()}
	line := "mv not projects/"
	got := c.Complete(context.Background(), line, len("mv not"))
	if got.Line != "mv notes.txt  projects/" || got.Pos != len("mv notes.txt ") {
		t.Errorf("Complete mid-line = %q, pos %d", got.Line, got.Pos)
	}
}

// TestCompleteUsesList checks that remote completion asks for the
// directory of the word through List.
func TestCompleteUsesList(t *testing.T) {
	f := newFakeLister()
	c := &Completer{Remote: f}
	c.Complete(context.Background(), "ls projects/o", len("ls projects/o"))
	if !reflect.DeepEqual(f.asked, []string{"projects/"}) {
		t.Errorf("List calls %q; want [projects/]", f.asked)
	}
}

func TestCompleteLocal(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "My Docs"), 0o755)
	os.MkdirAll(filepath.Join(dir, "music"), 0o755)
	os.WriteFile(filepath.Join(dir, "My Docs", "essay.pdf"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "memo.txt"), nil, 0o644)
	t.Chdir(dir)
	f := newFakeLister()
	tests := []struct {
		line    string
		windows bool
		want    string
		matches []string
	}{
		{"put me", false, "put memo.txt ", nil},
		{"put m", false, "put m", []string{"memo.txt", "music/"}},
		{"put My", false, `put My\ Docs/`, nil},
		{`put My\ Docs/e`, false, `put My\ Docs/essay.pdf `, nil},
		{"lcd m", false, "lcd music/", nil}, // lcd: folders only
		{"lls M", false, `lls My\ Docs/`, nil},
		// Windows: backslashes separate, and quotes replace escapes.
		{"put My", true, `put "My Docs/`, nil},
		{`put "My Docs\e`, true, `put "My Docs\essay.pdf" `, nil},
		{`put .\me`, true, `put .\memo.txt `, nil},
	}
	for _, tt := range tests {
		c := &Completer{Remote: f, Windows: tt.windows}
		if tt.windows {
			// Read Windows paths here too, with / for \.
			c.ReadDir = func(d string) ([]os.DirEntry, error) { return os.ReadDir(strings.ReplaceAll(d, `\`, "/")) }
		}
		got := c.Complete(context.Background(), tt.line, len(tt.line))
		if got.Line != tt.want || !reflect.DeepEqual(got.Matches, tt.matches) {
			t.Errorf("windows=%v: Complete(%q) = %q, matches %q; want %q, %q", tt.windows, tt.line, got.Line, got.Matches, tt.want, tt.matches)
		}
	}
	if len(f.asked) != 0 {
		t.Errorf("local completion asked the server for %q", f.asked)
	}
}

func TestCompleteListError(t *testing.T) {
	c := &Completer{Remote: errLister{}}
	if got := c.Complete(context.Background(), "ls a", 4); got.Line != "ls a" || got.Matches != nil {
		t.Errorf("Complete with a failing List = %+v; want the line unchanged", got)
	}
}

type errLister struct{}

func (errLister) List(context.Context, string) ([]wire.Entry, error) {
	return nil, errors.New("connection lost")
}

func TestScanWords(t *testing.T) {
	tests := []struct {
		in    string
		words []string
		cur   partialWord
	}{
		{"", nil, partialWord{start: 0}},
		{"ls ", []string{"ls"}, partialWord{start: 3}},
		{"ls a", []string{"ls"}, partialWord{start: 3, value: "a"}},
		{`mv "a b" c\ d`, []string{"mv", "a b"}, partialWord{start: 9, value: "c d"}},
		{`cat "open`, []string{"cat"}, partialWord{start: 4, value: "open", quote: '"'}},
		{`cat 'it`, []string{"cat"}, partialWord{start: 4, value: "it", quote: '\''}},
	}
	for _, tt := range tests {
		words, cur := scanWords(tt.in, false)
		if !reflect.DeepEqual(words, tt.words) || cur != tt.cur {
			t.Errorf("scanWords(%q) = %q, %+v; want %q, %+v", tt.in, words, cur, tt.words, tt.cur)
		}
	}
	words, cur := scanWords(`put C:\Users\x y`, true)
	if !reflect.DeepEqual(words, []string{"put", `C:\Users\x`}) || cur.value != "y" {
		t.Errorf("scanWords with literal backslashes = %q, %+v", words, cur)
	}
}

func TestEncodeWordRoundTrip(t *testing.T) {
	for _, v := range []string{"plain", "a b", `it's`, `say "hi"`, `back\slash`, "*.txt", "$HOME", "~/x"} {
		enc := encodeWord(v, 0, true, true)
		got, err := splitArgs(enc, false)
		if err != nil || len(got) != 1 || got[0] != v {
			t.Errorf("encodeWord(%q) = %q, which splits to %q, %v", v, enc, got, err)
		}
	}
	if got := encodeWord(`C:\My Docs\a.pdf`, 0, false, true); got != `"C:\My Docs\a.pdf"` {
		t.Errorf("Windows encodeWord = %q", got)
	}
}

func TestColumns(t *testing.T) {
	got := Columns([]string{"a", "bb", "ccc", "d", "e"}, 12)
	want := "a    d\nbb   e\nccc\n"
	if got != want {
		t.Errorf("Columns = %q; want %q", got, want)
	}
	if got := Columns([]string{"only"}, 2); got != "only\n" {
		t.Errorf("Columns narrow = %q", got)
	}
	if strings.Contains(Columns([]string{"x", "y"}, 80), "  \n") {
		t.Error("Columns pads the last column")
	}
}
