package users

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/cubby-dev/cubby/auth"
)

var (
	// ErrUserExists is returned by AddUser when the user is already in the
	// file.
	ErrUserExists = errors.New("users: user already exists")
	// ErrNoUser is returned by SetPassword and DeleteUser when the user is
	// not in the file.
	ErrNoUser = errors.New("users: no such user")
)

// newFileHeader starts a users file that AddUser creates.
const newFileHeader = `# cubby accounts, read by cubbyd. See users.example.toml for every key.
# "cubby" tools edit this file in place and keep comments and layout.
`

// AddUser adds the user name, with verifier v as its password, at the end
// of the users file at path. It creates the file if it does not exist. It
// returns an error wrapping ErrUserExists if the file already has the
// user.
func AddUser(path, name string, v auth.Verifier) error {
	if err := ValidName(name); err != nil {
		return err
	}
	return editFile(path, true, func(text string) (string, error) {
		return addUserText(path, text, name, v)
	})
}

// NewUser is an account for AddUsers to add.
type NewUser struct {
	Name     string
	Verifier auth.Verifier
	// Email is stored as the user's email key; "" leaves it out.
	Email string
	// Quota is stored as the user's quota key, as written (a size such as
	// "500MiB", see ParseSize); "" leaves it out, so [defaults] applies.
	Quota string
	// MustChangePassword stores must_change_password = true.
	MustChangePassword bool
}

// AddUsers adds, in one edit of the users file at path, each user of list
// that the file does not have yet, at the end of the file in list order.
// It creates the file if it does not exist, and returns the names of the
// users it skipped because the file already had them. Every entry is
// checked before anything is written: an invalid one is an error and
// nothing changes.
//
// If commit is not nil, it is called with the users about to be added
// while the file is locked, after the edit has been checked and before
// the file is replaced; an error from it leaves the file unchanged. A
// caller that must hand out the new users' passwords does so in commit, so
// that no account is created whose password was not handed out. commit is
// not called when every user was skipped.
func AddUsers(path string, list []NewUser, commit func(added []NewUser) error) (skipped []string, err error) {
	seen := make(map[string]bool, len(list))
	for _, u := range list {
		if err := checkNewUser(u); err != nil {
			return nil, err
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("users: %q is twice in the list of users to add", u.Name)
		}
		seen[u.Name] = true
	}
	err = editFileIf(path, true, func(text string) (string, bool, error) {
		out, added, existing, err := addUsersText(path, text, list)
		skipped = existing
		if err != nil || len(added) == 0 {
			return "", false, err
		}
		if commit != nil {
			if err := commit(added); err != nil {
				return "", false, err
			}
		}
		return out, true, nil
	})
	if err != nil {
		return nil, err
	}
	return skipped, nil
}

// checkNewUser checks the fields of u that AddUsers writes.
func checkNewUser(u NewUser) error {
	if msg := accountProblem(u.Name, u.Email, u.Quota); msg != "" {
		return errors.New("users: " + msg)
	}
	if _, err := auth.ParseVerifier(u.Verifier.String()); err != nil {
		return fmt.Errorf("users: %s: bad password verifier: %w", u.Name, err)
	}
	return nil
}

// accountProblem returns what is wrong with the name, email and quota of
// a new account, or "". An empty email or quota is left out of the
// account, and fine.
func accountProblem(name, email, quota string) string {
	if msg := nameProblem(name); msg != "" {
		return msg
	}
	if email != "" {
		if msg := emailProblem(email); msg != "" {
			return fmt.Sprintf("%s: email %q %s", name, email, msg)
		}
	}
	if quota != "" {
		if _, err := parseSize(quota); err != nil {
			return fmt.Sprintf("%s: quota: %v", name, err)
		}
	}
	return ""
}

// SetPassword replaces the password of the user name in the users file at
// path with v, keeping the line's indentation and any comment after the
// value. If the user's table has no password line, one is added right
// after the table header. The user's must_change_password line, if any,
// is removed: the password is no longer one that was set for them. It
// returns an error wrapping ErrNoUser if the file has no such user.
func SetPassword(path, name string, v auth.Verifier) error {
	if err := ValidName(name); err != nil {
		return err
	}
	return editFile(path, false, func(text string) (string, error) {
		return setPasswordText(path, text, name, v)
	})
}

