// Package sandbox runs one user command in a kernel-enforced jail.
//
// Every [Jail.Run] re-executes the calling binary (/proc/self/exe) with
// [InitArg] in fresh user, mount, PID, network, IPC, UTS and cgroup
// namespaces. That init process builds a new root from scratch and then
// execs the user's program as PID 1 of the new PID namespace:
//
//	/            tmpfs, read-only
//	/usr, /bin…  the host's system directories, read-only, nosuid, nodev
//	             (usrmerge symlinks are reproduced as symlinks)
//	/etc         generated: passwd, group, hosts, nsswitch.conf, hostname,
//	             plus the host's ld.so.cache and localtime; nothing else
//	/dev         tmpfs, read-only: null zero full random urandom tty (bound
//	             from the host) and the fd/stdin/stdout/stderr symlinks
//	/proc        a fresh procfs of the new PID namespace; sysrq-trigger,
//	             kcore, keys and similar files masked, /proc/sys read-only
//	/tmp         private size-capped tmpfs, nosuid, nodev, noexec
//	/home/<user> the user's home, read-write, nosuid, nodev, noexec
//
// [Spec.Mounts] add host directories inside the home, such as a teacher's
// read-only share at ~/handouts: each is cloned with open_tree and
// attached with move_mount to a mount point opened beneath the home with
// openat2 (RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS), so that a link planted
// by the user is never followed; an empty read-only tmpfs can hold further
// mounts (~/submit and the drop boxes in it). All are nosuid, nodev and
// noexec, and read-only when asked.
//
// The host tree is detached with pivot_root, so nothing else of the host
// (other homes, the server's data and configuration, /root, /var) exists in
// the jail's mount namespace.
//
// The program runs as uid and gid 1000, mapped to a single unprivileged host
// id ([Config.HostUID]), with no capabilities in any set, no_new_privs, a
// Landlock domain (when the kernel has Landlock) that allows writes only to
// the home, /tmp and /dev, a seccomp filter, and rlimits. Each jail also gets
// its own cgroup with memory.max (swap 0) and pids.max when cgroup v2 offers
// the memory and pids controllers in a subtree the server may manage (the
// root cgroup as root, or a delegated systemd unit: the server then moves
// itself into a "cubby-server" leaf); the init is created in it with clone3
// CLONE_INTO_CGROUP. Otherwise a root server uses cgroup v1 memory and pids
// hierarchies, and failing both only the rlimits apply. [Jail.Features]
// says which.
//
// A [Session] runs the commands of one login: its first like [Jail.Run],
// the later ones in a kept jail whose PID 1, the keeper, forks and execs
// each program with the same restrictions and kills whatever the program
// left behind when it ends; see [Session] for what a kept jail shares
// and when it is given up.
//
// The jail fails closed: if it cannot be built, [Jail.Run] returns an error
// and never runs the program any other way. [New] builds one jail running a
// self-check before it returns a usable [Jail].
//
// The calling binary must call [MaybeInit] first thing in main (and in
// TestMain of test binaries that run jails).
package sandbox
