package sandbox

import (
	"regexp"
	"testing"
)

// TestValidUser compares validUser with the regexp it replaces.
func TestValidUser(t *testing.T) {
	re := regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	for _, s := range []string{"", "a", "_", "-", "0", "a0", "a-", "A", "aB", "a b", "alice", "a/b", "_x-9", "abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz0123456", "é", "a\x00", "a\n"} {
		if validUser(s) != re.MatchString(s) {
			t.Errorf("%q: %v vs %v", s, validUser(s), re.MatchString(s))
		}
	}
}
