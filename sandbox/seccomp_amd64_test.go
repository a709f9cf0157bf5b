//go:build linux && amd64

package sandbox

import (
	"testing"

	"golang.org/x/sys/unix"
)

// runBPF interprets the subset of classic BPF that seccompFilter emits on
// a struct seccomp_data of nr, arch and two arguments.
func runBPF(t *testing.T, prog []unix.SockFilter, nr, arch uint32, arg0, arg1 uint64) uint32 {
	t.Helper()
	word := func(off uint32) uint32 {
		switch off {
		case offNr:
			return nr
		case offArch:
			return arch
		case offArg0:
			return uint32(arg0)
		case offArg0 + 4:
			return uint32(arg0 >> 32)
		case offArg1:
			return uint32(arg1)
		case offArg1 + 4:
			return uint32(arg1 >> 32)
		}
		t.Fatalf("load of offset %d", off)
		return 0
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = word(in.K)
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var cond bool
			switch in.Code & 0xf0 {
			case unix.BPF_JEQ:
				cond = acc == in.K
			case unix.BPF_JGE:
				cond = acc >= in.K
			case unix.BPF_JSET:
				cond = acc&in.K != 0
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		default:
			t.Fatalf("unexpected instruction %#x at %d", in.Code, pc)
		}
	}
	t.Fatal("fell off the end of the program")
	return 0
}

// wantSeccomp is what the filter must return, written out directly.
func wantSeccomp(nr, arch uint32, arg0, arg1 uint64) uint32 {
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	switch {
	case arch != auditArchX8664:
		return unix.SECCOMP_RET_KILL_PROCESS
	case nr >= x32SyscallBit:
		return unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	case nr == unix.SYS_CLONE3:
		return unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	case nr == unix.SYS_IOCTL && (uint32(arg1) == unix.TIOCSTI || uint32(arg1) == unix.TIOCLINUX):
		return eperm
	case nr == unix.SYS_CLONE && uint32(arg0)&cloneNSFlags != 0:
		return eperm
	case nr == unix.SYS_SOCKET && uint32(arg0) == unix.AF_NETLINK:
		return eperm
	}
	for _, d := range deniedSyscalls {
		if nr == d {
			return eperm
		}
	}
	return unix.SECCOMP_RET_ALLOW
}

func TestSeccompFilter(t *testing.T) {
	prog := seccompFilter()
	if len(prog) > 200 {
		t.Errorf("filter has %d instructions", len(prog))
	}
	args := []uint64{0, uint64(unix.SIGCHLD), unix.TIOCSTI, unix.TIOCLINUX, 1<<32 | unix.TIOCSTI, 1<<32 | unix.TIOCLINUX, unix.TCGETS,
		unix.AF_NETLINK, 1<<32 | unix.AF_NETLINK, unix.AF_INET, unix.AF_UNIX, 1<<40 | unix.CLONE_NEWNS}
	for _, f := range []uint64{unix.CLONE_NEWNS, unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWIPC, unix.CLONE_NEWUTS, unix.CLONE_NEWCGROUP} {
		args = append(args, f, f|uint64(unix.SIGCHLD)|unix.CLONE_VM)
	}
	nrs := []uint32{x32SyscallBit, x32SyscallBit + unix.SYS_MOUNT, x32SyscallBit + 1, 0xffffffff}
	for nr := uint32(0); nr < 1024; nr++ {
		nrs = append(nrs, nr)
	}
	n := 0
	for _, arch := range []uint32{auditArchX8664, 0x40000003 /* i386 */, 0} {
		for _, nr := range nrs {
			for _, a0 := range args {
				for _, a1 := range []uint64{0, unix.TIOCSTI, 1<<32 | unix.TIOCLINUX, unix.TCGETS} {
					got, want := runBPF(t, prog, nr, arch, a0, a1), wantSeccomp(nr, arch, a0, a1)
					if got != want {
						n++
						if n < 20 {
							t.Errorf("nr %d arch %#x args %#x %#x: filter returns %#x, want %#x", nr, arch, a0, a1, got, want)
						}
					}
				}
			}
		}
	}
}
