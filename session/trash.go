package session

// The trash.
//
// What the session deletes — the built-in rm, and the old version of a
// file an upload replaces — is kept in the home, so that it counts against
// the quota without any bookkeeping of its own, in a layout like the
// freedesktop.org trash:
//
//	~/.trash/files/<id>       the item: a file, a link or a whole tree
//	~/.trash/info/<id>.info   where it was, when and why it went
//
// <id> is made by the server (deletion time and random hex) and claimed by
// creating the info record with O_EXCL, so it is never user-controlled and
// never reused. The record is written before the item moves: a server that
// dies between the two leaves a record without an item, which listing
// skips and the next purge removes, never an item nobody can see.
//
// Everything goes through the home's os.Root, and items move by rename
// inside the home, so a tree of any size goes in or out at once. The user's
// programs can change ~/.trash like any other folder, so a record is read
// as untrusted input: bounded, never a FIFO, its path checked like a typed
// one.
//
// The jail's own rm (/usr/bin/rm) deletes for real; only the session's
// built-in rm moves to the trash. Catching deletions made by programs
// would mean intercepting their system calls, which the jail does not do.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/wire"
)

const (
	trashDir   = ".trash"
	trashFiles = ".trash/files"
	trashInfo  = ".trash/info"
	infoSuffix = ".info"

	// reasonRm and reasonUpload say why an item is in the trash.
	reasonRm     = "rm"
	reasonUpload = "overwritten by upload"

	// maxInfoSize bounds a record read back: a quoted path of
	// wire.MaxPathLen bytes and a few short lines.
	maxInfoSize = 4*wire.MaxPathLen + 512
	// maxTrashScan bounds the records one listing or undelete reads.
	maxTrashScan = 10_000
	// maxPurge bounds the expired items one purge removes; purgeTimeout
	// its time. What is left goes at the next session or trash list.
	maxPurge     = 100
	purgeTimeout = 5 * time.Second
)

// trashItem is one record of the trash.
type trashItem struct {
	id     string
	path   string // home-relative original path; "" if the record is unreadable
	when   time.Time
	reason string
	size   int64
}

// trashOn reports whether u keeps a trash.
func trashOn(u *users.User) bool { return u.TrashDays > 0 }

// inTrash reports whether the home-relative path rel is the trash or lies
// in it. The test is lexical, like resolve's.
func inTrash(rel string) bool {
	return rel == trashDir || strings.HasPrefix(rel, trashDir+"/")
}

// ensureTrash makes the trash folders that are missing, owned like every
// folder the server makes, and refuses a trash that is not a folder.
func (s *session) ensureTrash() error {
	v := s.newView()
	defer v.close()
	for _, d := range []string{trashDir, trashFiles, trashInfo} {
		fi, err := s.home.root.Lstat(d)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			return errorf(wire.KindNotDir, display(d)+" is not a folder; move it away so that cubby can keep deleted files there")
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		if err := s.makeDir(v, d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// validTrashID reports whether id could have been made by newTrashID.
func validTrashID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

func newTrashID(now time.Time) string {
	return fmt.Sprintf("%s-%08x", now.UTC().Format("20060102T150405Z"), rand.Uint32())
}

// formatInfo writes a record.
func formatInfo(it trashItem) []byte {
	return fmt.Appendf(nil, "[Trash Info]\nPath=%s\nDeletionDate=%s\nReason=%s\nSize=%d\n",
		strconv.Quote(it.path), it.when.UTC().Format(time.RFC3339Nano), it.reason, it.size)
}

// parseInfo reads a record written by formatInfo, checking each field as
// untrusted input. Fields it cannot read are left zero.
func parseInfo(data []byte) (trashItem, error) {
	var it trashItem
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxInfoSize)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch key {
		case "Path":
			p, err := strconv.Unquote(val)
			if err != nil {
				return it, fmt.Errorf("session: trash record: bad path: %w", err)
			}
			rel, err := resolve("", ".", p)
			if err != nil || rel != p || rel == "." || inTrash(rel) {
				return it, fmt.Errorf("session: trash record: path %q is not a home path", p)
			}
			it.path = rel
		case "DeletionDate":
			t, err := time.Parse(time.RFC3339, val)
			if err != nil {
				return it, fmt.Errorf("session: trash record: bad date: %w", err)
			}
			it.when = t
		case "Reason":
			if val == reasonRm || val == reasonUpload {
				it.reason = val
			}
		case "Size":
			if n, err := strconv.ParseInt(val, 10, 64); err == nil && n >= 0 {
				it.size = n
			}
		}
	}
	if it.path == "" || it.when.IsZero() {
		return it, errors.New("session: trash record: no path or date")
	}
	return it, nil
}

// writeInfo claims a new id by creating its record.
func (s *session) writeInfo(it trashItem) (string, error) {
	for range 8 {
		it.id = newTrashID(it.when)
		if _, err := s.home.root.Lstat(trashFiles + "/" + it.id); err == nil {
			continue
		}
		name := trashInfo + "/" + it.id + infoSuffix
		f, err := s.home.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		data := formatInfo(it)
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = s.giveToOwner(s.home.root, name)
		}
		if err != nil {
			s.home.root.Remove(name)
			return "", err
		}
		s.conn.srv.usage.grew(s.home.user, int64(len(data)))
		return it.id, nil
	}
	return "", errors.New("session: no free trash id after 8 tries")
}

