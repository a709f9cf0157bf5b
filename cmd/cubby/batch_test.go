//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cubby-dev/cubby/cmd/internal/clitest"
)

// runCubby runs the built client in dir and returns stdout, stderr and
// the exit status.
func runCubby(t *testing.T, dir, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	return clitest.Run(t, filepath.Join(binaries(t), "cubby"), dir, stdin, env, args...)
}

// TestBatch runs batch files like sftp -b: commands echoed, "-" lines
// may fail, the first other failure stops the batch with its status,
// and no progress bar or escape code reaches a file.
func TestBatch(t *testing.T) {
	dir, addr, log, jail := startDemo(t)
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "a.pdf"), []byte("first"), 0o644)
	os.WriteFile(filepath.Join(work, "b.pdf"), []byte("second"), 0o644)
	os.Mkdir(filepath.Join(work, "back"), 0o755)
	env := []string{"CUBBY_PASSWORD=alice-demo-pw"}
	common := []string{"--known-hosts", filepath.Join(dir, "kh"), "--accept-new-host"}

	batch := filepath.Join(work, "cmds.txt")
	os.WriteFile(batch, []byte(strings.Join([]string{
		"# upload two by a glob, fetch them back by a remote glob",
		"put *.pdf",
		"-get no-such-file",
		"get *.pdf back/",
		"get no-such-file",
		"lpwd",
	}, "\n")+"\n"), 0o644)
	out, errOut, code := runCubby(t, work, "", env, append(common, "-b", batch, "alice@"+addr)...)
	if code != 1 {
		t.Errorf("batch status %d; want 1 (the failing get)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"cubby> put *.pdf\n", "uploaded a.pdf to ~/a.pdf", "uploaded b.pdf to ~/b.pdf", "cubby> get no-such-file\n", "downloaded b.pdf to back/b.pdf", "cubby> get no-such-file\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "cubby> lpwd") {
		t.Errorf("the batch went on after a failure:\n%s", out)
	}
	if strings.ContainsAny(out+errOut, "\x1b\r") {
		t.Errorf("escape codes or a progress bar in files:\n%q", out+errOut)
	}
	if !strings.Contains(errOut, "batch stopped at line 5 (get no-such-file): status 1") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(work, "back", "b.pdf")); string(got) != "second" {
		t.Errorf("back/b.pdf = %q", got)
	}

	// -b - reads stdin, after the password with --password-stdin.
	out, errOut, code = runCubby(t, work, "alice-demo-pw\nlpwd\nquit\nget no-such-file\n", nil, append(common, "--password-stdin", "-b", "-", "alice@"+addr)...)
	if code != 0 || !strings.Contains(out, "cubby> lpwd\n"+work) || strings.Contains(out, "no-such-file") {
		t.Errorf("-b -: status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// A login failure is 255, in one line.
	_, errOut, code = runCubby(t, work, "", []string{"CUBBY_PASSWORD=wrong"}, append(common, "-b", batch, "alice@"+addr)...)
	if code != 255 || strings.Count(errOut, "\n") != 1 {
		t.Errorf("wrong password: status %d, stderr %q; want 255 and one line", code, errOut)
	}
	// A missing batch file fails before connecting.
	_, errOut, code = runCubby(t, work, "", env, append(common, "-b", "missing.txt", "alice@"+addr)...)
	if code != 1 || strings.Count(errOut, "\n") != 1 {
		t.Errorf("missing batch file: status %d, stderr %q; want 1 and one line", code, errOut)
	}
	if !jail {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cubbyd could not build the jail, which CI requires:\n%s", log)
		}
		t.Skipf("no jail here, so remote command statuses in a batch were not tried:\n%s", log)
	}
	out, errOut, code = runCubby(t, work, "-ls missing\nls a.pdf\nls missing\nls b.pdf\n", env, append(common, "-b", "-", "alice@"+addr)...)
	if code != 2 || !strings.Contains(out, "cubby> ls a.pdf\na.pdf\n") || strings.Contains(out, "cubby> ls b.pdf") {
		t.Errorf("remote failure: status %d; want ls's 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestBatchUndelete: an rm through the real client is undone by undelete.
// The jail shows it with ls and cat; the transfers show it without one.
func TestBatchUndelete(t *testing.T) {
	dir, addr, log, jail := startDemo(t)
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "notes.txt"), []byte("my notes\n"), 0o644)
	os.Mkdir(filepath.Join(work, "back"), 0o755)
	env := []string{"CUBBY_PASSWORD=alice-demo-pw"}
	common := []string{"--known-hosts", filepath.Join(dir, "kh"), "--accept-new-host"}
	lines := []string{
		"put notes.txt",
		"rm notes.txt",
		"-get notes.txt back/",
		"trash list",
		"undelete ~/notes.txt",
		"get notes.txt back/",
	}
	if jail {
		lines = append(lines, "rm notes.txt", "-ls notes.txt", "undelete notes.txt", "cat notes.txt")
	}
	batch := filepath.Join(work, "cmds.txt")
	os.WriteFile(batch, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out, errOut, code := runCubby(t, work, "", env, append(common, "-b", batch, "alice@"+addr)...)
	if code != 0 {
		t.Fatalf("batch status %d\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", code, out, errOut, log)
	}
	for _, want := range []string{
		"cubby> trash list\n", "  ~/notes.txt  (rm)\n", "1 item,",
		"cubby> undelete ~/notes.txt\nrestored ~/notes.txt",
		"downloaded notes.txt to back/notes.txt",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "notes.txt") {
		t.Errorf("the get after rm did not fail on notes.txt; stderr:\n%s", errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(work, "back", "notes.txt")); string(got) != "my notes\n" {
		t.Errorf("back/notes.txt = %q", got)
	}
	if !jail {
		t.Skipf("no jail here, so ls and cat were not tried:\n%s", log)
	}
	if !strings.Contains(out, "cubby> cat notes.txt\nmy notes\n") || !strings.Contains(errOut, "ls: cannot access 'notes.txt'") {
		t.Errorf("ls after rm or cat after undelete wrong\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
}
