package shell

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cubby-dev/cubby/wire"
)

// Lister lists a remote directory through the protocol; *client.Client
// is one. "" is the remote working directory.
type Lister interface {
	List(ctx context.Context, dir string) ([]wire.Entry, error)
}

// completionNames are what the first word of a line completes to: the
// client's commands and the server's built-ins.
var completionNames = []string{"cd", "download", "exit", "get", "help", "lcd", "lls", "lpwd", "put", "pwd", "quit", "rm", "trash", "undelete", "upload"}

// trashVerbs are what trash's one argument completes to.
var trashVerbs = []string{"empty", "list"}

// Completer completes the word under the cursor: a command name first,
// then remote paths (asked of the server with List, never by running
// ls) or local paths, by command.
type Completer struct {
	Remote Lister
	// Windows reads local paths with backslashes as separators and
	// quotes instead of escaping.
	Windows bool
	// ReadDir lists a local directory; nil means os.ReadDir.
	ReadDir func(dir string) ([]os.DirEntry, error)
	// Timeout bounds a remote listing; zero means 5 s.
	Timeout time.Duration
}

// Completion is the result of completing a line.
type Completion struct {
	Line string // the new line
	Pos  int    // the new cursor position, in bytes
	// Matches lists the candidates when more than one name matched,
	// directories with a trailing "/".
	Matches []string
}

// candidate is one name that matches the word being completed.
type candidate struct {
	name string
	dir  bool
}

// Complete completes line at byte offset pos.
func (c *Completer) Complete(ctx context.Context, line string, pos int) Completion {
	pos = min(max(pos, 0), len(line))
	words, cur := scanWords(line[:pos], false)
	if c.Windows && len(words) > 0 && isBuiltin(words[0]) {
		// Client commands read backslashes as separators there.
		words, cur = scanWords(line[:pos], true)
	}
	none := Completion{Line: line, Pos: pos}
	var cands []candidate
	var dirPart string
	escape := true
	switch {
	case len(words) == 0:
		for _, n := range completionNames {
			if strings.HasPrefix(n, cur.value) {
				cands = append(cands, candidate{name: n})
			}
		}
	default:
		cmd := words[0]
		if strings.HasPrefix(cur.value, "-") {
			return none
		}
		switch cmd {
		case "help", "?":
			if len(words) > 1 {
				return none
			}
			for _, n := range completionNames {
				if strings.HasPrefix(n, cur.value) {
					cands = append(cands, candidate{name: n})
				}
			}
		case "quit", "exit", "bye", "lpwd":
			return none
		case "trash":
			if len(words) > 1 {
				return none
			}
			for _, n := range trashVerbs {
				if strings.HasPrefix(n, cur.value) {
					cands = append(cands, candidate{name: n})
				}
			}
		case "upload", "put", "lcd", "lls":
			escape = !c.Windows
			dirPart, cands = c.local(cur.value, cmd == "lcd")
		default:
			if c.Remote == nil {
				return none
			}
			// download's local target is typed, not completed; its
			// sources and every remote command's words are remote paths.
			escape = !c.Windows || !isBuiltin(cmd)
			dirPart, cands = c.remote(ctx, cur.value, cmd == "cd")
		}
	}
	if len(cands) == 0 {
		return none
	}
	slices.SortFunc(cands, func(a, b candidate) int { return strings.Compare(a.name, b.name) })
	var value string
	var closeWord bool
	var matches []string
	if len(cands) == 1 {
		value = dirPart + cands[0].name
		if cands[0].dir {
			value += "/"
		} else {
			closeWord = true
		}
	} else {
		prefix := cands[0].name
		for _, cd := range cands[1:] {
			prefix = commonPrefix(prefix, cd.name)
		}
		value = dirPart + prefix
		for _, cd := range cands {
			n := cd.name
			if cd.dir {
				n += "/"
			}
			matches = append(matches, n)
		}
	}
	word := encodeWord(value, cur.quote, escape, closeWord)
	if closeWord {
		word += " "
	}
	newLine := line[:cur.start] + word + line[pos:]
	return Completion{Line: newLine, Pos: cur.start + len(word), Matches: matches}
}