// dropInfo removes id's record.
func (s *session) dropInfo(id string) {
	name := trashInfo + "/" + id + infoSuffix
	if fi, err := s.home.root.Lstat(name); err == nil {
		if s.home.root.Remove(name) == nil {
			s.conn.srv.usage.grew(s.home.user, -fi.Size())
		}
	}
}

// trash moves the entry rel (never followed) into the trash and returns
// its size.
func (s *session) trash(ctx context.Context, rel, reason string) (int64, error) {
	if err := s.ensureTrash(); err != nil {
		return 0, err
	}
	size, err := s.entrySize(ctx, rel)
	if err != nil {
		return 0, err
	}
	id, err := s.writeInfo(trashItem{path: rel, when: s.conn.srv.now(), reason: reason, size: size})
	if err != nil {
		return 0, err
	}
	if err := s.home.root.Rename(rel, trashFiles+"/"+id); err != nil {
		s.dropInfo(id)
		return 0, err
	}
	return size, nil
}

// keepOldVersion hard-links the file base in dir, which an upload is about
// to replace, into the trash. The rename that follows stays atomic, and
// the old version is safe even if the server dies between the two. The
// returned function undoes it, for an upload whose rename failed.
func (s *session) keepOldVersion(dir *os.File, base, rel string, size int64) (undo func(), err error) {
	if err := s.ensureTrash(); err != nil {
		return nil, err
	}
	files, err := openDir(s.home.root, trashFiles)
	if err != nil {
		return nil, err
	}
	defer files.Close()
	id, err := s.writeInfo(trashItem{path: rel, when: s.conn.srv.now(), reason: reasonUpload, size: size})
	if err != nil {
		return nil, err
	}
	// Without AT_SYMLINK_FOLLOW, linkat links the entry itself.
	if err := unix.Linkat(int(dir.Fd()), base, int(files.Fd()), id, 0); err != nil {
		s.dropInfo(id)
		return nil, &os.LinkError{Op: "link", Old: display(rel), New: display(trashFiles + "/" + id), Err: err}
	}
	return func() {
		s.home.root.Remove(trashFiles + "/" + id)
		s.dropInfo(id)
	}, nil
}

// entrySize is what the quota counts for the entry rel: its own size, and
// for a folder everything in it, each file once.
func (s *session) entrySize(ctx context.Context, rel string) (int64, error) {
	fi, err := s.home.root.Lstat(rel)
	if err != nil {
		return 0, err
	}
	if !fi.IsDir() {
		return fi.Size(), nil
	}
	d, err := s.openDirNoFollow(rel)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(d.Fd()), &st); err != nil {
		return 0, err
	}
	w := &walker{ctx: ctx, start: time.Now(), total: st.Size}
	if err := w.dir(d, 0); err != nil {
		return 0, err
	}
	return w.total, nil
}

// openDirNoFollow opens the folder rel; a symbolic link as its last
// element is refused, not followed.
func (s *session) openDirNoFollow(rel string) (*os.File, error) {
	parent, base := path.Split(rel)
	p, err := openDir(s.home.root, cmp.Or(parent, "."))
	if err != nil {
		return nil, err
	}
	defer p.Close()
	d, err := openNoFollowDir(int(p.Fd()), base)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: display(rel), Err: err}
	}
	return d, nil
}

