package sandbox

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// unprivChildEnv marks the copy of the test binary that runs as nobody.
const unprivChildEnv = "CUBBY_SANDBOX_UNPRIV_CHILD"

// TestUnprivileged runs the whole suite again as uid 65534, the way an
// unprivileged cubbyd uses an unprivileged user namespace.
func TestUnprivileged(t *testing.T) {
	if os.Getenv(unprivChildEnv) != "" {
		t.Skip("already the unprivileged run")
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot switch to uid 65534 for the unprivileged half (this run already is unprivileged)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	// The go test binary lives in a 0700 directory: copy it somewhere
	// nobody can execute it.
	dir, err := os.MkdirTemp("", "cubby-sandbox-unpriv-")
	must(t, err)
	defer os.RemoveAll(dir)
	must(t, os.Chmod(dir, 0o755))
	exe, err := os.Executable()
	must(t, err)
	bin := filepath.Join(dir, "sandbox.test")
	copyFile(t, exe, bin)

	args := []string{"-test.run=^Test", "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/tmp", "TMPDIR=/tmp", "CI=" + os.Getenv("CI"), unprivChildEnv + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	t.Logf("unprivileged run (uid 65534):\n%s", out)
	if err != nil {
		t.Fatalf("unprivileged run failed: %v", err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	must(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}
