//go:build unix && !aix

package users

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockingWorks reports whether lockFile excludes other editors.
const lockingWorks = true

// lockFile takes an exclusive flock(2) lock on the file at path, creating
// it with mode 0600 if needed, and waits until it is granted. The lock file
// is left in place when unlocked: removing it would let two editors lock
// different files of the same name. flock locks belong to the open file,
// so they also exclude editors in other goroutines of the same process.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("users: locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// syncDir flushes the directory dir, so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// keepOwner gives f the owner and group of orig. If f's owner already
// matches, failing to set the group is ignored: the file's mode is 0600,
// so the group grants nothing. A different owner that cannot be restored
// is an error, because the account that owned the file (usually the one
// cubbyd runs as) could no longer read it.
func keepOwner(f *os.File, orig fs.FileInfo) error {
	want, ok := orig.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	have, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || have.Uid == want.Uid && have.Gid == want.Gid {
		return nil
	}
	err = f.Chown(int(want.Uid), int(want.Gid))
	if err != nil && have.Uid != want.Uid {
		return fmt.Errorf("users: keeping the owner (uid %d) of %s: %w", want.Uid, orig.Name(), err)
	}
	return nil
}
