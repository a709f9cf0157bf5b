package users

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// SubmitDir is the folder of every home under which the drop boxes
// appear, ~/submit/NAME; no share may take its name.
const SubmitDir = "submit"

// ShareReadOnly is the mode of a share that users may read but never
// change, the only mode there is.
const ShareReadOnly = "ro"

// Folders are the folders a users file declares for every user: shared
// folders ([shares.NAME]) and submission drop boxes ([dropboxes.NAME]).
type Folders struct {
	// Shares holds every [shares.NAME] table, by name.
	Shares map[string]*Share
	// Dropboxes holds every [dropboxes.NAME] table, by name.
	Dropboxes map[string]*Dropbox
}

// SharedFolders returns the folders of c, for the server's view of homes.
func (c *Config) SharedFolders() *Folders { return &c.Folders }

// Share is a host directory every user sees, read-only, at ~/NAME. It is
// one copy on disk: the server never copies it into homes.
type Share struct {
	// Name is the NAME of [shares.NAME], the folder's name in each home.
	Name string
	// Path is the host directory shared, absolute and clean. Parsing does
	// not check that it exists; the server does when it uses it.
	Path string
	// Mode is ShareReadOnly.
	Mode string
	// Line is the line of the file on which the share's table starts.
	Line int
}

// Dropbox is a submission folder that appears at ~/submit/NAME in every
// home. Users upload into it from Opens until their deadline; what they
// upload is kept outside their home, where only uploads can change it.
type Dropbox struct {
	// Name is the NAME of [dropboxes.NAME].
	Name string
	// Opens, when not zero, is when uploads start to be accepted.
	Opens time.Time
	// Deadline is when uploads stop being accepted, for users without
	// an extension. Opens and Deadline keep the time zone the file gave.
	Deadline time.Time
	// Extensions are later deadlines for some users, by user name. A
	// name need not be a user of the file (see Config.Warnings).
	Extensions map[string]time.Time
	// Line is the line of the file on which the drop box's table starts.
	Line int
}

// DeadlineFor returns the deadline that applies to user: their
// extension, if they have one, else Deadline.
func (d *Dropbox) DeadlineFor(user string) time.Time {
	if t, ok := d.Extensions[user]; ok {
		return t
	}
	return d.Deadline
}

// shareDoc is one [shares.NAME] table. A nil field was not in the file.
type shareDoc struct {
	Path *string `toml:"path"`
	Mode *string `toml:"mode"`
}

// dropboxDoc is one [dropboxes.NAME] table. The date-times are decoded
// loosely (a local date-time must be told apart) and checked by
// checkFolderValue.
type dropboxDoc struct {
	Deadline   any            `toml:"deadline"`
	Opens      any            `toml:"opens"`
	Extensions map[string]any `toml:"extensions"`
}

// shareKey and dropboxKey return what the keys of a [shares.NAME] and a
// [dropboxes.NAME] table must hold, and false for unknown keys.
func shareKey(name string) (valueKind, bool) {
	switch name {
	case "path", "mode":
		return kindString, true
	}
	return 0, false
}

func dropboxKey(name string) (valueKind, bool) {
	switch name {
	case "deadline", "opens":
		return kindDateTime, true
	case "extensions":
		return kindDeadlines, true
	}
	return 0, false
}

// folderNameProblem returns "" if name may name a share or drop box
// (what says which), and otherwise what is wrong with it. The names
// follow the rules of user names: they become file names in every home.
func folderNameProblem(what, name string) string {
	if nameProblem(name) == "" {
		return ""
	}
	return fmt.Sprintf("%s name %q: must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most %d characters", what, name, MaxNameLen)
}

// checkDeadlineKey checks a key below [dropboxes.NAME].extensions: one
// level, a valid user name, holding a date-time.
func (v *validator) checkDeadlineKey(key toml.Key) error {
	line := v.lay.line(key...)
	if msg := nameProblem(key[3]); msg != "" {
		return v.errorf(line, "%s: %s", key[:3], msg)
	}
	leaf := key[:4]
	t := v.md.Type(leaf...)
	if len(key) > 4 && t == "" {
		t = "Hash"
	}
	if t != "Datetime" {
		return v.typeError(leaf, kindDateTime, t)
	}
	return nil
}

// dateTimeValue checks and converts a decoded date-time, which must carry
// its time zone: a deadline without one would depend on the server's.
func dateTimeValue(x any) (time.Time, error) {
	t, ok := x.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("must be %s, not %s", kindDateTime.want(), goTypeName(x))
	}
	switch t.Location().String() {
	case "datetime-local", "date-local", "time-local":
		// The toml package's names for values written without an offset.
		return time.Time{}, fmt.Errorf("must be %s: add the time zone", kindDateTime.want())
	}
	return t, nil
}