// remove deletes the entry rel and everything under it for real, never
// following a symbolic link, and takes what it frees off the usage book.
// It stops when ctx ends, leaving what it has not reached yet.
func (s *session) remove(ctx context.Context, rel string) (int64, error) {
	parent, base := path.Split(rel)
	p, err := openDir(s.home.root, cmp.Or(parent, "."))
	if err != nil {
		return 0, err
	}
	defer p.Close()
	r := &remover{ctx: ctx}
	err = r.at(int(p.Fd()), base, 0)
	s.conn.srv.usage.grew(s.home.user, -r.bytes)
	return r.bytes, err
}

// remover deletes trees relative to directory descriptors, counting the
// bytes freed as the quota walk counts them.
type remover struct {
	ctx   context.Context
	bytes int64
}

func (r *remover) at(dirfd int, name string, depth int) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := unix.Unlinkat(dirfd, name, 0); err != nil {
			return &os.PathError{Op: "unlink", Path: name, Err: err}
		}
		// The last name of a file frees it; st counted this one.
		r.bytes += replacedSize(&st)
		return nil
	}
	if depth >= maxWalkDepth {
		return &os.PathError{Op: "remove", Path: name, Err: unix.ELOOP}
	}
	d, err := openNoFollowDir(dirfd, name)
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	err = r.contents(d, depth+1)
	d.Close()
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil {
		return &os.PathError{Op: "rmdir", Path: name, Err: err}
	}
	r.bytes += st.Size
	return nil
}

// contents empties the folder d. Each batch of names is removed and the
// folder read again from its start, since removing entries moves the
// positions of the rest; an entry that cannot be removed stops it.
func (r *remover) contents(d *os.File, depth int) error {
	for {
		names, err := d.Readdirnames(1024)
		if len(names) == 0 {
			if err == nil || err == io.EOF {
				return nil
			}
			return err
		}
		for _, name := range names {
			if err := r.at(int(d.Fd()), name, depth); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if _, err := d.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
}

// readTrash returns the trash's records, newest first, at most
// maxTrashScan, and whether there were more. Records whose item is gone
// are left out; unreadable ones are kept with an empty path, dated by the
// record's modification time, so that they still expire.
func (s *session) readTrash() ([]trashItem, bool, error) {
	d, err := openDir(s.home.root, trashInfo)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer d.Close()
	names, err := d.Readdirnames(maxTrashScan + 1)
	if err != nil && err != io.EOF {
		return nil, false, err
	}
	more := len(names) > maxTrashScan
	names = names[:min(len(names), maxTrashScan)]
	var items []trashItem
	for _, name := range names {
		id, ok := strings.CutSuffix(name, infoSuffix)
		if !ok || !validTrashID(id) {
			continue
		}
		it, mtime, err := readInfo(d, name)
		if err != nil {
			continue // removed meanwhile, or not a file
		}
		if _, err := s.home.root.Lstat(trashFiles + "/" + id); err != nil {
			it.path = "" // a record without its item: only good for purging
			it.reason = "gone"
		}
		it.id = id
		if it.when.IsZero() {
			it.when = mtime
		}
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b trashItem) int {
		if c := b.when.Compare(a.when); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id)
	})
	return items, more, nil
}

// readInfo reads the record name in the folder dir, refusing anything but
// a regular file: a symbolic link is not followed, and a FIFO planted in
// the trash cannot block the session.
func readInfo(dir *os.File, name string) (trashItem, time.Time, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return trashItem{}, time.Time{}, &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return trashItem{}, time.Time{}, err
	}
	if !fi.Mode().IsRegular() {
		return trashItem{}, time.Time{}, fmt.Errorf("session: trash record %s is not a file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxInfoSize))
	if err != nil {
		return trashItem{}, time.Time{}, err
	}
	it, perr := parseInfo(data)
	if perr != nil {
		it = trashItem{}
	}
	return it, fi.ModTime(), nil
}

// expired reports whether it has been in the trash longer than days.
func expired(it trashItem, days int, now time.Time) bool {
	return !now.Before(it.when.Add(time.Duration(days) * 24 * time.Hour))
}

// purgeTrash removes up to maxPurge items older than u's retention (all of
// them when u keeps no trash), within purgeTimeout.
func (s *session) purgeTrash(ctx context.Context, u *users.User) {
	ctx, cancel := context.WithTimeout(ctx, purgeTimeout)
	defer cancel()
	items, _, err := s.readTrash()
	if err != nil {
		s.log.Warn("trash: cannot read the trash", "err", err)
		return
	}
	now := s.conn.srv.now()
	var n int
	var freed int64
	for i := len(items) - 1; i >= 0 && n < maxPurge; i-- { // oldest first
		it := items[i]
		if !expired(it, u.TrashDays, now) {
			break
		}
		b, err := s.remove(ctx, trashFiles+"/"+it.id)
		freed += b
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("trash: purge stopped", "item", it.id, "err", err)
			break
		}
		s.dropInfo(it.id)
		n++
	}
	if n > 0 {
		s.log.Info("trash purged", "items", n, "bytes", freed, "trash_days", u.TrashDays)
	}
}