// local lists the local directory of value for names it begins.
func (c *Completer) local(value string, dirsOnly bool) (string, []candidate) {
	seps := "/"
	if c.Windows {
		seps = `/\`
	}
	i := strings.LastIndexAny(value, seps)
	dirPart, base := value[:i+1], value[i+1:]
	dir := dirPart
	if dir == "" {
		dir = "."
	} else if c.Windows && len(dir) == 2 && dir[1] == ':' {
		dir += `.` // "C:" alone is the drive's working directory
	}
	readDir := c.ReadDir
	if readDir == nil {
		readDir = os.ReadDir
	}
	ents, err := readDir(dir)
	if err != nil {
		return "", nil
	}
	var out []candidate
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		isDir := e.IsDir()
		if !isDir && e.Type()&os.ModeSymlink != 0 {
			if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.IsDir() {
				isDir = true
			}
		}
		if dirsOnly && !isDir {
			continue
		}
		out = append(out, candidate{name: name, dir: isDir})
	}
	return dirPart, out
}

// remote lists the remote directory of value for names it begins.
func (c *Completer) remote(ctx context.Context, value string, dirsOnly bool) (string, []candidate) {
	i := strings.LastIndexByte(value, '/')
	dirPart, base := value[:i+1], value[i+1:]
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ents, err := c.Remote.List(ctx, dirPart)
	if err != nil {
		return "", nil
	}
	var out []candidate
	for _, e := range ents {
		if !strings.HasPrefix(e.Name, base) || (strings.HasPrefix(e.Name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		isDir := e.Mode&wire.ModeTypeMask == wire.ModeDir
		if dirsOnly && !isDir && e.Mode&wire.ModeTypeMask != wire.ModeSymlink {
			continue
		}
		out = append(out, candidate{name: e.Name, dir: isDir})
	}
	return dirPart, out
}

func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	// Do not cut a UTF-8 sequence in two.
	for n > 0 && n < len(a) && a[n]&0xC0 == 0x80 {
		n--
	}
	return a[:n]
}

// partialWord is the word under the cursor: where it starts in the line,
// its value with quotes and escapes removed, and the quote still open.
type partialWord struct {
	start int
	value string
	quote rune
}

// scanWords splits the text before the cursor like splitArgs does
// (backslash escapes, single and double quotes), tolerating an open
// quote: it returns the finished words and the one being typed. With
// literalBackslash, a backslash is an ordinary character (Windows paths).
func scanWords(s string, literalBackslash bool) (words []string, cur partialWord) {
	var b strings.Builder
	inWord, escaped := false, false
	var quote rune
	for i, r := range s {
		switch {
		case escaped:
			b.WriteRune(r)
			escaped = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' && !literalBackslash {
				escaped = true
			} else {
				b.WriteRune(r)
			}
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
			continue
		case r == '\\' && !literalBackslash:
			escaped = true
		case r == '"' || r == '\'':
			quote = r
		default:
			b.WriteRune(r)
		}
		if !inWord {
			inWord = true
			cur.start = i
		}
	}
	if !inWord {
		cur.start = len(s)
	}
	cur.value, cur.quote = b.String(), quote
	return words, cur
}

// posixSpecial are the characters encodeWord escapes outside quotes.
const posixSpecial = " \t\\'\"$`;&|<>(){}#!*?["

// encodeWord writes value back as a word the line's reader gives back.
// In an open quote it continues that quote (closing it when closeQuote).
// Otherwise special characters are escaped with a backslash, or, where
// backslashes are path separators (escape false), the word is put in
// double quotes when it needs any.
func encodeWord(value string, quote rune, escape, closeQuote bool) string {
	var b strings.Builder
	switch {
	case quote == '\'':
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(value, `'`, `'\''`))
	case quote == '"' || (!escape && strings.ContainsAny(value, " \t'\"")):
		quote = '"'
		b.WriteByte('"')
		for _, r := range value {
			if escape && (r == '"' || r == '\\') {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	case escape:
		for _, r := range value {
			if strings.ContainsRune(posixSpecial, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		return b.String()
	default:
		return value
	}
	if closeQuote {
		b.WriteRune(quote)
	}
	return b.String()
}
