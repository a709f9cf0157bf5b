package session

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"time"
	"unicode/utf8"

	"github.com/cubby-dev/cubby/wire"
)

// list answers a List request with one page of a directory, read through
// the os.Root: each entry is an Lstat inside the home, never followed.
func (s *session) list(req *wire.List) error {
	rel, err := resolve(s.home.user, s.cwd, req.Path)
	if err != nil {
		return s.replyError(err, req.Path)
	}
	subject := display(rel)
	fi, err := s.home.root.Lstat(rel)
	if err != nil {
		return s.replyError(err, subject)
	}
	if !fi.IsDir() {
		if req.Offset > 0 {
			return s.reply(&wire.Listing{})
		}
		return s.reply(&wire.Listing{Entries: []wire.Entry{entry(path.Base(rel), fi)}})
	}
	dir, err := s.home.root.Open(rel)
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
		fi, err := s.home.root.Lstat(path.Join(rel, de.Name()))
		if err != nil {
			continue // removed meanwhile
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
	if !req.Parents {
		err = s.makeDir(rel, perm)
	} else {
		// One level at a time, so every directory made is given to the
		// jail's owner, not only the last.
		for i := range rel {
			if rel[i] == '/' {
				if err = s.makeDir(rel[:i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
					break
				}
			}
		}
		if err = s.makeDir(rel, perm); errors.Is(err, fs.ErrExist) && isDir(s.home.root, rel) {
			err = nil
		}
	}
	if err != nil {
		return s.replyError(err, subject)
	}
	return s.reply(&wire.OK{Path: subject})
}

// makeDir makes one directory with exactly perm (Mkdir's mode passes
// through the umask) and gives it to the jail's owner.
func (s *session) makeDir(rel string, perm os.FileMode) error {
	if rel == "." {
		return fs.ErrExist
	}
	if err := s.home.root.Mkdir(rel, perm); err != nil {
		return err
	}
	if fi, err := s.home.root.Lstat(rel); err == nil {
		s.conn.srv.usage.grew(s.home.user, fi.Size())
	}
	if err := s.giveToOwner(rel); err != nil {
		return err
	}
	return s.home.root.Chmod(rel, perm)
}

func (s *session) setAttr(req *wire.SetAttr) error {
	rel, err := resolve(s.home.user, s.cwd, req.Path)
	if err != nil {
		return s.replyError(err, req.Path)
	}
	subject := display(rel)
	if req.SetMode {
		if err := s.home.root.Chmod(rel, os.FileMode(req.Mode&0o777)); err != nil {
			return s.replyError(err, subject)
		}
	}
	if req.MTime != 0 {
		t := time.Unix(0, req.MTime)
		if err := s.home.root.Chtimes(rel, t, t); err != nil {
			return s.replyError(err, subject)
		}
	}
	return s.reply(&wire.OK{Path: subject})
}

// giveToOwner hands a file the server made to the jail's host uid, so
// the user's programs can change it.
func (s *session) giveToOwner(rel string) error {
	o := s.conn.srv.HomeOwner
	if o == nil {
		return nil
	}
	return s.home.root.Lchown(rel, o.UID, o.GID)
}

func (s *session) reply(m wire.Message) error {
	s.refreshWriteDeadline()
	return s.wc.WriteMessage(m)
}
