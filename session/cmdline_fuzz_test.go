package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cubby-dev/cubby/wire"
)

// fuzzHome builds a home for glob fuzzing: files, hidden files, nested
// and many-entry directories, a name with glob characters, and symbolic
// links inside, outside and dangling. It returns the home's real path.
func fuzzHome(f *testing.F) string {
	f.Helper()
	home := f.TempDir()
	outside := f.TempDir()
	must := func(err error) {
		if err != nil {
			f.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o644))
	for _, d := range []string{"a", "a/b", "a/b/c", "sub", "sub/deeper", ".hidden", "many", "[x]"} {
		must(os.MkdirAll(filepath.Join(home, d), 0o755))
	}
	for _, p := range []string{"x.txt", "y.txt", "report 1.pdf", ".dot", "a/one", "a/b/two", "a/b/c/three", "sub/s.txt", "sub/deeper/d.txt", ".hidden/h", "[x]/in", "star*name", "q?mark"} {
		must(os.WriteFile(filepath.Join(home, p), nil, 0o644))
	}
	for i := range 300 {
		must(os.WriteFile(filepath.Join(home, "many", fmt.Sprintf("f%03d", i)), nil, 0o644))
	}
	links := map[string]string{
		"out":          outside,
		"out-rel":      "../" + filepath.Base(outside),
		"out-secret":   filepath.Join(outside, "secret"),
		"up":           "..",
		"root":         "/",
		"in":           "sub",
		"sub/back":     "..",
		"sub/abs-home": home,
		"dangling":     "no-such-file",
		"loop":         "loop",
	}
	for name, target := range links {
		must(os.Symlink(target, filepath.Join(home, name)))
	}
	real, err := filepath.EvalSymlinks(home)
	must(err)
	return real
}

// FuzzExpand runs command lines through splitLine and expand in a home
// full of traps. Whatever the line, expansion must not panic; every
// argument a glob produced must name an existing entry inside the home,
// spelled relative or under /home/<user>, and reached without leaving
// the home through ".." or a symbolic link; each glob's matches are
// sorted; argv is the words with each glob replaced by its matches; and
// the argument limits hold.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		`ls *`, `ls *.txt`, `ls .*`, `ls */*`, `ls */*/*/*`, `ls a/*/*`, `ls */`,
		`ls ../*`, `ls ../../*`, `ls */../*`, `ls */../../*`, `ls up/*`, `ls out/*`, `ls o*/*`, `ls o*/secret`,
		`ls out-rel/*`, `ls root/*`, `ls root/e*`, `ls in/*`, `ls sub/back/*`, `ls sub/abs-home/*`, `ls loop/*`, `ls d*/*`,
		`ls /*`, `ls /etc/*`, `ls /home/*`, `ls /home/alice/*`, `ls /home/alice/../*`, `ls /home/alicex/*`, `ls /home/alice*`,
		`ls ~/*`, `ls ~/../*`, `ls ~bob/*`, `ls "~/*"`, `ls '*'`, `ls \*`, `ls "*"x*`,
		`ls [x]/*`, `ls \[x\]/*`, `ls star*`, `ls q?mark`, `ls [`, `ls [!a]*`, `ls [^a]*`, `ls a[`, `ls *[`,
		`ls sub//*`, `ls ./*`, `ls ././*/`, `ls */.`, `ls */..`, `ls a/b/../../*`,
		`rm -r many/*`, `cat x.txt # *`, "ls *\n*", `echo 'unterminated`,
		strings.Repeat(`many/* `, 40), `ls ` + strings.Repeat(`*/`, 8) + `*`,
	} {
		for cwd := range uint8(3) {
			f.Add(s, cwd)
		}
	}
	const user = "alice"
	homeDir := fuzzHome(f)
	root, err := os.OpenRoot(homeDir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	jailHome := "/home/" + user
	cwds := []string{".", "sub", "a/b"}

	f.Fuzz(func(t *testing.T, line string, cwdSel uint8) {
		s := &session{conn: &conn{srv: &Server{}}, home: &home{user: user, root: root}, cwd: cwds[int(cwdSel)%len(cwds)]}
		words, err := splitLine(line)
		if err != nil {
			return
		}
		argv, err := s.expand(words)
		if err != nil {
			var ue *userError
			if !errors.As(err, &ue) || ue.kind != wire.KindInvalid || !(strings.Contains(ue.msg, "argument list too long") || strings.Contains(ue.msg, "too expensive to expand")) {
				t.Fatalf("expand(%q) failed with %v; only the argument and work limits may fail it", line, err)
			}
			return
		}
		if len(argv) > maxArgs {
			t.Fatalf("expand(%q) gave %d arguments; limit %d", line, len(argv), maxArgs)
		}
		total := 0
		for _, a := range argv {
			total += len(a) + 1
		}
		if total > maxArgsBytes {
			t.Fatalf("expand(%q) gave %d bytes of arguments; limit %d", line, total, maxArgsBytes)
		}

		// Rebuild argv word by word to see which arguments globs made.
		var want []string
		for i, w := range words {
			text := w.text
			if w.tilde {
				text = jailHome + strings.TrimPrefix(text, "~")
			}
			if !w.glob || i == 0 {
				want = append(want, text)
				continue
			}
			budget := globBudget
			matches, err := s.glob(text, maxArgs, &budget)
			if err != nil {
				t.Fatalf("glob(%q) failed alone but expand(%q) succeeded: %v", text, line, err)
			}
			if !slices.IsSorted(matches) {
				t.Errorf("glob(%q) = %q; not sorted", text, matches)
			}
			for _, m := range matches {
				checkInHome(t, s, homeDir, text, m)
			}
			if len(matches) == 0 {
				matches = []string{text}
			}
			want = append(want, matches...)
		}
		if !slices.Equal(argv, want) {
			t.Fatalf("expand(%q) = %q; want %q", line, argv, want)
		}
	})
}

