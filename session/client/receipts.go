package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cubby-dev/cubby/auth/knownhosts"
	"github.com/cubby-dev/cubby/session/client/progress"
	"github.com/cubby-dev/cubby/session/receipt"
)

// ErrReceiptKeyNotPinned means a receipt's signature is valid, but by a
// key that is not pinned for any server (nor the fingerprint given).
var ErrReceiptKeyNotPinned = errors.New("client: signature valid but made by a key you have not pinned")

// ReadReceiptFile reads a receipt file, refusing one larger than a
// receipt can be.
func ReadReceiptFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, receipt.MaxLen+1))
	if err != nil {
		return nil, err
	}
	if len(text) > receipt.MaxLen {
		return nil, fmt.Errorf("%s is larger than a receipt can be (%d bytes)", name, receipt.MaxLen)
	}
	return text, nil
}

// VerifyReceipt checks a receipt without the server: that it parses, that
// its signature is valid, and that its key is one the user trusts — pinned
// in kh for some server, or, when fingerprint is not empty, the key with
// that fingerprint (as the admin published it). It returns the receipt
// and the servers that pinned its key.
func VerifyReceipt(text []byte, kh *knownhosts.Store, fingerprint string) (*receipt.Receipt, []string, error) {
	r, err := receipt.Parse(text)
	if err != nil {
		return nil, nil, err
	}
	if err := r.Verify(); err != nil {
		return r, nil, err
	}
	if fingerprint != "" {
		if fingerprint != r.Server {
			return r, nil, fmt.Errorf("%w: it was made by %s, not %s", ErrReceiptKeyNotPinned, r.Server, fingerprint)
		}
		return r, []string{"the server with key " + fingerprint}, nil
	}
	hosts, err := kh.HostsFor(r.Key)
	if err != nil {
		return r, nil, err
	}
	if len(hosts) == 0 {
		return r, nil, fmt.Errorf("%w (%s, not in %s)", ErrReceiptKeyNotPinned, r.Server, kh.Path)
	}
	return r, hosts, nil
}

// CheckReceiptFile compares a local file with the one a receipt is for.
func CheckReceiptFile(r *receipt.Receipt, local string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("reading %s: %w", local, err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	if sum != r.SHA256 || n != r.Size {
		return fmt.Errorf("%s is not the file submitted: it has %s bytes, sha256 %s…; the receipt says %s bytes, sha256 %s…",
			local, progress.Thousands(n), hex.EncodeToString(sum[:8]), progress.Thousands(r.Size), hex.EncodeToString(r.SHA256[:8]))
	}
	return nil
}

// DescribeReceipt says what a verified receipt proves, in one line (a
// user or path with control characters quoted, so that a file name
// cannot redraw or hide the rest of it):
// "alice submitted ~/submit/hw3/report.pdf (12,345 bytes, sha256
// ab12cd34…) to host:5050 at 2026-11-30 21:04:05 UTC; on time".
func DescribeReceipt(r *receipt.Receipt, hosts []string) string {
	when := "on time"
	switch {
	case r.Late:
		when = "late, within the extension to " + r.Deadline.Format("2006-01-02 15:04:05 -07:00")
	case r.Deadline.IsZero():
		when = "the box has no deadline"
	}
	return fmt.Sprintf("%s submitted %s (%s bytes, sha256 %s…) to %s at %s; %s",
		receipt.Printable(r.User), receipt.Printable(r.Path), progress.Thousands(r.Size), hex.EncodeToString(r.SHA256[:8]), strings.Join(hosts, ", "),
		r.Time.UTC().Format(time.DateTime+" UTC"), when)
}
