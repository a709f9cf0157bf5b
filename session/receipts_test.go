package session_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/hostkey"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/session/receipt"
	"github.com/cubby-dev/cubby/wire"
)

// withReceipts signs receipts with the test server's host key, as cubbyd
// serve does.
func withReceipts(t *testing.T) serverOption {
	return func(s *session.Server) {
		key, _, err := hostkey.LoadOrCreate(s.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		s.ReceiptKey = key
	}
}

// TestDropboxReceipt: every upload into an open drop box comes with a
// receipt that the host key signed, that describes the upload and that
// the server logged; other uploads come without one.
func TestDropboxReceipt(t *testing.T) {
	cr := startClassroom(t, "", withReceipts(t))
	hostKey, err := hostkey.Load(cr.data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	local := t.TempDir()
	src, sum := randomFile(t, local, "report.pdf", 3000)
	cr.clock.set(cr.opens.Add(time.Minute))
	alice := cr.dial(t, "alice")

	res, err := alice.Upload(ctx, src, "submit/hw3/", client.TransferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Receipt
	if r == nil {
		t.Fatal("an upload into an open drop box came without a receipt")
	}
	if err := r.Verify(); err != nil || !r.Key.Equal(hostKey.Public()) {
		t.Errorf("receipt: Verify = %v, signed by %s; want the host key's signature", err, r.Server)
	}
	if r.User != "alice" || r.Box != "hw3" || r.Path != "~/submit/hw3/report.pdf" || r.Size != 3000 || r.SHA256 != sum ||
		!r.Deadline.Equal(cr.due) || r.Late || r.Time.Location() != time.UTC ||
		r.Time.Before(cr.opens) || r.Time.After(cr.opens.Add(time.Hour)) {
		t.Errorf("receipt says %s %s %s %d %x at %v (deadline %v, late %v); want alice's upload", r.User, r.Box, r.Path, r.Size, r.SHA256[:4], r.Time, r.Deadline, r.Late)
	}
	logged, err := os.ReadFile(session.ReceiptLog(cr.data, "hw3", "alice"))
	if err != nil || !bytes.Equal(logged, r.Text()) {
		t.Errorf("receipt log = %q, %v; want the receipt alice got", logged, err)
	}

	// Outside a box: no receipt, and nothing logged.
	if res, err := alice.Upload(ctx, src, "~/", client.TransferOptions{}); err != nil || res.Receipt != nil {
		t.Errorf("upload into the home: %v, receipt %v; want none", err, res.Receipt)
	}

	// A folder: one receipt per file.
	tree := filepath.Join(local, "code")
	os.Mkdir(tree, 0o755)
	randomFile(t, tree, "a.go", 10)
	randomFile(t, tree, "b.go", 20)
	var got []string
	opt := client.TransferOptions{Receipt: func(res *client.Result) { got = append(got, res.Receipt.Path) }}
	if _, err := alice.UploadTree(ctx, tree, "submit/hw3/code", opt, nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "~/submit/hw3/code/a.go" || got[1] != "~/submit/hw3/code/b.go" {
		t.Errorf("UploadTree receipts for %q; want a.go and b.go", got)
	}

	// After the deadline, bob's extension: a late receipt naming it.
	cr.clock.set(cr.due.Add(time.Minute))
	res, err = cr.dial(t, "bob").Upload(ctx, src, "submit/hw3/", client.TransferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Receipt; r == nil || !r.Late || !r.Deadline.Equal(cr.ex) {
		t.Errorf("bob's receipt after the deadline: %+v; want late, deadline %v", r, cr.ex)
	}

	list, err := session.ReadReceipts(cr.data, "hw3", "", hostKey.Public().(ed25519.PublicKey))
	if err != nil || len(list) != 4 {
		t.Fatalf("ReadReceipts = %d receipts, %v; want 4", len(list), err)
	}
	for _, l := range list {
		if l.Err != nil {
			t.Errorf("%s:%d: %v", l.File, l.Line, l.Err)
		}
	}
	if last := list[3].Receipt; last.User != "bob" {
		t.Errorf("the last receipt is %s's; want bob's (sorted by time)", last.User)
	}
}

// TestDropboxReceiptFrame reads the frames of an upload into a box: a
// Receipt right before TransferDone, its text a receipt for that upload.
func TestDropboxReceiptFrame(t *testing.T) {
	cr := startClassroom(t, "", withReceipts(t))
	cr.clock.set(cr.opens.Add(time.Minute))
	r := rawLogin(t, cr.testServer, "alice")
	data := []byte("hello, box")
	r.send(t, &wire.UploadRequest{Path: "submit/hw3/", Name: "hw.txt", Size: uint64(len(data)), Mode: 0o644})
	if m, ok := r.recv(t).(*wire.UploadReady); !ok {
		t.Fatalf("got %v; want UploadReady", m)
	}
	r.send(t, &wire.UploadStart{})
	r.send(t, &wire.Data{Bytes: data})
	sum := sha256.Sum256(data)
	r.send(t, &wire.UploadEnd{Sum: sum})
	m, ok := r.recv(t).(*wire.Receipt)
	if !ok {
		t.Fatalf("got %v after UploadEnd; want Receipt", m)
	}
	rc, err := receipt.Parse(m.Text)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Verify(); err != nil || rc.SHA256 != sum || rc.Path != "~/submit/hw3/hw.txt" {
		t.Errorf("Receipt frame: %v, %s %x", err, rc.Path, rc.SHA256[:4])
	}
	if td, ok := r.recv(t).(*wire.TransferDone); !ok || td.Sum != sum {
		t.Errorf("after Receipt: %v; want TransferDone", td)
	}
}
