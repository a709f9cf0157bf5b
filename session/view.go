package session

// The view of a home. A user sees one tree, ~, but some folders in it
// live elsewhere: each share of the users file appears at ~/NAME and is
// the admin's directory, used in place and read-only; when the file has
// drop boxes, ~/submit is a folder the server makes up, listing them, and
// ~/submit/NAME is the user's copy of that box, kept outside the home
// (<data>/dropboxes/NAME/USER) so that only uploads can change it. The jail
// shows the same tree with bind mounts (see mountsFor); this file maps the
// home-relative paths of transfers, listings, cd and globs to the os.Root
// that holds them. Every mapping is on path elements only: what lies
// inside an area is still opened through that area's os.Root, so no
// symbolic link leads out of it.

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/sandbox"
	"github.com/cubby-dev/cubby/wire"
)

// FolderDB is implemented by a UserDB that also declares shares and drop
// boxes, as users.Config does. The server asks the UserDB in force at
// each request, so a reload (SetUsers) applies from the next one.
type FolderDB interface {
	SharedFolders() *users.Folders
}

// folders returns the shares and drop boxes in force.
func (s *Server) folders() *users.Folders {
	if f, ok := s.userDB().(FolderDB); ok {
		if v := f.SharedFolders(); v != nil {
			return v
		}
	}
	return &users.Folders{}
}

// areaKind says which tree a path of the view lies in.
type areaKind uint8

const (
	inHome   areaKind = iota // the user's home
	inShare                  // a share, ~/NAME
	inSubmit                 // ~/submit, made up by the server, or a name in it that is no box
	inBox                    // the user's copy of a drop box, ~/submit/NAME
)

// view is the tree one request sees: the folders in force when it began,
// and the trees it opened, closed together at its end.
type view struct {
	s     *session
	f     *users.Folders
	roots map[string]*os.Root // "share/NAME" or "box/NAME"
}

// newView starts a request's view of the home; close it at the end.
func (s *session) newView() *view {
	return &view{s: s, f: s.conn.srv.folders()}
}

func (v *view) close() {
	for _, r := range v.roots {
		r.Close()
	}
}

// place is where a path of the view leads.
type place struct {
	kind  areaKind
	rel   string   // the path in the view, clean; "." is the home
	root  *os.Root // the area's tree; nil for inSubmit
	inner string   // the path inside root; "." is the area's top
	share *users.Share
	box   *users.Dropbox
}

// top reports whether p is the top of a share, ~/submit or a box, which
// exist as long as the users file declares them.
func (p *place) top() bool { return p.kind != inHome && p.inner == "." }

// hasBoxes reports whether ~/submit is the server's.
func (v *view) hasBoxes() bool { return len(v.f.Dropboxes) > 0 }

// boxNames lists the drop boxes, sorted.
func (v *view) boxNames() []string { return slices.Sorted(maps.Keys(v.f.Dropboxes)) }

// maxDotDotLookups bounds the lookups one place makes to interpret ".."
// after a name (see place): a glob may spell thousands of them.
const maxDotDotLookups = 64

// place maps rel, a path of the view relative to the home, to the tree
// that holds it. rel is clean, except in globs, which keep ".." as typed:
// a ".." after a directory (not a symbolic link) leads to its parent, as
// in the jail, where the ".." of a share or box leaves the mount; a ".."
// after a link, a missing name or a file is left to the area's os.Root,
// which follows the link first and never leaves the area, and so is
// every name after it (a later ".." is then the os.Root's too: the area
// is settled). Past maxDotDotLookups lookups, ".." is the os.Root's as
// well, which at worst refuses a path that leaves the area.
func (v *view) place(rel string) (*place, error) {
	var elems []string
	lookups := 0
	settled := false // a ".." was kept: the os.Root resolves the rest
	pops := func() bool {
		if settled || len(elems) == 0 {
			return false
		}
		if v.atTop(elems) {
			return true
		}
		if lookups >= maxDotDotLookups {
			return false
		}
		lookups++
		return v.realDir(elems)
	}
	for _, e := range strings.Split(rel, "/") {
		switch {
		case e == "." || e == "":
		case e == ".." && pops():
			elems = elems[:len(elems)-1]
		default:
			elems = append(elems, e)
			settled = settled || e == ".."
		}
	}
	if len(elems) > 0 && strings.HasSuffix(rel, "/.") {
		// "x/." names x only if it is a directory.
		elems = append(elems, ".")
	}
	return v.locate(elems)
}

