package users

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/cubby-dev/cubby/auth"
	"golang.org/x/crypto/ssh"
)

// fileDoc is the layout of users.toml as the toml package decodes it.
// Values whose TOML type may vary (a quota is a string or an integer) or
// whose elements the decoder cannot check with a line number (commands)
// are decoded loosely and checked by validator.checkValues; so are the
// limits (see limitsDoc).
type fileDoc struct {
	Defaults  settingsDoc           `toml:"defaults"`
	Users     map[string]userDoc    `toml:"users"`
	Shares    map[string]shareDoc   `toml:"shares"`
	Dropboxes map[string]dropboxDoc `toml:"dropboxes"`
}

// settingsDoc is the [defaults] table, and the keys of a [users.NAME]
// table that override it. A nil field was not in the file.
type settingsDoc struct {
	Commands *[]any `toml:"commands"`
	Quota    any    `toml:"quota"` // string or int64
	// TrashDays is checked by checkValues; the decoder only knows it is
	// an integer.
	TrashDays *int64 `toml:"trash_days"`
	limitsDoc
}

// userDoc is one [users.NAME] table. A nil field was not in the file.
type userDoc struct {
	Password           *string `toml:"password"`
	Disabled           bool    `toml:"disabled"`
	Demo               bool    `toml:"demo"`
	Keys               *[]any  `toml:"keys"`
	Email              *string `toml:"email"`
	MustChangePassword bool    `toml:"must_change_password"`
	settingsDoc
}

// A valueKind is what a known key must hold.
type valueKind int

const (
	kindTable valueKind = iota + 1
	kindString
	kindBool
	kindCommands
	kindSize
	kindDuration
	kindInteger
	kindKeys
	kindDateTime
	kindDeadlines // a table of date-times by user name
)

// userKey and defaultKey return what the keys allowed in a [users.NAME]
// table and in [defaults] must hold, and false for unknown keys.
func userKey(name string) (valueKind, bool) {
	switch name {
	case "password", "email":
		return kindString, true
	case "disabled", "demo", "must_change_password":
		return kindBool, true
	case "keys":
		return kindKeys, true
	}
	return defaultKey(name)
}

func defaultKey(name string) (valueKind, bool) {
	switch name {
	case "commands":
		return kindCommands, true
	case "quota":
		return kindSize, true
	case "trash_days":
		return kindInteger, true
	}
	if k, ok := findLimitKey(name); ok {
		return k.kind, true
	}
	return 0, false
}

// Parse parses the contents of a users file. Path is used only in error
// messages and in Config.Path. Every error that describes a problem in
// data is a *ParseError.
func Parse(path string, data []byte) (*Config, error) {
	text := string(data)
	var doc fileDoc
	md, decodeErr := toml.Decode(text, &doc)
	if perr, ok := errors.AsType[toml.ParseError](decodeErr); ok {
		return nil, syntaxError(path, text, perr)
	}
	lay, err := scanLayout(text)
	if err != nil {
		// Unreachable unless scanLayout disagrees with the toml package.
		return nil, &ParseError{Path: path, Line: 1, Msg: "cannot locate keys: " + err.Error()}
	}
	v := &validator{path: path, md: md, lay: lay}
	if err := v.checkKeys(); err != nil {
		return nil, err
	}
	if decodeErr != nil {
		// Unreachable: checkKeys reports every value the decoder rejects.
		return nil, v.errorf(1, "%s", oneLine(decodeErr.Error()))
	}
	return v.build(&doc)
}

// syntaxError converts an error of the toml parser. Its Position.Line is
// one too high when the offending character is a line break, so the line
// is counted from the byte offset instead. The offset is relative to the
// text after any byte order mark.
func syntaxError(path, text string, perr toml.ParseError) *ParseError {
	line := max(perr.Position.Line, 1)
	body := text[bomLen(text):]
	if start := perr.Position.Start; perr.Position.Len > 0 && start >= 0 && start <= len(body) {
		line = strings.Count(body[:start], "\n") + 1
	}
	return &ParseError{Path: path, Line: line, Msg: "syntax error: " + oneLine(perr.Message)}
}

