package shell

import (
	"errors"
	"os"
	"strings"
)

// errUnterminatedQuote reports a line whose quote never closes.
var errUnterminatedQuote = errors.New("unterminated quote")

// splitArgs splits a command line into words. Quotes group words as in a
// POSIX shell. With windows set, a backslash is an ordinary character, so
// C:\Users\x stays whole; otherwise it escapes the next character.
func splitArgs(line string, windows bool) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' && !windows {
				escaped = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\' && !windows:
			escaped, inWord = true, true
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, errUnterminatedQuote
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// localArgs reads the arguments of a command whose first arguments are
// local paths (upload). When the whole unquoted rest of the line names an
// existing local file, it is one path, so the seed's
//
//	upload C:\Users\Admin\Desktop\MY STUFFS\CSC 574\CSC 574 Programming_Assignment_1.pdf
//
// works unquoted. Otherwise the rest is split by splitArgs.
func localArgs(rest string, windows bool, stat func(string) (os.FileInfo, error)) ([]string, error) {
	trimmed := strings.TrimSpace(rest)
	if trimmed != "" && !strings.ContainsAny(trimmed, `"'`) {
		if fi, err := stat(trimmed); err == nil && !fi.IsDir() {
			return []string{trimmed}, nil
		}
	}
	return splitArgs(rest, windows)
}