// atTop reports whether elems, free of "..", names the top of a share,
// ~/submit or a box, whose ".." is the home or ~/submit whatever the
// directory below the mount is.
func (v *view) atTop(elems []string) bool {
	switch len(elems) {
	case 1:
		_, share := v.f.Shares[elems[0]]
		return share || v.hasBoxes() && elems[0] == users.SubmitDir
	case 2:
		_, box := v.f.Dropboxes[elems[1]]
		return box && elems[0] == users.SubmitDir
	}
	return false
}

// locate maps the path elements place left (no "." or "" but a last
// "."; ".." only where the os.Root resolves it) to their tree.
func (v *view) locate(elems []string) (*place, error) {
	if len(elems) == 0 {
		return &place{kind: inHome, rel: ".", root: v.s.home.root, inner: "."}, nil
	}
	shown := strings.Join(elems, "/")
	home := &place{kind: inHome, rel: shown, root: v.s.home.root, inner: shown}
	rest := func(n int) string {
		if len(elems) <= n {
			return "."
		}
		return strings.Join(elems[n:], "/")
	}
	if sh, ok := v.f.Shares[elems[0]]; ok {
		root, err := v.open("share/"+sh.Name, func() (*os.Root, error) { return v.s.conn.srv.openShare(sh) })
		if err != nil {
			v.s.log.Warn("cannot open share", "share", sh.Name, "path", sh.Path, "err", err)
			return nil, errorf(wire.KindUnavailable, fmt.Sprintf("~/%s is not available right now; tell the teacher", sh.Name))
		}
		p := &place{kind: inShare, rel: shown, root: root, inner: rest(1), share: sh}
		if err := shareTraversable(root, p.inner); err != nil {
			return nil, err
		}
		return p, nil
	}
	if !v.hasBoxes() || elems[0] != users.SubmitDir {
		return home, nil
	}
	if len(elems) == 1 || elems[1] == "." {
		return &place{kind: inSubmit, rel: shown, inner: "."}, nil
	}
	box, ok := v.f.Dropboxes[elems[1]]
	switch {
	case !ok && len(elems) == 2:
		// A name in ~/submit that is no box: not found to read, and
		// refused to write with the list of boxes.
		return &place{kind: inSubmit, rel: shown, inner: elems[1]}, nil
	case !ok:
		return nil, v.noSuchBox(users.SubmitDir + "/" + elems[1])
	}
	root, err := v.open("box/"+box.Name, func() (*os.Root, error) { return v.s.conn.srv.openBox(box.Name, v.s.home.user) })
	if err != nil {
		return nil, err
	}
	return &place{kind: inBox, rel: shown, root: root, inner: rest(2), box: box}, nil
}

// noSuchBox is the error for a path of ~/submit that is not a box.
func (v *view) noSuchBox(rel string) error {
	return errorf(wire.KindNotFound, fmt.Sprintf("%s: no such drop box (there are: %s)", display(rel), strings.Join(v.boxNames(), ", ")))
}

// realDir reports whether the path elems, free of "..", names a
// directory of the view that is not a symbolic link.
func (v *view) realDir(elems []string) bool {
	p, err := v.locate(elems)
	if err != nil {
		return false
	}
	if p.kind == inSubmit {
		return p.top()
	}
	fi, err := p.root.Lstat(p.inner)
	return err == nil && fi.IsDir()
}