// oneLine replaces line breaks in msg so that an error stays on one line.
func oneLine(msg string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
}

// validator checks a decoded users file against its metadata and layout.
type validator struct {
	path string
	md   toml.MetaData
	lay  *layout
}

func (v *validator) errorf(line int, format string, args ...any) *ParseError {
	return &ParseError{Path: v.path, Line: line, Msg: oneLine(fmt.Sprintf(format, args...))}
}

// checkKeys checks, in file order, that every key is known (with exactly
// this spelling), that every user name is valid and that every value has
// the right TOML type. Afterwards the decoder has necessarily succeeded.
func (v *validator) checkKeys() error {
	for _, key := range v.md.Keys() {
		line := v.lay.line(key...)
		// The schema is two levels deep: [defaults], [users.NAME],
		// [shares.NAME] and [dropboxes.NAME] hold the known keys, and
		// [users], [shares] and [dropboxes] hold the named tables.
		var known func(string) (valueKind, bool)
		var depth int // index in key of the known key
		var msg string
		switch key[0] {
		case "defaults":
			known, depth = defaultKey, 1
		case "users":
			if len(key) > 1 {
				msg = nameProblem(key[1])
			}
			known, depth = userKey, 2
		case "shares":
			if len(key) > 1 {
				msg = folderNameProblem("share", key[1])
			}
			known, depth = shareKey, 2
		case "dropboxes":
			if len(key) > 1 {
				msg = folderNameProblem("drop box", key[1])
			}
			known, depth = dropboxKey, 2
		default:
			return v.errorf(line, "unknown key %q (want [defaults], [users.NAME], [shares.NAME] or [dropboxes.NAME] tables)", key[0])
		}
		if msg != "" {
			return v.errorf(line, "%s", msg)
		}
		// Tables on the way to the known keys.
		for i := 1; i <= min(depth, len(key)); i++ {
			if t := v.md.Type(key[:i]...); t != "" && t != "Hash" {
				return v.typeError(key[:i], kindTable, t)
			}
		}
		if len(key) <= depth {
			continue
		}
		kind, ok := known(key[depth])
		if !ok {
			return v.errorf(line, "unknown key %q in [%s]", key[depth], key[:depth])
		}
		leaf := key[:depth+1]
		t := v.md.Type(leaf...)
		if len(key) > depth+1 {
			// A key below a value: the value is a table, or an array
			// holding inline tables, which checkValues reports.
			if t == "Array" {
				continue
			}
			if kind == kindDeadlines && (t == "Hash" || t == "") {
				if err := v.checkDeadlineKey(key); err != nil {
					return err
				}
				continue
			}
			if t == "" {
				t = "Hash"
			}
			return v.typeError(leaf, kind, t)
		}
		if !kind.accepts(t) {
			return v.typeError(leaf, kind, t)
		}
	}
	return nil
}

func (k valueKind) accepts(tomlType string) bool {
	switch k {
	case kindTable, kindDeadlines:
		return tomlType == "Hash"
	case kindDateTime:
		return tomlType == "Datetime"
	case kindString:
		return tomlType == "String"
	case kindBool:
		return tomlType == "Bool"
	case kindCommands, kindKeys:
		return tomlType == "Array"
	case kindSize, kindDuration:
		return tomlType == "String" || tomlType == "Integer"
	case kindInteger:
		return tomlType == "Integer"
	}
	return false
}

func (k valueKind) want() string {
	switch k {
	case kindTable:
		return "a table"
	case kindString:
		return "a string"
	case kindBool:
		return "true or false"
	case kindCommands:
		return `an array of program names such as ["ls", "cat"]`
	case kindSize:
		return `a size such as "1GiB" or an integer number of bytes`
	case kindDuration:
		return `a duration such as "90s" or "2m", or an integer number of seconds`
	case kindInteger:
		return "an integer"
	case kindKeys:
		return `an array of public keys such as ["ssh-ed25519 AAAA... alice@laptop"]`
	case kindDateTime:
		return "a date-time with a time zone such as 2026-12-01T23:59:00-05:00"
	case kindDeadlines:
		return "a table of date-times by user name such as { bob = 2026-12-03T23:59:00-05:00 }"
	}
	return "?"
}

