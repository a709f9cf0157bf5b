//go:build linux && amd64

package sandbox

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

func seccompAvailable() bool {
	// PR_GET_SECCOMP fails with EINVAL when the kernel lacks seccomp.
	_, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	return err == nil
}

// deniedSyscalls fail with EPERM in the jail: namespace and mount control,
// kernel keyrings, tracing and cross-process memory access, kernel modules
// and other rarely needed kernel attack surface.
var deniedSyscalls = []uint32{
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_CHROOT, unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_OPEN_TREE, unix.SYS_MOVE_MOUNT, unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK,
	unix.SYS_MOUNT_SETATTR, unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY, unix.SYS_BPF,
	unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD, unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV,
	unix.SYS_PROCESS_VM_WRITEV, unix.SYS_KCMP, unix.SYS_PIDFD_GETFD, unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE, unix.SYS_OPEN_BY_HANDLE_AT,
	unix.SYS_NAME_TO_HANDLE_AT, unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_MODIFY_LDT, unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME,
	unix.SYS_CLOCK_ADJTIME, unix.SYS_ADJTIMEX, unix.SYS_PERSONALITY, unix.SYS_SWAPON, unix.SYS_SWAPOFF,
	unix.SYS_REBOOT, unix.SYS_ACCT, unix.SYS_QUOTACTL, unix.SYS_SYSLOG, unix.SYS_MBIND, unix.SYS_SET_MEMPOLICY,
	unix.SYS_MIGRATE_PAGES, unix.SYS_MOVE_PAGES, unix.SYS_LANDLOCK_CREATE_RULESET, unix.SYS_LOOKUP_DCOOKIE,
	unix.SYS_VHANGUP, unix.SYS_USELIB,
}

const (
	auditArchX8664 = 0xc000003e
	x32SyscallBit  = 0x40000000
	cloneNSFlags   = unix.CLONE_NEWNS | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
		unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP
	// Offsets in struct seccomp_data; argument words are little-endian, so
	// the low 32 bits of args[i] are at 16+8*i.
	offNr, offArch, offArg0, offArg1 = 0, 4, 16, 24
)

// seccompFilter builds the BPF program. It pins the architecture (i386 and
// x32 calls would otherwise bypass a deny-list) and compares only the low 32
// bits of 32-bit arguments such as the ioctl command, as the kernel does.
func seccompFilter() []unix.SockFilter {
	ld := func(off uint32) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
	}
	jeq := func(k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k, Jt: jt, Jf: jf}
	}
	ret := func(k uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k} }
	eperm := ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	enosys := ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	allow := ret(unix.SECCOMP_RET_ALLOW)

	f := []unix.SockFilter{
		ld(offArch),
		jeq(auditArchX8664, 1, 0),
		ret(unix.SECCOMP_RET_KILL_PROCESS),
		ld(offNr),
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: x32SyscallBit, Jt: 0, Jf: 1},
		enosys,
	}
	for _, nr := range deniedSyscalls {
		f = append(f, jeq(nr, 0, 1), eperm)
	}
	// clone3 passes its flags in memory BPF cannot read: make libc fall
	// back to clone, whose flags are checked below.
	f = append(f, jeq(unix.SYS_CLONE3, 0, 1), enosys)
	f = append(f,
		jeq(unix.SYS_IOCTL, 0, 5),
		ld(offArg1),
		jeq(unix.TIOCSTI, 1, 0),
		jeq(unix.TIOCLINUX, 0, 1),
		eperm,
		allow,
	)
	f = append(f,
		jeq(unix.SYS_CLONE, 0, 4),
		ld(offArg0),
		unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: cloneNSFlags, Jt: 0, Jf: 1},
		eperm,
		allow,
	)
	f = append(f,
		jeq(unix.SYS_SOCKET, 0, 4),
		ld(offArg0),
		jeq(unix.AF_NETLINK, 0, 1),
		eperm,
		allow,
	)
	return append(f, allow)
}

// applySeccomp installs the filter on the calling thread, which then execs
// the program. It needs no_new_privs.
func applySeccomp() error {
	f := seccompFilter()
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if e != 0 {
		return fmt.Errorf("install filter: %w", e)
	}
	return nil
}