// open returns the tree called key, opening it with f the first time.
func (v *view) open(key string, f func() (*os.Root, error)) (*os.Root, error) {
	if r, ok := v.roots[key]; ok {
		return r, nil
	}
	r, err := f()
	if err != nil {
		return nil, err
	}
	if v.roots == nil {
		v.roots = map[string]*os.Root{}
	}
	v.roots[key] = r
	return r, nil
}

// writable returns nil if the user may change what p names now, and
// otherwise why not, for the user: a share is never writable, ~/submit
// and the top of a box are the server's, and a box only while it is open
// for the user.
func (v *view) writable(p *place) error {
	switch p.kind {
	case inShare:
		return errorf(wire.KindNotAllowed, fmt.Sprintf("~/%s is read-only (shared by the teacher)", p.share.Name))
	case inSubmit:
		return errorf(wire.KindNotAllowed, fmt.Sprintf("~/%s holds only the drop boxes (%s); upload into one of them", users.SubmitDir, strings.Join(v.boxNames(), ", ")))
	case inBox:
		if p.top() {
			return errorf(wire.KindNotAllowed, display(p.rel)+" is the drop box itself; upload into it")
		}
		_, err := boxOpen(p.box, v.s.home.user, v.s.conn.srv.now())
		return err
	}
	return nil
}

// shareDir resolves the path of a share and checks it: a share that is,
// holds or lies in the data directory is refused, since it would show
// homes, the host key and the users file to everyone. Whoever owns a
// folder on the share's path (the teacher) may swap a link in right
// after the check, so what uses the result follows no link: openShare,
// and the jail's mount (sandbox.Mount).
func (s *Server) shareDir(sh *users.Share) (string, error) {
	real, err := filepath.EvalSymlinks(sh.Path)
	if err != nil {
		return "", err
	}
	if err := overlapsDataDir(real, s.DataDir); err != nil {
		return "", err
	}
	return real, nil
}

// openShare opens a share's directory, the one shareDir checked.
func (s *Server) openShare(sh *users.Share) (*os.Root, error) {
	real, err := s.shareDir(sh)
	if err != nil {
		return nil, err
	}
	return openRootNoSymlinks(real)
}

