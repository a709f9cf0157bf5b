//go:build windows

package knownhosts

import (
	"os"

	"golang.org/x/sys/windows"
)

// Windows locks are mandatory: a locked range cannot be read through
// another handle, and the known_hosts file is read through one. So lock a
// single byte far beyond the end of the file instead, which Windows allows,
// as SQLite does.
const (
	lockOffsetHigh = 0x7fffffff
	lockOffsetLow  = 0
)

// lockFile takes an exclusive lock on f, waiting for it.
func lockFile(f *os.File) error {
	ol := &windows.Overlapped{Offset: lockOffsetLow, OffsetHigh: lockOffsetHigh}
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, ol)
}

// unlockFile releases the lock taken by lockFile.
func unlockFile(f *os.File) error {
	ol := &windows.Overlapped{Offset: lockOffsetLow, OffsetHigh: lockOffsetHigh}
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
}
