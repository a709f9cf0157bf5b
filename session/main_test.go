package session_test

import (
	"os"
	"testing"

	"github.com/cubby-dev/cubby/sandbox"
)

func TestMain(m *testing.M) {
	// The test binary is also the jail's init when a test runs a command.
	sandbox.MaybeInit()
	os.Exit(m.Run())
}
