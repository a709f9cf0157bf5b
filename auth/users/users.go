package users

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cubby-dev/cubby/auth"
	"golang.org/x/crypto/ssh"
)

// AnyCommand, as the only entry or one of the entries of a commands list,
// allows every program.
const AnyCommand = "*"

// MaxNameLen is the maximum length of a user name in bytes.
const MaxNameLen = 32

// Config is a loaded users file. Nothing modifies it after Load or Parse
// returns it, so it may be shared between goroutines; callers must not
// modify it or the Users it holds either.
type Config struct {
	// Path is the file name that was loaded, as given to Load or Parse.
	Path string
	// Defaults holds the [defaults] table.
	Defaults Settings
	// Users holds every account, by name, including disabled ones.
	Users map[string]*User
	// Folders are the shares and drop boxes every user sees.
	Folders
	// Warnings lists oddities that do not stop the file from loading,
	// one "PATH:LINE: what" each, for the caller to log.
	Warnings []string
}

// Settings are the keys that [defaults] provides and a user may override.
type Settings struct {
	// Commands lists the programs that may be run, by name. AnyCommand
	// allows every program; an empty or nil list allows none.
	Commands []string
	// Quota is the storage limit in bytes; 0 means unlimited.
	Quota int64
	// TrashDays is how many days what the user deletes through cubby is
	// kept in ~/.trash (key trash_days); 0 keeps no trash, deletes are
	// immediate. Parse sets DefaultTrashDays when the file sets none.
	TrashDays int
	// Limits bound the user's jailed commands.
	Limits Limits
}

// DefaultTrashDays is the trash retention of a user whose users file
// sets no trash_days; MaxTrashDays the largest it may set (ten years).
const (
	DefaultTrashDays = 7
	MaxTrashDays     = 3650
)

// User is one account. Commands, Quota, TrashDays and each field of Limits are
// already merged with the defaults: a user's own value, when present,
// replaces the default.
type User struct {
	// Name is the user name, the NAME of [users.NAME].
	Name string
	// Verifier checks the user's password; see the auth package.
	Verifier auth.Verifier
	// Keys are the SSH public keys the user may log in with instead of
	// the password (key keys, authorized_keys lines).
	Keys []ssh.PublicKey
	// Disabled accounts are listed but must not be able to log in.
	Disabled bool
	// Demo marks a demonstration account, to be served only on loopback.
	Demo bool
	// Email is the user's address as the admin gave it, for the admin's
	// records; "" if none. cubby sends no mail.
	Email string
	// MustChangePassword marks an account whose password was set for it
	// (a one-time password from a roster import): the user must choose a
	// new one before anything else is allowed.
	MustChangePassword bool

	Commands  []string
	Quota     int64
	TrashDays int
	Limits    Limits
	// Line is the line of the file on which the user's table starts.
	Line int
}

// CanRun reports whether u may run the program called name. Commands lists
// only bare program names, so a name that is empty or contains "/" or NUL
// is refused even when Commands contains AnyCommand.
func (u *User) CanRun(name string) bool {
	if commandProblem(name) != "" || name == AnyCommand {
		return false
	}
	return slices.Contains(u.Commands, AnyCommand) || slices.Contains(u.Commands, name)
}

// ParseError is a problem at one line of a users file.
type ParseError struct {
	Path string // the file name as given to Load or Parse
	Line int    // 1-based
	Msg  string // what is wrong, on one line
}

// Error returns "PATH:LINE: MSG".
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// Load reads and parses the users file at path. A missing file is an error
// that matches fs.ErrNotExist. Load does not check the file's permissions;
// see WorldReadable.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users: reading users file: %w", err)
	}
	return Parse(path, data)
}

