package session

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cubby-dev/cubby/wire"
)

// Path errors, each mapped to its wire kind by codeFor.
var (
	ErrOutsideHome = errors.New("session: path is outside your home")
	ErrBadPath     = errors.New("session: invalid path")
)

// maxNameLen is the longest file name Linux file systems store.
const maxNameLen = 255

// home is one user's folder, opened as an os.Root so that no path a user
// gives — "..", absolute, or through a symbolic link — reaches outside it.
type home struct {
	user string
	root *os.Root
}

// resolve turns a path the user typed into a clean path relative to the
// home, interpreting it against cwd (itself clean and relative). "~" and
// "~/x" are the home; an absolute path must lie under /home/<user>, where
// the jail shows the home. The result is "." for the home itself.
// resolve only does lexical work: symbolic links are the os.Root's job.
func resolve(user, cwd, p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("%w: %q contains a NUL byte", ErrBadPath, p)
	}
	if len(p) > wire.MaxPathLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrBadPath, wire.MaxPathLen)
	}
	jailHome := "/home/" + user
	switch {
	case p == "~" || strings.HasPrefix(p, "~/"):
		p = "./" + p[1:]
	case p == jailHome || strings.HasPrefix(p, jailHome+"/"):
		p = "./" + p[len(jailHome):]
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%w: %s", ErrOutsideHome, p)
	default:
		p = path.Join(cwd, p)
	}
	rel := path.Clean(p)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%w: %s", ErrOutsideHome, display(rel))
	}
	for _, elem := range strings.Split(rel, "/") {
		if len(elem) > maxNameLen {
			return "", fmt.Errorf("%w: a name is longer than %d bytes", ErrBadPath, maxNameLen)
		}
	}
	return rel, nil
}

// openDir opens the directory rel of root for reading. Anything else
// fails at once (ENOTDIR): a FIFO that a user's program put where a
// folder was would otherwise block the open, and the session or login
// with it, until something wrote to it.
func openDir(root *os.Root, rel string) (*os.File, error) {
	return root.OpenFile(rel, os.O_RDONLY|unix.O_DIRECTORY, 0)
}

// openNoBlock opens rel of root for reading without waiting for a writer
// if it is a FIFO; the caller refuses anything but a regular file.
func openNoBlock(root *os.Root, rel string) (*os.File, error) {
	return root.OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK, 0)
}

// display shows a home-relative path the way the user sees it: "~/a/b".
func display(rel string) string {
	if rel == "." || rel == "" {
		return "~"
	}
	return "~/" + rel
}

// validName reports whether name is a single path element that may be
// created in a directory.
func validName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("%w: %q is not a file name", ErrBadPath, name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("%w: file name %q contains '/' or NUL", ErrBadPath, name)
	case len(name) > maxNameLen:
		return fmt.Errorf("%w: file name longer than %d bytes", ErrBadPath, maxNameLen)
	}
	return nil
}