// checkInHome fails unless the glob match m of pattern names an existing
// entry reached without leaving the home, resolved as the jail's kernel
// will: from the working directory, symbolic links followed, ".." after
// the names before it.
func checkInHome(t *testing.T, s *session, homeDir, pattern, m string) {
	t.Helper()
	jailHome := "/home/" + s.home.user
	abs := strings.HasPrefix(m, "/")
	if abs && m != jailHome && !strings.HasPrefix(m, jailHome+"/") {
		t.Fatalf("glob(%q) matched %q, an absolute path outside %s", pattern, m, jailHome)
	}
	if abs != strings.HasPrefix(pattern, "/") {
		t.Fatalf("glob(%q) matched %q, spelled differently from the pattern", pattern, m)
	}
	if _, err := resolve(s.home.user, s.cwd, m); err != nil {
		t.Fatalf("glob(%q) matched %q, which does not resolve inside the home: %v", pattern, m, err)
	}
	full := homeDir + "/" + s.cwd + "/" + m
	if abs {
		full = homeDir + strings.TrimPrefix(m, jailHome)
	}
	full = strings.TrimRight(full, "/") // a trailing slash asks for a directory
	// Every directory on the way is inside the home; the last name may
	// itself be a link to anywhere, unless it is "." or "..".
	i := strings.LastIndexByte(full, '/')
	dir, name := full[:i], full[i+1:]
	if name == "." || name == ".." {
		dir, name = full, ""
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatalf("glob(%q) matched %q, whose directory %s does not resolve: %v", pattern, m, dir, err)
	}
	if real != homeDir && !strings.HasPrefix(real, homeDir+string(filepath.Separator)) {
		t.Fatalf("glob(%q) matched %q, which lies in %s, outside the home %s", pattern, m, real, homeDir)
	}
	if name != "" {
		if _, err := os.Lstat(filepath.Join(real, name)); err != nil {
			t.Fatalf("glob(%q) matched %q, which does not exist: %v", pattern, m, err)
		}
	}
}
