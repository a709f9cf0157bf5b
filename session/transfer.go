package session

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cubby-dev/cubby/session/stream"
	"github.com/cubby-dev/cubby/wire"
)

// errClientGone ends a request whose connection broke; nothing more can be
// sent, so the handler returns it to end the connection.
var errClientGone = errors.New("session: connection lost during transfer")

// uploadTarget resolves an upload's target: Path, or Path/Name when Path is
// empty or a directory of the view.
func (s *session) uploadTarget(v *view, req *wire.UploadRequest) (string, error) {
	rel, err := resolve(s.home.user, s.cwd, req.Path)
	if err != nil {
		return "", err
	}
	if req.Path == "" || v.isDir(rel) {
		if err := validName(req.Name); err != nil {
			return "", err
		}
		return path.Join(rel, req.Name), nil
	}
	if rel == "." {
		return "", fmt.Errorf("%w: the home itself is not a file", ErrBadPath)
	}
	return rel, nil
}

// upload receives a file into a partial file, verifies its SHA-256 and
// renames it over the target. Errors the client should see are sent as
// Error frames; a returned error ends the connection.
func (s *session) upload(ctx context.Context, req *wire.UploadRequest) error {
	subject := req.Path
	if subject == "" {
		subject = req.Name
	}
	v := s.newView()
	defer v.close()
	target, err := s.uploadTarget(v, req)
	if err != nil {
		return s.replyError(err, subject)
	}
	subject = display(target)
	at, err := v.place(target)
	if err != nil {
		return s.replyError(err, subject)
	}
	if err := v.writable(at); err != nil {
		return s.replyError(err, subject)
	}
	dirInner, base := path.Split(at.inner)
	if dirInner == "" {
		dirInner = "."
	}
	dirShown := path.Dir(target)
	dir, err := openDir(at.root, dirInner)
	if err != nil {
		return s.replyError(err, display(dirShown))
	}
	defer dir.Close()
	if fi, err := dir.Stat(); err != nil || !fi.IsDir() {
		return s.replyError(errorf(wire.KindNotDir, display(dirShown)+": not a directory"), subject)
	}
	if fi, err := at.root.Lstat(at.inner); err == nil && fi.IsDir() {
		return s.replyError(errorf(wire.KindIsDir, subject+": is a directory"), subject)
	}
	if req.Size > 1<<62 {
		return s.replyError(errorf(wire.KindInvalid, subject+": size too large"), subject)
	}
	size := int64(req.Size)

	// The quota is checked before anything is stored, against the full
	// declared size (a resumed upload's partial counts as part of it)
	// less the file it replaces.
	u, ok := s.conn.srv.userDB().Lookup(s.home.user)
	if !ok {
		return s.replyError(errorf(wire.KindAuth, "your account is no longer active"), subject)
	}
	// A file kept in the trash frees nothing: the upload then counts whole.
	var replaced int64
	keepOld := trashOn(u) && at.kind == inHome // only the home has a trash
	if fi, err := at.root.Lstat(at.inner); err == nil && !(keepOld && fi.Mode().IsRegular()) {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			replaced = replacedSize(&unix.Stat_t{Mode: st.Mode, Nlink: st.Nlink, Size: st.Size})
		}
	}
	quotas := s.conn.srv.usage
	res, err := quotas.reserve(ctx, u, stem(target)+".part", size, replaced, subject)
	if err != nil {
		return s.replyError(s.trashHint(ctx, err), subject)
	}
	defer quotas.release(res)

	p, err := s.conn.srv.openPartial(s.home.user, target)
	if err != nil {
		return s.replyError(err, subject)
	}
	defer p.close()

	// Offer to resume only what provably belongs to this target and fits.
	var offer int64
	if req.Resume {
		if fi, err := p.f.Stat(); err == nil && fi.Size() <= size {
			offer = fi.Size()
		}
	}
	h, err := p.prefixHash(offer)
	if err != nil {
		return s.replyError(err, subject)
	}
	if free, ok := freeBytes(p.f); ok && free < uint64(size-offer) {
		return s.replyError(errorf(wire.KindNoSpace, fmt.Sprintf("%s: no space left on the server: %d bytes needed, %d free", subject, size-offer, free)), subject)
	}
	ready := &wire.UploadReady{Offset: uint64(offer)}
	if offer > 0 {
		copy(ready.PrefixSum[:], h.Sum(nil))
	}
	s.refreshWriteDeadline()
	if err := s.wc.WriteMessage(ready); err != nil {
		return err
	}

	m, err := s.readTransfer()
	if err != nil {
		return err
	}
	start, ok := m.(*wire.UploadStart)
	if !ok {
		if _, ok := m.(*wire.Cancel); ok {
			return s.replyError(context.Canceled, subject)
		}
		return s.conn.unexpected(s.wc, m, "UploadStart")
	}
	if start.Offset != 0 && start.Offset != uint64(offer) {
		return s.conn.unexpected(s.wc, m, fmt.Sprintf("UploadStart at 0 or %d", offer))
	}
	if start.Offset == 0 && offer != 0 {
		h.Reset()
	}
	if err := p.truncate(int64(start.Offset)); err != nil {
		return s.replyError(err, subject)
	}

	got := int64(start.Offset)
	sink := stream.NewSink(p.f, wire.DataChunk, h)
	sinkOpen := true
	closeSink := func() error {
		if !sinkOpen {
			return nil
		}
		sinkOpen = false
		return sink.Close()
	}
	defer closeSink()
	for {
		m, err := s.readTransfer()
		if err != nil {
			// The partial file stays for a later resume.
			return err
		}
		switch m := m.(type) {
		case *wire.Data:
			if int64(len(m.Bytes)) > size-got {
				return s.conn.unexpected(s.wc, m, fmt.Sprintf("at most %d more bytes", size-got))
			}
			sink.Write(m.Bytes)
			got += int64(len(m.Bytes))
			continue
		case *wire.Cancel:
			s.log.Info("upload canceled", "path", subject, "bytes", got)
			return s.replyError(context.Canceled, subject)
		case *wire.UploadEnd:
			if err := closeSink(); err != nil {
				// A write failure (disk full) leaves nothing worth resuming.
				p.remove()
				return s.replyError(err, subject)
			}
			if got != size {
				return s.replyError(errorf(wire.KindInvalid, fmt.Sprintf("%s: upload ended after %d of %d bytes; kept for --resume", subject, got, size)), subject)
			}
			var sum [32]byte
			h.Sum(sum[:0])
			if subtle.ConstantTimeCompare(sum[:], m.Sum[:]) != 1 {
				p.remove()
				return s.replyError(errorf(wire.KindChecksum, subject+": SHA-256 mismatch: the data was damaged in transit; nothing was stored"), subject)
			}
			// A drop box takes what is complete by the deadline: the
			// time that counts is now, not when the upload began, and
			// so do the box's dates: the users file may have been
			// reloaded meanwhile (an earlier deadline, a removed box).
			late := false
			if at.kind == inBox {
				box, ok := s.conn.srv.folders().Dropboxes[at.box.Name]
				if !ok {
					p.remove()
					return s.replyError(errorf(wire.KindNotAllowed, fmt.Sprintf("%s: the drop box %s no longer exists; nothing was stored", subject, at.box.Name)), subject)
				}
				at.box = box
				if late, err = boxOpen(box, s.home.user, s.conn.srv.now()); err != nil {
					p.remove()
					return s.replyError(err, subject)
				}
			}
			var mtime time.Time
			if req.MTime != 0 {
				mtime = time.Unix(0, req.MTime)
			}
			var old unix.Stat_t
			replaced := int64(0)
			undo := func() {}
			if unix.Fstatat(int(dir.Fd()), base, &old, unix.AT_SYMLINK_NOFOLLOW) == nil {
				replaced = replacedSize(&old)
				if keepOld && old.Mode&unix.S_IFMT == unix.S_IFREG {
					// The old version must not be lost: if it cannot
					// be kept, nothing is replaced, and the upload
					// stays for --resume.
					if undo, err = s.keepOldVersion(dir, base, target, old.Size); err != nil {
						s.log.Warn("upload: cannot keep the old version in the trash", "path", subject, "err", err)
						return s.replyError(errorf(wire.KindOther, fmt.Sprintf("%s: upload not stored: the old version could not be kept in ~/.trash (%s); the upload is kept for --resume",
							subject, reasonFor(err))), subject)
					}
					replaced = 0
				}
			}
			if err := p.commit(dir, base, s.conn.srv.HomeOwner, os.FileMode(req.Mode&0o777), mtime, sum); err != nil {
				undo()
				if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
					return s.replyError(errorf(wire.KindIsDir, subject+": is a directory"), subject)
				}
				if errors.Is(err, unix.EXDEV) {
					// Partial uploads and drop boxes are both in the data
					// directory, but an admin may have mounted one of them.
					s.log.Error("upload cannot be renamed into place: the partial uploads and the target are on different file systems", "path", subject, "err", err)
					return s.replyError(errorf(wire.KindUnavailable, subject+": the server cannot store this upload (its data directory spans file systems); tell the admin"), subject)
				}
				return s.replyError(err, subject)
			}
			quotas.committed(res, size, replaced)
			s.log.Info("upload", "path", subject, "bytes", size, "resumed", start.Offset > 0, "resumed_from", start.Offset, "sha256", hex.EncodeToString(sum[:]))
			if at.kind == inBox {
				if err := s.afterDropboxUpload(ctx, at.box, at.inner, size, sum, late); err != nil {
					return err
				}
			}
			s.refreshWriteDeadline()
			return s.wc.WriteMessage(&wire.TransferDone{Path: subject, Size: uint64(size), Sum: sum})
		default:
			return s.conn.unexpected(s.wc, m, "Data, UploadEnd or Cancel")
		}
	}
}