// typeName describes a type as MetaData.Type names it.
func typeName(tomlType string) string {
	switch tomlType {
	case "Integer":
		return "an integer"
	case "Float":
		return "a float"
	case "Datetime":
		return "a date-time"
	case "String":
		return "a string"
	case "Bool":
		return "a boolean"
	case "Array":
		return "an array"
	case "Hash":
		return "a table"
	case "ArrayHash":
		return "an array of tables"
	}
	return "a " + tomlType
}

func (v *validator) typeError(key toml.Key, want valueKind, got string) error {
	return v.errorf(v.lay.line(key...), "%s: must be %s, not %s", key, want.want(), typeName(got))
}

// build checks the values of a decoded file and returns the Config.
func (v *validator) build(doc *fileDoc) (*Config, error) {
	if err := v.checkValues(doc); err != nil {
		return nil, err
	}
	// Users without a password are reported after other problems, in file
	// order.
	users := slices.SortedFunc(maps.Keys(doc.Users), func(a, b string) int {
		return v.lay.line("users", a) - v.lay.line("users", b)
	})
	for _, name := range users {
		if doc.Users[name].Password == nil {
			return nil, v.errorf(v.lay.line("users", name), "users.%s: missing password", name)
		}
	}
	// Every value has been checked, so the conversions below cannot fail.
	c := &Config{Path: v.path, Users: make(map[string]*User, len(doc.Users))}
	c.Defaults = merge(Settings{TrashDays: DefaultTrashDays}, &doc.Defaults)
	if err := v.checkTimeouts(c.Defaults.Limits, nil, toml.Key{"defaults"}); err != nil {
		return nil, err
	}
	for _, name := range users {
		d := doc.Users[name]
		s := merge(c.Defaults, &d.settingsDoc)
		if err := v.checkTimeouts(s.Limits, &d.limitsDoc, toml.Key{"users", name}); err != nil {
			return nil, err
		}
		verifier, _ := auth.ParseVerifier(*d.Password)
		var keys []ssh.PublicKey
		if d.Keys != nil {
			keys, _ = keyList(*d.Keys)
		}
		var email string
		if d.Email != nil {
			email = *d.Email
		}
		c.Users[name] = &User{
			Name:               name,
			Verifier:           verifier,
			Keys:               keys,
			Disabled:           d.Disabled,
			Demo:               d.Demo,
			Email:              email,
			MustChangePassword: d.MustChangePassword,
			Commands:           s.Commands,
			Quota:              s.Quota,
			TrashDays:          s.TrashDays,
			Limits:             s.Limits,
			Line:               v.lay.line("users", name),
		}
	}
	if err := v.buildFolders(doc, c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkTimeouts checks that the merged limits l of the table key allow
// the timeout they set. own holds the table's own limits, to tell the
// values it sets from those of [defaults]; it is nil for [defaults].
func (v *validator) checkTimeouts(l Limits, own *limitsDoc, key toml.Key) error {
	if l.Timeout == 0 || l.MaxTimeout == 0 || l.MaxTimeout >= l.Timeout {
		return nil
	}
	show := func(d time.Duration, set any) string {
		s := formatDuration(d)
		if own != nil && set == nil {
			s += ", from [defaults]"
		}
		return s
	}
	var maxSet, timeoutSet any
	if own != nil {
		maxSet, timeoutSet = own.MaxTimeout, own.Timeout
	}
	return v.errorf(v.lay.line(key...), "%s: max_timeout (%s) must not be less than timeout (%s)",
		key, show(l.MaxTimeout, maxSet), show(l.Timeout, timeoutSet))
}

// checkValues checks, in file order, the values that need more than a type
// check: verifiers, emails, commands, quotas, limits, share paths and
// modes, and date-times.
func (v *validator) checkValues(doc *fileDoc) error {
	for _, key := range v.md.Keys() {
		if (key[0] == "shares" || key[0] == "dropboxes") && len(key) >= 3 {
			if err := checkFolderValue(doc, key); err != nil {
				return v.errorf(v.lay.line(key...), "%s: %v", key, err)
			}
			continue
		}
		var s settingsDoc
		var password, email *string
		var keys *[]any
		switch {
		case len(key) == 2 && key[0] == "defaults":
			s = doc.Defaults
		case len(key) == 3 && key[0] == "users":
			d := doc.Users[key[1]]
			s = d.settingsDoc
			password = d.Password
			email = d.Email
			keys = d.Keys
		default:
			continue
		}
		var err error
		switch key[len(key)-1] {
		case "password":
			if _, perr := auth.ParseVerifier(*password); perr != nil {
				// Never echo the value: it may be a password typed by
				// mistake. The auth package's errors do not echo it either.
				err = fmt.Errorf("bad password verifier: %w", perr)
			}
		case "email":
			if email != nil {
				if msg := emailProblem(*email); msg != "" {
					err = fmt.Errorf("%q %s", *email, msg)
				}
			}
		case "commands":
			_, err = commandList(*s.Commands)
		case "keys":
			if keys != nil {
				_, err = keyList(*keys)
			}
		case "quota":
			_, err = quotaBytes(s.Quota)
		case "trash_days":
			err = checkTrashDays(*s.TrashDays)
		default:
			if k, ok := findLimitKey(key[len(key)-1]); ok {
				_, err = k.value(k.doc(&s.limitsDoc))
			}
		}
		if err != nil {
			// "users.bob: bad password verifier: ..." names the user, not
			// the key, because the verifier is what describes the user.
			name := key
			if key[len(key)-1] == "password" {
				name = key[:2]
			}
			return v.errorf(v.lay.line(key...), "%s: %v", name, err)
		}
	}
	return nil
}

// merge returns base with the settings of a table, where present, in
// place of base's. The table's values must have been checked.
func merge(base Settings, d *settingsDoc) Settings {
	s := Settings{Commands: slices.Clone(base.Commands), Quota: base.Quota, TrashDays: base.TrashDays}
	if d.Commands != nil {
		s.Commands, _ = commandList(*d.Commands)
	}
	if d.Quota != nil {
		s.Quota, _ = quotaBytes(d.Quota)
	}
	if d.TrashDays != nil {
		s.TrashDays = int(*d.TrashDays)
	}
	s.Limits = mergeLimits(base.Limits, &d.limitsDoc)
	return s
}

// commandList checks and converts a decoded commands array.
func commandList(list []any) ([]string, error) {
	out := make([]string, 0, len(list))
	for i, e := range list {
		name, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("entry %d must be a string, not %s", i+1, goTypeName(e))
		}
		if msg := commandProblem(name); msg != "" {
			return nil, fmt.Errorf("entry %d %q %s", i+1, name, msg)
		}
		out = append(out, name)
	}
	return out, nil
}

// keyList checks and parses a decoded keys array of authorized_keys lines.
func keyList(list []any) ([]ssh.PublicKey, error) {
	out := make([]ssh.PublicKey, 0, len(list))
	for i, e := range list {
		line, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("entry %d must be a string, not %s", i+1, goTypeName(e))
		}
		key, _, err := auth.ParseAuthorizedKey(line)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %s", i+1, strings.TrimPrefix(err.Error(), "auth: "))
		}
		out = append(out, key)
	}
	return out, nil
}

// quotaBytes checks and converts a decoded quota, a string or an int64.
func quotaBytes(q any) (int64, error) {
	switch q := q.(type) {
	case int64:
		if q < 0 {
			return 0, errors.New("must not be negative (use 0 for unlimited)")
		}
		return q, nil
	case string:
		return parseSize(q)
	}
	return 0, fmt.Errorf("must be %s, not %s", kindSize.want(), goTypeName(q))
}

// checkTrashDays checks a decoded trash_days.
func checkTrashDays(n int64) error {
	if n < 0 || n > MaxTrashDays {
		return fmt.Errorf("must be between 0 (no trash) and %d days, not %d", MaxTrashDays, n)
	}
	return nil
}

// goTypeName describes a value the toml package decoded into an any.
func goTypeName(x any) string {
	switch x.(type) {
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case string:
		return "a string"
	}
	return "a date-time"
}