// trashCommand runs the trash built-in: trash list, trash empty.
func (s *session) trashCommand(ctx context.Context, u *users.User, args []string) error {
	if len(args) != 1 || (args[0] != "list" && args[0] != "empty") {
		return s.replyError(errorf(wire.KindInvalid, "usage: trash list | trash empty"), "")
	}
	if args[0] == "empty" {
		return s.emptyTrash(ctx)
	}
	s.purgeTrash(ctx, u)
	items, more, err := s.readTrash()
	if err != nil {
		return s.replyError(err, "trash list")
	}
	var b strings.Builder
	if !trashOn(u) {
		b.WriteString("trash is off for your account: rm deletes for real\n")
	}
	var total int64
	shown := 0
	for _, it := range items {
		if it.path == "" {
			continue
		}
		shown++
		total += it.size
		fmt.Fprintf(&b, "%s  %10s  %s  (%s)\n", it.when.In(time.Local).Format("2006-01-02 15:04"),
			formatSize(it.size), display(it.path), it.reason)
	}
	switch {
	case shown == 0:
		b.WriteString("the trash is empty\n")
	default:
		fmt.Fprintf(&b, "%s, %s; kept %d days; undelete PATH restores one, trash empty frees the space\n",
			countItems(shown), formatSize(total), u.TrashDays)
	}
	if more {
		fmt.Fprintf(&b, "(only the first %d records were read)\n", maxTrashScan)
	}
	return s.print(b.String())
}

// emptyTrash deletes everything in the trash, records and items alike,
// including anything the user's programs put there. The folders go too;
// the next deletion makes them again.
func (s *session) emptyTrash(ctx context.Context) error {
	items, _, err := s.readTrash()
	if err != nil {
		return s.replyError(err, "trash empty")
	}
	n := 0
	for _, it := range items {
		if it.path != "" {
			n++
		}
	}
	var freed int64
	for _, d := range []string{trashFiles, trashInfo} {
		b, err := s.remove(ctx, d)
		freed += b
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Info("trash emptied in part", "bytes", freed, "err", err)
			return s.replyError(err, "trash empty")
		}
	}
	// The trash folder itself, unless the user keeps something else there.
	if fi, err := s.home.root.Lstat(trashDir); err == nil && fi.IsDir() && s.home.root.Remove(trashDir) == nil {
		s.conn.srv.usage.grew(s.home.user, -fi.Size())
		freed += fi.Size()
	}
	s.log.Info("trash emptied", "items", n, "bytes", freed)
	return s.print(fmt.Sprintf("freed %s (%s)\n", formatSize(freed), countItems(n)))
}

func countItems(n int) string {
	return strconv.Itoa(n) + " " + plural(n, "item", "items")
}

