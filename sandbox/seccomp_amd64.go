//go:build linux && amd64

package sandbox

import (
	"fmt"
	"slices"
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
//
// The system call number is looked up with a binary search, not a linear
// list: every system call of the jail runs the filter, and installing it
// runs it once per system call number to build the kernel's allow cache.
func seccompFilter() []unix.SockFilter {
	var a bpfAsm
	const (
		lEPERM = iota + 1
		lENOSYS
		lAllow
		lIoctl
		lClone
		lSocket
		lFirstFree
	)
	a.next = lFirstFree
	action := map[uint32]int{
		unix.SYS_CLONE3: lENOSYS, // flags in memory BPF cannot read: make libc fall back to clone
		unix.SYS_IOCTL:  lIoctl,
		unix.SYS_CLONE:  lClone,
		unix.SYS_SOCKET: lSocket,
	}
	for _, nr := range deniedSyscalls {
		action[nr] = lEPERM
	}
	nrs := make([]uint32, 0, len(action))
	for nr := range action {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)

	a.ld(offArch)
	a.jeq(auditArchX8664, skipOne, 0)
	a.ret(unix.SECCOMP_RET_KILL_PROCESS)
	a.ld(offNr)
	a.jge(x32SyscallBit, lENOSYS, 0)
	a.tree(nrs, action, lAllow)

	a.label(lIoctl)
	a.ld(offArg1)
	a.jeq(unix.TIOCSTI, lEPERM, 0)
	a.jeq(unix.TIOCLINUX, lEPERM, lAllow)
	a.label(lClone)
	a.ld(offArg0)
	a.jset(cloneNSFlags, lEPERM, lAllow)
	a.label(lSocket)
	a.ld(offArg0)
	a.jeq(unix.AF_NETLINK, lEPERM, lAllow)
	a.label(lEPERM)
	a.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	a.label(lENOSYS)
	a.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	a.label(lAllow)
	a.ret(unix.SECCOMP_RET_ALLOW)
	return a.assemble()
}

// bpfAsm assembles a classic BPF program with forward jumps to labels.
type bpfAsm struct {
	prog   []bpfInsn
	labels map[int]int // label → instruction index
	next   int         // next free label
}

// Jump targets that are not labels.
const (
	fallThrough = 0  // the next instruction
	skipOne     = -1 // the one after it
)

// bpfInsn is an instruction whose jump targets are labels (or fallThrough
// and skipOne); k is the target label of a BPF_JA.
type bpfInsn struct {
	code   uint16
	k      uint32
	jt, jf int
}

func (a *bpfAsm) ld(off uint32) {
	a.prog = append(a.prog, bpfInsn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off})
}
func (a *bpfAsm) ret(k uint32) {
	a.prog = append(a.prog, bpfInsn{code: unix.BPF_RET | unix.BPF_K, k: k})
}
func (a *bpfAsm) jmp(op uint16, k uint32, jt, jf int) {
	a.prog = append(a.prog, bpfInsn{code: unix.BPF_JMP | op | unix.BPF_K, k: k, jt: jt, jf: jf})
}
func (a *bpfAsm) jeq(k uint32, jt, jf int)  { a.jmp(unix.BPF_JEQ, k, jt, jf) }
func (a *bpfAsm) jge(k uint32, jt, jf int)  { a.jmp(unix.BPF_JGE, k, jt, jf) }
func (a *bpfAsm) jset(k uint32, jt, jf int) { a.jmp(unix.BPF_JSET, k, jt, jf) }

func (a *bpfAsm) label(l int) {
	if a.labels == nil {
		a.labels = map[int]int{}
	}
	a.labels[l] = len(a.prog)
}

// tree emits a binary search for the accumulator among the sorted nrs,
// jumping to action[nr] on a match and to miss otherwise.
func (a *bpfAsm) tree(nrs []uint32, action map[uint32]int, miss int) {
	if len(nrs) <= 4 {
		for _, nr := range nrs {
			a.jeq(nr, action[nr], 0)
		}
		a.prog = append(a.prog, bpfInsn{code: unix.BPF_JMP | unix.BPF_JA, k: uint32(miss)})
		return
	}
	mid := len(nrs) / 2
	upper := a.next
	a.next++
	a.jge(nrs[mid], upper, 0)
	a.tree(nrs[:mid], action, miss)
	a.label(upper)
	a.tree(nrs[mid:], action, miss)
}

// assemble resolves the labels. It panics on a backward or too long jump,
// which only a change of this file can cause.
func (a *bpfAsm) assemble() []unix.SockFilter {
	out := make([]unix.SockFilter, len(a.prog))
	off := func(i, target int) int {
		switch target {
		case fallThrough:
			return 0
		case skipOne:
			return 1
		}
		pos, ok := a.labels[target]
		if !ok || pos <= i {
			panic("seccomp: bad jump target")
		}
		return pos - i - 1
	}
	for i, in := range a.prog {
		f := unix.SockFilter{Code: in.code, K: in.k}
		switch {
		case in.code == unix.BPF_JMP|unix.BPF_JA:
			f.K = uint32(off(i, int(in.k)))
		case in.code&0x07 == unix.BPF_JMP:
			jt, jf := off(i, in.jt), off(i, in.jf)
			if jt > 255 || jf > 255 {
				panic("seccomp: jump too long")
			}
			f.Jt, f.Jf = uint8(jt), uint8(jf)
		}
		out[i] = f
	}
	return out
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
