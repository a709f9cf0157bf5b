package session

// Storage quotas.
//
// A user's usage is the sum of st_size over every entry of their home —
// regular files, directories and symbolic links, each inode once (a file
// with several hard links counts once), never following a symbolic link —
// plus their partial uploads: those in progress at the size they declared,
// interrupted ones (kept for --resume) at their length on disk. Apparent
// sizes, not st_blocks, because they are what users see (ls -l), what an
// upload declares and what RLIMIT_FSIZE limits, and they do not depend on
// the file system: a sparse file counts at its full length.
//
// The home's part is measured by one walk the first time it is needed and
// then kept up to date by the server's own changes (an upload's commit
// adds its size less the file it replaced, a Mkdir the new directory).
// A jailed command may change anything, so after each one the home is
// walked again in the background: walks of one user are coalesced (a
// request during a walk runs one more walk after it), at most maxWalks run
// at once, each walks walkBurst entries at full speed and then at most
// walkRate a second, and gives up after walkTimeout. Until a walk ends the
// previous figure stands, so an upload right after a command may be
// checked against a stale figure; a command's own growth is bounded by the
// file size limit it ran with (see command.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/wire"
)

const (
	// quotaFloor is the smallest file size limit a command gets when
	// its user is at or over quota, so that programs that write a little
	// (or nothing) still run.
	quotaFloor = 64 << 10
	// maxWalks bounds the usage walks running at once, over all users.
	maxWalks = 4
	// walkBurst entries are walked at full speed, the rest at walkRate a
	// second.
	walkBurst = 10_000
	walkRate  = 50_000
	// walkTimeout ends a background walk; firstWalkTimeout the first,
	// unpaced walk that a request waits for.
	walkTimeout      = 5 * time.Minute
	firstWalkTimeout = 30 * time.Second
	// maxWalkDepth bounds the directories open at once during a walk.
	maxWalkDepth = 1024
	// noticeWait is how long a command's end waits for the walk after it
	// before telling an over-quota user; quotaShowWait the same for the
	// quota built-in.
	noticeWait    = 500 * time.Millisecond
	quotaShowWait = 2 * time.Second
)

// usageBook holds every user's usage for one Server. It references no
// Server, so that a Server can be collected (see quotas).
type usageBook struct {
	homes   string // <data>/homes
	boxes   string // <data>/dropboxes
	partial string // <data>/homes/.partial
	ctx     context.Context
	log     *slog.Logger
	walks   chan struct{} // semaphore of maxWalks

	mu    sync.Mutex
	users map[string]*usage
}

// usage is one user's entry.
type usage struct {
	known    bool  // home holds a measurement
	home     int64 // bytes in the home
	walking  bool
	again    bool          // walk once more after the running walk
	done     chan struct{} // closed when walking ends
	reserved map[*reservation]struct{}
}

// reservation is an upload in progress: the bytes it may add to the home
// (its declared size less the file it replaces), and the name of its
// partial file, which is not counted separately meanwhile.
type reservation struct {
	user string
	name string
	need int64
}

// newUsageBook makes s's usage book; init calls it once.
func (s *Server) newUsageBook() *usageBook {
	return &usageBook{
		homes:   s.homesDir(),
		boxes:   s.dropboxesDir(),
		partial: s.partialRoot(),
		ctx:     s.ctx,
		log:     s.logger(),
		walks:   make(chan struct{}, maxWalks),
		users:   map[string]*usage{},
	}
}

// entry returns user's entry; b.mu is held.
func (b *usageBook) entry(user string) *usage {
	e := b.users[user]
	if e == nil {
		e = &usage{reserved: map[*reservation]struct{}{}}
		b.users[user] = e
	}
	return e
}

// walkLocked starts a walk of user's home, or asks the running one to
// walk again, and returns a channel closed when walking ends. b.mu is held.
func (b *usageBook) walkLocked(user string, e *usage) <-chan struct{} {
	if e.walking {
		e.again = true
		return e.done
	}
	e.walking, e.done = true, make(chan struct{})
	go b.walkLoop(user, e)
	return e.done
}

