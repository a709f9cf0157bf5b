package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session/receipt"
)

// maxCollectDepth bounds the folders open at once while collecting.
const maxCollectDepth = 256

// Collect copies every user's copy of the drop box called box, in the
// data directory data, into dest/<user>/..., and writes one line per user
// of cfg (and per copy of a user no longer in it) to w, then a summary.
// dest must be new or an empty directory; it is made 0700, since it holds
// everyone's work. Files are written with O_EXCL, mode 0644 (0755 when
// any execute bit was set), their modification times kept; the data
// directory is read without following any symbolic link, and anything
// but files and folders is skipped and reported. A user's last upload is
// the latest change time the server gave their files, which only uploads
// and their SetAttr, while the box is open, can set.
func Collect(ctx context.Context, cfg *users.Config, data, box, dest string, w io.Writer) error {
	b, ok := cfg.Dropboxes[box]
	if !ok {
		names := slices.Sorted(maps.Keys(cfg.Dropboxes))
		return fmt.Errorf("%s has no drop box %q (it has: %s)", cfg.Path, box, strings.Join(names, ", "))
	}
	boxPath := filepath.Join(data, "dropboxes", box)
	src, err := openNoFollowDir(unix.AT_FDCWD, boxPath)
	if errors.Is(err, unix.ENOENT) {
		src = nil // nobody ever opened it: every user has nothing
	} else if err != nil {
		return fmt.Errorf("opening %s: %w", boxPath, err)
	}
	if src != nil {
		defer src.Close()
	}
	dst, err := makeEmptyDir(dest)
	if err != nil {
		return err
	}
	defer dst.Close()

	// Everyone in the users file, and every copy on disk.
	who := map[string]bool{}
	for name := range cfg.Users {
		who[name] = true
	}

	if src != nil {
		names, err := src.Readdirnames(-1)
		if err != nil {
			return fmt.Errorf("listing %s: %w", boxPath, err)
		}
		for _, n := range names {
			if users.ValidName(n) == nil {
				who[n] = true
			}
		}
	}
	var total collected
	submitted, late := 0, 0
	names := slices.Sorted(maps.Keys(who))
	for _, name := range names {
		var c collector
		c.ctx, c.dst = ctx, dst
		if src != nil {
			if err := c.user(src, name); err != nil {
				return fmt.Errorf("collecting %s's %s: %w", name, box, err)
			}
		}
		line := name + ": "
		switch {
		case c.files == 0 && c.dirs == 0:
			line += "nothing submitted"
		case c.files == 0:
			submitted++
			line += "only empty folders"
		default:
			submitted++
			line += fmt.Sprintf("%d %s, %s, last upload %s", c.files, plural(c.files, "file", "files"), formatSize(c.bytes), users.FormatTime(c.last.In(b.Deadline.Location())))
			if c.last.After(b.Deadline) {
				late++
				line += ", late"
				if ext, ok := b.Extensions[name]; ok {
					line += " (extension until " + users.FormatTime(ext) + ")"
				}
			}
		}
		if len(c.skipped) > 0 {
			line += fmt.Sprintf("; skipped %d that are not files or folders: %s", len(c.skipped), strings.Join(c.skipped, ", "))
		}
		if _, ok := cfg.Users[name]; !ok {
			line += " (not in " + cfg.Path + ")"
		}
		fmt.Fprintln(w, line)
		total.files += c.files
		total.bytes += c.bytes
	}
	abs, _ := filepath.Abs(dest)
	fmt.Fprintf(w, "%s: %d of %d users submitted (%d late), %d %s, %s, into %s\n",
		box, submitted, len(names), late, total.files, plural(total.files, "file", "files"), formatSize(total.bytes), abs)
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// makeEmptyDir makes dir, mode 0700, or checks that it is an empty
// directory, and opens it as a root. collect runs as root and dir is often
// in a teacher's home: it is opened without following any symbolic link on
// its way, so a link planted there (or swapped in after the mkdir) cannot
// send the submissions elsewhere.
func makeEmptyDir(dir string) (*os.Root, error) {
	how := func(flags uint64) *unix.OpenHow {
		return &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	}
	linkErr := func(err error) error {
		switch {
		case errors.Is(err, unix.ELOOP):
			return fmt.Errorf("%s: a symbolic link is on its way; collect into a folder reached without links (see realpath)", dir)
		case errors.Is(err, unix.ENOTDIR):
			return fmt.Errorf("%s is not a directory", dir)
		}
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	pfd, err := unix.Openat2(unix.AT_FDCWD, parent, how(unix.O_PATH|unix.O_DIRECTORY))
	if err != nil {
		return nil, linkErr(err)
	}
	defer unix.Close(pfd)
	if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	fd, err := unix.Openat2(pfd, base, how(unix.O_RDONLY|unix.O_DIRECTORY))
	if err != nil {
		return nil, linkErr(err)
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	if len(names) > 0 {
		return nil, fmt.Errorf("%s is not empty; collect into a new or empty folder", dir)
	}
	// The root is the directory just checked, not whatever dir names now.
	return os.OpenRoot(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
}

func openNoFollowDir(dirFD int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// collected counts what was copied.
type collected struct {
	files, dirs int
	bytes       int64
}

// collector copies one user's copy of a box.
type collector struct {
	collected
	ctx     context.Context
	dst     *os.Root
	last    time.Time // latest change time of a file
	skipped []string  // paths that are not files or folders, quoted if need be for a terminal
}

// user copies src/name into the destination's name, which is left out
// when there is nothing to copy.
func (c *collector) user(src *os.File, name string) error {
	d, err := openNoFollowDir(int(src.Fd()), name)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
		c.skipped = append(c.skipped, name) // a link or file the server never makes
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	if err := c.dst.Mkdir(name, 0o755); err != nil {
		return err
	}
	if err := c.dir(d, name, 0); err != nil {
		return err
	}
	if c.files == 0 && c.dirs == 0 {
		return c.dst.Remove(name)
	}
	return nil
}

// dir copies the entries of the directory d into the destination's rel.
func (c *collector) dir(d *os.File, rel string, depth int) error {
	fd := int(d.Fd())
	for {
		names, rerr := d.Readdirnames(256)
		for _, name := range names {
			if err := c.ctx.Err(); err != nil {
				return err
			}
			var st unix.Stat_t
			err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
			if errors.Is(err, unix.ENOENT) {
				continue // removed since it was listed
			}
			if err != nil {
				return err
			}
			child := path.Join(rel, name)
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFDIR:
				if depth >= maxCollectDepth {
					c.skipped = append(c.skipped, receipt.Printable(child)+" (too deep)")
					continue
				}
				sub, err := openNoFollowDir(fd, name)
				if err != nil {
					return err
				}
				err = c.dst.Mkdir(child, 0o755)
				if err == nil {
					c.dirs++
					err = c.dir(sub, child, depth+1)
				}
				sub.Close()
				if err != nil {
					return err
				}
				mtime := time.Unix(st.Mtim.Unix())
				if err := c.dst.Chtimes(child, mtime, mtime); err != nil {
					return err
				}
			case unix.S_IFREG:
				if err := c.file(fd, name, child); err != nil {
					return err
				}
			default:
				c.skipped = append(c.skipped, receipt.Printable(child))
			}
		}
		if rerr == io.EOF || (rerr == nil && len(names) == 0) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// file copies the regular file name of the directory dirFD to rel.
func (c *collector) file(dirFD int, name, rel string) error {
	fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(fd), name)
	defer in.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		c.skipped = append(c.skipped, receipt.Printable(rel))
		return nil
	}
	mode := os.FileMode(0o644)
	if st.Mode&0o111 != 0 {
		mode = 0o755
	}
	out, err := c.dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Chmod(mode) // past the umask
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	mtime := time.Unix(st.Mtim.Unix())
	if err := c.dst.Chtimes(rel, mtime, mtime); err != nil {
		return err
	}
	c.files++
	c.bytes += n
	if ct := time.Unix(st.Ctim.Unix()); ct.After(c.last) {
		c.last = ct
	}
	return nil
}
