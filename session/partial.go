package session

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cubby-dev/cubby/wire"
)

// partial is an upload in progress, kept outside the user's home until it
// is complete and verified, and then renamed over its target. It holds an
// exclusive lock so two uploads to one target cannot mix their bytes.
type partial struct {
	f    *os.File
	dir  *os.File // the user's partial directory
	name string
}

// openPartial opens (creating) the partial file for a target and locks it.
func (s *Server) openPartial(user, target string) (*partial, error) {
	dirPath := filepath.Join(s.partialRoot(), user)
	if err := os.MkdirAll(dirPath, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.Open(dirPath)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(target))
	name := hex.EncodeToString(sum[:16]) + ".part"
	f, err := os.OpenFile(filepath.Join(dirPath, name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		dir.Close()
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		dir.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errorf(wire.KindBusy, fmt.Sprintf("%s: another upload to this file is in progress", display(target)))
		}
		return nil, err
	}
	return &partial{f: f, dir: dir, name: name}, nil
}

// prefixHash hashes the first n bytes of the partial file and returns the
// hash state, ready to continue with the rest of the upload.
func (p *partial) prefixHash(n int64) (hash.Hash, error) {
	h := sha256.New()
	if n == 0 {
		return h, nil
	}
	if _, err := io.Copy(h, io.NewSectionReader(p.f, 0, n)); err != nil {
		return nil, err
	}
	return h, nil
}

// truncate empties the partial file and places writes at offset n.
func (p *partial) truncate(n int64) error {
	if err := p.f.Truncate(n); err != nil {
		return err
	}
	_, err := p.f.Seek(n, io.SeekStart)
	return err
}

// commit makes the verified partial file the target: it fsyncs the data,
// sets mode and time, renames it into targetDir as base and fsyncs the
// directory. The rename replaces an old version atomically; a symbolic
// link at base is replaced, never followed.
func (p *partial) commit(targetDir *os.File, base string, mode os.FileMode, mtime time.Time) error {
	if err := p.f.Chmod(mode); err != nil {
		return err
	}
	if !mtime.IsZero() {
		tv := []unix.Timeval{unix.NsecToTimeval(mtime.UnixNano()), unix.NsecToTimeval(mtime.UnixNano())}
		if err := unix.Futimes(int(p.f.Fd()), tv); err != nil {
			return err
		}
	}
	if err := p.f.Sync(); err != nil {
		return err
	}
	if err := unix.Renameat(int(p.dir.Fd()), p.name, int(targetDir.Fd()), base); err != nil {
		return &os.LinkError{Op: "rename", Old: p.name, New: base, Err: err}
	}
	return targetDir.Sync()
}

// remove deletes the partial file, for an upload that can never complete.
func (p *partial) remove() {
	unix.Unlinkat(int(p.dir.Fd()), p.name, 0)
}

func (p *partial) close() {
	p.f.Close()
	p.dir.Close()
}

// sweepPartials removes interrupted uploads older than PartialTTL at start
// and then every hour, skipping any that an upload holds locked.
func (s *Server) sweepPartials() {
	defer s.wg.Done()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		s.removeStalePartials()
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) removeStalePartials() {
	users, err := os.ReadDir(s.partialRoot())
	if err != nil {
		s.logger().Warn("listing partial uploads", "err", err)
		return
	}
	cutoff := s.now().Add(-PartialTTL)
	removed := 0
	for _, u := range users {
		dir := filepath.Join(s.partialRoot(), u.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() || info.ModTime().After(cutoff) {
				continue
			}
			path := filepath.Join(dir, e.Name())
			f, err := os.Open(path)
			if err != nil {
				continue
			}
			if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
				if os.Remove(path) == nil {
					removed++
				}
			}
			f.Close()
		}
	}
	if removed > 0 {
		s.logger().Info("removed stale partial uploads", "count", removed, "older_than", PartialTTL)
	}
}