// DeleteUser removes the user name from the users file at path. It returns
// an error wrapping ErrNoUser if the file has no such user.
//
// The lines removed are exactly those from the [users.<name>] header through
// the end of the last key/value pair of that table, so comments inside the
// table go with it. Comment lines directly above the header, and comments
// after the table's last key/value pair, stay: they may as well describe
// what comes next. One blank line next to the removed lines is dropped too
// when the table sat between blank lines (or at the end of the file), so
// that the spacing between the remaining tables stays as it was.
func DeleteUser(path, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	return editFile(path, false, func(text string) (string, error) {
		return deleteUserText(path, text, name)
	})
}

// editFile runs change on the contents of the users file at path and
// replaces the file with the result, holding the lock on PATH.lock from
// before the read until after the rename. If create is true, a missing
// file is treated as empty.
func editFile(path string, create bool, change func(text string) (string, error)) error {
	return editFileIf(path, create, func(text string) (string, bool, error) {
		out, err := change(text)
		return out, err == nil, err
	})
}

// editFileIf is editFile for a change that may leave the file as it is:
// the file is replaced only if change returns true.
func editFileIf(path string, create bool, change func(text string) (string, bool, error)) error {
	target, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		target = path
	} else if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	unlock, err := lockFile(target + ".lock")
	if err != nil {
		return err
	}
	defer unlock()

	var data []byte
	var orig fs.FileInfo
	f, err := os.Open(target)
	switch {
	case err == nil:
		orig, err = f.Stat()
		if err == nil {
			data, err = io.ReadAll(f)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("users: reading users file: %w", err)
		}
	case create && errors.Is(err, fs.ErrNotExist):
	default:
		return fmt.Errorf("users: reading users file: %w", err)
	}
	text, write, err := change(string(data))
	if err != nil || !write {
		return err
	}
	return writeAtomic(target, []byte(text), orig)
}

// writeAtomic replaces the file at path with data, with mode 0600, so that
// readers see either the old or the new contents, never a mixture. It
// keeps the owner of orig, the file being replaced, if there is one.
func writeAtomic(path string, data []byte, orig fs.FileInfo) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp already uses 0600; say so explicitly before any data is
	// written, whatever the umask or platform.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if orig != nil {
		if err := keepOwner(f, orig); err != nil {
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("users: %s was replaced, but syncing its directory failed: %w", path, err)
	}
	return nil
}

// An editable is a users file checked to be safe to edit line by line.
type editable struct {
	path  string
	lines []string // each with its line break, except perhaps the last
	eol   string   // the file's line break, "\n" or "\r\n"
	lay   *layout
	keys  []string // every key, as toml.Key.String gives it
}

// openEditable checks that text is TOML whose users are all written as
// [users.NAME] tables of plain keys, and that the scanner's view of it
// agrees with the toml package's.
func openEditable(path, text string) (*editable, error) {
	md, err := toml.Decode(text, &struct{}{})
	if perr, ok := errors.AsType[toml.ParseError](err); ok {
		return nil, fmt.Errorf("users: %w", syntaxError(path, text, perr))
	} else if err != nil {
		return nil, fmt.Errorf("users: %s: %w", path, err)
	}
	lay, err := scanLayout(text)
	keys := keyStrings(md.Keys())
	if err != nil || !slices.Equal(keys, keyStrings(layoutKeys(lay))) {
		return nil, fmt.Errorf("users: %s: cannot edit safely: the file uses TOML that this editor does not understand; edit it by hand", path)
	}
	for _, st := range lay.stmts {
		if st.path[0] != "users" {
			continue
		}
		ok := false
		switch st.kind {
		case stmtTable:
			ok = len(st.path) <= 2
		case stmtKeyValue:
			ok = len(st.path) == 3 && st.nkey == 1
		}
		if !ok {
			return nil, fmt.Errorf("users: %w", &ParseError{Path: path, Line: st.first,
				Msg: fmt.Sprintf("cannot edit safely: users must be written as [users.NAME] tables of plain keys (found %s); edit the file by hand", describe(st))})
		}
	}
	e := &editable{path: path, lines: splitLines(text), eol: "\n", lay: lay, keys: keys}
	if len(e.lines) > 0 && strings.HasSuffix(e.lines[0], "\r\n") {
		e.eol = "\r\n"
	}
	return e, nil
}

