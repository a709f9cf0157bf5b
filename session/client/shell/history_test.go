package shell

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestRecordable(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"ls", true},
		{"put a.txt", true},
		{"", false},
		{"   ", false},
		{" secret-ish command", false}, // leading space: not recorded, as bash's ignorespace
		{"passwd", false},
		{"passwd old new", false},
		{"-passwd x", false},
		{"passwdx", true},
		{"a\nb", false},
	}
	for _, tt := range tests {
		if got := Recordable(tt.line); got != tt.want {
			t.Errorf("Recordable(%q) = %v; want %v", tt.line, got, tt.want)
		}
	}
}

func TestHistoryFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cubby", "history")
	h, err := OpenHistory(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"ls", "ls", "passwd hunter2", " hidden", "cd a", "pwd"} {
		h.Add(l)
	}
	if got, want := h.Lines(), []string{"ls", "cd a", "pwd"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("history = %q; want %q (no repeats, no passwd, no leading space)", got, want)
	}
	if h.Len() != 3 || h.At(0) != "pwd" || h.At(2) != "ls" {
		t.Errorf("Len %d, At(0) %q, At(2) %q; want 3, pwd, ls", h.Len(), h.At(0), h.At(2))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("history file mode %v; want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "hunter2") {
		t.Errorf("the history file holds a passwd line:\n%s", data)
	}

	// A second run sees the first's lines.
	h2, err := OpenHistory(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := h2.Lines(); !reflect.DeepEqual(got, []string{"ls", "cd a", "pwd"}) {
		t.Errorf("reloaded history = %q", got)
	}
}

// TestHistoryBounds checks that memory keeps max lines and the file never
// grows past twice that, and is cut back to max when loaded.
func TestHistoryBounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history")
	h, err := OpenHistory(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 55 {
		h.Add(fmt.Sprintf("echo %d", i))
	}
	if h.Len() != 10 || h.At(0) != "echo 54" || h.At(9) != "echo 45" {
		t.Errorf("in memory: %d lines, newest %q, oldest %q; want 10, echo 54, echo 45", h.Len(), h.At(0), h.At(9))
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n > 20 {
		t.Errorf("the file has %d lines; want at most 20", n)
	}
	// A file grown larger elsewhere (or by an older version) is cut back.
	var big strings.Builder
	for i := range 100 {
		fmt.Fprintf(&big, "line %d\n", i)
	}
	os.WriteFile(path, []byte(big.String()), 0o644)
	h, err = OpenHistory(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n != 10 || !strings.HasSuffix(string(data), "line 99\n") {
		t.Errorf("after loading, the file has %d lines ending %q; want the newest 10", n, string(data)[max(0, len(data)-10):])
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("loaded history mode %v; want 0600", fi.Mode().Perm())
	}
	if h.At(0) != "line 99" || h.Len() != 10 {
		t.Errorf("loaded: newest %q of %d", h.At(0), h.Len())
	}
}

func TestHistoryInMemory(t *testing.T) {
	h, err := OpenHistory("", 0)
	if err != nil {
		t.Fatal(err)
	}
	h.Add("ls")
	if h.Len() != 1 {
		t.Errorf("Len = %d", h.Len())
	}
}

func TestHistoryUnwritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o600)
	h, _ := OpenHistory(filepath.Join(blocker, "history"), 10) // a file as the parent
	var warnings []error
	h.Warn = func(err error) { warnings = append(warnings, err) }
	h.Add("ls")
	h.Add("pwd")
	if len(warnings) != 1 {
		t.Errorf("%d warnings; want one for the first failed write", len(warnings))
	}
	if h.Len() != 2 {
		t.Errorf("in-memory history lost lines: %d", h.Len())
	}
}