// openRootNoSymlinks opens dir, a resolved path, as an os.Root, refusing
// it if a symbolic link now lies on its path. os.OpenRoot follows links,
// so the directory is also opened without following any, and the two
// must be the same.
func openRootNoSymlinks(dir string) (*os.Root, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, dir, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	var want unix.Stat_t
	if err := unix.Fstat(fd, &want); err != nil {
		return nil, &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	fi, err := root.Stat(".")
	if err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Dev != want.Dev || st.Ino != want.Ino {
			err = fmt.Errorf("session: %s changed while it was opened", dir)
		}
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

// overlapsDataDir returns an error if dir, a resolved path, is the data
// directory or lies inside it or around it.
func overlapsDataDir(dir, data string) error {
	if real, err := filepath.EvalSymlinks(data); err == nil {
		data = real
	}
	within := func(a, b string) bool { // a is b or inside it
		r, err := filepath.Rel(b, a)
		return err == nil && r != ".." && !strings.HasPrefix(r, "../")
	}
	if within(dir, data) || within(data, dir) {
		return fmt.Errorf("session: %s overlaps the data directory %s", dir, data)
	}
	return nil
}

// CheckShares checks the shares of c for a server whose data directory is
// data: a share overlapping it is an error ("FILE:LINE: ..."); a missing
// or unusable directory is a warning (one line each), since the admin may
// create it later and the share then appears.
func CheckShares(c *users.Config, data string) (warnings []string, err error) {
	for _, n := range slices.Sorted(maps.Keys(c.Shares)) {
		sh := c.Shares[n]
		real, err := filepath.EvalSymlinks(sh.Path)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("share %s: %s: %v; ~/%s stays empty until it exists", n, sh.Path, unwrapPathErr(err), n))
			continue
		}
		if err := overlapsDataDir(real, data); err != nil {
			return warnings, fmt.Errorf("%s:%d: shares.%s: %s overlaps cubbyd's data directory %s, which holds every home and the host key; share another directory", c.Path, sh.Line, n, sh.Path, data)
		}
		fi, err := os.Stat(real)
		switch {
		case err != nil:
			warnings = append(warnings, fmt.Sprintf("share %s: %s: %v", n, sh.Path, unwrapPathErr(err)))
		case !fi.IsDir():
			warnings = append(warnings, fmt.Sprintf("share %s: %s is not a directory; ~/%s stays empty", n, sh.Path, n))
		case fi.Mode().Perm()&0o005 != 0o005:
			warnings = append(warnings, fmt.Sprintf("share %s: %s is not readable by other users (mode %v); users cannot list it (chmod -R o+rX)", n, sh.Path, fi.Mode().Perm()))
		}
	}
	return warnings, nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// A share is served as the jail would show it to its user, who is
// "other" to the teacher's files: the server may run as root and read
// anything, but a file others may not read (an answer key left in the
// folder with mode 0600) must not be handed out. shareTraversable checks
// that every directory on the way to inner may be searched by others;
// shareReadable that inner itself may be read (and searched, for a
// directory).
func shareTraversable(root *os.Root, inner string) error {
	dirs := []string{"."}
	if inner != "." {
		elems := strings.Split(inner, "/")
		for i := 1; i < len(elems); i++ {
			dirs = append(dirs, strings.Join(elems[:i], "/"))
		}
	}
	for _, d := range dirs {
		fi, err := root.Stat(d)
		if err != nil {
			return nil // the caller's own lookup reports it
		}
		if fi.IsDir() && fi.Mode().Perm()&0o001 == 0 {
			return fs.ErrPermission
		}
	}
	return nil
}

// shareReached checks that others may search every directory on the
// path f, a file opened in the share of p, really has. A symbolic link in
// the share (the teacher's "key -> private/key.txt") may lead into a
// directory they may not search, which the jail would refuse and the
// lexical check of shareTraversable does not see.
func (v *view) shareReached(p *place, f *os.File) error {
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		return err
	}
	top, err := v.s.conn.srv.shareDir(p.share)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(top, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fs.ErrPermission
	}
	return shareTraversable(p.root, filepath.ToSlash(rel))
}

