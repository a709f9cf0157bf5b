package session

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/shlex"
)

func TestScanUnquoted(t *testing.T) {
	tests := []struct {
		line  string
		globs []bool
		tilde []bool
	}{
		{`rm *.txt`, []bool{false, true}, []bool{false, false}},
		{`rm '*.txt' "*.txt" \*.txt`, []bool{false, false, false, false}, []bool{false, false, false, false}},
		{`ls ~ ~/x "~" \~ ~bob`, []bool{false, false, false, false, false, false}, []bool{false, true, true, false, false, false}},
		{`echo a"*"b c*"d"`, []bool{false, false, true}, []bool{false, false, false}},
		{`ls report-?.pdf [ab].txt`, []bool{false, true, true}, []bool{false, false, false}},
	}
	for _, tt := range tests {
		words, err := splitLine(tt.line)
		if err != nil {
			t.Fatalf("splitLine(%q): %v", tt.line, err)
		}
		if len(words) != len(tt.globs) {
			t.Fatalf("splitLine(%q) = %d words; want %d", tt.line, len(words), len(tt.globs))
		}
		for i, w := range words {
			if w.glob != tt.globs[i] || w.tilde != tt.tilde[i] {
				t.Errorf("splitLine(%q) word %d %q: glob %v tilde %v; want %v %v", tt.line, i, w.text, w.glob, w.tilde, tt.globs[i], tt.tilde[i])
			}
		}
	}
}

// FuzzSplitLine checks that the quoting scanner agrees with shlex on the
// words of any line, so glob decisions always line up with argv.
func FuzzSplitLine(f *testing.F) {
	for _, s := range []string{`rm *.txt`, `mv "a b" 'c d' e\ f`, `echo "x\"y" '*' ~/a`, `a#b #c`, "x\ty\nz", `"\\"`, `'unterminated`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		argv, err := shlex.Split(line)
		if err != nil {
			return
		}
		if marks := scanUnquoted(line); len(marks) != len(argv) {
			t.Fatalf("scanner found %d words in %q; shlex %d: %q", len(marks), line, len(argv), argv)
		}
	})
}

// TestGlobWorkBounded checks that a line whose globs would read a huge
// number of directory entries (a link back to the home makes */*/... grow
// without end) is refused quickly instead of burning server CPU.
func TestGlobWorkBounded(t *testing.T) {
	dir := t.TempDir()
	homeDir := filepath.Join(dir, "alice")
	os.MkdirAll(filepath.Join(homeDir, "sub"), 0o755)
	for i := range 300 {
		os.WriteFile(filepath.Join(homeDir, "sub", fmt.Sprint(i)), nil, 0o644)
	}
	os.Symlink("..", filepath.Join(homeDir, "sub", "back"))
	root, err := os.OpenRoot(homeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	s := &session{conn: &conn{srv: &Server{}}, home: &home{user: "alice", root: root}, cwd: "."}
	deep := strings.Repeat("*/", 20) + "*"
	words, err := splitLine("echo " + strings.Repeat(deep+" ", 8))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.expand(words)
	if err == nil || !strings.Contains(err.Error(), "too expensive") {
		t.Fatalf("expand of 8 deep globs through a loop = %v; want the work limit", err)
	}
	t.Logf("refused after %v", time.Since(start))
	// A doubled slash inside a pattern is kept, as a shell does.
	words, _ = splitLine("echo sub//1?")
	argv, err := s.expand(words)
	if err != nil || len(argv) != 11 || argv[1] != "sub//10" {
		t.Errorf("expand(sub//1?) = %q, %v; want sub//10 .. sub//19", argv, err)
	}
}
