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
	if err := s.setPassword(ctx, read, old); err != nil {
		return err
	}
	fmt.Fprintln(s.Stdout, "passwd: password changed; use the new one from now on")
	return nil
}

// refusal is a new password refused before anything was sent.
type refusal string

func (r refusal) Error() string { return string(r) }

// setPassword asks for the new password twice, checks it and sets it,
// proving the current password old.
func (s *Shell) setPassword(ctx context.Context, read func(prompt string) ([]byte, error), old []byte) error {
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
		return refusal("passwd: the new passwords differ; nothing changed")
	case utf8.RuneCount(pw) < MinPasswordLen:
		return refusal(fmt.Sprintf("passwd: the new password is shorter than %d characters; nothing changed", MinPasswordLen))
	case bytes.Equal(pw, old):
		return refusal("passwd: the new password is the current one; nothing changed")
	}
	return s.Client.Passwd(ctx, old, pw)
}

// requiredAttempts is how many times ChangeRequiredPassword asks for a new
// password that it refuses itself (such as two that differ).
const requiredAttempts = 3

// ChangeRequiredPassword has the user choose a new password, on the
// terminal, when the server requires one before anything else
// (client.Client.MustChangePassword): the password was set for the user,
// such as a one-time password from the admin's roster import. The current
// password is the one the session logged in with, or, after a key login,
// is asked for. It needs ReadPassword; a caller without a terminal should
// tell the user to log in once interactively instead.
func (s *Shell) ChangeRequiredPassword(ctx context.Context) error {
	if s.ReadPassword == nil {
		return fmt.Errorf("%s must set a new password first: log in once interactively with cubby", s.Client.User())
	}
	fmt.Fprintln(s.Stderr, "You must choose a new password before using cubby.")
	old := s.Client.LoginPassword()
	if old == nil {
		var err error
		if old, err = s.ReadPassword("Current (one-time) password: "); err != nil {
			return err
		}
	}
	defer clear(old)
	for attempt := 1; ; attempt++ {
		err := s.setPassword(ctx, s.ReadPassword, old)
		if err == nil {
			fmt.Fprintln(s.Stderr, "Password changed; use the new one from now on.")
			return nil
		}
		if _, ok := err.(refusal); !ok || attempt == requiredAttempts {
			return err
		}
		fmt.Fprintln(s.Stderr, err)
	}
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