// undelete runs the undelete built-in: undelete PATH [NEWPATH].
func (s *session) undelete(ctx context.Context, args []string) error {
	v := s.newView()
	defer v.close()
	if len(args) < 1 || len(args) > 2 {
		return s.replyError(errorf(wire.KindInvalid, "usage: undelete PATH [NEWPATH]  (see trash list)"), "")
	}
	rel, err := resolve(s.home.user, s.cwd, args[0])
	if err != nil {
		return s.replyError(err, "undelete: "+args[0])
	}
	items, _, err := s.readTrash()
	if err != nil {
		return s.replyError(err, "undelete")
	}
	i := slices.IndexFunc(items, func(it trashItem) bool { return it.path == rel })
	if i < 0 {
		return s.replyError(errorf(wire.KindNotFound, "undelete: nothing deleted from "+display(rel)+" is in the trash (see trash list)"), "")
	}
	it := items[i]
	dest := rel
	if len(args) == 2 {
		if dest, err = resolve(s.home.user, s.cwd, args[1]); err != nil {
			return s.replyError(err, "undelete: "+args[1])
		}
		if v.isDir(dest) {
			dest = path.Join(dest, path.Base(rel))
		}
	}
	if dest == "." || inTrash(dest) {
		return s.replyError(errorf(wire.KindInvalid, "undelete: cannot restore to "+display(dest)), "")
	}
	// The trash is the home's: what it holds goes back into the home, not
	// into a share or a drop box.
	if p, err := v.place(dest); err != nil {
		return s.replyError(err, "undelete: "+display(dest))
	} else if p.kind != inHome {
		return s.replyError(errorf(wire.KindNotAllowed, "undelete: cannot restore to "+display(dest)+": "+notInHome(v, p)), "")
	}
	exists := func() error {
		hint := ""
		if len(args) == 1 {
			hint = " (or undelete " + display(rel) + " NEWPATH)"
		}
		return errorf(wire.KindExists, "undelete: "+display(dest)+" exists; move it away first"+hint)
	}
	if _, err := s.home.root.Lstat(dest); err == nil {
		return s.replyError(exists(), "")
	}
	parent, base := path.Split(dest)
	parent = cmp.Or(strings.TrimSuffix(parent, "/"), ".")
	if err := s.makeParents(v, parent); err != nil {
		return s.replyError(err, "undelete: "+display(parent))
	}
	pd, err := openDir(s.home.root, parent)
	if err != nil {
		return s.replyError(err, "undelete: "+display(parent))
	}
	defer pd.Close()
	files, err := openDir(s.home.root, trashFiles)
	if err != nil {
		return s.replyError(err, "undelete")
	}
	defer files.Close()
	// RENAME_NOREPLACE: a file made at dest meanwhile is never clobbered.
	if err := unix.Renameat2(int(files.Fd()), it.id, int(pd.Fd()), base, unix.RENAME_NOREPLACE); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return s.replyError(exists(), "")
		}
		return s.replyError(&os.LinkError{Op: "rename", Old: it.id, New: display(dest), Err: err}, "undelete: "+display(dest))
	}
	s.dropInfo(it.id)
	s.log.Info("undelete", "path", display(it.path), "to", display(dest), "bytes", it.size, "deleted", it.when.UTC().Format(time.RFC3339))
	return s.print(fmt.Sprintf("restored %s (%s, deleted %s)\n", display(dest), formatSize(it.size), it.when.In(time.Local).Format("2006-01-02 15:04")))
}

