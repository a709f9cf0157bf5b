package users

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// badFolders are users files with one problem each in their shares or
// drop boxes, and the exact error.
var badFolders = []struct {
	name, in, want string
}{
	{"unknown share key", "[shares.handouts]\npath = \"/srv/h\"\nmdoe = \"ro\"\n",
		`users.toml:3: unknown key "mdoe" in [shares.handouts]`},
	{"unknown drop box key", "[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00-05:00\ndeadlien = 1\n",
		`users.toml:3: unknown key "deadlien" in [dropboxes.hw3]`},
	{"bad share name", "[shares.Handouts]\npath = \"/srv/h\"\n",
		`users.toml:1: share name "Handouts": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},
	{"dot share name", "[shares.\".git\"]\npath = \"/srv/h\"\n",
		`users.toml:1: share name ".git": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},
	{"bad drop box name", "[dropboxes.\"hw 3\"]\ndeadline = 2026-12-01T23:59:00-05:00\n",
		`users.toml:1: drop box name "hw 3": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},
	{"share called submit", "[shares.submit]\npath = \"/srv/h\"\n",
		`users.toml:1: shares.submit: a share may not be called "submit": ~/submit holds the drop boxes`},
	{"share and box of one name", "[shares.hw3]\npath = \"/srv/h\"\n\n[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00-05:00\n",
		`users.toml:4: dropboxes.hw3: a share has the same name (line 1); give each folder its own name`},
	{"relative share path", "[shares.handouts]\npath = \"srv/h\"\n",
		`users.toml:2: shares.handouts.path: must be an absolute path such as "/srv/class/handouts", not "srv/h"`},
	{"unclean share path", "[shares.handouts]\npath = \"/srv/x/../h/\"\n",
		`users.toml:2: shares.handouts.path: must be written plainly, as "/srv/h", not "/srv/x/../h/"`},
	{"NUL in share path", "[shares.handouts]\npath = \"/srv/\\u0000\"\n",
		`users.toml:2: shares.handouts.path: contains a NUL byte`},
	{"share without path", "[shares.handouts]\nmode = \"ro\"\n",
		`users.toml:1: shares.handouts: missing path (the host directory to share, such as "/srv/class/handouts")`},
	{"writable share", "[shares.handouts]\npath = \"/srv/h\"\nmode = \"rw\"\n",
		`users.toml:3: shares.handouts.mode: must be "ro" (read-only, the only mode), not "rw"`},
	{"integer share path", "[shares.handouts]\npath = 5\n",
		`users.toml:2: shares.handouts.path: must be a string, not an integer`},
	{"share not a table", "shares.handouts = \"/srv/h\"\n",
		`users.toml:1: shares.handouts: must be a table, not a string`},
	{"box without deadline", "[dropboxes.hw3]\nopens = 2026-11-01T00:00:00Z\n",
		`users.toml:1: dropboxes.hw3: missing deadline (such as deadline = 2026-12-01T23:59:00-05:00)`},
	{"string deadline", "[dropboxes.hw3]\ndeadline = \"2026-12-01\"\n",
		`users.toml:2: dropboxes.hw3.deadline: must be a date-time with a time zone such as 2026-12-01T23:59:00-05:00, not a string`},
	{"local deadline", "[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00\n",
		`users.toml:2: dropboxes.hw3.deadline: must be a date-time with a time zone such as 2026-12-01T23:59:00-05:00: add the time zone`},
	{"date deadline", "[dropboxes.hw3]\ndeadline = 2026-12-01\n",
		`users.toml:2: dropboxes.hw3.deadline: must be a date-time with a time zone such as 2026-12-01T23:59:00-05:00: add the time zone`},
	{"local opens", "[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00Z\nopens = 2026-11-01 08:00:00\n",
		`users.toml:3: dropboxes.hw3.opens: must be a date-time with a time zone such as 2026-12-01T23:59:00-05:00: add the time zone`},
	{"opens after deadline", "[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00-05:00\nopens = 2026-12-02T00:00:00-05:00\n",
		`users.toml:3: dropboxes.hw3: opens (2026-12-02 00:00 -05:00) must be before the deadline (2026-12-01 23:59 -05:00)`},
	{"extensions not a table", "[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00Z\nextensions = [\"bob\"]\n",
		`users.toml:3: dropboxes.hw3.extensions: must be a table of date-times by user name such as { bob = 2026-12-03T23:59:00-05:00 }, not an array`},
	{"extension not a date-time", "[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00Z\nextensions = { bob = \"friday\" }\n",
		`users.toml:3: dropboxes.hw3.extensions.bob: must be a date-time with a time zone such as 2026-12-01T23:59:00-05:00, not a string`},
	{"extension a table", "[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00Z\n[dropboxes.hw3.extensions.bob]\nuntil = 2026-12-03T23:59:00Z\n",
		`users.toml:3: dropboxes.hw3.extensions.bob: must be a date-time with a time zone such as 2026-12-01T23:59:00-05:00, not a table`},
	{"extension for a bad name", "[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00Z\nextensions = {\n  Bob = 2026-12-03T23:59:00Z }\n",
		`users.toml:4: dropboxes.hw3.extensions: user name "Bob": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`},
	{"local extension", "[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00Z\nextensions = { bob = 2026-12-03T23:59:00 }\n",
		`users.toml:3: dropboxes.hw3.extensions.bob: must be a date-time with a time zone such as 2026-12-01T23:59:00-05:00: add the time zone`},
	{"extension before deadline", "[users.bob]\npassword = \"@v1\"\n[dropboxes.hw3]\ndeadline = 2026-12-01T23:59:00-05:00\n[dropboxes.hw3.extensions]\nbob = 2026-12-01T20:00:00-08:00\n",
		`users.toml:6: dropboxes.hw3.extensions.bob: 2026-12-01 20:00 -08:00 is not after the deadline (2026-12-01 23:59 -05:00); an extension gives more time`},
	{"dropboxes not a table", "dropboxes = 1\n",
		`users.toml:1: dropboxes: must be a table, not an integer`},
}

// classFile has a share and two drop boxes.
const classFile = `[users.alice]
password = "@v1"

[users.bob]
password = "@v2"

[shares.handouts]
path = "/srv/class/handouts"
mode = "ro"

[shares.data]
path = "/srv/class/data"

[dropboxes.hw3]
deadline = 2026-12-01T23:59:00-05:00
extensions = { bob = 2026-12-03T23:59:00-05:00, zed = 2026-12-04T12:00:00Z }

[dropboxes.project]
opens = 2026-11-01T08:00:00+01:00
deadline = 2027-01-15T12:00:30Z
`

func TestParseFolders(t *testing.T) {
	c, err := Parse("users.toml", []byte(expand(classFile)))
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for n := range c.Shares {
			if !yield(n) {
				return
			}
		}
	}); !slices.Equal(got, []string{"data", "handouts"}) {
		t.Errorf("shares %q; want data, handouts", got)
	}
	if s := c.Shares["handouts"]; s.Name != "handouts" || s.Path != "/srv/class/handouts" || s.Mode != "ro" || s.Line != 7 {
		t.Errorf("handouts = %+v", s)
	}
	if s := c.Shares["data"]; s.Path != "/srv/class/data" || s.Mode != "ro" || s.Line != 11 {
		t.Errorf("data = %+v; want mode ro by default", s)
	}
	hw3 := c.Dropboxes["hw3"]
	est := time.FixedZone("", -5*3600)
	if hw3 == nil || !hw3.Deadline.Equal(time.Date(2026, 12, 1, 23, 59, 0, 0, est)) || !hw3.Opens.IsZero() || hw3.Line != 14 {
		t.Fatalf("hw3 = %+v", hw3)
	}
	if got := FormatTime(hw3.Deadline); got != "2026-12-01 23:59 -05:00" {
		t.Errorf("FormatTime(deadline) = %q; want the file's own zone", got)
	}
	if got := hw3.DeadlineFor("bob"); !got.Equal(time.Date(2026, 12, 3, 23, 59, 0, 0, est)) {
		t.Errorf("DeadlineFor(bob) = %v", got)
	}
	if got := hw3.DeadlineFor("alice"); !got.Equal(hw3.Deadline) {
		t.Errorf("DeadlineFor(alice) = %v; want the deadline", got)
	}
	p := c.Dropboxes["project"]
	if p == nil || !p.Opens.Equal(time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC)) || len(p.Extensions) != 0 {
		t.Fatalf("project = %+v", p)
	}
	if got := FormatTime(p.Deadline); got != "2027-01-15 12:00:30 +00:00" {
		t.Errorf("FormatTime = %q; want seconds shown when not zero", got)
	}
	want := []string{`users.toml:16: dropboxes.hw3.extensions: there is no user "zed"; the extension has no effect`}
	if !slices.Equal(c.Warnings, want) {
		t.Errorf("Warnings = %q; want %q", c.Warnings, want)
	}
	if c.SharedFolders() != &c.Folders {
		t.Error("SharedFolders does not return the config's folders")
	}
}

// TestEditKeepsFolders checks that the account tools work on a file with
// shares and drop boxes, including deleting a user who has an extension.
func TestEditKeepsFolders(t *testing.T) {
	path := writeFile(t, expand(classFile))
	if err := AddUser(path, "carol", newVerifier(t, "pw-carol")); err != nil {
		t.Fatal(err)
	}
	if err := DeleteUser(path, "bob"); err != nil {
		t.Fatalf("deleting a user with an extension: %v", err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Shares) != 2 || len(c.Dropboxes) != 2 || c.Users["carol"] == nil || c.Users["bob"] != nil {
		t.Errorf("after the edits: %d shares, %d drop boxes, users %v", len(c.Shares), len(c.Dropboxes), c.Users)
	}
	if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], `no user "bob"`) || !strings.Contains(c.Warnings[1], `no user "zed"`) {
		t.Errorf("Warnings = %q; want bob's extension and zed's", c.Warnings)
	}
}
