package session

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	sums string // the user's digest record directory
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
	name := stem(target) + ".part"
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
	return &partial{f: f, dir: dir, name: name, sums: s.sumDir(user)}, nil
}

// stem names a target's files: "<stem>.part" in the partial directory
// holds an upload in progress, "<stem>.sum" in the digest directory the
// digest of the last one committed.
func stem(target string) string {
	sum := sha256.Sum256([]byte(target))
	return hex.EncodeToString(sum[:16])
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
// link at base is replaced, never followed. Then it records sum as the
// file's digest for later downloads (see saveSum).
func (p *partial) commit(targetDir *os.File, base string, owner *Owner, mode os.FileMode, mtime time.Time, sum [32]byte) error {
	if owner != nil {
		// The jail's uid must own what it finds in its home.
		if err := p.f.Chown(owner.UID, owner.GID); err != nil {
			return err
		}
	}
	var before, after unix.Stat_t
	probeErr := unix.Fstat(int(p.f.Fd()), &before)
	if err := p.f.Chmod(mode); err != nil {
		return err
	}
	if probeErr == nil {
		probeErr = unix.Fstat(int(p.f.Fd()), &after)
	}
	// The digest record relies on every later change to the file moving
	// its ctime. Kernels with multigrain timestamps (Linux 6.13+ on
	// tmpfs, ext4, xfs, btrfs) promise that once the ctime has been read;
	// with coarse timestamps a change in the same clock tick as the
	// commit would go unseen, and there the chmod just above leaves the
	// ctime it follows unchanged. Only a file system that showed a fresh
	// ctime gets a record.
	fineCtime := probeErr == nil && after.Ctim != before.Ctim
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
	if err := targetDir.Sync(); err != nil {
		return err
	}
	if fineCtime {
		p.saveSum(sum)
	}
	return nil
}

// A digest record lets a download of a file that has not changed since
// its upload send the SHA-256 the upload verified instead of reading the
// file twice. It lives outside every home, in <data>/homes/.sums/<user>/
// as "<stem>.sum": version, device, inode, size, mtime and ctime (ns) as
// the server saw them after the rename, then the digest. It cannot live
// in an extended attribute of the file itself: setting one changes the
// file's ctime, and so does the rename, so no record on the inode can
// hold the inode's final ctime.
//
// A download uses the record only when the opened file's device, inode,
// size, mtime and ctime all still match. Any write, truncation, chmod,
// utimes or rename of the file moves its ctime, and a user cannot set a
// ctime back, so a changed file is always hashed afresh; a replaced file
// has another inode or ctime. A missing, short or unreadable record just
// means hashing as before.
const sumRecordLen = 1 + 5*8 + 32

const sumRecordVersion = 1

func sumRecord(st *unix.Stat_t, sum [32]byte) []byte {
	b := make([]byte, 0, sumRecordLen)
	b = append(b, sumRecordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(st.Dev))
	b = binary.BigEndian.AppendUint64(b, st.Ino)
	b = binary.BigEndian.AppendUint64(b, uint64(st.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(st.Mtim.Nano()))
	b = binary.BigEndian.AppendUint64(b, uint64(st.Ctim.Nano()))
	return append(b, sum[:]...)
}

// saveSum records sum for the committed file, replacing the record of
// an earlier version atomically. Failure only costs a later download a
// hash, so it is ignored.
func (p *partial) saveSum(sum [32]byte) {
	var st unix.Stat_t
	if err := unix.Fstat(int(p.f.Fd()), &st); err != nil {
		return
	}
	if err := os.MkdirAll(p.sums, 0o700); err != nil {
		return
	}
	// The partial's lock keeps a second upload to this target from
	// committing at the same time, so the temporary name is free.
	name := filepath.Join(p.sums, strings.TrimSuffix(p.name, ".part")+".sum")
	if err := os.WriteFile(name+".tmp", sumRecord(&st, sum), 0o600); err != nil {
		os.Remove(name + ".tmp")
		return
	}
	if err := os.Rename(name+".tmp", name); err != nil {
		os.Remove(name + ".tmp")
	}
}

// sumDir holds a user's digest records, beside the partial uploads and
// like them outside every home.
func (s *Server) sumDir(user string) string {
	return filepath.Join(s.homesDir(), ".sums", user)
}

// cachedSum returns the digest recorded at the upload of target, if f is
// still exactly the file that upload committed and size bytes long.
func (s *Server) cachedSum(user, target string, f *os.File, size int64) ([32]byte, bool) {
	var sum [32]byte
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Size != size {
		return sum, false
	}
	rf, err := os.Open(filepath.Join(s.sumDir(user), stem(target)+".sum"))
	if err != nil {
		return sum, false
	}
	defer rf.Close()
	var rec [sumRecordLen + 1]byte
	n, _ := io.ReadFull(rf, rec[:])
	if n != sumRecordLen {
		return sum, false
	}
	want := sumRecord(&st, sum)
	if !bytes.Equal(rec[:sumRecordLen-32], want[:sumRecordLen-32]) {
		return sum, false
	}
	copy(sum[:], rec[sumRecordLen-32:sumRecordLen])
	return sum, true
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