// makeParents makes the missing folders of dir, each given to the jail's
// owner as mkdir -p does.
func (s *session) makeParents(v *view, dir string) error {
	if dir == "." {
		return nil
	}
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		if err := s.makeDir(v, dir[:i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	if !v.isDir(dir) {
		return errorf(wire.KindNotDir, display(dir)+": not a folder")
	}
	return nil
}

// rmOptions are the flags the built-in rm knows.
type rmOptions struct{ recursive, force, dir bool }

// parseRm reads rm's flags, which may come anywhere before "--", as GNU
// rm reads them.
func parseRm(args []string) (rmOptions, []string, error) {
	var o rmOptions
	var operands []string
	unknown := func(flag string) error {
		return errorf(wire.KindInvalid, fmt.Sprintf("rm: unknown option %s: the built-in rm knows -r, -f, -d and moves what it deletes to ~/.trash; /usr/bin/rm is the system rm, which deletes for real", flag))
	}
	ended := false
	for _, a := range args {
		switch {
		case ended || a == "-" || !strings.HasPrefix(a, "-"):
			operands = append(operands, a)
		case a == "--":
			ended = true
		case a == "--recursive":
			o.recursive = true
		case a == "--force":
			o.force = true
		case a == "--dir":
			o.dir = true
		case strings.HasPrefix(a, "--"):
			return o, nil, unknown(a)
		default:
			for _, c := range a[1:] {
				switch c {
				case 'r', 'R':
					o.recursive = true
				case 'f':
					o.force = true
				case 'd':
					o.dir = true
				default:
					return o, nil, unknown("-" + string(c))
				}
			}
		}
	}
	return o, operands, nil
}

// rm is the built-in rm: like GNU rm, but what it deletes goes to the
// trash when u keeps one. Each operand that fails is reported on stderr
// and the status is 1, as a program's would be.
func (s *session) rm(ctx context.Context, u *users.User, args []string) error {
	o, operands, err := parseRm(args)
	if err != nil {
		return s.replyError(err, "")
	}
	if len(operands) == 0 {
		if o.force {
			return s.exit(0)
		}
		return s.replyError(errorf(wire.KindInvalid, "rm: missing operand (usage: rm [-r] [-f] [-d] PATH...)"), "")
	}
	v := s.newView()
	defer v.close()
	stderr := &outputWriter{s: s, stream: wire.Stderr}
	status := 0
	var count int
	var bytes int64
	fail := func(arg, why string) error {
		status = 1
		_, err := fmt.Fprintf(stderr, "rm: cannot remove '%s': %s\n", arg, why)
		return err
	}
	for _, arg := range operands {
		if ctx.Err() != nil {
			break
		}
		if b := path.Base(arg); b == "." || b == ".." {
			status = 1
			if _, err := fmt.Fprintf(stderr, "rm: refusing to remove '.' or '..' directory: skipping '%s'\n", arg); err != nil {
				return err
			}
			continue
		}
		rel, err := resolve(u.Name, s.cwd, arg)
		var p *place
		if err == nil {
			p, err = v.place(rel)
		}
		var fi fs.FileInfo
		if err == nil && p.kind == inHome {
			fi, err = s.home.root.Lstat(rel)
		}
		var why string
		switch {
		case errors.Is(err, fs.ErrNotExist) && o.force:
			continue
		case err != nil:
			why = capitalize(reasonFor(err))
		case p.kind != inHome:
			why = capitalize(notInHome(v, p))
		case rel == ".":
			why = "It is your home"
		case inTrash(rel):
			why = "It is in the trash; use trash empty"
		case fi.IsDir() && !o.recursive && !o.dir:
			why = "Is a directory"
		case fi.IsDir() && !o.recursive && !dirEmpty(s.home.root, rel):
			why = "Directory not empty"
		}
		if why != "" {
			if err := fail(arg, why); err != nil {
				return err
			}
			continue
		}
		var n int64
		if trashOn(u) {
			n, err = s.trash(ctx, rel, reasonRm)
		} else {
			n, err = s.remove(ctx, rel)
		}
		bytes += n
		if err != nil {
			if errors.Is(err, context.Canceled) {
				break
			}
			if err := fail(arg, capitalize(reasonFor(err))); err != nil {
				return err
			}
			continue
		}
		count++
		if s.cwd == rel || strings.HasPrefix(s.cwd, rel+"/") {
			// The working folder is gone; its parent still exists.
			s.cwd = path.Dir(rel)
		}
	}
	s.log.Info("rm", "argv", auditArgv(append([]string{"rm"}, args...)), "operands", len(operands), "removed", count, "bytes", bytes, "to_trash", trashOn(u), "exit", status)
	if ctx.Err() != nil {
		return s.replyError(errorf(wire.KindCanceled, fmt.Sprintf("rm: canceled after %d of %d", count, len(operands))), "")
	}
	return s.exit(status)
}

// notInHome says why the trash built-ins leave p, which is not in the
// home, alone.
func notInHome(v *view, p *place) string {
	if p.kind == inBox {
		return "a drop box keeps what you hand in; upload again to replace a file"
	}
	if err := v.writable(p); err != nil {
		return reasonFor(err)
	}
	return "not in your home"
}

// reasonFor is the user's text for err without a subject.
func reasonFor(err error) string {
	return strings.TrimPrefix(toWire(err, "").Message, ": ")
}

// capitalize writes a reason as GNU rm writes strerror's.
func capitalize(s string) string {
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// dirEmpty reports whether the folder rel has no entries. A folder it
// cannot read is not empty: rm -d then leaves it, rather than deleting a
// tree it did not see.
func dirEmpty(root *os.Root, rel string) bool {
	f, err := openDir(root, rel)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) == 0 && err == io.EOF
}

// trashHint adds to an upload refused for the quota how much of the usage
// is in the trash.
func (s *session) trashHint(ctx context.Context, err error) error {
	var ue *userError
	if !errors.As(err, &ue) || ue.kind != wire.KindNoSpace {
		return err
	}
	n := s.trashSize(ctx)
	if n <= 0 {
		return err
	}
	return errorf(ue.kind, fmt.Sprintf("%s (%s of it in ~/.trash; `trash empty` frees it)", ue.msg, formatSize(n)))
}

// trashSize measures the trash, 0 if there is none or it cannot be read.
func (s *session) trashSize(ctx context.Context) int64 {
	if fi, err := s.home.root.Lstat(trashDir); err != nil || !fi.IsDir() {
		return 0
	}
	n, err := s.entrySize(ctx, trashDir)
	if err != nil {
		return 0
	}
	return n
}
