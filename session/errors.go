package session

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/cubby-dev/cubby/wire"
)

// userError is an error whose text is written for the user and may cross
// the wire as it is.
type userError struct {
	kind wire.Kind
	msg  string
}

func (e *userError) Error() string { return e.msg }

func errorf(kind wire.Kind, msg string) error { return &userError{kind, msg} }

// toWire maps an error to the Error frame a client sees. Only errors made
// for the user keep their text; anything else becomes a generic message,
// its detail left for the server's log.
func toWire(err error, subject string) *wire.Error {
	var ue *userError
	var we *wire.Error
	switch {
	case errors.As(err, &ue):
		return &wire.Error{Kind: ue.kind, Message: ue.msg}
	case errors.As(err, &we):
		return we
	case errors.Is(err, ErrOutsideHome):
		return &wire.Error{Kind: wire.KindOutsideHome, Message: subject + ": path is outside your home"}
	case errors.Is(err, ErrBadPath):
		return &wire.Error{Kind: wire.KindInvalid, Message: subject + ": " + trimPrefix(err)}
	case errors.Is(err, fs.ErrNotExist):
		return &wire.Error{Kind: wire.KindNotFound, Message: subject + ": no such file or directory"}
	case errors.Is(err, fs.ErrExist):
		return &wire.Error{Kind: wire.KindExists, Message: subject + ": already exists"}
	case errors.Is(err, syscall.EISDIR):
		return &wire.Error{Kind: wire.KindIsDir, Message: subject + ": is a directory"}
	case errors.Is(err, syscall.ENOTDIR):
		return &wire.Error{Kind: wire.KindNotDir, Message: subject + ": not a directory"}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &wire.Error{Kind: wire.KindNoSpace, Message: subject + ": no space left on the server"}
	case errors.Is(err, fs.ErrPermission):
		return &wire.Error{Kind: wire.KindPermission, Message: subject + ": permission denied"}
	case errors.Is(err, syscall.ENAMETOOLONG):
		return &wire.Error{Kind: wire.KindInvalid, Message: subject + ": name too long"}
	case errors.Is(err, syscall.ELOOP):
		return &wire.Error{Kind: wire.KindOutsideHome, Message: subject + ": too many levels of symbolic links"}
	case isEscape(err):
		return &wire.Error{Kind: wire.KindOutsideHome, Message: subject + ": path is outside your home"}
	case errors.Is(err, context.Canceled):
		return &wire.Error{Kind: wire.KindCanceled, Message: subject + ": canceled"}
	}
	return &wire.Error{Kind: wire.KindInternal, Message: subject + ": internal server error"}
}

// isEscape reports os.Root's refusal of a path that leaves the root, such
// as a symbolic link pointing outside the home.
func isEscape(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent"
}

func trimPrefix(err error) string {
	s := err.Error()
	const p = "session: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
