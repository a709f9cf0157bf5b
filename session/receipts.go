package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session/receipt"
	"github.com/cubby-dev/cubby/wire"
)

// MaxReceiptLog bounds one user's receipt log for one drop box: some
// 100 000 receipts. Past it receipts are still signed and given to the
// user, but no longer logged, so a user cannot fill the disk with
// uploads that replace one small file.
const MaxReceiptLog = 64 << 20

// receiptsDir holds the receipt logs, <data>/receipts/<box>/<user>.log:
// beside the homes, never inside anything a jail sees, owned by the
// server and readable by it alone.
func receiptsDir(dataDir string) string { return filepath.Join(dataDir, "receipts") }

// ReceiptLog is the file where the server keeps user's receipts for box.
func ReceiptLog(dataDir, box, user string) string {
	return filepath.Join(receiptsDir(dataDir), box, user+".log")
}

// errReceiptLogFull means a receipt was not logged; the user still got it.
var errReceiptLogFull = errors.New("session: receipt log full")

// sendReceipt signs the receipt for an upload into box that is stored at
// shown ("~/submit/hw3/report.pdf"), logs it in the box's receipt log and
// sends it to the client, just before TransferDone. Without a ReceiptKey
// it does nothing. A receipt that cannot be logged is still sent: it is
// the user's proof, the log only the admin's copy. Only a failure to
// write to the client is returned, which ends the connection.
func (s *session) sendReceipt(box, shown string, size int64, sum [32]byte, deadline time.Time, late bool) error {
	srv := s.conn.srv
	if len(srv.ReceiptKey) == 0 {
		return nil
	}
	r := &receipt.Receipt{
		User: s.home.user, Box: box, Path: shown, Size: size, SHA256: sum,
		Time: srv.now().UTC(), Deadline: deadline, Late: late,
	}
	rand.Read(r.ID[:])
	text, err := r.Sign(srv.ReceiptKey)
	if err != nil {
		s.log.Error("receipt not issued", "box", box, "path", shown, "err", err)
		return nil
	}
	if err := appendReceipt(ReceiptLog(srv.DataDir, box, s.home.user), text); err != nil {
		s.log.Error("receipt not logged; the user still gets it", "box", box, "path", shown, "err", err)
	}
	s.log.Info("receipt", "box", box, "path", shown, "id", fmt.Sprintf("%x", r.ID), "late", late)
	s.refreshWriteDeadline()
	return s.wc.WriteMessage(&wire.Receipt{Text: text})
}

// appendReceipt appends text to the log at path durably: locked against
// another session of the same user, after a newline if a crash cut the
// last write short (so the next receipt starts its own line), and synced
// before the user is told.
func appendReceipt(path string, text []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("session: %s is not a regular file", path)
	}
	size := fi.Size()
	if size+int64(len(text))+1 > MaxReceiptLog {
		return fmt.Errorf("%w: %s has %d bytes, limit %d", errReceiptLogFull, path, size, MaxReceiptLog)
	}
	b := text
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil && err != io.EOF {
			return err
		}
		if last[0] != '\n' {
			b = append([]byte{'\n'}, text...)
		}
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if size == 0 {
		syncDir(dir)
	}
	return nil
}

// syncDir makes a new directory entry durable, as far as it can.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ListedReceipt is one receipt read back from a receipt log.
type ListedReceipt struct {
	// File and Line say where the receipt starts.
	File string
	Line int
	// Receipt is what the text says; nil if it does not parse.
	Receipt *receipt.Receipt
	// Err is nil for a receipt that the host key signed, otherwise
	// what is wrong: it does not parse, it was changed, or another key
	// signed it.
	Err error
}

// ReadReceipts reads the receipt logs of box in dataDir, only user's when
// user is not empty, and checks each receipt's signature and that hostKey
// made it. The result is sorted by time (receipts that do not parse
// last). A box without any receipt gives an empty list.
func ReadReceipts(dataDir, box, user string, hostKey ed25519.PublicKey) ([]ListedReceipt, error) {
	if err := users.ValidName(box); err != nil {
		return nil, fmt.Errorf("session: drop box name %q is not a valid name", box)
	}
	dir := filepath.Join(receiptsDir(dataDir), box)
	var names []string
	if user != "" {
		if err := users.ValidName(user); err != nil {
			return nil, err
		}
		names = []string{user + ".log"}
	} else {
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		for _, e := range ents {
			if name, ok := strings.CutSuffix(e.Name(), ".log"); ok && users.ValidName(name) == nil {
				names = append(names, e.Name())
			}
		}
	}
	var out []ListedReceipt
	for _, name := range names {
		listed, err := readReceiptLog(filepath.Join(dir, name), box, strings.TrimSuffix(name, ".log"), hostKey)
		if err != nil {
			return nil, err
		}
		out = append(out, listed...)
	}
	slices.SortStableFunc(out, func(a, b ListedReceipt) int {
		if a.Receipt == nil || b.Receipt == nil {
			return boolCmp(a.Receipt == nil, b.Receipt == nil)
		}
		return a.Receipt.Time.Compare(b.Receipt.Time)
	})
	return out, nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// readReceiptLog reads one user's log; a missing one is empty.
func readReceiptLog(path, box, user string, hostKey ed25519.PublicKey) ([]ListedReceipt, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ListedReceipt
	sc := receipt.NewScanner(io.LimitReader(f, MaxReceiptLog+receipt.MaxLen))
	for sc.Scan() {
		l := ListedReceipt{File: path, Line: sc.Line()}
		l.Receipt, l.Err = receipt.Parse(sc.Text())
		if l.Err != nil {
			l.Receipt = nil
		} else {
			l.Err = checkLogged(l.Receipt, box, user, hostKey)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("session: reading %s: %w", path, err)
	}
	return out, nil
}

// checkLogged reports what is wrong with r, read from the log of user for
// box: its signature does not verify, another key made it, or it is
// another user's or box's receipt.
func checkLogged(r *receipt.Receipt, box, user string, hostKey ed25519.PublicKey) error {
	if err := r.Verify(); err != nil {
		return err
	}
	switch {
	case !r.Key.Equal(hostKey):
		return fmt.Errorf("signed by another key (%s), not this server's", r.Server)
	case r.User != user || r.Box != box:
		return fmt.Errorf("a receipt of %s for drop box %s, in the log of %s for %s", r.User, r.Box, user, box)
	}
	return nil
}