// describe names the form of a statement for an error message.
func describe(st stmt) string {
	key := toml.Key(st.path).String()
	switch st.kind {
	case stmtTable:
		return "[" + key + "]"
	case stmtArrayTable:
		return "[[" + key + "]]"
	}
	return key + " = ..."
}

func layoutKeys(l *layout) []toml.Key {
	keys := make([]toml.Key, len(l.keys))
	for i, kp := range l.keys {
		keys[i] = kp.key
	}
	return keys
}

func keyStrings(keys []toml.Key) []string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.String()
	}
	return s
}

// splitLines splits text after each "\n".
func splitLines(text string) []string {
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// userTable returns the index in e.lay.stmts of the header [users.NAME]
// and the index of the statement after its table, or -1, -1 if the file has
// no such user.
func (e *editable) userTable(name string) (header, end int) {
	header = slices.IndexFunc(e.lay.stmts, func(st stmt) bool {
		return st.kind == stmtTable && slices.Equal(st.path, []string{"users", name})
	})
	if header < 0 {
		return -1, -1
	}
	end = header + 1
	for end < len(e.lay.stmts) && e.lay.stmts[end].kind == stmtKeyValue {
		end++
	}
	return header, end
}

// userKeys returns the keys of the file that belong to the user name, as
// toml.Key.String gives them.
func (e *editable) userKeys(name string) []string {
	var keys []string
	for _, kp := range e.lay.keys {
		if len(kp.key) >= 2 && kp.key[0] == "users" && kp.key[1] == name {
			keys = append(keys, kp.key.String())
		}
	}
	return keys
}

// finish checks the edited text: it must load without error, and its keys
// must be the old ones with exactly the expected changes.
func (e *editable) finish(lines []string, added, removed []string) (string, *Config, error) {
	text := strings.Join(lines, "")
	c, err := Parse(e.path, []byte(text))
	if err != nil {
		return "", nil, fmt.Errorf("users: not changing %s: the edited file would not load: %w", e.path, err)
	}
	md, err := toml.Decode(text, &struct{}{})
	if err != nil {
		return "", nil, fmt.Errorf("users: not changing %s: %w", e.path, err)
	}
	want := slices.DeleteFunc(slices.Clone(e.keys), func(k string) bool { return slices.Contains(removed, k) })
	want = append(want, added...)
	got := keyStrings(md.Keys())
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		// Unreachable unless the line-based edit is wrong.
		return "", nil, fmt.Errorf("users: not changing %s: the edit would change other entries", e.path)
	}
	return text, c, nil
}

// checkVerifier checks that the user name in c has verifier v.
func checkVerifier(c *Config, name string, v auth.Verifier) error {
	if u, ok := c.Users[name]; !ok || u.Verifier.String() != v.String() {
		return fmt.Errorf("users: not changing %s: the edit did not set the password of %q", c.Path, name)
	}
	return nil
}

// addUserText returns text with a table for the user name appended.
func addUserText(path, text, name string, v auth.Verifier) (string, error) {
	out, _, existing, err := addUsersText(path, text, []NewUser{{Name: name, Verifier: v}})
	if err != nil {
		return "", err
	}
	if len(existing) > 0 {
		e, _ := openEditable(path, text) // it opened in addUsersText
		return "", fmt.Errorf("%w: %q (%s:%d)", ErrUserExists, name, path, e.lay.line("users", name))
	}
	return out, nil
}

// addUsersText returns text with a table appended for each user of list
// that it does not have, those users, and the names of the others. The
// entries of list must have been checked with checkNewUser.
func addUsersText(path, text string, list []NewUser) (out string, added []NewUser, existing []string, err error) {
	if text == "" {
		text = newFileHeader
	}
	e, err := openEditable(path, text)
	if err != nil {
		return "", nil, nil, err
	}
	lines := slices.Clone(e.lines)
	if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
		lines[n-1] += e.eol
	}
	var keys []string
	for _, u := range list {
		if len(e.userKeys(u.Name)) > 0 {
			existing = append(existing, u.Name)
			continue
		}
		if n := len(lines); n > 0 && strings.TrimSpace(lines[n-1]) != "" {
			lines = append(lines, e.eol)
		}
		prefix := toml.Key{"users", u.Name}
		keys = append(keys, prefix.String())
		add := func(key, value string) {
			lines = append(lines, key+" = "+value+e.eol)
			keys = append(keys, append(prefix, key).String())
		}
		lines = append(lines, "[users."+u.Name+"]"+e.eol)
		add("password", quote(u.Verifier.String()))
		if u.Email != "" {
			add("email", quote(u.Email))
		}
		if u.Quota != "" {
			add("quota", quote(strings.TrimSpace(u.Quota)))
		}
		if u.MustChangePassword {
			add("must_change_password", "true")
		}
		added = append(added, u)
	}
	if len(added) == 0 {
		return text, nil, existing, nil
	}
	out, c, err := e.finish(lines, keys, nil)
	if err != nil {
		return "", nil, nil, err
	}
	for _, u := range added {
		if err := checkVerifier(c, u.Name, u.Verifier); err != nil {
			return "", nil, nil, err
		}
		if got := c.Users[u.Name]; got.Email != u.Email || got.MustChangePassword != u.MustChangePassword {
			// Unreachable unless the line-based edit is wrong.
			return "", nil, nil, fmt.Errorf("users: not changing %s: the edit did not add %q as asked", path, u.Name)
		}
	}
	return out, added, existing, nil
}