// readTransfer reads a frame within a transfer, allowing TransferTimeout.
func (s *session) readTransfer() (wire.Message, error) {
	s.conn.nc.SetReadDeadline(s.conn.srv.now().Add(orDefault(s.conn.srv.TransferTimeout, DefaultTransferTimeout)))
	if s.conn.kickMessage() != "" {
		return nil, errKicked
	}
	m, err := s.wc.ReadMessage()
	if err != nil && s.conn.kickMessage() != "" {
		return nil, errKicked
	}
	if err != nil {
		s.conn.protocolError(s.wc, err)
		return nil, fmt.Errorf("%w: %w", errClientGone, err)
	}
	return m, nil
}

// freeBytes reports the space available to unprivileged writers on f's
// file system.
func freeBytes(f *os.File) (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}

// download streams a file to the client. It runs beside the read loop so
// a Cancel frame can stop it.
func (s *session) download(ctx context.Context, req *wire.DownloadRequest) error {
	subject := req.Path
	rel, err := resolve(s.home.user, s.cwd, req.Path)
	if err != nil {
		return s.replyError(err, subject)
	}
	subject = display(rel)
	v := s.newView()
	defer v.close()
	at, err := v.place(rel)
	if err != nil {
		return s.replyError(err, subject)
	}
	if at.kind == inSubmit {
		if _, err := v.stat(at, true); err != nil {
			return s.replyError(err, subject)
		}
		return s.replyError(errorf(wire.KindIsDir, subject+": is a directory; use download -r"), subject)
	}
	f, err := openNoBlock(at.root, at.inner)
	if err != nil {
		return s.replyError(err, subject)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return s.replyError(err, subject)
	}
	if at.kind == inShare {
		if err := shareReadable(fi); err != nil {
			return s.replyError(err, subject)
		}
		if err := v.shareReached(at, f); err != nil {
			return s.replyError(err, subject)
		}
	}
	if fi.IsDir() {
		return s.replyError(errorf(wire.KindIsDir, subject+": is a directory; use download -r"), subject)
	}
	if !fi.Mode().IsRegular() {
		return s.replyError(errorf(wire.KindInvalid, subject+": not a regular file"), subject)
	}
	size := fi.Size()

	h := sha256.New()
	var offset int64
	if req.Offset > 0 && req.Offset <= uint64(size) {
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, int64(req.Offset))); err != nil {
			return s.replyError(err, subject)
		}
		if subtle.ConstantTimeCompare(h.Sum(nil), req.PrefixSum[:]) == 1 {
			offset = int64(req.Offset)
		} else {
			h.Reset()
		}
	}
	s.refreshWriteDeadline()
	if err := s.wc.WriteMessage(&wire.DownloadReady{
		Name: path.Base(rel), Size: uint64(size), Offset: uint64(offset),
		Mode: uint32(fi.Mode().Perm()), MTime: fi.ModTime().UnixNano(),
	}); err != nil {
		return err
	}

	// A file unchanged since its upload need not be read twice: the
	// digest that upload verified is sent, and the client still checks
	// every byte against it.
	cached, haveCached := s.conn.srv.cachedSum(s.home.user, rel, f, size)
	srcHash := h
	if haveCached {
		srcHash = nil
	}
	// Frame-sized reads: a server runs many downloads at once, and larger
	// reads bought nothing measurable (1.25 MiB of buffers per download).
	src := stream.NewSource(f, offset, size-offset, wire.DataChunk, srcHash)
	defer src.Close()
	for {
		if ctx.Err() != nil {
			s.log.Info("download canceled", "path", subject)
			if err := s.wc.Flush(); err != nil {
				return err
			}
			return s.replyError(context.Canceled, subject)
		}
		chunk, err := src.Next()
		if err == io.EOF {
			break
		}
		if len(chunk) > 0 {
			s.refreshWriteDeadline()
			if werr := s.wc.WriteData(chunk); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errorf(wire.KindOther, fmt.Sprintf("%s: the file shrank during the download; try again", subject))
			}
			if ferr := s.wc.Flush(); ferr != nil {
				return ferr
			}
			return s.replyError(err, subject)
		}
	}
	src.Close()
	sum := cached
	if !haveCached {
		h.Sum(sum[:0])
	}
	s.refreshWriteDeadline()
	if err := s.wc.WriteMessage(&wire.DownloadEnd{Sum: sum}); err != nil {
		return err
	}
	s.log.Info("download", "path", subject, "bytes", size, "resumed", offset > 0, "resumed_from", offset, "sha256", hex.EncodeToString(sum[:]), "sha256_recorded", haveCached)
	return nil
}
