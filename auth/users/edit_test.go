package users

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cubby-dev/cubby/auth"
)

// cheapKDF makes test verifiers fast to derive.
var cheapKDF = auth.KDFParams{Time: 1, MemoryKiB: 8, Threads: 1}

func newVerifier(t *testing.T, password string) auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier([]byte(password), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// writeFile writes a users file with mode 0644, so that tests see edits
// change it to 0600.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // ignore the umask
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func checkMode(t *testing.T, path string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after edit = %v, want 0600", fi.Mode().Perm())
	}
}

// labFile is an admin's file with comments everywhere and every spelling of
// a user table that the editor supports.
const labFile = `# Accounts for the lab.
# Keep this file private.

[defaults]
commands = ["ls", "cat"]  # the basics
quota = "1GiB"

# Alice runs the lab.
[users.alice]
password = "@v1"   # set 2024-01-01
quota = "10GiB"

# Bob is an intern.
[ users . bob ]
  password = "@v2"
disabled = false
# no quota override

[users."carol"]
commands = [
  "ls",   # listing
  "cat",
]
password = "@v3"
`

func TestEditGolden(t *testing.T) {
	nv := newVerifier(t, "new password")
	n := nv.String()
	tests := []struct {
		name   string
		before string
		edit   func(path string) error
		after  string
	}{
		{
			name:   "add to the end",
			before: labFile,
			edit:   func(path string) error { return AddUser(path, "dave", nv) },
			after:  labFile + "\n[users.dave]\npassword = \"" + n + "\"\n",
		},
		{
			name:   "add after a file without final newline",
			before: "[users.alice]\npassword = \"@v1\" # no newline",
			edit:   func(path string) error { return AddUser(path, "dave", nv) },
			after:  "[users.alice]\npassword = \"@v1\" # no newline\n\n[users.dave]\npassword = \"" + n + "\"\n",
		},
		{
			name:   "add after a blank line",
			before: "[users]\n\n",
			edit:   func(path string) error { return AddUser(path, "dave", nv) },
			after:  "[users]\n\n[users.dave]\npassword = \"" + n + "\"\n",
		},
		{
			name:   "add keeps CRLF",
			before: "# windows\r\n[users.alice]\r\npassword = \"@v1\"\r\n",
			edit:   func(path string) error { return AddUser(path, "dave", nv) },
			after:  "# windows\r\n[users.alice]\r\npassword = \"@v1\"\r\n\r\n[users.dave]\r\npassword = \"" + n + "\"\r\n",
		},
		{
			name:   "add to an empty file",
			before: "",
			edit:   func(path string) error { return AddUser(path, "dave", nv) },
			after:  newFileHeader + "\n[users.dave]\npassword = \"" + n + "\"\n",
		},
		{
			name:   "set password keeps the comment",
			before: labFile,
			edit:   func(path string) error { return SetPassword(path, "alice", nv) },
			after:  strings.Replace(labFile, `password = "@v1"   # set`, `password = "`+n+`"   # set`, 1),
		},
		{
			name:   "set password keeps the indentation",
			before: labFile,
			edit:   func(path string) error { return SetPassword(path, "bob", nv) },
			after:  strings.Replace(labFile, "  password = \"@v2\"\n", "  password = \""+n+"\"\n", 1),
		},
		{
			name:   "set password after a multi-line array",
			before: labFile,
			edit:   func(path string) error { return SetPassword(path, "carol", nv) },
			after:  strings.Replace(labFile, "password = \"@v3\"\n", "password = \""+n+"\"\n", 1),
		},
		{
			name:   "set a multi-line password",
			before: "[users.alice]\npassword = '''\n@v1''' # odd\ndemo = true\n",
			edit:   func(path string) error { return SetPassword(path, "alice", nv) },
			after:  "[users.alice]\npassword = \"" + n + "\" # odd\ndemo = true\n",
		},
		{
			name:   "set a missing password",
			before: "[users.alice]\npassword = \"@v1\"\n\n[users.erin] # new hire\n# waiting for a password\ndisabled = true\n",
			edit:   func(path string) error { return SetPassword(path, "erin", nv) },
			after:  "[users.alice]\npassword = \"@v1\"\n\n[users.erin] # new hire\npassword = \"" + n + "\"\n# waiting for a password\ndisabled = true\n",
		},
		{
			name:   "set a missing password at the end of the file",
			before: "[users.erin]",
			edit:   func(path string) error { return SetPassword(path, "erin", nv) },
			after:  "[users.erin]\npassword = \"" + n + "\"\n",
		},
		{
			name:   "set a missing password after a byte order mark",
			before: "\xef\xbb\xbf[users.erin]\ndemo = true\n",
			edit:   func(path string) error { return SetPassword(path, "erin", nv) },
			after:  "\xef\xbb\xbf[users.erin]\npassword = \"" + n + "\"\ndemo = true\n",
		},
		{
			name:   "set the password of an escaped name",
			before: "[users.\"\\u0061lice\"]\npassword = \"@v1\"\n",
			edit:   func(path string) error { return SetPassword(path, "alice", nv) },
			after:  "[users.\"\\u0061lice\"]\npassword = \"" + n + "\"\n",
		},
		{
			name:   "set password keeps CRLF",
			before: "[users.alice]\r\npassword = \"@v1\"\r\ndemo = true\r\n",
			edit:   func(path string) error { return SetPassword(path, "alice", nv) },
			after:  "[users.alice]\r\npassword = \"" + n + "\"\r\ndemo = true\r\n",
		},
		{
			name:   "set password clears must_change_password below it",
			before: "[users.alice]\npassword = \"@v1\" # one-time\nemail = \"a@b\"\nmust_change_password = true # until first login\nquota = \"1GiB\"\n",
			edit:   func(path string) error { return SetPassword(path, "alice", nv) },
			after:  "[users.alice]\npassword = \"" + n + "\" # one-time\nemail = \"a@b\"\nquota = \"1GiB\"\n",
		},
		{
			name:   "set password clears must_change_password above it",
			before: "[users.alice]\r\nmust_change_password = true\r\npassword = '''\r\n@v1'''\r\n\r\n[users.bob]\r\npassword = \"@v2\"\r\nmust_change_password = true\r\n",
			edit:   func(path string) error { return SetPassword(path, "alice", nv) },
			after:  "[users.alice]\r\npassword = \"" + n + "\"\r\n\r\n[users.bob]\r\npassword = \"@v2\"\r\nmust_change_password = true\r\n",
		},
		{
			name:   "set a missing password and clear must_change_password",
			before: "[users.erin]\nmust_change_password = false\ndemo = true",
			edit:   func(path string) error { return SetPassword(path, "erin", nv) },
			after:  "[users.erin]\npassword = \"" + n + "\"\ndemo = true",
		},
		{
			name:   "add users in one edit",
			before: labFile,
			edit: func(path string) error {
				skipped, err := AddUsers(path, []NewUser{
					{Name: "s01", Verifier: nv, Email: "s01@example.edu", Quota: " 500MiB ", MustChangePassword: true},
					{Name: "bob", Verifier: nv, MustChangePassword: true},
					{Name: "s02", Verifier: nv},
				}, nil)
				if err == nil && !slices.Equal(skipped, []string{"bob"}) {
					err = fmt.Errorf("skipped %q; want bob", skipped)
				}
				return err
			},
			after: labFile + "\n[users.s01]\npassword = \"" + n + "\"\nemail = \"s01@example.edu\"\nquota = \"500MiB\"\nmust_change_password = true\n" +
				"\n[users.s02]\npassword = \"" + n + "\"\n",
		},
		{
			name:   "add users to a new file, CRLF kept",
			before: "# windows\r\n",
			edit: func(path string) error {
				_, err := AddUsers(path, []NewUser{{Name: "s01", Verifier: nv, MustChangePassword: true}, {Name: "s02", Verifier: nv, Email: "x@y"}}, nil)
				return err
			},
			after: "# windows\r\n\r\n[users.s01]\r\npassword = \"" + n + "\"\r\nmust_change_password = true\r\n\r\n[users.s02]\r\npassword = \"" + n + "\"\r\nemail = \"x@y\"\r\n",
		},
		{
			name:   "delete from the middle",
			before: labFile,
			edit:   func(path string) error { return DeleteUser(path, "alice") },
			after: `# Accounts for the lab.
# Keep this file private.

[defaults]
commands = ["ls", "cat"]  # the basics
quota = "1GiB"

# Alice runs the lab.

# Bob is an intern.
[ users . bob ]
  password = "@v2"
disabled = false
# no quota override

[users."carol"]
commands = [
  "ls",   # listing
  "cat",
]
password = "@v3"
`,
		},
		{
			name:   "delete keeps comments after the table",
			before: labFile,
			edit:   func(path string) error { return DeleteUser(path, "bob") },
			after: `# Accounts for the lab.
# Keep this file private.

[defaults]
commands = ["ls", "cat"]  # the basics
quota = "1GiB"

# Alice runs the lab.
[users.alice]
password = "@v1"   # set 2024-01-01
quota = "10GiB"

# Bob is an intern.
# no quota override

[users."carol"]
commands = [
  "ls",   # listing
  "cat",
]
password = "@v3"
`,
		},
		{
			name:   "delete the last table",
			before: labFile,
			edit:   func(path string) error { return DeleteUser(path, "carol") },
			after: `# Accounts for the lab.
# Keep this file private.

[defaults]
commands = ["ls", "cat"]  # the basics
quota = "1GiB"

# Alice runs the lab.
[users.alice]
password = "@v1"   # set 2024-01-01
quota = "10GiB"

# Bob is an intern.
[ users . bob ]
  password = "@v2"
disabled = false
# no quota override
`,
		},
		{
			name:   "delete the first table",
			before: "[users.alice]\npassword = \"@v1\"\n\n[users.bob]\npassword = \"@v2\"\n",
			edit:   func(path string) error { return DeleteUser(path, "alice") },
			after:  "[users.bob]\npassword = \"@v2\"\n",
		},
		{
			name:   "delete the only user",
			before: "# header\n\n[users.alice]\npassword = \"@v1\"\n\n\n",
			edit:   func(path string) error { return DeleteUser(path, "alice") },
			after:  "# header\n\n\n",
		},
		{
			name:   "delete a user without a password",
			before: "[users.alice]\npassword = \"@v1\"\n[users.erin]\ndisabled = true\n[users.bob]\npassword = \"@v2\"\n",
			edit:   func(path string) error { return DeleteUser(path, "erin") },
			after:  "[users.alice]\npassword = \"@v1\"\n[users.bob]\npassword = \"@v2\"\n",
		},
		{
			name:   "delete a user with a bad quota",
			before: "[users.alice]\npassword = \"@v1\"\n\n[users.erin]\npassword = \"@v2\"\nquota = \"lots\"\n\n[users.bob]\npassword = \"@v2\"\n",
			edit:   func(path string) error { return DeleteUser(path, "erin") },
			after:  "[users.alice]\npassword = \"@v1\"\n\n[users.bob]\npassword = \"@v2\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, expand(tt.before))
			if err := tt.edit(path); err != nil {
				t.Fatal(err)
			}
			if got, want := readFile(t, path), expand(tt.after); got != want {
				t.Errorf("file after edit:\n%s\nwant:\n%s", got, want)
			}
			checkMode(t, path)
			if _, err := Load(path); err != nil {
				t.Errorf("edited file does not load: %v", err)
			}
		})
	}
}

func TestAddUserCreatesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	v := newVerifier(t, "pw")
	if err := AddUser(path, "alice", v); err != nil {
		t.Fatal(err)
	}
	want := newFileHeader + "\n[users.alice]\npassword = \"" + v.String() + "\"\n"
	if got := readFile(t, path); got != want {
		t.Errorf("new file:\n%s\nwant:\n%s", got, want)
	}
	checkMode(t, path)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := c.Lookup("alice"); !ok || !passwordMatches(u.Verifier, "pw") {
		t.Errorf("Lookup(alice) = %+v, %v; want the new user with password pw", u, ok)
	}
}

func TestEditThroughSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "real.toml")
	link := filepath.Join(dir, "users.toml")
	if err := os.WriteFile(real, []byte(expand("[users.alice]\npassword = \"@v1\"\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.toml", link); err != nil {
		t.Fatal(err)
	}
	if err := AddUser(link, "bob", newVerifier(t, "pw")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("users.toml is no longer a symlink: %v, %v", fi, err)
	}
	if c, err := Load(real); err != nil || len(c.Users) != 2 {
		t.Fatalf("real file after edit: %v, %v", c, err)
	}
}

// TestEditRefuses checks edits that must fail and leave the file alone.
func TestEditRefuses(t *testing.T) {
	v := newVerifier(t, "pw")
	const good = "# keep me\n[users.alice]\npassword = \"@v1\"\n"
	tests := []struct {
		name    string
		before  string // "" for no file
		edit    func(path string) error
		wantIs  error  // if not nil, errors.Is must hold
		wantErr string // the error must contain this, with PATH replaced
	}{
		{"add existing", good, func(p string) error { return AddUser(p, "alice", v) }, ErrUserExists,
			`users: user already exists: "alice" (`},
		{"add existing, other spelling", "[users.\"alice\"]\npassword = \"@v1\"\n", func(p string) error { return AddUser(p, "alice", v) }, ErrUserExists,
			`users: user already exists: "alice"`},
		{"add bad name", good, func(p string) error { return AddUser(p, "Bob", v) }, nil,
			`users: user name "Bob": must start with`},
		{"add name with dot", good, func(p string) error { return AddUser(p, "a.b", v) }, nil,
			`users: user name "a.b": must start with`},
		{"set missing user", good, func(p string) error { return SetPassword(p, "bob", v) }, ErrNoUser,
			`users: no such user: "bob" in `},
		{"delete missing user", good, func(p string) error { return DeleteUser(p, "bob") }, ErrNoUser,
			`users: no such user: "bob" in `},
		{"set bad name", good, func(p string) error { return SetPassword(p, "Alice", v) }, nil,
			`users: user name "Alice"`},
		{"delete bad name", good, func(p string) error { return DeleteUser(p, "") }, nil,
			`users: user name ""`},
		{"set in missing file", "", func(p string) error { return SetPassword(p, "alice", v) }, fs.ErrNotExist,
			"users: reading users file: "},
		{"delete in missing file", "", func(p string) error { return DeleteUser(p, "alice") }, fs.ErrNotExist,
			"users: reading users file: "},
		{"syntax error", "[users.alice\n", func(p string) error { return AddUser(p, "bob", v) }, nil,
			"users: PATH:1: syntax error: "},
		{"inline users table", "users = { alice = { password = \"@v1\" } }\n", func(p string) error { return AddUser(p, "bob", v) }, nil,
			"users: PATH:1: cannot edit safely: users must be written as [users.NAME] tables of plain keys (found users = ...); edit the file by hand"},
		{"inline user table", "[users]\nalice = { password = \"@v1\" }\n", func(p string) error { return SetPassword(p, "alice", v) }, nil,
			"users: PATH:2: cannot edit safely: users must be written as [users.NAME] tables of plain keys (found users.alice = ...)"},
		{"dotted keys", "# x\nusers.alice.password = \"@v1\"\n", func(p string) error { return DeleteUser(p, "alice") }, nil,
			"users: PATH:2: cannot edit safely: users must be written as [users.NAME] tables of plain keys (found users.alice.password = ...)"},
		{"dotted keys in users table", "[users]\nalice.password = \"@v1\"\n", func(p string) error { return AddUser(p, "bob", v) }, nil,
			"users: PATH:2: cannot edit safely"},
		{"dotted keys in user table", "[users.alice]\npassword = \"@v1\"\nquota.x = 1\n", func(p string) error { return SetPassword(p, "alice", v) }, nil,
			"users: PATH:3: cannot edit safely"},
		{"sub-table", "[users.alice]\npassword = \"@v1\"\n[users.alice.x]\n", func(p string) error { return DeleteUser(p, "alice") }, nil,
			"users: PATH:3: cannot edit safely"},
		{"array of tables", "[[users]]\nname = \"alice\"\n", func(p string) error { return AddUser(p, "bob", v) }, nil,
			"users: PATH:1: cannot edit safely: users must be written as [users.NAME] tables of plain keys (found [[users]])"},
		{"result would not load", "[users.alice]\npassword = \"@v1\"\nquota = \"lots\"\n", func(p string) error { return AddUser(p, "bob", v) }, nil,
			`users: not changing PATH: the edited file would not load: PATH:3: users.alice.quota: bad size "lots"`},
		{"other user lacks a password", "[users.alice]\n[users.bob]\npassword = \"@v2\"\n", func(p string) error { return SetPassword(p, "bob", v) }, nil,
			`the edited file would not load: PATH:1: users.alice: missing password`},
		{"bad password key spelling", "[users.alice]\nPassword = \"@v1\"\n", func(p string) error { return SetPassword(p, "alice", v) }, nil,
			`the edited file would not load: PATH:3: unknown key "Password" in [users.alice]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "users.toml")
			if tt.before != "" {
				path = writeFile(t, expand(tt.before))
			}
			err := tt.edit(path)
			if err == nil {
				t.Fatalf("edit succeeded; file is now:\n%s", readFile(t, path))
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not match %v", err, tt.wantIs)
			}
			if want := strings.ReplaceAll(tt.wantErr, "PATH", path); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
			if tt.before == "" {
				if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("a failed edit created the file: %v", err)
				}
				return
			}
			if got := readFile(t, path); got != expand(tt.before) {
				t.Errorf("a failed edit changed the file to:\n%s", got)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			for _, e := range entries {
				if e.Name() != "users.toml" && e.Name() != "users.toml.lock" {
					t.Errorf("a failed edit left %s behind", e.Name())
				}
			}
		})
	}
}

func TestConcurrentAddUser(t *testing.T) {
	if !lockingWorks {
		t.Skip("no file locking on " + runtime.GOOS)
	}
	const n = 20
	path := writeFile(t, "# concurrent\n[users]\n")
	v := newVerifier(t, "pw")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- AddUser(path, fmt.Sprintf("user%02d", i), v)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, ok := c.Lookup(fmt.Sprintf("user%02d", i)); !ok {
			t.Errorf("user%02d is missing", i)
		}
	}
	if len(c.Users) != n {
		t.Errorf("got %d users, want %d", len(c.Users), n)
	}
	if !strings.HasPrefix(readFile(t, path), "# concurrent\n[users]\n") {
		t.Error("the header comment was lost")
	}
}

// TestEditSequence runs a series of edits on the example file and checks
// that each leaves the rest of the file alone.
func TestEditSequence(t *testing.T) {
	orig, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, string(orig))
	v := newVerifier(t, "carol's password")
	steps := []func() error{
		func() error { return AddUser(path, "carol", v) },
		func() error { return SetPassword(path, "carol", newVerifier(t, "again")) },
		func() error { return DeleteUser(path, "carol") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if got := readFile(t, path); got != string(orig) {
		t.Errorf("add, set password and delete did not restore the file:\n%s", got)
	}
}