// List loads the users file at path and returns its users, including
// disabled ones, sorted by name.
func List(path string) ([]*User, error) {
	c, err := Load(path)
	if err != nil {
		return nil, err
	}
	list := make([]*User, 0, len(c.Users))
	for _, u := range c.Users {
		list = append(list, u)
	}
	slices.SortFunc(list, func(a, b *User) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

// Lookup returns the user called name. It returns false if there is no
// such user or the user is disabled, so a false result must be treated as a
// failed login without telling the client which case it was.
func (c *Config) Lookup(name string) (*User, bool) {
	u, ok := c.Users[name]
	if !ok || u.Disabled {
		return nil, false
	}
	return u, true
}

// HasDemo reports whether any enabled user is a demo account. A server
// whose configuration has demo accounts must listen only on loopback
// addresses and must refuse to start otherwise. Disabled demo accounts do
// not count, because nobody can log in to them.
func (c *Config) HasDemo() bool {
	for _, u := range c.Users {
		if u.Demo && !u.Disabled {
			return true
		}
	}
	return false
}

// ValidName returns nil if name may be used as a user name: 1 to 32
// characters from a-z, 0-9, "_" and "-", starting with a letter or "_".
// The restriction keeps names safe as file names, in logs and as bare TOML
// keys.
func ValidName(name string) error {
	if msg := nameProblem(name); msg != "" {
		return fmt.Errorf("users: %s", msg)
	}
	return nil
}

// nameProblem is ValidName without the package prefix, for file errors.
func nameProblem(name string) string {
	ok := len(name) >= 1 && len(name) <= MaxNameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || c == '_' || i > 0 && ('0' <= c && c <= '9' || c == '-')
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("user name %q: must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most %d characters", name, MaxNameLen)
}

// MaxEmailLen is the maximum length of an email address in bytes (RFC
// 5321's limit on a path, less the angle brackets).
const MaxEmailLen = 254

// emailProblem returns "" if addr may be stored as a user's email, and
// otherwise what is wrong with it. The check is loose on purpose: the
// address is only kept for the admin, so it needs to be one printable
// line with an "@", not a deliverable address, that nothing showing it
// (a terminal, a spreadsheet) takes for anything else.
func emailProblem(addr string) string {
	switch {
	case addr == "":
		return "is empty"
	case len(addr) > MaxEmailLen:
		return fmt.Sprintf("is longer than %d bytes", MaxEmailLen)
	case !utf8.ValidString(addr):
		return "is not valid UTF-8"
	case strings.IndexFunc(addr, unicode.IsControl) >= 0:
		return "contains a line break or another control character"
	case strings.IndexFunc(addr, unicode.IsSpace) >= 0:
		return "contains a space"
	case strings.IndexFunc(addr, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) >= 0:
		// Such as U+202E, which shows the rest of a line backwards.
		return "contains an invisible formatting character"
	case strings.IndexByte("=+-@", addr[0]) >= 0:
		// The sheet of one-time passwords may be opened in a
		// spreadsheet, which runs a cell starting so as a formula.
		return `starts with "=", "+", "-" or "@", which a spreadsheet takes for a formula`
	case !strings.Contains(addr, "@"):
		return `has no "@"`
	}
	return ""
}

// commandProblem returns "" if name may appear in a commands list, and
// otherwise what is wrong with it.
func commandProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case name == "." || name == "..":
		return "is not a program name"
	case strings.Contains(name, "/"):
		return `must be a program name, not a path (contains "/")`
	case strings.Contains(name, "\x00"):
		return "contains a NUL byte"
	}
	return ""
}

// WorldReadable reports whether the file at path may be read by users other
// than its owner, that is whether its group or other read permission is
// set. The file holds password verifiers, which allow offline guessing, so
// the caller should log a warning (and suggest chmod 600) when it returns
// true. On Windows, where permission bits do not describe access, it always
// returns false.
func WorldReadable(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("users: %w", err)
	}
	if runtime.GOOS == "windows" {
		return false, nil
	}
	return fi.Mode().Perm()&0o044 != 0, nil
}