func shareReadable(fi fs.FileInfo) error {
	perm := fi.Mode().Perm()
	if perm&0o004 == 0 || fi.IsDir() && perm&0o001 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// stat returns what the view shows at p: Stat (links followed inside the
// area) or Lstat. ~/submit is a directory. A directory of a share must
// be readable and searchable by others.
func (v *view) stat(p *place, follow bool) (fs.FileInfo, error) {
	if p.kind == inSubmit {
		if !p.top() {
			return nil, v.noSuchBox(p.rel)
		}
		return submitInfo{}, nil
	}
	var fi fs.FileInfo
	var err error
	if follow {
		fi, err = p.root.Stat(p.inner)
	} else {
		fi, err = p.root.Lstat(p.inner)
	}
	if err != nil {
		return nil, err
	}
	if p.kind == inShare && fi.IsDir() {
		if err := shareReadable(fi); err != nil {
			return nil, err
		}
	}
	return fi, nil
}

// isDir reports whether rel names a directory of the view.
func (v *view) isDir(rel string) bool {
	p, err := v.place(rel)
	if err != nil {
		return false
	}
	fi, err := v.stat(p, true)
	return err == nil && fi.IsDir()
}

// exists reports whether rel names anything, links not followed.
func (v *view) exists(rel string) bool {
	p, err := v.place(rel)
	if err != nil {
		return false
	}
	_, err = v.stat(p, false)
	return err == nil
}

// readDirNames lists a directory of the view.
func (v *view) readDirNames(rel string) ([]string, error) {
	p, err := v.place(rel)
	if err != nil {
		return nil, err
	}
	if p.kind == inSubmit && p.top() {
		return v.boxNames(), nil
	}
	if _, err := v.stat(p, true); err != nil {
		return nil, err
	}
	return readDirNames(p.root, p.inner)
}

// submitInfo describes ~/submit: a directory nobody writes.
type submitInfo struct{}

func (submitInfo) Name() string       { return users.SubmitDir }
func (submitInfo) Size() int64        { return 0 }
func (submitInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (submitInfo) ModTime() time.Time { return time.Time{} }
func (submitInfo) IsDir() bool        { return true }
func (submitInfo) Sys() any           { return nil }

// mounts makes the mount points of the folders in the home, so that the
// user sees them (ls ~) and the jail has a directory to mount on, and
// returns the jail's mounts: each share read-only at ~/NAME and, when
// there are drop boxes, a read-only ~/submit holding the user's copy of
// each box, read-only too (only uploads change a box). What keeps a
// folder from appearing is returned as notices for the user, one line
// each; the program runs without that folder.
func (v *view) mounts() (mounts []sandbox.Mount, notices []string) {
	for _, name := range slices.Sorted(maps.Keys(v.f.Shares)) {
		sh := v.f.Shares[name]
		p, err := v.place(name)
		if err != nil {
			notices = append(notices, err.Error())
			continue
		}
		if msg := v.mountPoint(name); msg != "" {
			notices = append(notices, msg)
			continue
		}
		// The path checked, which the jail opens without following links.
		src, err := v.s.conn.srv.shareDir(sh)
		if err == nil {
			_, err = p.root.Stat(".")
		}
		if err != nil {
			v.s.log.Error("cannot mount share", "share", name, "path", sh.Path, "err", err)
			notices = append(notices, fmt.Sprintf("~/%s is not available right now; tell the teacher", name))
			continue
		}
		mounts = append(mounts, sandbox.Mount{Source: src, Target: name, ReadOnly: true})
	}
	if !v.hasBoxes() {
		return mounts, notices
	}
	if msg := v.mountPoint(users.SubmitDir); msg != "" {
		return mounts, append(notices, msg)
	}
	mounts = append(mounts, sandbox.Mount{Target: users.SubmitDir, ReadOnly: true})
	for _, name := range v.boxNames() {
		dir, err := v.s.conn.srv.makeBoxDir(name, v.s.home.user)
		if err == nil {
			// The jail takes a path without links (see sandbox.Mount);
			// the data directory's may have some.
			dir, err = filepath.EvalSymlinks(dir)
		}
		if err != nil {
			v.s.log.Error("cannot make drop box", "box", name, "err", err)
			notices = append(notices, fmt.Sprintf("~/%s/%s is not available right now; tell the teacher", users.SubmitDir, name))
			continue
		}
		mounts = append(mounts, sandbox.Mount{Source: dir, Target: users.SubmitDir + "/" + name, ReadOnly: true})
	}
	return mounts, notices
}

// mountPoint makes the directory name in the home for a folder, owned by
// the jail's uid, and returns "" or, when something of the user's is in
// the way, what to tell them.
func (v *view) mountPoint(name string) string {
	root := v.s.home.root
	if err := root.Mkdir(name, 0o755); err == nil {
		if err := v.s.giveToOwner(root, name); err != nil {
			v.s.log.Error("cannot give a mount point to the jail's uid", "path", name, "err", err)
		}
	}
	fi, err := root.Lstat(name)
	if err == nil && fi.IsDir() {
		return ""
	}
	return fmt.Sprintf("~/%s is not a folder, so the folder the teacher shares as ~/%s cannot appear there; rename it (mv %s %s.mine)", name, name, name, name)
}
