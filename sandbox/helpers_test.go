package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	MaybeInit()
	os.Exit(m.Run())
}

// Host ids used by the tests. As root the jail maps to testUID and the
// "other user" owns otherUID; unprivileged, both are the test's own ids.
const (
	rootTestUID  = 61000
	rootOtherUID = 61001
)

func testIDs() (uid, gid, other int) {
	if os.Geteuid() == 0 {
		return rootTestUID, rootTestUID, rootOtherUID
	}
	return os.Geteuid(), os.Getegid(), os.Geteuid()
}

// newTestJail returns a Jail for the test. When the kernel cannot build one,
// the test is skipped, except under CI=true where it fails.
func newTestJail(t testing.TB) *Jail { return newTestJailHook(t, nil) }

func newTestJailHook(t testing.TB, hookPID func(int)) *Jail {
	t.Helper()
	uid, gid, _ := testIDs()
	j, err := newJail(Config{HostUID: uid, HostGID: gid}, hookPID)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("New: %v", err)
		}
		t.Skipf("cannot build a jail here (set CI=true to fail instead): %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// layout is a server-like tree: <base>/homes/{alice,bob}, <base>/users.toml
// and <base>/data, with secrets outside alice's home.
type layout struct {
	base, homes, alice, bob string
}

const (
	bobSecret   = "BOB-SECRET-7d1f"
	usersSecret = "USERS-TOML-SECRET-51ac"
	dataSecret  = "DATA-DIR-SECRET-93be"
)

func newLayout(t testing.TB) *layout {
	t.Helper()
	uid, gid, other := testIDs()
	base, err := os.MkdirTemp("", "cubby-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// MkdirTemp makes 0700 dirs; the jail's host uid must traverse them.
	must(t, os.Chmod(base, 0o755))
	l := &layout{base: base, homes: filepath.Join(base, "homes")}
	l.alice, l.bob = filepath.Join(l.homes, "alice"), filepath.Join(l.homes, "bob")
	must(t, os.Mkdir(l.homes, 0o755))
	must(t, os.Mkdir(l.alice, 0o700))
	must(t, os.Mkdir(l.bob, 0o700))
	must(t, os.WriteFile(filepath.Join(l.bob, "secret.txt"), []byte(bobSecret), 0o600))
	must(t, os.WriteFile(filepath.Join(base, "users.toml"), []byte(usersSecret), 0o644))
	must(t, os.Mkdir(filepath.Join(base, "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "data", "blob"), []byte(dataSecret), 0o644))
	if os.Geteuid() == 0 {
		must(t, os.Chown(l.alice, uid, gid))
		must(t, os.Chown(l.bob, other, other))
		must(t, os.Chown(filepath.Join(l.bob, "secret.txt"), other, other))
	}
	return l
}

// chownAlice gives a file created by the test to alice's host uid.
func (l *layout) chownAlice(t testing.TB, path string) {
	t.Helper()
	if os.Geteuid() == 0 {
		uid, gid, _ := testIDs()
		must(t, os.Lchown(path, uid, gid))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for Run's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	code           int
	err            error
	stdout, stderr string
}

func (r result) String() string {
	trim := func(s string) string {
		if len(s) > 600 {
			return s[:600] + "…"
		}
		return s
	}
	return fmt.Sprintf("exit %d, err %v, stdout %q, stderr %q", r.code, r.err, trim(r.stdout), trim(r.stderr))
}

// keptMode (CUBBY_SANDBOX_KEPT=1, set by test.sh for a second run of this
// package) makes run start every program from a kept jail's keeper, as a
// session's second command: so every test here holds for kept jails too.
var keptMode = os.Getenv("CUBBY_SANDBOX_KEPT") == "1"

// run runs argv as alice in l with the given spec adjustments.
func run(t testing.TB, j *Jail, l *layout, adjust func(*Spec), argv ...string) result {
	t.Helper()
	// Without a memory cgroup (an unprivileged run) no jail is kept.
	if !keptMode || j.cgroup == nil {
		return runOn(t, j.Run, l, adjust, argv...)
	}
	s := j.NewSession()
	defer s.Close()
	first := runOn(t, s.Run, l, func(sp *Spec) {
		if adjust != nil {
			adjust(sp)
		}
		sp.Argv, sp.Stdin, sp.Stdout, sp.Stderr, sp.Usage = []string{"true"}, nil, nil, nil, nil
	})
	if first.code != 0 || first.err != nil {
		// A spec that Run refuses is refused the same way without a session.
		return runOn(t, j.Run, l, adjust, argv...)
	}
	r := runOn(t, s.Run, l, adjust, argv...)
	if s.kept == nil && r.err == nil {
		t.Fatalf("CUBBY_SANDBOX_KEPT=1: the command did not run in a kept jail (%s)", j.Features())
	}
	return r
}

// runOn runs argv as alice in l through runFn, a Jail's or a Session's Run.
func runOn(t testing.TB, runFn func(context.Context, Spec) (int, error), l *layout, adjust func(*Spec), argv ...string) result {
	t.Helper()
	var out, errOut syncBuffer
	spec := Spec{User: "alice", Home: l.alice, Argv: argv, Stdout: &out, Stderr: &errOut}
	spec.Limits.WallClock = 30 * time.Second
	if adjust != nil {
		adjust(&spec)
	}
	code, err := runFn(context.Background(), spec)
	return result{code, err, out.String(), errOut.String()}
}

// sh runs a shell script in the jail.
func sh(t testing.TB, j *Jail, l *layout, script string) result {
	t.Helper()
	return run(t, j, l, nil, "sh", "-c", script)
}

// wantOK fails the test unless r is a clean exit 0.
func wantOK(t testing.TB, r result) {
	t.Helper()
	if r.code != 0 || r.err != nil {
		t.Fatalf("want success, got %v", r)
	}
}

// wantFail fails the test unless the command failed without printing secret.
func wantFail(t testing.TB, r result, secrets ...string) {
	t.Helper()
	if r.code == 0 && r.err == nil {
		t.Errorf("want failure, got %v", r)
	}
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("secret %q leaked: %v", s, r)
		}
	}
}
