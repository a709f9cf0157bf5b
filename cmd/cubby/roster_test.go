//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cubby-dev/cubby/cmd/internal/clitest"
)

// TestRosterFirstLogin runs a class from a roster: cubbyd user import
// creates 30 accounts with one-time passwords (a bad row is reported and
// skipped; a second run skips everyone), and a student logs in through a
// real terminal with the one-time password, must choose a new one
// (typed twice, without echo) and then runs a command. Afterwards the
// one-time password fails and the new one works.
func TestRosterFirstLogin(t *testing.T) {
	dir := traversableTempDir(t)
	bin := binaries(t)
	cubbyd := func(args ...string) (string, string, int) {
		t.Helper()
		return clitest.Run(t, filepath.Join(bin, "cubbyd"), dir, "", nil, args...)
	}
	var roster strings.Builder
	roster.WriteString("Name,Email,Quota\n")
	for i := 1; i <= 30; i++ {
		quota := ""
		if i%3 == 0 {
			quota = "500MiB"
		}
		fmt.Fprintf(&roster, "s%02d,s%02d@example.edu,%s\n", i, i, quota)
		if i == 10 {
			roster.WriteString("Dana Smith,dana@example.edu,\n") // line 12
		}
	}
	os.WriteFile(filepath.Join(dir, "roster.csv"), []byte(roster.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "users.toml"), []byte("# the class\n[defaults]\ncommands = [\"ls\"]\n"), 0o600)

	out, errOut, code := cubbyd("user", "import", "--config", "users.toml", "--sheet", "sheet.txt", "roster.csv")
	if code != 1 || out != "" {
		t.Errorf("import: status %d, stdout %q; want 1 (a bad row) and nothing", code, out)
	}
	for _, want := range []string{
		`roster.csv:12: user name "Dana Smith": must start with a lowercase letter`,
		"imported 30 users, skipped 0 existing, 1 bad row\n",
		"cubbyd: 1 bad row of roster.csv not imported",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("import stderr lacks %q:\n%s", want, errOut)
		}
	}
	sheetPath := filepath.Join(dir, "sheet.txt")
	fi, err := os.Stat(sheetPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("sheet mode %v; want 0600", fi.Mode().Perm())
	}
	sheet, _ := os.ReadFile(sheetPath)
	passwords := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sheet)), "\n")[1:] {
		if f := strings.Fields(line); len(f) == 3 {
			passwords[f[0]] = f[2]
		}
	}
	if len(passwords) != 30 || !strings.HasPrefix(string(sheet), "NAME") || !strings.Contains(string(sheet), "s30@example.edu") {
		t.Fatalf("sheet has %d passwords; want 30:\n%s", len(passwords), sheet)
	}
	otp := passwords["s07"]

	// A second run skips everyone, writes no sheet, and a sheet that
	// exists is never overwritten.
	before, _ := os.ReadFile(filepath.Join(dir, "users.toml"))
	_, errOut, code = cubbyd("user", "import", "--config", "users.toml", "--sheet", "again.txt", "roster.csv")
	if code != 1 || !strings.Contains(errOut, "roster.csv:2: s01 already exists; skipped\n") ||
		!strings.Contains(errOut, "imported 0 users, skipped 30 existing, 1 bad row\n") {
		t.Errorf("second import: status %d, stderr:\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "again.txt")); err == nil {
		t.Error("the second import wrote a sheet")
	}
	_, errOut, code = cubbyd("user", "import", "--config", "users.toml", "--sheet", "sheet.txt", "roster.csv")
	if code != 1 || !strings.Contains(errOut, "the sheet sheet.txt already exists; not overwriting it") {
		t.Errorf("import onto an existing sheet: status %d, stderr:\n%s", code, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "users.toml")); string(after) != string(before) {
		t.Error("the users file changed on the second import")
	}
	if got, _ := os.ReadFile(sheetPath); string(got) != string(sheet) {
		t.Error("the sheet changed")
	}

	addr, _ := startCubbyd(t, "--config", filepath.Join(dir, "users.toml"), "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	common := []string{"--known-hosts", filepath.Join(dir, "known_hosts"), "--accept-new-host"}

	// Without a terminal the student is told what to do, in one line.
	_, errOut, code = runCubby(t, dir, otp+"\n", nil, append(common, "--password-stdin", "s07@"+addr, "pwd")...)
	if want := "cubby: s07 must set a new password first: log in once interactively with cubby\n"; code != 255 || errOut != want {
		t.Errorf("first login without a terminal: status %d, stderr %q; want 255 and %q", code, errOut, want)
	}

	// On a terminal: the one-time password, then the new one twice (a
	// mismatch is asked again), then the command runs.
	const newPW = "my own pass phrase"
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "TERM=xterm"}
	s := startSession(t, env, append(common, "s07@"+addr, "pwd")...)
	s.expect("s07@" + addr + "'s password: ")
	s.send(otp + "\r")
	s.expect("You must choose a new password before using cubby.")
	s.expect("New password: ")
	s.send(newPW + "\r")
	s.expect("Retype new password: ")
	s.send("something else\r")
	s.expect("the new passwords differ")
	s.expect("New password: ")
	s.send(newPW + "\r")
	s.expect("Retype new password: ")
	s.send(newPW + "\r")
	s.expect("Password changed")
	s.expect("~\n")
	if code := s.wait(); code != 0 {
		t.Fatalf("first login: status %d; screen:\n%s", code, text(s.screen.String()))
	}
	if screen := s.screen.String(); strings.Contains(screen, otp) || strings.Contains(screen, newPW) {
		t.Errorf("a password was echoed:\n%s", text(screen))
	}

	// The one-time password is gone; the new one works without questions.
	_, errOut, code = runCubby(t, dir, otp+"\n", nil, append(common, "--password-stdin", "s07@"+addr, "pwd")...)
	if code != 255 || !strings.Contains(errOut, "login failed") {
		t.Errorf("one-time password after the change: status %d, stderr %q; want 255, login failed", code, errOut)
	}
	out, errOut, code = runCubby(t, dir, newPW+"\n", nil, append(common, "--password-stdin", "s07@"+addr, "pwd")...)
	if code != 0 || out != "~\n" {
		t.Errorf("new password: status %d, stdout %q, stderr %q; want 0 and ~", code, out, errOut)
	}
	users, _ := os.ReadFile(filepath.Join(dir, "users.toml"))
	if !strings.HasPrefix(string(users), "# the class\n") || strings.Count(string(users), "must_change_password = true") != 29 {
		t.Errorf("users file: want its comment and 29 accounts still to change their password:\n%s", users)
	}
}
