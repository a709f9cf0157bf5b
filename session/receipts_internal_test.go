package session

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/session/receipt"
)

func testReceipt(t *testing.T, key ed25519.PrivateKey, user, box string, at time.Time) []byte {
	t.Helper()
	r := &receipt.Receipt{User: user, Box: box, Path: "~/submit/" + box + "/a.txt", Size: 1, Time: at}
	text, err := r.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// TestReceiptLog appends receipts the way sendReceipt does and reads them
// back the way cubbyd receipts does, with the damage a log can suffer.
func TestReceiptLog(t *testing.T) {
	data := t.TempDir()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	add := func(user string, text []byte) {
		t.Helper()
		if err := appendReceipt(ReceiptLog(data, "hw3", user), text); err != nil {
			t.Fatal(err)
		}
	}
	add("alice", testReceipt(t, key, "alice", "hw3", t0.Add(3*time.Second)))
	add("bob", testReceipt(t, key, "bob", "hw3", t0.Add(1*time.Second)))
	// A write cut short by a crash: the next append starts a new line.
	torn := testReceipt(t, key, "alice", "hw3", t0)
	f, err := os.OpenFile(ReceiptLog(data, "hw3", "alice"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(torn[:len(torn)/2])
	f.Close()
	add("alice", testReceipt(t, key, "alice", "hw3", t0.Add(2*time.Second)))
	add("alice", testReceipt(t, other, "alice", "hw3", t0.Add(4*time.Second)))
	add("alice", testReceipt(t, key, "bob", "hw3", t0.Add(5*time.Second)))
	add("alice", bytes.Replace(testReceipt(t, key, "alice", "hw3", t0.Add(6*time.Second)), []byte("size: 1"), []byte("size: 2"), 1))
	// Another box's log is not listed.
	if err := appendReceipt(ReceiptLog(data, "hw4", "carol"), testReceipt(t, key, "carol", "hw4", t0)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(data, "receipts", "hw3", "Not A User.log"), []byte("junk"), 0o600)

	for _, p := range []string{filepath.Join(data, "receipts"), filepath.Join(data, "receipts", "hw3")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", p, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(ReceiptLog(data, "hw3", "alice")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log: mode %v, %v; want 0600", fi.Mode(), err)
	}

	list, err := ReadReceipts(data, "hw3", "", key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range list {
		s := "?"
		if l.Receipt != nil {
			s = fmt.Sprintf("%s@%d", l.Receipt.User, l.Receipt.Time.Sub(t0)/time.Second)
		}
		if l.Err != nil {
			s += " bad"
		}
		got = append(got, s)
	}
	want := "bob@1 alice@2 alice@3 alice@4 bad bob@5 bad alice@6 bad ? bad"
	if strings.Join(got, " ") != want {
		t.Errorf("ReadReceipts = %q; want %q", strings.Join(got, " "), want)
	}
	for _, l := range list {
		if l.Receipt != nil && l.Receipt.Time.Sub(t0) == 6*time.Second && !errors.Is(l.Err, receipt.ErrBadSignature) {
			t.Errorf("changed receipt: %v; want ErrBadSignature", l.Err)
		}
	}

	only, err := ReadReceipts(data, "hw3", "bob", key.Public().(ed25519.PublicKey))
	if err != nil || len(only) != 1 || only[0].Err != nil {
		t.Errorf("ReadReceipts(bob) = %+v, %v; want bob's one receipt", only, err)
	}
	if none, err := ReadReceipts(data, "hw9", "", key.Public().(ed25519.PublicKey)); err != nil || len(none) != 0 {
		t.Errorf("ReadReceipts(hw9) = %v, %v; want nothing", none, err)
	}
	for _, bad := range []string{"../hw3", ".", "", "a/b"} {
		if _, err := ReadReceipts(data, bad, "", nil); err == nil {
			t.Errorf("ReadReceipts(box %q) succeeded", bad)
		}
	}
}

// TestReceiptLogBounded: a full log refuses another receipt and keeps
// what it has.
func TestReceiptLogBounded(t *testing.T) {
	path := ReceiptLog(t.TempDir(), "hw3", "alice")
	text := testReceipt(t, ed25519.NewKeyFromSeed(make([]byte, 32)), "alice", "hw3", time.Now())
	if err := appendReceipt(path, text); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, MaxReceiptLog-int64(len(text))); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	if err := appendReceipt(path, text); !errors.Is(err, errReceiptLogFull) {
		t.Errorf("append to a full log = %v; want errReceiptLogFull", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != MaxReceiptLog-int64(len(text)) {
		t.Errorf("full log changed to %d bytes", fi.Size())
	}
	if err := os.Symlink("/etc/passwd", path+"x"); err == nil {
		if err := appendReceipt(path+"x", text); err == nil {
			t.Error("appended through a symbolic link")
		}
	}
}
