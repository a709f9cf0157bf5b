package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// classLayout adds to l a shared folder (owned by the host, readable by
// all) and alice's copy of a drop box (owned by her host uid, as the
// server makes it), and returns the mounts that show them at ~/handouts
// and ~/submit/hw3.
func classLayout(t *testing.T, l *layout) (share, box string, mounts []Mount) {
	t.Helper()
	share, box = filepath.Join(l.base, "share"), filepath.Join(l.base, "data", "dropboxes", "hw3", "alice")
	must(t, os.MkdirAll(filepath.Join(share, "week1"), 0o755))
	must(t, os.WriteFile(filepath.Join(share, "notes.txt"), []byte("shared notes"), 0o644))
	must(t, os.WriteFile(filepath.Join(share, "week1", "run.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755))
	must(t, os.MkdirAll(box, 0o711)) // the server's modes: others traverse, only alice lists
	must(t, os.Chmod(box, 0o700))
	must(t, os.WriteFile(filepath.Join(box, "hw.txt"), []byte("my submission"), 0o644))
	l.chownAlice(t, box)
	l.chownAlice(t, filepath.Join(box, "hw.txt"))
	mounts = []Mount{
		{Source: share, Target: "handouts", ReadOnly: true},
		{Target: "submit", ReadOnly: true},
		{Source: box, Target: "submit/hw3", ReadOnly: true},
	}
	return share, box, mounts
}

func withMounts(mounts []Mount) func(*Spec) {
	return func(s *Spec) { s.Mounts = mounts }
}

// TestMountsReadOnly checks that a share and a drop box can be read in
// the jail and that nothing a program does changes them.
func TestMountsReadOnly(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	share, box, mounts := classLayout(t, l)
	r := run(t, j, l, withMounts(mounts), "sh", "-c", "cat ~/handouts/notes.txt; echo; ls ~/handouts ~/submit; cat ~/submit/hw3/hw.txt")
	wantOK(t, r)
	if want := "shared notes\n/home/alice/handouts:\nnotes.txt\nweek1\n\n/home/alice/submit:\nhw3\nmy submission"; r.stdout != want {
		t.Errorf("reading the mounts: %q; want %q", r.stdout, want)
	}
	for _, cmd := range []string{
		"cp /etc/hostname ~/handouts/",
		"rm ~/handouts/notes.txt",
		"rm -rf ~/handouts/week1",
		"touch ~/handouts/new",
		"touch ~/handouts/notes.txt",
		"mkdir ~/handouts/d",
		"chmod 777 ~/handouts/notes.txt",
		"echo x >> ~/handouts/notes.txt",
		"mv ~/handouts/notes.txt ~/",
		"ln ~/handouts/notes.txt ~/hard",
		"mv ~/handouts ~/gone",
		"rmdir ~/handouts/week1",
		"~/handouts/week1/run.sh",
		"touch ~/submit/x",
		"mkdir ~/submit/y",
		"rmdir ~/submit/hw3",
		"mv ~/submit ~/s2",
		"touch ~/submit/hw3/late.txt",
		"echo changed > ~/submit/hw3/hw.txt",
		"rm ~/submit/hw3/hw.txt",
		"chmod 600 ~/submit/hw3/hw.txt",
	} {
		r := run(t, j, l, withMounts(mounts), "sh", "-c", cmd)
		wantFail(t, r)
		if !strings.Contains(r.stderr, "Read-only file system") && !strings.Contains(r.stderr, "busy") &&
			!strings.Contains(r.stderr, "Permission denied") && !strings.Contains(r.stderr, "cross-device") {
			t.Errorf("%s: %v; want EROFS, EBUSY, EACCES or EXDEV", cmd, r)
		}
	}
	if b, err := os.ReadFile(filepath.Join(share, "notes.txt")); err != nil || string(b) != "shared notes" {
		t.Errorf("the share's file is now %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(box, "hw.txt")); err != nil || string(b) != "my submission" {
		t.Errorf("the submission is now %q, %v", b, err)
	}
	for dir, want := range map[string]int{share: 2, filepath.Join(share, "week1"): 1, box: 1} {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) != want {
			t.Errorf("%s now has %d entries, %v; want %d", dir, len(ents), err, want)
		}
	}
	// The mount points were made in the home; the rest of the home is
	// writable as before, also with the working directory in a mount.
	for _, p := range []string{"handouts", "submit"} {
		if fi, err := os.Lstat(filepath.Join(l.alice, p)); err != nil || !fi.IsDir() {
			t.Errorf("mount point ~/%s: %v", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(l.alice, "submit", "hw3")); err == nil {
		t.Error("~/submit/hw3 was made in the home instead of in the jail's own ~/submit")
	}
	r = run(t, j, l, func(s *Spec) { s.Mounts, s.Dir = mounts, "handouts" }, "sh", "-c", "pwd && cp notes.txt ~/copy.txt && cat ~/copy.txt")
	wantOK(t, r)
	if r.stdout != "/home/alice/handouts\nshared notes" {
		t.Errorf("copying out of the share from inside it: %q", r.stdout)
	}
}

// TestWritesAboveWorkingDir checks that a program may write anywhere in
// the home, not only below its working directory.
func TestWritesAboveWorkingDir(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	must(t, os.Mkdir(filepath.Join(l.alice, "sub"), 0o755))
	l.chownAlice(t, filepath.Join(l.alice, "sub"))
	wantOK(t, run(t, j, l, func(s *Spec) { s.Dir = "sub" }, "sh", "-c", "echo up > ../up.txt && mkdir ../d"))
	if b, err := os.ReadFile(filepath.Join(l.alice, "up.txt")); err != nil || string(b) != "up\n" {
		t.Errorf("../up.txt from ~/sub: %q, %v", b, err)
	}
}

// TestMountPointPlanted checks that a link or a file the user put where a
// mount belongs is never followed: the mount is skipped and nothing is
// mounted or made where the link points.
func TestMountPointPlanted(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	_, _, mounts := classLayout(t, l)
	elsewhere := filepath.Join(l.alice, "elsewhere")
	must(t, os.Mkdir(elsewhere, 0o755))
	l.chownAlice(t, elsewhere)
	plant := func(name, target string) {
		p := filepath.Join(l.alice, name)
		must(t, os.Symlink(target, p))
		l.chownAlice(t, p)
	}
	plant("handouts", "elsewhere")
	plant("submit", "/tmp")
	r := run(t, j, l, withMounts(mounts), "sh", "-c", "ls -A ~/handouts/; echo; ls -A ~/submit/")
	wantOK(t, r)
	if strings.Contains(r.stdout, "notes.txt") || strings.Contains(r.stdout, "hw3") {
		t.Errorf("a mount went through a planted link: %q", r.stdout)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("something was made where the link points: %v", ents)
	}

	// A file in place of the mount point, and a link in the middle of a
	// target's path.
	must(t, os.Remove(filepath.Join(l.alice, "handouts")))
	must(t, os.Remove(filepath.Join(l.alice, "submit")))
	must(t, os.WriteFile(filepath.Join(l.alice, "handouts"), []byte("my own file"), 0o644))
	l.chownAlice(t, filepath.Join(l.alice, "handouts"))
	plant("submit", "elsewhere")
	r = run(t, j, l, withMounts([]Mount{mounts[0], mounts[2]}), "sh", "-c", "cat ~/handouts; ls -A ~/elsewhere")
	wantOK(t, r)
	if r.stdout != "my own file" {
		t.Errorf("with files in the way: %q; want the user's file and nothing in elsewhere", r.stdout)
	}
	if _, err := os.Lstat(filepath.Join(elsewhere, "hw3")); err == nil {
		t.Error("a mount point was made through a link in the target's path")
	}
}

// TestMountReadWrite checks a writable mount, and that every mount is
// noexec and nosuid.
func TestMountReadWrite(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	dir := filepath.Join(l.base, "rw")
	must(t, os.Mkdir(dir, 0o755))
	l.chownAlice(t, dir)
	r := run(t, j, l, withMounts([]Mount{{Source: dir, Target: "work/rw"}}), "sh", "-c", "echo hi > ~/work/rw/f && grep ' /home/alice/work/rw ' /proc/self/mounts")
	wantOK(t, r)
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "hi\n" {
		t.Errorf("write through a read-write mount: %q, %v", b, err)
	}
	for _, opt := range []string{"rw", "nosuid", "nodev", "noexec"} {
		if !strings.Contains(r.stdout, opt) {
			t.Errorf("mount options %q lack %s", r.stdout, opt)
		}
	}
}

func TestMountValidation(t *testing.T) {
	j, l := newTestJail(t), newLayout(t)
	share, _, _ := classLayout(t, l)
	file := filepath.Join(share, "notes.txt")
	// A link may be swapped by whoever owns its folder (a teacher, for a
	// share) after the server checked where it leads: never followed.
	link := filepath.Join(l.base, "link")
	must(t, os.Symlink(share, link))
	for name, mounts := range map[string][]Mount{
		"target outside":   {{Source: share, Target: "../bob"}},
		"target absolute":  {{Source: share, Target: "/etc"}},
		"target home":      {{Source: share, Target: "."}},
		"target empty":     {{Source: share, Target: ""}},
		"target unclean":   {{Source: share, Target: "a//b"}},
		"target dot-dot":   {{Source: share, Target: "a/../../b"}},
		"target twice":     {{Source: share, Target: "a"}, {Target: "a"}},
		"source relative":  {{Source: "share", Target: "a"}},
		"source unclean":   {{Source: share + "/", Target: "a"}},
		"source missing":   {{Source: share + "-missing", Target: "a"}},
		"source a file":    {{Source: file, Target: "a"}},
		"source a link":    {{Source: link, Target: "a"}},
		"source via link":  {{Source: filepath.Join(link, "week1"), Target: "a"}},
		"source NUL":       {{Source: share + "\x00", Target: "a"}},
		"too many mounts":  make([]Mount, maxMounts+1),
		"target with NUL":  {{Source: share, Target: "a\x00"}},
		"target is parent": {{Source: share, Target: ".."}},
	} {
		if r := run(t, j, l, withMounts(mounts), "true"); r.err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
