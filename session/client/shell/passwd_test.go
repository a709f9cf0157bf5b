package shell

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestPasswdRefusesLocally checks the new password twice before anything
// is sent (the Shell has no client: nothing may reach one).
func TestPasswdRefusesLocally(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"differ", "passwd\nold password\nnew password 1\nnew password 2\n", "the new passwords differ"},
		{"short", "passwd\nold password\nshort\nshort\n", "shorter than 8 characters"},
		{"same", "passwd\nold password\nold password\nold password\n", "is the current one"},
		{"too few lines", "passwd\nold password\n", "no more input lines"},
		{"arguments", "passwd alice\n", "usage: passwd"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			s := &Shell{Stdout: &out, Stderr: &errOut}
			if st := s.Loop(context.Background(), strings.NewReader(tt.in), false); st != ExitFailed {
				t.Errorf("status %d; want %d", st, ExitFailed)
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr %q; want %q", errOut.String(), tt.want)
			}
		})
	}
}

func TestPasswdReadsStdinLines(t *testing.T) {
	var out, errOut bytes.Buffer
	s := &Shell{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader("old password\nnew one 1\nnew one 2\nrest")}
	if st := s.Exec(context.Background(), []string{"passwd"}); st != ExitFailed || !strings.Contains(errOut.String(), "differ") {
		t.Errorf("Exec(passwd) = %d, %q", st, errOut.String())
	}
	if line, ok := readLine(s.Stdin); !ok || line != "rest" {
		t.Errorf("after passwd, stdin has %q, %v; want the rest untouched", line, ok)
	}
}
