package users

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cubby-dev/cubby/auth"
)

// Verifiers made with cheap KDF parameters (t=1, m=8 KiB, p=1) for the
// passwords "pw-one", "pw-two" and "pw-three". Test inputs name them @v1,
// @v2 and @v3; see expand.
const (
	testV1 = "scram-argon2id$v=19$m=8,t=1,p=1$BpeEAkiblAN1F4x3hIIayA$GNNrofu1VOfeQp6B877EPBt7C6eI/fNQ8MPMONSHDCk$DOL+VlfysPxiuH0t+zATPazW1VfKC/0RnQghqWC1RaY"
	testV2 = "scram-argon2id$v=19$m=8,t=1,p=1$MDuMB6LbakzlDFFzmfj+Ww$ZLrBxw6hr7Xhp/l0abEoQT4Bm95ucQKDivWBmLHyv6A$0aM95KPGZes/wLcKMN6xB2h/R/FzSAHChv6fIbHhRHc"
	testV3 = "scram-argon2id$v=19$m=8,t=1,p=1$NN50sp1ckr89ssdW/7F/Ow$dzZ4C4d630pWeraJoTvGMuqblK6tQCfihMfS+BWMIqE$dG9RepsqB7R/lCPqgf80tgyidTLhvKjwyVH2XlM5P/E"
)

// expand replaces the placeholders @v1, @v2 and @v3 with test verifiers.
func expand(s string) string {
	return strings.NewReplacer("@v1", testV1, "@v2", testV2, "@v3", testV3).Replace(s)
}

