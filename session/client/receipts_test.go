package client

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/knownhosts"
	"github.com/cubby-dev/cubby/session/receipt"
)

func TestVerifyReceipt(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	content := []byte("my homework\n")
	r := &receipt.Receipt{
		User: "alice", Box: "hw3", Path: "~/submit/hw3/report.pdf", Size: int64(len(content)), SHA256: sha256.Sum256(content),
		Time:     time.Date(2026, 11, 30, 21, 4, 5, 0, time.UTC),
		Deadline: time.Date(2026, 12, 1, 23, 59, 0, 0, time.FixedZone("", -5*3600)),
	}
	text, err := r.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	kh := &knownhosts.Store{Path: filepath.Join(t.TempDir(), "known_hosts")}

	if _, _, err := VerifyReceipt(text, kh, ""); !errors.Is(err, ErrReceiptKeyNotPinned) {
		t.Errorf("VerifyReceipt with nothing pinned = %v; want ErrReceiptKeyNotPinned", err)
	}
	if _, hosts, err := VerifyReceipt(text, kh, r.Server); err != nil || len(hosts) != 1 {
		t.Errorf("VerifyReceipt with the fingerprint given = %v, %v; want it valid", hosts, err)
	}
	if err := kh.Add("class.example:5050", key.Public()); err != nil {
		t.Fatal(err)
	}
	got, hosts, err := VerifyReceipt(text, kh, "")
	if err != nil {
		t.Fatalf("VerifyReceipt of a pinned server's receipt: %v", err)
	}
	want := "alice submitted ~/submit/hw3/report.pdf (12 bytes, sha256 8a2e1b61c7f3a6d6…) to class.example:5050 at 2026-11-30 21:04:05 UTC; on time"
	if line := DescribeReceipt(got, hosts); !strings.HasPrefix(line, "alice submitted ~/submit/hw3/report.pdf (12 bytes, sha256 ") || !strings.HasSuffix(line, "to class.example:5050 at 2026-11-30 21:04:05 UTC; on time") {
		t.Errorf("DescribeReceipt = %q; want like %q", line, want)
	}

	tampered := bytes.Replace(text, []byte("size: 12"), []byte("size: 13"), 1)
	if _, _, err := VerifyReceipt(tampered, kh, ""); !errors.Is(err, receipt.ErrBadSignature) {
		t.Errorf("VerifyReceipt(tampered) = %v; want ErrBadSignature", err)
	}
	if _, _, err := VerifyReceipt(text, kh, "SHA256:"+strings.Repeat("A", 43)); !errors.Is(err, ErrReceiptKeyNotPinned) {
		t.Errorf("VerifyReceipt with another fingerprint = %v; want ErrReceiptKeyNotPinned", err)
	}

	dir := t.TempDir()
	same, other := filepath.Join(dir, "same"), filepath.Join(dir, "other")
	os.WriteFile(same, content, 0o600)
	os.WriteFile(other, append(content, '!'), 0o600)
	if err := CheckReceiptFile(got, same); err != nil {
		t.Errorf("CheckReceiptFile(the submitted file) = %v", err)
	}
	if err := CheckReceiptFile(got, other); err == nil || !strings.Contains(err.Error(), "is not the file submitted") {
		t.Errorf("CheckReceiptFile(another file) = %v; want a mismatch", err)
	}
}

// TestDescribeReceiptQuotesControlCharacters checks that a file name
// cannot make verify-receipt's line say what the receipt does not: the
// server signs any name a user uploads, and ESC [8m would hide the real
// time and lateness after a forged "on time" on a terminal.
func TestDescribeReceiptQuotesControlCharacters(t *testing.T) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, 32))
	forged := "report.pdf (12 bytes) at 2026-12-01 10:00:00 UTC; on time\x1b[8m\r\n"
	r := &receipt.Receipt{
		User: "alice", Box: "hw3", Path: "~/submit/hw3/" + forged, Size: 12,
		Time: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), Deadline: time.Date(2026, 12, 1, 23, 59, 0, 0, time.UTC), Late: true,
	}
	text, err := r.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	got, hosts, err := VerifyReceipt(text, &knownhosts.Store{Path: filepath.Join(t.TempDir(), "kh")}, r.Server)
	if err != nil {
		t.Fatal(err)
	}
	line := DescribeReceipt(got, hosts)
	if strings.ContainsAny(line, "\x1b\r\n") || !strings.Contains(line, `"~/submit/hw3/report.pdf (12 bytes) at 2026-12-01 10:00:00 UTC; on time\x1b[8m\r\n"`) {
		t.Errorf("DescribeReceipt = %q; want the path quoted, with no control character", line)
	}
}