// checkFolderValue checks the value of key, a key of a [shares.NAME] or
// [dropboxes.NAME] table, on its own.
func checkFolderValue(doc *fileDoc, key toml.Key) error {
	switch key[0] {
	case "shares":
		d := doc.Shares[key[1]]
		switch key[2] {
		case "path":
			return sharePathProblem(*d.Path)
		case "mode":
			if *d.Mode != ShareReadOnly {
				return fmt.Errorf("must be %q (read-only, the only mode), not %q", ShareReadOnly, *d.Mode)
			}
		}
	case "dropboxes":
		d := doc.Dropboxes[key[1]]
		var err error
		switch {
		case key[2] == "deadline":
			_, err = dateTimeValue(d.Deadline)
		case key[2] == "opens":
			_, err = dateTimeValue(d.Opens)
		case key[2] == "extensions" && len(key) == 4:
			_, err = dateTimeValue(d.Extensions[key[3]])
		}
		return err
	}
	return nil
}

// sharePathProblem checks the path of a share.
func sharePathProblem(p string) error {
	switch {
	case strings.IndexByte(p, 0) >= 0:
		return errors.New("contains a NUL byte")
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("must be an absolute path such as \"/srv/class/handouts\", not %q", p)
	case filepath.Clean(p) != p:
		return fmt.Errorf("must be written plainly, as %q, not %q", filepath.Clean(p), p)
	}
	return nil
}

// buildFolders checks what involves several values of the shares and
// drop boxes, in file order, and fills c.Folders. The single values have
// been checked. It runs after the users are built, to warn about
// extensions for users the file does not have.
func (v *validator) buildFolders(doc *fileDoc, c *Config) error {
	c.Shares = make(map[string]*Share, len(doc.Shares))
	c.Dropboxes = make(map[string]*Dropbox, len(doc.Dropboxes))
	byLine := func(table string) func(a, b string) int {
		return func(a, b string) int { return v.lay.line(table, a) - v.lay.line(table, b) }
	}
	for _, name := range slices.SortedFunc(maps.Keys(doc.Shares), byLine("shares")) {
		d := doc.Shares[name]
		line := v.lay.line("shares", name)
		switch {
		case name == SubmitDir:
			return v.errorf(line, "shares.%s: a share may not be called %q: ~/%s holds the drop boxes", name, SubmitDir, SubmitDir)
		case d.Path == nil:
			return v.errorf(line, "shares.%s: missing path (the host directory to share, such as \"/srv/class/handouts\")", name)
		}
		c.Shares[name] = &Share{Name: name, Path: *d.Path, Mode: ShareReadOnly, Line: line}
	}
	for _, name := range slices.SortedFunc(maps.Keys(doc.Dropboxes), byLine("dropboxes")) {
		d := doc.Dropboxes[name]
		line := v.lay.line("dropboxes", name)
		if s, ok := c.Shares[name]; ok {
			return v.errorf(line, "dropboxes.%s: a share has the same name (line %d); give each folder its own name", name, s.Line)
		}
		if d.Deadline == nil {
			return v.errorf(line, "dropboxes.%s: missing deadline (such as deadline = 2026-12-01T23:59:00-05:00)", name)
		}
		b := &Dropbox{Name: name, Line: line, Extensions: make(map[string]time.Time, len(d.Extensions))}
		b.Deadline, _ = dateTimeValue(d.Deadline)
		if d.Opens != nil {
			b.Opens, _ = dateTimeValue(d.Opens)
			if !b.Opens.Before(b.Deadline) {
				return v.errorf(v.lay.line("dropboxes", name, "opens"), "dropboxes.%s: opens (%s) must be before the deadline (%s)",
					name, FormatTime(b.Opens), FormatTime(b.Deadline))
			}
		}
		users := slices.SortedFunc(maps.Keys(d.Extensions), func(a, b string) int {
			return cmp.Or(v.lay.line("dropboxes", name, "extensions", a)-v.lay.line("dropboxes", name, "extensions", b), strings.Compare(a, b))
		})
		for _, user := range users {
			t, _ := dateTimeValue(d.Extensions[user])
			eline := v.lay.line("dropboxes", name, "extensions", user)
			if !t.After(b.Deadline) {
				return v.errorf(eline, "dropboxes.%s.extensions.%s: %s is not after the deadline (%s); an extension gives more time",
					name, user, FormatTime(t), FormatTime(b.Deadline))
			}
			if _, ok := c.Users[user]; !ok {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: dropboxes.%s.extensions: there is no user %q; the extension has no effect",
					v.path, eline, name, user))
			}
			b.Extensions[user] = t
		}
		c.Dropboxes[name] = b
	}
	return nil
}

// FormatTime shows a deadline as the file gave it, in its own time zone,
// to the minute: "2026-12-01 23:59 -05:00".
func FormatTime(t time.Time) string {
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.Format("2006-01-02 15:04:05 -07:00")
	}
	return t.Format("2006-01-02 15:04 -07:00")
}