// badFiles are users files with one problem each and the exact error.
var badFiles = []struct {
	name, in, want string
}{
	// Unknown keys.
	{"misspelt key", "[users.alice]\npassword = \"@v1\"\npasword = \"x\"\n",
		`users.toml:3: unknown key "pasword" in [users.alice]`},
	{"key in wrong case", "[users.alice]\nPassword = \"@v1\"\n",
		`users.toml:2: unknown key "Password" in [users.alice]`},
	{"unknown default", "[defaults]\n\nqouta = \"1GiB\"\n",
		`users.toml:3: unknown key "qouta" in [defaults]`},
	{"user key in defaults", "[defaults]\npassword = \"@v1\"\n",
		`users.toml:2: unknown key "password" in [defaults]`},
	{"unknown top-level key", "# comment\ntitle = \"x\"\n",
		`users.toml:2: unknown key "title" (want [defaults], [users.NAME], [shares.NAME] or [dropboxes.NAME] tables)`},
	{"unknown table", "[user.alice]\npassword = \"@v1\"\n",
		`users.toml:1: unknown key "user" (want [defaults], [users.NAME], [shares.NAME] or [dropboxes.NAME] tables)`},
	{"sub-table of a user", "[users.alice]\npassword = \"@v1\"\n[users.alice.extra]\n",
		`users.toml:3: unknown key "extra" in [users.alice]`},
	{"unknown key in inline table", "users = { alice = {\n  password = \"@v1\",\n  pasword = 1 } }\n",
		`users.toml:3: unknown key "pasword" in [users.alice]`},
	{"unknown key after multi-line values", "[defaults]\ncommands = [\n  \"ls\",  # a ] in a comment\n  '''\n]''',\n]\nquota = \"\"\"\n1GiB\"\"\"\nbogus = 1\n",
		`users.toml:9: unknown key "bogus" in [defaults]`},

	// Syntax errors, including duplicates, come from the toml package.
	{"unclosed table header", "[users.alice\npassword = \"@v1\"\n",
		`users.toml:1: syntax error: expected '.' or ']' to end table name, but got '\n' instead`},
	{"unclosed header after blank lines", "[users]\n\n[users.bob\n",
		`users.toml:3: syntax error: expected '.' or ']' to end table name, but got '\n' instead`},
	{"unclosed header with byte order mark", "\xef\xbb\xbf[users]\n\n[users.bob\n",
		`users.toml:3: syntax error: expected '.' or ']' to end table name, but got '\n' instead`},
	{"unclosed header with CRLF", "[users]\r\n[users.bob\r\n",
		`users.toml:2: syntax error: expected '.' or ']' to end table name, but got '\r' instead`},
	{"missing value", "[users.alice]\npassword =\n",
		`users.toml:2: syntax error: expected value but found '\n' instead`},
	{"unterminated array", "[defaults]\ncommands = [\"ls\",\n\"cat\"\n",
		`users.toml:3: syntax error: expected a comma (',') or array terminator (']'), but got end of file`},
	{"NUL byte", "\n\x00",
		`users.toml:2: syntax error: files cannot contain NULL bytes; probably using UTF-16; TOML files must be UTF-8`},
	{"unterminated string", "[users.alice]\npassword = \"@v1\n",
		`users.toml:2: syntax error: strings cannot contain newlines`},
	{"duplicate table", "[users.alice]\npassword = \"@v1\"\n\n[users.alice]\npassword = \"@v2\"\n",
		`users.toml:4: syntax error: Key 'users.alice' has already been defined.`},
	{"duplicate table, other spelling", "[users.alice]\npassword = \"@v1\"\n[ users . \"alice\" ]\n",
		`users.toml:3: syntax error: Key 'users.alice' has already been defined.`},
	{"duplicate key", "[users.alice]\npassword = \"@v1\"\ndemo = true\npassword = \"@v2\"\n",
		`users.toml:4: syntax error: Key 'users.alice.password' has already been defined.`},
	{"control character", "[users.alice]\npassword = \"@v1\"\ndemo = true\x01\n",
		`users.toml:3: syntax error: TOML files cannot contain control characters: '0x01'`},

	// Wrong TOML types.
	{"float quota", "[users.alice]\npassword = \"@v1\"\nquota = 5.5\n",
		`users.toml:3: users.alice.quota: must be a size such as "1GiB" or an integer number of bytes, not a float`},
	{"boolean quota in defaults", "[defaults]\nquota = true\n",
		`users.toml:2: defaults.quota: must be a size such as "1GiB" or an integer number of bytes, not a boolean`},
	{"table quota", "[users.alice]\npassword = \"@v1\"\n[users.alice.quota]\n",
		`users.toml:3: users.alice.quota: must be a size such as "1GiB" or an integer number of bytes, not a table`},
	{"dotted quota", "[users.alice]\npassword = \"@v1\"\nquota.x = 1\n",
		`users.toml:3: users.alice.quota: must be a size such as "1GiB" or an integer number of bytes, not a table`},
	{"string disabled", "[users.alice]\npassword = \"@v1\"\ndisabled = \"yes\"\n",
		`users.toml:3: users.alice.disabled: must be true or false, not a string`},
	{"integer password", "[users.alice]\npassword = 5\n",
		`users.toml:2: users.alice.password: must be a string, not an integer`},
	{"string commands", "[users.alice]\npassword = \"@v1\"\ncommands = \"ls\"\n",
		`users.toml:3: users.alice.commands: must be an array of program names such as ["ls", "cat"], not a string`},
	{"date-time demo", "[users.alice]\npassword = \"@v1\"\ndemo = 1979-05-27 07:32:00\n",
		`users.toml:3: users.alice.demo: must be true or false, not a date-time`},
	{"users not a table", "users = 5\n",
		`users.toml:1: users: must be a table, not an integer`},
	{"array of users tables", "[[users]]\nname = \"alice\"\n",
		`users.toml:1: users: must be a table, not an array of tables`},
	{"user not a table", "users.alice = \"@v1\"\n",
		`users.toml:1: users.alice: must be a table, not a string`},
	{"array of user tables", "[[users.alice]]\npassword = \"@v1\"\n",
		`users.toml:1: users.alice: must be a table, not an array of tables`},
	{"defaults not a table", "defaults = []\n",
		`users.toml:1: defaults: must be a table, not an array`},
	{"integer email", "[users.alice]\npassword = \"@v1\"\nemail = 5\n",
		`users.toml:3: users.alice.email: must be a string, not an integer`},
	{"string must_change_password", "[users.alice]\npassword = \"@v1\"\nmust_change_password = \"yes\"\n",
		`users.toml:3: users.alice.must_change_password: must be true or false, not a string`},
	{"email in defaults", "[defaults]\nemail = \"a@b\"\n",
		`users.toml:2: unknown key "email" in [defaults]`},
	{"must_change_password in defaults", "[defaults]\nmust_change_password = true\n",
		`users.toml:2: unknown key "must_change_password" in [defaults]`},

	// Bad values.
	{"bad quota unit", "[users.alice]\npassword = \"@v1\"\nquota = \"5 parsecs\"\n",
		`users.toml:3: users.alice.quota: bad size "5 parsecs": unknown unit "parsecs" (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
	{"fractional quota", "[defaults]\nquota = \"1.5GiB\"\n",
		`users.toml:2: defaults.quota: bad size "1.5GiB": fractions are not supported; use a smaller unit, such as 1536MiB for 1.5GiB`},
	{"empty quota", "[defaults]\nquota = \"\"\n",
		`users.toml:2: defaults.quota: size is empty`},
	{"negative quota", "[users.alice]\npassword = \"@v1\"\nquota = -1\n",
		`users.toml:3: users.alice.quota: must not be negative (use 0 for unlimited)`},
	{"huge quota", "[users.alice]\npassword = \"@v1\"\nquota = \"9000000TiB\"\n",
		`users.toml:3: users.alice.quota: bad size "9000000TiB": too large`},
	{"email without @", "[users.alice]\npassword = \"@v1\"\nemail = \"alice.example.edu\"\n",
		`users.toml:3: users.alice.email: "alice.example.edu" has no "@"`},
	{"empty email", "[users.alice]\npassword = \"@v1\"\nemail = \"\"\n",
		`users.toml:3: users.alice.email: "" is empty`},
	{"email with a line break", "[users.alice]\npassword = \"@v1\"\nemail = \"a@b\\nc\"\n",
		`users.toml:3: users.alice.email: "a@b\nc" contains a line break or another control character`},
	{"email with a space", "[users.alice]\npassword = \"@v1\"\nemail = \"Alice <a@b>\"\n",
		`users.toml:3: users.alice.email: "Alice <a@b>" contains a space`},
	{"long email", "[users.alice]\npassword = \"@v1\"\nemail = \"a@" + strings.Repeat("b", 253) + "\"\n",
		`users.toml:3: users.alice.email: "a@` + strings.Repeat("b", 253) + `" is longer than 254 bytes`},
	{"negative trash_days", "[users.alice]\npassword = \"@v1\"\ntrash_days = -1\n",
		`users.toml:3: users.alice.trash_days: must be between 0 (no trash) and 3650 days, not -1`},
	{"huge trash_days", "[defaults]\ntrash_days = 3651\n",
		`users.toml:2: defaults.trash_days: must be between 0 (no trash) and 3650 days, not 3651`},
	{"trash_days as a string", "[defaults]\ntrash_days = \"7d\"\n",
		`users.toml:2: defaults.trash_days: must be an integer, not a string`},
	{"empty command", "[users.alice]\npassword = \"@v1\"\ncommands = [\"ls\", \"\"]\n",
		`users.toml:3: users.alice.commands: entry 2 "" is empty`},
	{"command with slash", "[defaults]\ncommands = [\"ls\", \"/bin/sh\"]\n",
		`users.toml:2: defaults.commands: entry 2 "/bin/sh" must be a program name, not a path (contains "/")`},
	{"command with NUL", "[defaults]\ncommands = [\"ls\\u0000x\"]\n",
		`users.toml:2: defaults.commands: entry 1 "ls\x00x" contains a NUL byte`},
	{"command dot-dot", "[defaults]\ncommands = [\"..\"]\n",
		`users.toml:2: defaults.commands: entry 1 ".." is not a program name`},
	{"command not a string", "[defaults]\ncommands = [\n  \"ls\",\n  1,\n]\n",
		`users.toml:2: defaults.commands: entry 2 must be a string, not an integer`},
	{"star inside a name", "[defaults]\ncommands = [\"l*\"]\nquota = 1.0\n",
		`users.toml:3: defaults.quota: must be a size such as "1GiB" or an integer number of bytes, not a float`},
	{"bad verifier", "[users.alice]\npassword = \"@v1\"\n\n[users.bob]\npassword = \"scram-argon2id$v=19\"\n",
		`users.toml:5: users.bob: bad password verifier: auth: verifier has 2 $-separated fields, want 6`},
	{"plain password", "[users.bob]\ndemo = true\npassword = \"hunter2\"\n",
		`users.toml:3: users.bob: bad password verifier: auth: verifier has 1 $-separated fields, want 6`},
	{"multi-line verifier", "[users.bob]\npassword = '''\nscram-argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB$CCCC'''\n",
		`users.toml:2: users.bob: bad password verifier: auth: verifier salt is 3 bytes, want 8 to 64`},
	{"missing password", "[users.alice]\npassword = \"@v1\"\n\n[users.bob]\ndisabled = true\n",
		`users.toml:4: users.bob: missing password`},
	{"empty user table", "[users]\n[users.carol]\n",
		`users.toml:2: users.carol: missing password`},

	// User names.
	{"capital letter", "[users.Bob]\npassword = \"@v1\"\n",
		`users.toml:1: user name "Bob": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},
	{"leading digit", "[users]\n\"9lives\" = { password = \"@v1\" }\n",
		`users.toml:2: user name "9lives": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},
	{"space", "[users.\"al ice\"]\npassword = \"@v1\"\n",
		`users.toml:1: user name "al ice": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},
	{"too long", "[users." + strings.Repeat("a", 33) + "]\npassword = \"@v1\"\n",
		`users.toml:1: user name "` + strings.Repeat("a", 33) + `": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},
	{"empty name", "[users.\"\"]\npassword = \"@v1\"\n",
		`users.toml:1: user name "": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},
	{"newline in name", "[users.\"a\\nb\"]\n",
		`users.toml:1: user name "a\nb": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},

	// The first problem in file order wins, whatever map order says.
	{"first of two value errors", "[users.zed]\npassword = \"@v1\"\nquota = \"x\"\n[users.amy]\npassword = \"@v2\"\nquota = \"y\"\n",
		`users.toml:3: users.zed.quota: bad size "x": want a whole number of bytes, optionally followed by a unit such as GiB`},
	{"type error before value error", "[users.amy]\npassword = \"bad\"\n[users.zed]\npassword = \"@v2\"\ndemo = 1\n",
		`users.toml:5: users.zed.demo: must be true or false, not an integer`},
	{"value error before missing password", "[users.amy]\n[users.zed]\npassword = \"bad\"\n",
		`users.toml:3: users.zed: bad password verifier: auth: verifier has 1 $-separated fields, want 6`},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range slices.Concat(badFiles, badLimits, badFolders) {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("users.toml", []byte(expand(tt.in)))
			if err == nil {
				t.Fatalf("Parse succeeded with %d users; want error %q", len(c.Users), tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse error:\n got %s\nwant %s", got, tt.want)
			}
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("error is %T, want *ParseError", err)
			}
			if perr.Path != "users.toml" || strings.ContainsAny(perr.Msg, "\r\n") {
				t.Errorf("ParseError = %+v: want path users.toml and a one-line message", perr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q echoes the password", err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want an error matching fs.ErrNotExist", err)
	}
	if want := "users: reading users file: open " + path + ": no such file or directory"; runtime.GOOS != "windows" && err.Error() != want {
		t.Errorf("Load(missing) error = %q, want %q", err, want)
	}
}

func TestParse(t *testing.T) {
	const in = `# defaults apply to everyone
[defaults]
commands = ["ls", "cat"]
quota = "1GiB"

[users.alice]           # own commands
password = "@v1"
commands = ["*"]

[ users . bob ]         # unlimited, and disabled
password = '@v2'
quota = 0
disabled = true

[users."carol"]         # no programs at all
password = """@v3"""
commands = []
quota = 1048576

[users.dave]
password = "@v1"
demo = true
email = "dave@example.edu"
must_change_password = true
`
	c, err := Parse("users.toml", []byte(expand(in)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "users.toml" {
		t.Errorf("Path = %q", c.Path)
	}
	wantDefaults := Settings{Commands: []string{"ls", "cat"}, Quota: 1 << 30}
	if !slices.Equal(c.Defaults.Commands, wantDefaults.Commands) || c.Defaults.Quota != wantDefaults.Quota {
		t.Errorf("Defaults = %+v, want %+v", c.Defaults, wantDefaults)
	}
	tests := []struct {
		name     string
		verifier string
		commands []string
		quota    int64
		disabled bool
		demo     bool
		line     int
	}{
		{"alice", testV1, []string{"*"}, 1 << 30, false, false, 6},
		{"bob", testV2, []string{"ls", "cat"}, 0, true, false, 10},
		{"carol", testV3, []string{}, 1 << 20, false, false, 15},
		{"dave", testV1, []string{"ls", "cat"}, 1 << 30, false, true, 20},
	}
	if len(c.Users) != len(tests) {
		t.Errorf("got %d users, want %d", len(c.Users), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := c.Users[tt.name]
			if !ok {
				t.Fatalf("no user %q", tt.name)
			}
			if u.Name != tt.name || u.Verifier.String() != tt.verifier || u.Disabled != tt.disabled || u.Demo != tt.demo || u.Quota != tt.quota || u.Line != tt.line {
				t.Errorf("user = %+v, want %+v", u, tt)
			}
			if !slices.Equal(u.Commands, tt.commands) || (u.Commands == nil) != (tt.commands == nil) {
				t.Errorf("Commands = %#v, want %#v", u.Commands, tt.commands)
			}
		})
	}
	if d := c.Users["dave"]; d.Email != "dave@example.edu" || !d.MustChangePassword {
		t.Errorf("dave: Email %q, MustChangePassword %v; want dave@example.edu, true", d.Email, d.MustChangePassword)
	}
	if a := c.Users["alice"]; a.Email != "" || a.MustChangePassword {
		t.Errorf("alice: Email %q, MustChangePassword %v; want none, false", a.Email, a.MustChangePassword)
	}
	// A user's list must not share memory with the defaults.
	c.Users["bob"].Commands[0] = "rm"
	if c.Defaults.Commands[0] != "ls" || c.Users["dave"].Commands[0] != "ls" {
		t.Error("users share their commands slice with the defaults")
	}
}

func TestTrashDays(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     map[string]int
	}{
		{"built-in default", "[users.alice]\npassword = \"@v1\"\n", map[string]int{"alice": DefaultTrashDays}},
		{"defaults and own", "[defaults]\ntrash_days = 30\n[users.alice]\npassword = \"@v1\"\n[users.bob]\npassword = \"@v2\"\ntrash_days = 0\n",
			map[string]int{"alice": 30, "bob": 0}},
		{"no trash by default, one keeps it", "[defaults]\ntrash_days = 0\n[users.alice]\npassword = \"@v1\"\ntrash_days = 3650\n[users.bob]\npassword = \"@v2\"\n",
			map[string]int{"alice": 3650, "bob": 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("users.toml", []byte(expand(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				if got := c.Users[name].TrashDays; got != want {
					t.Errorf("%s: TrashDays = %d, want %d", name, got, want)
				}
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "# nobody yet\n", "[users]\n", "[defaults]\n[users]\n", "\xef\xbb\xbf[users]\r\n"} {
		c, err := Parse("users.toml", []byte(in))
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if len(c.Users) != 0 || c.HasDemo() || c.Defaults.Commands != nil || c.Defaults.Quota != 0 {
			t.Errorf("Parse(%q) = %+v, want no users and zero defaults", in, c)
		}
	}
}

func TestLookupAndHasDemo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		lookup  map[string]bool
		hasDemo bool
	}{
		{"plain", "[users.alice]\npassword = \"@v1\"\n",
			map[string]bool{"alice": true, "bob": false, "": false}, false},
		{"disabled", "[users.alice]\npassword = \"@v1\"\ndisabled = true\n",
			map[string]bool{"alice": false}, false},
		{"demo", "[users.alice]\npassword = \"@v1\"\n[users.bob]\npassword = \"@v2\"\ndemo = true\n",
			map[string]bool{"alice": true, "bob": true}, true},
		{"disabled demo", "[users.bob]\npassword = \"@v2\"\ndemo = true\ndisabled = true\n",
			map[string]bool{"bob": false}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("users.toml", []byte(expand(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.lookup {
				u, ok := c.Lookup(name)
				if ok != want || ok && u.Name != name {
					t.Errorf("Lookup(%q) = %v, %v; want ok=%v", name, u, ok, want)
				}
			}
			if got := c.HasDemo(); got != tt.hasDemo {
				t.Errorf("HasDemo() = %v, want %v", got, tt.hasDemo)
			}
		})
	}
}

func TestCanRun(t *testing.T) {
	tests := []struct {
		commands []string
		program  string
		want     bool
	}{
		{[]string{"ls", "cat"}, "ls", true},
		{[]string{"ls", "cat"}, "rm", false},
		{[]string{"ls", "cat"}, "LS", false},
		{[]string{"*"}, "rm", true},
		{[]string{"ls", "*"}, "anything-else", true},
		{[]string{"*"}, "*", false},
		{[]string{"*"}, "", false},
		{[]string{"*"}, "/bin/sh", false},
		{[]string{"*"}, "../sh", false},
		{[]string{"*"}, "sh\x00", false},
		{[]string{}, "ls", false},
		{nil, "ls", false},
		{[]string{"l*"}, "ls", false},
	}
	for _, tt := range tests {
		u := &User{Name: "u", Commands: tt.commands}
		if got := u.CanRun(tt.program); got != tt.want {
			t.Errorf("User{Commands: %q}.CanRun(%q) = %v, want %v", tt.commands, tt.program, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"0", 0, ""},
		{"1", 1, ""},
		{"4096", 4096, ""},
		{"1B", 1, ""},
		{"1KB", 1000, ""},
		{"1MB", 1000000, ""},
		{"2GB", 2000000000, ""},
		{"1TB", 1000000000000, ""},
		{"1KiB", 1024, ""},
		{"1MiB", 1 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"3TiB", 3 << 40, ""},
		{"1536MiB", 1536 << 20, ""},
		{"500 MB", 500000000, ""},
		{" 2GiB ", 2 << 30, ""},
		{"0GiB", 0, ""},
		{"007", 7, ""},
		{"8388607TiB", 8388607 << 40, ""},
		{"9223372036854775807", 9223372036854775807, ""},
		{"8388608TiB", 0, `users: bad size "8388608TiB": too large`},
		{"9223372036854775808", 0, `users: bad size "9223372036854775808": too large`},
		{"99999999999999999999999", 0, `users: bad size "99999999999999999999999": too large`},
		{"", 0, "users: size is empty"},
		{"  ", 0, "users: size is empty"},
		{"GiB", 0, `users: bad size "GiB": want a whole number of bytes, optionally followed by a unit such as GiB`},
		{"-1", 0, `users: bad size "-1": want a whole number of bytes, optionally followed by a unit such as GiB`},
		{"+1", 0, `users: bad size "+1": want a whole number of bytes, optionally followed by a unit such as GiB`},
		{"1.5GiB", 0, `users: bad size "1.5GiB": fractions are not supported; use a smaller unit, such as 1536MiB for 1.5GiB`},
		{"1,5GB", 0, `users: bad size "1,5GB": fractions are not supported; use a smaller unit, such as 1536MiB for 1.5GiB`},
		{"1gib", 0, `users: bad size "1gib": unknown unit "gib" (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
		{"1Mb", 0, `users: bad size "1Mb": unknown unit "Mb" (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
		{"1 G", 0, `users: bad size "1 G": unknown unit "G" (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
		{"1e9", 0, `users: bad size "1e9": unknown unit "e9" (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
		{"1_000", 0, `users: bad size "1_000": unknown unit "_000" (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
		{"1GiB 2", 0, `users: bad size "1GiB 2": unknown unit "GiB 2" (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ParseSize(%q): %v", tt.in, err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Fatalf("ParseSize(%q) = %d, %v; want error %q", tt.in, got, err, tt.wantErr)
			case got != tt.want:
				t.Fatalf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"_", true},
		{"_svc", true},
		{"a", true},
		{"bob-2", true},
		{"x_y-z9", true},
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false},
		{"", false},
		{"Bob", false},
		{"9lives", false},
		{"-x", false},
		{"al ice", false},
		{"al.ice", false},
		{"al/ice", false},
		{"ålice", false},
		{"alice\n", false},
	}
	for _, tt := range tests {
		err := ValidName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil {
			want := `users: user name "` + strings.ReplaceAll(tt.name, "\n", `\n`) + `": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`
			if tt.name == "ålice" {
				want = `users: user name "ålice": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`
			}
			if err.Error() != want {
				t.Errorf("ValidName(%q) = %q, want %q", tt.name, err, want)
			}
		}
	}
}

func TestWorldReadable(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits do not describe access on Windows")
	}
	path := filepath.Join(t.TempDir(), "users.toml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mode fs.FileMode
		want bool
	}{
		{0o600, false}, {0o400, false}, {0o700, false}, {0o620, false}, {0o602, false},
		{0o640, true}, {0o604, true}, {0o644, true}, {0o666, true},
	} {
		if err := os.Chmod(path, tt.mode); err != nil {
			t.Fatal(err)
		}
		if got, err := WorldReadable(path); err != nil || got != tt.want {
			t.Errorf("WorldReadable(mode %v) = %v, %v; want %v", tt.mode, got, err, tt.want)
		}
	}
	if _, err := WorldReadable(path + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WorldReadable(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	in := expand("[users.zed]\npassword = \"@v1\"\n[users.amy]\npassword = \"@v2\"\ndisabled = true\n[users.kim]\npassword = \"@v3\"\n")
	if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	list, err := List(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list {
		names = append(names, u.Name)
	}
	if want := []string{"amy", "kim", "zed"}; !slices.Equal(names, want) {
		t.Errorf("List = %q, want %q", names, want)
	}
}

// The test verifiers must be what they claim to be.
func TestTestVerifiers(t *testing.T) {
	for pw, s := range map[string]string{"pw-one": testV1, "pw-two": testV2, "pw-three": testV3} {
		v, err := auth.ParseVerifier(s)
		if err != nil {
			t.Fatal(err)
		}
		if !passwordMatches(v, pw) {
			t.Errorf("verifier %q does not match %q", s, pw)
		}
	}
}