// setPasswordText returns text with the password of the user name set to v.
func setPasswordText(path, text, name string, v auth.Verifier) (string, error) {
	e, err := openEditable(path, text)
	if err != nil {
		return "", err
	}
	h, end := e.userTable(name)
	if h < 0 {
		return "", fmt.Errorf("%w: %q in %s", ErrNoUser, name, path)
	}
	table := e.lay.stmts[h+1 : end]
	pw := slices.IndexFunc(table, func(st stmt) bool { return st.path[2] == "password" })
	flag := slices.IndexFunc(table, func(st stmt) bool { return st.path[2] == "must_change_password" })
	lines := slices.Clone(e.lines)
	var added, removed []string
	setPassword := func() {
		if pw >= 0 {
			st := table[pw]
			last := lines[st.last-1]
			eol := last[len(strings.TrimRight(last, "\r\n")):]
			repl := st.indent + "password = " + quote(v.String()) + st.tail + eol
			lines = slices.Replace(lines, st.first-1, st.last, repl)
			return
		}
		header := e.lay.stmts[h]
		if !strings.HasSuffix(lines[header.first-1], "\n") {
			lines[header.first-1] += e.eol
		}
		lines = slices.Insert(lines, header.first, header.indent+"password = "+quote(v.String())+e.eol)
		added = []string{toml.Key{"users", name, "password"}.String()}
	}
	dropFlag := func() {
		if flag >= 0 {
			st := table[flag]
			lines = slices.Delete(lines, st.first-1, st.last)
			removed = []string{toml.Key{"users", name, "must_change_password"}.String()}
		}
	}
	// The lower edit goes first, so that the line numbers of the other
	// stay right. A password line that is missing goes right below the
	// header, above the flag.
	if flag > pw {
		dropFlag()
		setPassword()
	} else {
		setPassword()
		dropFlag()
	}
	out, c, err := e.finish(lines, added, removed)
	if err != nil {
		return "", err
	}
	if c.Users[name].MustChangePassword {
		// Unreachable unless the line-based edit is wrong.
		return "", fmt.Errorf("users: not changing %s: the edit did not clear must_change_password of %q", path, name)
	}
	return out, checkVerifier(c, name, v)
}

// deleteUserText returns text without the table of the user name. See
// DeleteUser for which lines go.
func deleteUserText(path, text, name string) (string, error) {
	e, err := openEditable(path, text)
	if err != nil {
		return "", err
	}
	h, end := e.userTable(name)
	if h < 0 {
		return "", fmt.Errorf("%w: %q in %s", ErrNoUser, name, path)
	}
	from, to := e.lay.stmts[h].first, e.lay.stmts[end-1].last // 1-based, inclusive
	blank := func(n int) bool { return strings.TrimSpace(e.lines[n-1]) == "" }
	switch {
	case to < len(e.lines):
		if blank(to+1) && (from == 1 || blank(from-1)) {
			to++
		}
	default:
		for from > 1 && blank(from-1) {
			from--
		}
	}
	lines := slices.Delete(slices.Clone(e.lines), from-1, to)
	out, c, err := e.finish(lines, nil, e.userKeys(name))
	if err != nil {
		return "", err
	}
	if _, ok := c.Users[name]; ok {
		return "", fmt.Errorf("users: not changing %s: the edit did not remove %q", path, name)
	}
	return out, nil
}

// quote returns s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
