package session

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/wire"
)

// Drop boxes. Each user's copy of the box NAME is the directory
// <data>/dropboxes/NAME/USER, outside every home: the jail shows it
// read-only at ~/submit/NAME, so the only way to change it is an upload
// (or Mkdir, SetAttr) through the server, which checks the deadline.

// dropboxesDir holds every drop box's submissions.
func (s *Server) dropboxesDir() string { return filepath.Join(s.DataDir, "dropboxes") }

// boxDir is user's copy of the box.
func (s *Server) boxDir(box, user string) string {
	return filepath.Join(s.dropboxesDir(), box, user)
}

// makeBoxDir creates user's copy of the box if it does not exist yet.
// The directories above it are 0711 like the homes' (the jail's uid must
// reach its own copy to mount it, and list no other); the copy itself
// belongs to the jail's uid like a home, so the user's programs can read
// it.
func (s *Server) makeBoxDir(box, user string) (string, error) {
	if err := users.ValidName(box); err != nil {
		return "", err
	}
	if err := users.ValidName(user); err != nil {
		return "", err
	}
	dir := s.boxDir(box, user)
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	for _, d := range []string{s.dropboxesDir(), filepath.Dir(dir)} {
		err := os.Mkdir(d, 0o711)
		if err == nil {
			// Past the umask: the service runs with UMask=0077.
			err = os.Chmod(d, 0o711)
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("session: creating %s: %w", d, err)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("session: creating %s: %w", dir, err)
	}
	if o := s.HomeOwner; o != nil {
		if err := os.Lchown(dir, o.UID, o.GID); err != nil {
			return "", fmt.Errorf("session: giving %s to uid %d: %w", dir, o.UID, err)
		}
	}
	return dir, nil
}

// openBox opens user's copy of the box, creating it on first use.
func (s *Server) openBox(box, user string) (*os.Root, error) {
	dir, err := s.makeBoxDir(box, user)
	if err != nil {
		return nil, err
	}
	return os.OpenRoot(dir)
}

// boxOpen returns nil if user may upload into box at now, and otherwise
// an error for the user naming the time that applies, in the zone the
// users file gave it. late reports an upload after the box's deadline
// that the user's extension allows.
func boxOpen(box *users.Dropbox, user string, now time.Time) (late bool, err error) {
	if !box.Opens.IsZero() && now.Before(box.Opens) {
		return false, errorf(wire.KindNotAllowed, fmt.Sprintf("%s opens at %s; uploads are not accepted yet", box.Name, users.FormatTime(box.Opens)))
	}
	deadline := box.DeadlineFor(user)
	if now.After(deadline) {
		if deadline.Equal(box.Deadline) {
			return false, errorf(wire.KindNotAllowed, fmt.Sprintf("%s closed at %s; uploads are no longer accepted", box.Name, users.FormatTime(deadline)))
		}
		return false, errorf(wire.KindNotAllowed, fmt.Sprintf("%s closed at %s (your extension); uploads are no longer accepted", box.Name, users.FormatTime(deadline)))
	}
	return now.After(box.Deadline), nil
}

// boxStatus is one line about box for user at now, for ~/submit.
func boxStatus(box *users.Dropbox, user string, now time.Time) string {
	if _, err := boxOpen(box, user, now); err != nil {
		return err.Error()
	}
	deadline := box.DeadlineFor(user)
	if !deadline.Equal(box.Deadline) {
		return fmt.Sprintf("%s is open until %s (your extension)", box.Name, users.FormatTime(deadline))
	}
	return fmt.Sprintf("%s is open until %s", box.Name, users.FormatTime(deadline))
}

// foldersHelp tells the user, for help, which shares there are and the
// state of each drop box for them.
func (s *session) foldersHelp() string {
	f := s.conn.srv.folders()
	var b strings.Builder
	if len(f.Shares) > 0 {
		var list []string
		for _, n := range slices.Sorted(maps.Keys(f.Shares)) {
			list = append(list, "~/"+n)
		}
		fmt.Fprintf(&b, "shared folders (read-only): %s\n", strings.Join(list, " "))
	}
	now := s.conn.srv.now()
	for _, n := range slices.Sorted(maps.Keys(f.Dropboxes)) {
		fmt.Fprintf(&b, "drop box ~/%s/%s: %s\n", users.SubmitDir, n, boxStatus(f.Dropboxes[n], s.home.user, now))
	}
	return b.String()
}

// afterDropboxUpload runs once an upload into a drop box has been
// committed, before the client is told (TransferDone): relPath is the
// file's path inside the user's copy of box, size and sum what was
// stored, and late whether it arrived after the box's deadline, within
// the user's extension. A returned error ends the connection, as a failed
// write to the client does.
func (s *session) afterDropboxUpload(ctx context.Context, box *users.Dropbox, relPath string, size int64, sum [32]byte, late bool) error {
	s.log.Info("submission", "box", box.Name, "path", relPath, "bytes", size, "sha256", hex.EncodeToString(sum[:]), "late", late)
	shown := display(path.Join(users.SubmitDir, box.Name, relPath))
	return s.sendReceipt(box.Name, shown, size, sum, box.DeadlineFor(s.home.user), late)
}
