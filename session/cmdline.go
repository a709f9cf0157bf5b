package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/google/shlex"

	"github.com/cubby-dev/cubby/wire"
)

// Bounds on what one command line may expand to, and on the work the
// server does to expand it: globbing runs in the server, outside the
// jail's CPU limit, so every directory entry read and every lookup counts
// against globBudget.
const (
	maxArgs      = 10_000
	maxArgsBytes = 1 << 20
	globBudget   = 100_000
)

// word is one argument of a command line and whether it may be expanded:
// only words with an unquoted glob character or a leading unquoted ~ are.
type word struct {
	text   string
	glob   bool // an unquoted *, ? or [ appears
	tilde  bool // starts with an unquoted ~ alone or ~/
	quoted bool // some part was quoted or escaped
}

// splitLine splits a command line as a POSIX shell would, with shlex, and
// notes per word which characters were unquoted, which shlex forgets.
func splitLine(line string) ([]word, error) {
	argv, err := shlex.Split(line)
	if err != nil {
		return nil, errorf(wire.KindInvalid, "cannot parse the command line: "+err.Error())
	}
	marks := scanUnquoted(line)
	if len(marks) != len(argv) {
		// The scanner mirrors shlex's rules; if they ever disagree, expand nothing.
		marks = make([]word, len(argv))
	}
	words := make([]word, len(argv))
	for i, a := range argv {
		words[i] = marks[i]
		words[i].text = a
	}
	return words, nil
}

// scanUnquoted walks the line with POSIX quoting rules and reports, per
// word, whether it has unquoted glob characters or an unquoted leading ~.
func scanUnquoted(line string) []word {
	var words []word
	var cur word
	inWord := false
	var quote byte
	escaped := false
	var raw strings.Builder
	flush := func() {
		if inWord {
			r := raw.String()
			cur.tilde = !cur.quoted && (r == "~" || strings.HasPrefix(r, "~/")) || cur.tilde
			words = append(words, cur)
		}
		cur, inWord = word{}, false
		raw.Reset()
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case escaped:
			escaped = false
			cur.quoted = true
			raw.WriteByte(0) // an escaped character is never special
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				raw.WriteByte(0)
			}
		case quote == '"':
			if c == '"' {
				quote = 0
			} else if c == '\\' && i+1 < len(line) && strings.IndexByte("\\\"$`\n", line[i+1]) >= 0 {
				escaped = true
			} else {
				raw.WriteByte(0)
			}
		case c == '\\':
			escaped, inWord = true, true
		case c == '\'' || c == '"':
			quote, inWord, cur.quoted = c, true, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		case c == '#' && !inWord:
			// A comment runs to the end of the line, as in shlex.
			if nl := strings.IndexByte(line[i:], '\n'); nl >= 0 {
				i += nl - 1
				continue
			}
			flush()
			return words
		default:
			inWord = true
			if strings.IndexByte("*?[", c) >= 0 {
				cur.glob = true
			}
			raw.WriteByte(c)
		}
	}
	flush()
	return words
}

// expand turns words into argv: tilde and glob expansion inside the home,
// with patterns matching nothing passed on unchanged, as a shell does.
func (s *session) expand(words []word) ([]string, error) {
	argv := make([]string, 0, len(words))
	total := 0
	budget := globBudget
	jailHome := "/home/" + s.home.user
	for i, w := range words {
		text := w.text
		if w.tilde {
			text = jailHome + strings.TrimPrefix(text, "~")
		}
		var matches []string
		if w.glob && i > 0 {
			var err error
			if matches, err = s.glob(text, maxArgs-len(argv), &budget); err != nil {
				return nil, err
			}
		}
		if len(matches) == 0 {
			matches = []string{text}
		}
		for _, m := range matches {
			total += len(m) + 1
		}
		argv = append(argv, matches...)
		if len(argv) > maxArgs || total > maxArgsBytes {
			return nil, errorf(wire.KindInvalid, fmt.Sprintf("argument list too long (limit %d arguments, %d bytes)", maxArgs, maxArgsBytes))
		}
	}
	return argv, nil
}

