//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/cmd/internal/clitest"
)

// TestClass runs a class through the real binaries: a shared folder every
// student reads and none can change, with transfers or with programs in
// the jail; a drop box that takes uploads before its deadline and one
// that refuses them after; and the teacher collecting the submissions.
func TestClass(t *testing.T) {
	dir := traversableTempDir(t)
	share := filepath.Join(dir, "handouts-src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(share, "week1"), 0o755))
	must(os.WriteFile(filepath.Join(share, "notes.txt"), []byte("lecture notes"), 0o644))
	must(os.WriteFile(filepath.Join(share, "week1", "ex1.txt"), []byte("exercise 1"), 0o644))
	example, err := os.ReadFile("../../users.example.toml")
	must(err)
	zone := time.FixedZone("", -5*3600)
	open, closed := time.Now().In(zone).Add(24*time.Hour).Truncate(time.Minute), time.Now().In(zone).Add(-time.Hour).Truncate(time.Minute)
	cfg := string(example) + "\n[shares.handouts]\npath = \"" + share + "\"\nmode = \"ro\"\n" +
		"\n[dropboxes.hw3]\ndeadline = " + open.Format(time.RFC3339) + "\n" +
		"\n[dropboxes.hw2]\ndeadline = " + closed.Format(time.RFC3339) + "\n"
	must(os.WriteFile(filepath.Join(dir, "users.toml"), []byte(cfg), 0o600))
	data := filepath.Join(dir, "data")
	s := clitest.StartCubbyd(t, binaries(t), dir, "--config", "users.toml", "--data", data, "--listen", "127.0.0.1:0")
	jail := strings.Contains(s.Log.String(), "jail ready")
	if !jail && os.Getenv("CI") == "true" {
		t.Fatalf("cubbyd could not build the jail, which CI requires:\n%s", s.Log)
	}
	work := t.TempDir()
	must(os.WriteFile(filepath.Join(work, "hw.txt"), []byte("my homework"), 0o644))
	cubby := func(user string, args ...string) (string, string, int) {
		t.Helper()
		common := []string{"--known-hosts", filepath.Join(dir, "kh"), "--accept-new-host", "-q", user + "@" + s.Addr}
		return runCubby(t, work, "", []string{"CUBBY_PASSWORD=" + user + "-demo-pw"}, append(common, args...)...)
	}

	for _, user := range []string{"alice", "bob"} {
		if out, errOut, code := cubby(user, "get", "handouts/week1/ex1.txt", user+"-ex1.txt"); code != 0 {
			t.Fatalf("%s: get from the share: %d %q %q", user, code, out, errOut)
		}
		if b, _ := os.ReadFile(filepath.Join(work, user+"-ex1.txt")); string(b) != "exercise 1" {
			t.Errorf("%s downloaded %q", user, b)
		}
		if !jail {
			continue
		}
		if out, errOut, code := cubby(user, "cat", "handouts/notes.txt"); code != 0 || out != "lecture notes" {
			t.Errorf("%s: cat in the jail: %d %q %q", user, code, out, errOut)
		}
	}
	const ro = "~/handouts is read-only (shared by the teacher)"
	if _, errOut, code := cubby("alice", "put", "hw.txt", "handouts/"); code != 126 || !strings.Contains(errOut, ro) {
		t.Errorf("put into the share: status %d, stderr %q; want 126 and %q", code, errOut, ro)
	}
	if _, errOut, code := cubby("alice", "mkdir", "handouts/mine"); jail && (code == 0 || !strings.Contains(errOut, "Read-only file system")) {
		t.Errorf("mkdir in the share: status %d, stderr %q", code, errOut)
	}
	if jail {
		// One login for all the attempts: each prints "refused" if it fails.
		attempts := []string{"cp hw.txt ~/handouts/", "rm ~/handouts/notes.txt", "touch ~/handouts/new", "mkdir ~/handouts/d", "rm -r ~/handouts/week1", "mv ~/handouts/notes.txt ~/"}
		script := "cat > hw.txt < /dev/null"
		for _, a := range attempts {
			script += "; " + a + " 2>/dev/null || echo refused"
		}
		out, errOut, code := cubby("alice", "sh", "-c", script)
		if code != 0 || out != strings.Repeat("refused\n", len(attempts)) {
			t.Errorf("writes to the share in the jail: %d %q %q; want all %d refused", code, out, errOut, len(attempts))
		}
	}
	if ents, _ := os.ReadDir(share); len(ents) != 2 {
		t.Errorf("the share has %d entries after the attempts; want 2", len(ents))
	}

	for _, user := range []string{"alice", "bob"} {
		if out, errOut, code := cubby(user, "put", "hw.txt", "submit/hw3/"); code != 0 {
			t.Errorf("%s: put into the open box: %d %q %q", user, code, out, errOut)
		}
	}
	wantClosed := "hw2 closed at " + users.FormatTime(closed) + "; uploads are no longer accepted"
	if _, errOut, code := cubby("alice", "put", "hw.txt", "submit/hw2/"); code != 126 || !strings.Contains(errOut, wantClosed) {
		t.Errorf("put into the closed box: status %d, stderr %q; want 126 and %q", code, errOut, wantClosed)
	}
	if jail {
		if out, errOut, code := cubby("alice", "ls", "submit", "submit/hw3"); code != 0 || out != "submit:\nhw2\nhw3\n\nsubmit/hw3:\nhw.txt\n" {
			t.Errorf("ls of the boxes in the jail: %d %q %q", code, out, errOut)
		}
	}

	collected := filepath.Join(dir, "hw3-collected")
	out, errOut, code := clitest.Run(t, filepath.Join(binaries(t), "cubbyd"), dir, "", nil, "collect", "hw3", collected, "--config", "users.toml", "--data", data)
	if code != 0 || !strings.Contains(out, "alice: 1 file, 11 B, last upload ") || !strings.Contains(out, "bob: 1 file, 11 B, last upload ") ||
		!strings.Contains(out, "hw3: 2 of 2 users submitted (0 late), 2 files, 22 B, into "+collected+"\n") {
		t.Errorf("cubbyd collect: status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, user := range []string{"alice", "bob"} {
		if b, err := os.ReadFile(filepath.Join(collected, user, "hw.txt")); err != nil || string(b) != "my homework" {
			t.Errorf("%s's collected submission: %q, %v", user, b, err)
		}
	}
}
