package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MinPasswordLen is the shortest new password passwd accepts, in
// characters.
const MinPasswordLen = 8

// passwd changes the user's password: the current one, then the new one
// twice, without echo on a terminal, or as three lines otherwise.
func (s *Shell) passwd(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return errors.New("usage: passwd (it asks for the passwords)")
	}
	read := s.passwordReader()
	old, err := read("Current password: ")
	if err != nil {
		return err
	}
	defer clear(old)
	pw, err := read("New password: ")
	if err != nil {
		return err
	}
	defer clear(pw)
	again, err := read("Retype new password: ")
	if err != nil {
		return err
	}
	defer clear(again)
	switch {
	case !bytes.Equal(pw, again):
		return errors.New("passwd: the new passwords differ; nothing changed")
	case utf8.RuneCount(pw) < MinPasswordLen:
		return fmt.Errorf("passwd: the new password is shorter than %d characters; nothing changed", MinPasswordLen)
	case bytes.Equal(pw, old):
		return errors.New("passwd: the new password is the current one; nothing changed")
	}
	if err := s.Client.Passwd(ctx, old, pw); err != nil {
		return err
	}
	fmt.Fprintln(s.Stdout, "passwd: password changed; use the new one from now on")
	return nil
}

// passwordReader returns how passwd reads each password: ReadPassword on
// a terminal, else the next line of the command input or of Stdin.
func (s *Shell) passwordReader() func(prompt string) ([]byte, error) {
	if s.ReadPassword != nil {
		return s.ReadPassword
	}
	return func(prompt string) ([]byte, error) {
		var line string
		var ok bool
		switch {
		case s.nextLine != nil:
			line, ok = s.nextLine()
		case s.Stdin != nil:
			line, ok = readLine(s.Stdin)
		}
		if !ok {
			return nil, errors.New("passwd: no terminal, and no more input lines for the passwords (give three lines: current, new, new again)")
		}
		return []byte(strings.TrimRight(line, "\r")), nil
	}
}

// readLine reads one line from r without reading past it, so that the
// rest of r stays for whatever reads it next.
func readLine(r io.Reader) (string, bool) {
	if sr, ok := r.(interface{ ReadString(byte) (string, error) }); ok {
		line, err := sr.ReadString('\n')
		if line == "" && err != nil {
			return "", false
		}
		return strings.TrimSuffix(line, "\n"), true
	}
	var b []byte
	var c [1]byte
	for {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return string(b), true
			}
			b = append(b, c[0])
		}
		if err != nil {
			return string(b), len(b) > 0
		}
	}
}