// errTooManyMatches stops a glob that would exceed the argument limit.
var errTooManyMatches = errors.New("too many matches")

// errTooExpensive stops a line whose globs would read too much.
var errTooExpensive = errorf(wire.KindInvalid, fmt.Sprintf("a pattern is too expensive to expand (more than %d directory entries and path steps); narrow it", globBudget))

// glob expands one pattern against the home through the os.Root. It
// returns the matches spelled as the pattern was (relative, or under
// /home/<user>), sorted, or nil when nothing matches.
func (s *session) glob(pattern string, limit int, budget *int) ([]string, error) {
	// Opening a path through the os.Root walks each of its components,
	// so a lookup costs its depth.
	spend := func(n int, rel string) bool {
		*budget -= n + strings.Count(rel, "/") + 1
		return *budget >= 0
	}
	jailHome := "/home/" + s.home.user
	v := s.newView()
	defer v.close()
	var prefix, base string // prefix is how results are spelled; base the home-relative dir it names
	switch {
	case pattern == jailHome || strings.HasPrefix(pattern, jailHome+"/"):
		prefix, base = jailHome+"/", "."
		pattern = strings.TrimPrefix(strings.TrimPrefix(pattern, jailHome), "/")
	case strings.HasPrefix(pattern, "/"):
		return nil, nil // outside the home: the jail decides what it sees
	default:
		prefix, base = "", s.cwd
	}
	parts := strings.Split(pattern, "/")
	type cand struct{ rel, shown string }
	cands := []cand{{base, strings.TrimSuffix(prefix, "/")}}
	for i, part := range parts {
		last := i == len(parts)-1
		var next []cand
		for _, c := range cands {
			join := func(name string) cand {
				shown := name
				if c.shown != "" {
					shown = c.shown + "/" + name
				}
				// rel keeps ".." as typed: the os.Root resolves it
				// after the names before it, as the jail's kernel will,
				// so a missing name or a link leading out before ".."
				// matches nothing. path.Join would cancel "x/.."
				// without looking at x.
				rel := name
				if c.rel != "." {
					rel = c.rel + "/" + name
				}
				return cand{rel, shown}
			}
			if part == "" {
				if !spend(0, c.rel) {
					return nil, errTooExpensive
				}
				// A trailing slash keeps only directories; a doubled
				// slash inside is kept as typed, as a shell does.
				if !last || v.isDir(c.rel) {
					next = append(next, cand{c.rel, c.shown + "/"})
				}
				continue
			}
			if !hasMeta(part) {
				// A literal part, even "..": the os.Root refuses to leave the home.
				next = append(next, join(part))
				continue
			}
			names, err := v.readDirNames(c.rel)
			if !spend(len(names), c.rel) {
				return nil, errTooExpensive
			}
			if err != nil {
				continue
			}
			for _, name := range names {
				if strings.HasPrefix(name, ".") && !strings.HasPrefix(part, ".") {
					continue
				}
				if ok, err := path.Match(part, name); err != nil {
					return nil, nil // a malformed pattern is passed as is
				} else if ok {
					next = append(next, join(name))
					if len(next) > limit {
						return nil, errorf(wire.KindInvalid, "argument list too long: "+errTooManyMatches.Error())
					}
				}
			}
		}
		cands = next
		if len(cands) == 0 {
			return nil, nil
		}
	}
	var out []string
	for _, c := range cands {
		if !spend(0, c.rel) {
			return nil, errTooExpensive
		}
		if v.exists(c.rel) {
			out = append(out, c.shown)
		}
	}
	slices.Sort(out)
	return out, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// readDirNames lists a directory through an os.Root.
func readDirNames(root *os.Root, rel string) ([]string, error) {
	f, err := openDir(root, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}
