//go:build !unix || aix

package users

import (
	"io/fs"
	"os"
)

// lockingWorks reports whether lockFile excludes other editors.
const lockingWorks = false

// lockFile does nothing on this platform: concurrent edits of one file are
// not excluded, and the last writer wins.
func lockFile(path string) (unlock func(), err error) {
	return func() {}, nil
}

// syncDir does nothing on this platform.
func syncDir(dir string) error { return nil }

// keepOwner does nothing on this platform.
func keepOwner(f *os.File, orig fs.FileInfo) error { return nil }
