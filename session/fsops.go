package session

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"time"
	"unicode/utf8"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/wire"
)

// list answers a List request with one page of a directory, read through
// the area's os.Root: each entry is an Lstat inside it, never followed.
func (s *session) list(req *wire.List) error {
	rel, err := resolve(s.home.user, s.cwd, req.Path)
	if err != nil {
		return s.replyError(err, req.Path)
	}
	subject := display(rel)
	v := s.newView()
	defer v.close()
	at, err := v.place(rel)
	if err != nil {
		return s.replyError(err, subject)
	}
	if at.kind == inSubmit && at.top() {
		return s.reply(v.listSubmit(int(req.Offset)))
	}
	fi, err := v.stat(at, false)
	if err != nil {
		return s.replyError(err, subject)
	}
	if !fi.IsDir() {
		if req.Offset > 0 {
			return s.reply(&wire.Listing{})
		}
		return s.reply(&wire.Listing{Entries: []wire.Entry{entry(path.Base(rel), fi)}})
	}
	dir, err := openDir(at.root, at.inner)
	if err != nil {
		return s.replyError(err, subject)
	}
	defer dir.Close()
	// Skip to the page in directory order, reading in bounded batches.
	for skip := int(req.Offset); skip > 0; {
		batch, err := dir.ReadDir(min(skip, wire.MaxListing))
		skip -= len(batch)
		if errors.Is(err, io.EOF) || len(batch) == 0 {
			return s.reply(&wire.Listing{})
		}
		if err != nil {
			return s.replyError(err, subject)
		}
	}
	batch, err := dir.ReadDir(wire.MaxListing)
	if err != nil && !errors.Is(err, io.EOF) {
		return s.replyError(err, subject)
	}
	out := &wire.Listing{More: len(batch) == wire.MaxListing}
	for _, de := range batch {
		if !utf8.ValidString(de.Name()) {
			continue // the protocol carries UTF-8 names only
		}
		fi, err := at.root.Lstat(path.Join(at.inner, de.Name()))
		if err != nil {
			continue // removed meanwhile
		}
		if at.kind == inHome && at.inner == "." {
			// A share or ~/submit shows as itself, not as the
			// directory it is mounted on in the jail.
			if p, err := v.place(de.Name()); err == nil && p.kind != inHome {
				if top, err := v.stat(p, false); err == nil {
					fi = top
				}
			}
		}
		out.Entries = append(out.Entries, entry(de.Name(), fi))
	}
	return s.reply(out)
}

// entry describes fi for the wire, with POSIX type bits.
func entry(name string, fi fs.FileInfo) wire.Entry {
	mode := uint32(fi.Mode().Perm())
	switch {
	case fi.IsDir():
		mode |= wire.ModeDir
	case fi.Mode()&fs.ModeSymlink != 0:
		mode |= wire.ModeSymlink
	case fi.Mode().IsRegular():
		mode |= wire.ModeRegular
	}
	return wire.Entry{Name: name, Mode: mode, Size: uint64(max(fi.Size(), 0)), MTime: fi.ModTime().UnixNano()}
}

func (s *session) mkdir(req *wire.Mkdir) error {
	rel, err := resolve(s.home.user, s.cwd, req.Path)
	if err != nil {
		return s.replyError(err, req.Path)
	}
	subject := display(rel)
	perm := os.FileMode(req.Mode & 0o777)
	v := s.newView()
	defer v.close()
	if !req.Parents {
		err = s.makeDir(v, rel, perm)
	} else {
		// One level at a time, so every directory made is given to the
		// jail's owner, not only the last.
		for i := range rel {
			if rel[i] == '/' {
				if err = s.makeDir(v, rel[:i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
					break
				}
			}
		}
		if err = s.makeDir(v, rel, perm); errors.Is(err, fs.ErrExist) && v.isDir(rel) {
			err = nil
		}
	}
	if err != nil {
		return s.replyError(err, subject)
	}
	return s.reply(&wire.OK{Path: subject})
}

// makeDir makes one directory with exactly perm (Mkdir's mode passes
// through the umask) and gives it to the jail's owner. Where the view is
// read-only, an existing name is still reported as existing, so that
// mkdir -p of a folder a share has succeeds.
func (s *session) makeDir(v *view, rel string, perm os.FileMode) error {
	at, err := v.place(rel)
	if err != nil {
		return err
	}
	if rel == "." || at.top() {
		return fs.ErrExist
	}
	if err := v.writable(at); err != nil {
		if _, serr := v.stat(at, false); serr == nil {
			return fs.ErrExist
		}
		return err
	}
	if err := at.root.Mkdir(at.inner, perm); err != nil {
		return err
	}
	if fi, err := at.root.Lstat(at.inner); err == nil {
		s.conn.srv.usage.grew(s.home.user, fi.Size())
	}
	if err := s.giveToOwner(at.root, at.inner); err != nil {
		return err
	}
	return at.root.Chmod(at.inner, perm)
}

func (s *session) setAttr(req *wire.SetAttr) error {
	rel, err := resolve(s.home.user, s.cwd, req.Path)
	if err != nil {
		return s.replyError(err, req.Path)
	}
	subject := display(rel)
	v := s.newView()
	defer v.close()
	at, err := v.place(rel)
	if err != nil {
		return s.replyError(err, subject)
	}
	if err := v.writable(at); err != nil {
		return s.replyError(err, subject)
	}
	if req.SetMode {
		if err := at.root.Chmod(at.inner, os.FileMode(req.Mode&0o777)); err != nil {
			return s.replyError(err, subject)
		}
	}
	if req.MTime != 0 {
		t := time.Unix(0, req.MTime)
		if err := at.root.Chtimes(at.inner, t, t); err != nil {
			return s.replyError(err, subject)
		}
	}
	return s.reply(&wire.OK{Path: subject})
}

// giveToOwner hands a file the server made to the jail's host uid, so
// the user's programs can change it.
func (s *session) giveToOwner(root *os.Root, rel string) error {
	o := s.conn.srv.HomeOwner
	if o == nil {
		return nil
	}
	return root.Lchown(rel, o.UID, o.GID)
}

func (s *session) reply(m wire.Message) error {
	s.refreshWriteDeadline()
	return s.wc.WriteMessage(m)
}

// listSubmit lists ~/submit: one directory per drop box, mode 0755 while
// the user may upload into it and 0555 otherwise, from offset on.
func (v *view) listSubmit(offset int) *wire.Listing {
	names := v.boxNames()
	out := &wire.Listing{}
	if offset >= len(names) {
		return out
	}
	names = names[offset:]
	if len(names) > wire.MaxListing {
		names, out.More = names[:wire.MaxListing], true
	}
	now := v.s.conn.srv.now()
	for _, name := range names {
		e := wire.Entry{Name: name, Mode: wire.ModeDir | 0o555}
		if p, err := v.place(users.SubmitDir + "/" + name); err == nil {
			if fi, err := p.root.Stat("."); err == nil {
				e.Size, e.MTime = uint64(max(fi.Size(), 0)), fi.ModTime().UnixNano()
			}
			if _, err := boxOpen(p.box, v.s.home.user, now); err == nil {
				e.Mode = wire.ModeDir | 0o755
			}
		}
		out.Entries = append(out.Entries, e)
	}
	return out
}