func (b *usageBook) walkLoop(user string, e *usage) {
	for {
		b.mu.Lock()
		paced := e.known
		b.mu.Unlock()
		n, err := b.walk(user, paced)
		b.mu.Lock()
		switch {
		case err == nil || !e.known:
			e.home = n
		default:
			// An unfinished walk counted at least n; keep the higher figure.
			e.home = max(e.home, n)
		}
		e.known = true
		if err != nil {
			b.log.Warn("quota: usage walk unfinished", "user", user, "counted", n, "err", err)
			if !paced && !errors.Is(err, errWalkIncomplete) {
				// The first walk ran out of time: finish the count
				// in the background, paced and with longer to run.
				e.again = true
			}
		}
		if !e.again || b.ctx.Err() != nil {
			e.walking, e.again = false, false
			close(e.done)
			b.mu.Unlock()
			return
		}
		e.again = false
		b.mu.Unlock()
	}
}

// walk measures user's home: at full speed the first time (a request is
// waiting), paced after that.
func (b *usageBook) walk(user string, paced bool) (int64, error) {
	timeout := walkTimeout
	if !paced {
		timeout = firstWalkTimeout
	}
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	select {
	case b.walks <- struct{}{}:
		defer func() { <-b.walks }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	start := time.Now()
	n, entries, err := walkHome(ctx, filepath.Join(b.homes, user), paced)
	if err == nil {
		var m int64
		var more int
		m, more, err = b.walkBoxes(ctx, user, paced)
		n, entries = n+m, entries+more
	}
	b.log.Debug("quota: usage walked", "user", user, "bytes", n, "entries", entries, "took", time.Since(start).Round(time.Millisecond))
	return n, err
}

// walkBoxes measures user's copies of the drop boxes, which count
// against their quota like their home: every box with a copy on disk,
// including boxes no longer in the users file, until the admin removes
// it (after collecting it).
func (b *usageBook) walkBoxes(ctx context.Context, user string, paced bool) (n int64, entries int, err error) {
	des, err := os.ReadDir(b.boxes)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	for _, de := range des {
		if !de.IsDir() || users.ValidName(de.Name()) != nil {
			continue
		}
		m, more, err := walkHome(ctx, filepath.Join(b.boxes, de.Name(), user), paced)
		n, entries = n+m, entries+more
		if err != nil {
			return n, entries, err
		}
	}
	return n, entries, nil
}

// usageSnap is a user's usage at one moment.
type usageSnap struct {
	home     int64 // the home, as last measured and updated
	partials int64 // interrupted uploads kept for resuming
	inflight int64 // uploads in progress, as reserved
	walking  bool  // a walk is running: home may be stale
}

func (u usageSnap) total() int64 { return u.home + u.partials + u.inflight }

// known makes sure user's home has been measured, walking it now if not.
func (b *usageBook) known(ctx context.Context, user string) error {
	b.mu.Lock()
	e := b.entry(user)
	if e.known {
		b.mu.Unlock()
		return nil
	}
	done := b.walkLocked(user, e)
	b.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// partialSizes lists the lengths of user's partial uploads by name.
func (b *usageBook) partialSizes(user string) map[string]int64 {
	des, err := os.ReadDir(filepath.Join(b.partial, user))
	if err != nil {
		return nil
	}
	m := make(map[string]int64, len(des))
	for _, de := range des {
		if fi, err := de.Info(); err == nil && fi.Mode().IsRegular() {
			m[de.Name()] = fi.Size()
		}
	}
	return m
}

// snapLocked sums user's usage; partial files of uploads in progress and
// the one called skip are left out. b.mu is held.
func (e *usage) snapLocked(parts map[string]int64, skip string) usageSnap {
	u := usageSnap{home: e.home, walking: e.walking}
	busy := map[string]bool{skip: true}
	for r := range e.reserved {
		u.inflight += max(r.need, 0)
		busy[r.name] = true
	}
	for name, n := range parts {
		if !busy[name] {
			u.partials += n
		}
	}
	return u
}

// usage returns user's usage, measuring the home first if it never was.
func (b *usageBook) usage(ctx context.Context, user string) (usageSnap, error) {
	if err := b.known(ctx, user); err != nil {
		return usageSnap{}, err
	}
	parts := b.partialSizes(user)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.entry(user).snapLocked(parts, ""), nil
}

// reserve admits an upload of size bytes that replaces a file of replaced
// bytes, writing to the partial file called name, or refuses it with an
// error for the user when it would take u past their quota. Release the
// reservation when the upload ends.
func (b *usageBook) reserve(ctx context.Context, u *users.User, name string, size, replaced int64, subject string) (*reservation, error) {
	r := &reservation{user: u.Name, name: name, need: size - replaced}
	var parts map[string]int64
	if u.Quota > 0 {
		if err := b.known(ctx, u.Name); err != nil {
			return nil, err
		}
		parts = b.partialSizes(u.Name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(u.Name)
	if u.Quota > 0 && r.need > 0 {
		used := e.snapLocked(parts, name).total()
		if used+r.need > u.Quota {
			what := formatSize(size) + " upload"
			if replaced > 0 {
				what += " − " + formatSize(replaced) + " replaced"
			}
			return nil, errorf(wire.KindNoSpace, fmt.Sprintf("%s: upload refused: quota exceeded: %s used + %s > %s quota",
				subject, formatSize(used), what, formatSize(u.Quota)))
		}
	}
	e.reserved[r] = struct{}{}
	return r, nil
}

// release ends a reservation; releasing twice does nothing.
func (b *usageBook) release(r *reservation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entry(r.user).reserved, r)
}

// committed ends r for an upload whose size bytes replaced a file of
// replaced bytes in the home.
func (b *usageBook) committed(r *reservation, size, replaced int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.entry(r.user).reserved, r)
	b.addLocked(r.user, size-replaced)
}

// grew records n bytes the server added to user's home itself.
func (b *usageBook) grew(user string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addLocked(user, n)
}

func (b *usageBook) addLocked(user string, n int64) {
	e := b.entry(user)
	if !e.known {
		return // the first walk will count it
	}
	e.home = max(e.home+n, 0)
	if e.walking {
		// The running walk may or may not see this change.
		e.again = true
	}
}

// remeasure walks user's home again in the background, after a command
// that may have changed anything, if it was ever measured. The channel is
// closed when the walk ends; nil means there is nothing to walk.
func (b *usageBook) remeasure(user string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(user)
	if !e.known && !e.walking {
		return nil
	}
	return b.walkLocked(user, e)
}

// walking returns a channel closed when user's running walk ends, or nil.
func (b *usageBook) walking(user string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.entry(user); e.walking {
		return e.done
	}
	return nil
}

// waitChan waits for ch (nil: not at all) at most d.
func waitChan(ch <-chan struct{}, d time.Duration) {
	if ch == nil {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// quotaNotice is what a command's end tells a user with a quota: that
// they are over it, or that the command was stopped at the space left.
// stopped means the command died of SIGXFSZ under a file size limit
// lowered for the quota.
func (b *usageBook) quotaNotice(ctx context.Context, u *users.User, walked <-chan struct{}, stopped bool) string {
	if u.Quota <= 0 {
		return ""
	}
	waitChan(walked, noticeWait)
	snap, err := b.usage(ctx, u.Name)
	if err != nil {
		return ""
	}
	used := snap.total()
	switch {
	case used > u.Quota:
		return fmt.Sprintf("cubby: you are over your quota (%s used of %s); uploads are refused until you delete files\n",
			formatSize(used), formatSize(u.Quota))
	case stopped:
		return fmt.Sprintf("cubby: stopped: a file reached the space left in your quota (%s used of %s); delete files to make room\n",
			formatSize(used), formatSize(u.Quota))
	}
	return ""
}

// quotaText is the quota built-in's output; trash is the size of the
// user's trash, which their usage includes.
func (b *usageBook) quotaText(ctx context.Context, u *users.User, trash int64) (string, error) {
	waitChan(b.walking(u.Name), quotaShowWait)
	snap, err := b.usage(ctx, u.Name)
	if err != nil {
		return "", err
	}
	used := snap.total()
	var s string
	if u.Quota > 0 {
		s = fmt.Sprintf("used %s of %s (%.1f%%)", formatSize(used), formatSize(u.Quota), float64(used)*100/float64(u.Quota))
	} else {
		s = fmt.Sprintf("used %s; no quota", formatSize(used))
	}
	if up := snap.partials + snap.inflight; up > 0 {
		s += fmt.Sprintf(", %s of it in unfinished uploads", formatSize(up))
	}
	if trash > 0 {
		s += fmt.Sprintf(", %s of it in ~/.trash", formatSize(trash))
	}
	if snap.walking {
		s += " (still counting after your last command)"
	}
	s += "\n"
	if u.Quota > 0 && used > u.Quota {
		s += "you are over your quota; uploads are refused until you delete files"
		if trash > 0 {
			s += " (`trash empty` frees " + formatSize(trash) + ")"
		}
		s += "\n"
	}
	return s, nil
}

// formatSize shows n bytes for people: "512 B", "12.3 MiB", "1.0 GiB".
func formatSize(n int64) string {
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for (v >= 1024 || v <= -1024) && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// errWalkIncomplete reports a walk that could not see everything.
var errWalkIncomplete = errors.New("session: some directories could not be walked")

// walkHome sums st_size over the home at dir and every entry in it, each
// inode once, through the home's os.Root and then relative to each
// directory's descriptor with O_NOFOLLOW, so no symbolic link is followed
// and a directory swapped for a link meanwhile is skipped. A missing home
// is empty. With paced set it walks at most walkRate entries a second
// after the first walkBurst. An error means n is a lower bound.
func walkHome(ctx context.Context, dir string, paced bool) (n int64, entries int, err error) {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	defer root.Close()
	f, err := root.Open(".")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, 0, err
	}
	w := &walker{ctx: ctx, paced: paced, start: time.Now(), total: st.Size}
	err = w.dir(f, 0)
	if err == nil && w.incomplete {
		err = errWalkIncomplete
	}
	return w.total, w.n, err
}

type walker struct {
	ctx        context.Context
	paced      bool
	start      time.Time
	n          int
	total      int64
	links      map[[2]uint64]bool // inodes with several links, seen
	incomplete bool
}

// tick counts one entry, checks for cancellation and paces the walk.
func (w *walker) tick() error {
	w.n++
	if w.n%256 != 0 {
		return nil
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if !w.paced || w.n <= walkBurst {
		return nil
	}
	due := time.Duration(float64(w.n-walkBurst) / walkRate * float64(time.Second))
	if wait := due - time.Since(w.start); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-w.ctx.Done():
			return w.ctx.Err()
		}
	}
	return nil
}

func (w *walker) dir(d *os.File, depth int) error {
	fd := int(d.Fd())
	for {
		names, err := d.Readdirnames(256)
		for _, name := range names {
			if err := w.tick(); err != nil {
				return err
			}
			var st unix.Stat_t
			if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
				continue // removed meanwhile
			}
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				w.total += st.Size
				if depth >= maxWalkDepth {
					w.incomplete = true
					continue
				}
				sfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				if err != nil {
					if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
						w.incomplete = true // e.g. a directory its owner made unreadable
					}
					continue
				}
				sub := os.NewFile(uintptr(sfd), name)
				err = w.dir(sub, depth+1)
				sub.Close()
				if err != nil {
					return err
				}
			case unix.S_IFREG:
				if st.Nlink > 1 {
					k := [2]uint64{uint64(st.Dev), st.Ino}
					if w.links[k] {
						continue
					}
					if w.links == nil {
						w.links = map[[2]uint64]bool{}
					}
					w.links[k] = true
				}
				w.total += st.Size
			case unix.S_IFLNK:
				w.total += st.Size
			}
		}
		if err == io.EOF || (err == nil && len(names) == 0) {
			return nil
		}
		if err != nil {
			w.incomplete = true
			return nil
		}
	}
}

// replacedSize is what replacing the entry st describes frees: a regular
// file's or a symbolic link's size when this is its only name, else 0.
func replacedSize(st *unix.Stat_t) int64 {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if st.Nlink == 1 {
			return st.Size
		}
	case unix.S_IFLNK:
		return st.Size
	}
	return 0
}
