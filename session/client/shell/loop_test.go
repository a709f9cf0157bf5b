package shell

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBatchLine(t *testing.T) {
	tests := []struct {
		raw    string
		want   BatchLine
		wantOK bool
	}{
		{"ls", BatchLine{Command: "ls"}, true},
		{"  put a.txt  ", BatchLine{Command: "put a.txt"}, true},
		{"-rm old.txt", BatchLine{Command: "rm old.txt", IgnoreError: true}, true},
		{"- rm old.txt", BatchLine{Command: "rm old.txt", IgnoreError: true}, true},
		{"", BatchLine{}, false},
		{"# a comment", BatchLine{}, false},
		{"-", BatchLine{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseBatchLine(tt.raw)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseBatchLine(%q) = %+v, %v; want %+v, %v", tt.raw, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestBatchStops runs a batch of client commands (no server needed): it
// echoes each, goes past a failure on a "-" line and stops at the first
// other failure with its status.
func TestBatchStops(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	var out, errOut bytes.Buffer
	s := &Shell{Stdout: &out, Stderr: &errOut}
	batch := "# setup\nlcd sub\n-lcd /no/such/dir\nlpwd\n\nlcd /no/such/dir\nlpwd\n"
	code := s.Batch(context.Background(), strings.NewReader(batch))
	if code != ExitFailed {
		t.Errorf("status %d; want %d", code, ExitFailed)
	}
	wantOut := "cubby> lcd sub\ncubby> lcd /no/such/dir\ncubby> lpwd\n" + filepath.Join(dir, "sub") + "\ncubby> lcd /no/such/dir\n"
	if resolved, err := filepath.EvalSymlinks(dir); err == nil && resolved != dir {
		wantOut = strings.ReplaceAll(wantOut, dir, resolved)
	}
	if out.String() != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), wantOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "batch stopped at line 6 (lcd /no/such/dir): status 1") {
		t.Errorf("stderr:\n%s\nwant two lcd failures and the stop, one line each", errOut.String())
	}
}

func TestBatchQuit(t *testing.T) {
	var out, errOut bytes.Buffer
	s := &Shell{Stdout: &out, Stderr: &errOut}
	if code := s.Batch(context.Background(), strings.NewReader("quit\nlcd /no/such/dir\n")); code != 0 {
		t.Errorf("status %d after quit; want 0", code)
	}
	if strings.Contains(out.String(), "lcd") {
		t.Errorf("a command after quit ran: %q", out.String())
	}
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	s := &Shell{Stdout: &out, Stderr: &errOut}
	ctx := context.Background()
	// Every client command has exactly one line in the full help.
	if err := s.run(ctx, "help", nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		n := 0
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), strings.Join(c.names, "|")) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("help has %d lines for %s; want 1:\n%s", n, c.names[0], out.String())
		}
	}
	for _, name := range []string{"put", "get", "lcd", "lpwd", "lls", "quit", "cd", "pwd", "?"} {
		out.Reset()
		if err := s.run(ctx, "help", []string{name}); err != nil {
			t.Errorf("help %s: %v", name, err)
			continue
		}
		if strings.Count(out.String(), "\n") != 1 || !strings.Contains(out.String(), name) {
			t.Errorf("help %s = %q; want one line naming it", name, out.String())
		}
	}
	if err := s.run(ctx, "help", []string{"python3"}); err == nil {
		t.Error("help python3: no error")
	}
	if status, _ := s.RunLine(ctx, "help nosuch"); status != ExitFailed || !strings.HasPrefix(errOut.String(), "cubby: help: nosuch") {
		t.Errorf("help nosuch: status %d, stderr %q", status, errOut.String())
	}
}

func TestLocalCommands(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.Mkdir(filepath.Join(dir, "My Folder"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hi"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), nil, 0o644)
	var out, errOut bytes.Buffer
	s := &Shell{Stdout: &out, Stderr: &errOut}
	ctx := context.Background()
	if st, _ := s.RunLine(ctx, "lls"); st != 0 || out.String() != "My Folder"+string(filepath.Separator)+"\na.txt\n" {
		t.Errorf("lls: %d %q", st, out.String())
	}
	out.Reset()
	if st, _ := s.RunLine(ctx, "lls -a -l"); st != 0 || !strings.Contains(out.String(), ".hidden") || !strings.Contains(out.String(), " 2 ") {
		t.Errorf("lls -a -l: %d %q", st, out.String())
	}
	// An unquoted folder name with a space works whole.
	if st, _ := s.RunLine(ctx, "lcd My Folder"); st != 0 {
		t.Fatalf("lcd My Folder: %d %s", st, errOut.String())
	}
	out.Reset()
	s.RunLine(ctx, "lpwd")
	if !strings.HasSuffix(strings.TrimSpace(out.String()), "My Folder") {
		t.Errorf("lpwd after lcd = %q", out.String())
	}
	errOut.Reset()
	if st, _ := s.RunLine(ctx, "lls missing"); st != ExitFailed || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("lls missing: %d, stderr %q; want 1 and one line", st, errOut.String())
	}
	if st, quit := s.RunLine(ctx, "exit"); st != 0 || !quit {
		t.Errorf("exit: %d %v", st, quit)
	}
}
