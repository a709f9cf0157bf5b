//go:build linux

package sandbox

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// landlockABI returns the kernel's Landlock ABI version, 0 when Landlock
// is unavailable.
func landlockABI() int {
	v, _, e := syscall.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(v)
}

// landlockFS returns every filesystem right that the ABI knows.
func landlockFS(abi int) uint64 {
	all := uint64(unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM)
	if abi >= 2 {
		all |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		all |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		all |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return all
}

// applyLandlock restricts the calling thread (and the program it execs):
// read everywhere in the jail, execute only in the system directories, write
// only in the home, /tmp and /dev; no TCP (ABI 4); no abstract unix sockets
// or signals outside the jail's domain (ABI 6). It needs no_new_privs.
// exe, when not -1, is an O_PATH descriptor of one more file that may be
// executed: the binary that becomes a kept jail's PID 1 (reachable by no
// path in the jail).
func applyLandlock(abi int, sysDirs []string, home string, exe int) error {
	handled := landlockFS(abi)
	// struct landlock_ruleset_attr grew with the ABI: pass only the fields
	// this kernel knows.
	attr := make([]byte, 24)
	binary.NativeEndian.PutUint64(attr[0:], handled)
	size := 8
	if abi >= 4 {
		binary.NativeEndian.PutUint64(attr[8:], unix.LANDLOCK_ACCESS_NET_BIND_TCP|unix.LANDLOCK_ACCESS_NET_CONNECT_TCP)
		size = 16
	}
	if abi >= 6 {
		binary.NativeEndian.PutUint64(attr[16:], unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET|unix.LANDLOCK_SCOPE_SIGNAL)
		size = 24
	}
	rfd, _, e := syscall.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr[0])), uintptr(size), 0)
	if e != 0 {
		return fmt.Errorf("create ruleset: %w", e)
	}
	defer unix.Close(int(rfd))

	read := uint64(unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR)
	write := handled &^ (unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_MAKE_CHAR |
		unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV)
	rules := []struct {
		path   string
		access uint64
	}{
		{"/", read},
		{"/dev", read | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | (handled & (unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV))},
		{"/tmp", write},
		{home, write},
	}
	for _, d := range sysDirs {
		rules = append(rules, struct {
			path   string
			access uint64
		}{d, read | unix.LANDLOCK_ACCESS_FS_EXECUTE})
	}
	for _, r := range rules {
		fd, err := unix.Open(r.path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", r.path, err)
		}
		err = addRule(rfd, fd, r.access)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("add rule %s: %w", r.path, err)
		}
	}
	if exe != -1 {
		if err := addRule(rfd, exe, unix.LANDLOCK_ACCESS_FS_EXECUTE|unix.LANDLOCK_ACCESS_FS_READ_FILE); err != nil {
			return fmt.Errorf("add rule for the jail's binary: %w", err)
		}
	}
	if _, _, e := syscall.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, rfd, 0, 0); e != 0 {
		return fmt.Errorf("restrict self: %w", e)
	}
	return nil
}

// addRule allows access beneath the file or directory fd.
func addRule(rulesetFD uintptr, fd int, access uint64) error {
	// struct landlock_path_beneath_attr is packed: u64 access, s32 fd.
	var pb [12]byte
	binary.NativeEndian.PutUint64(pb[0:], access)
	binary.NativeEndian.PutUint32(pb[8:], uint32(fd))
	_, _, e := syscall.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, rulesetFD, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&pb[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
