//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package knownhosts

import "os"

// lockFile does nothing: this system has no file locking that Go exposes.
func lockFile(*os.File) error { return nil }

// unlockFile does nothing.
func unlockFile(*os.File) error { return nil }
