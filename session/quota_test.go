package session_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// quotaRefusal reports whether err is an Error{no space} about the
// quota, and its message.
func quotaRefusal(err error) (string, bool) {
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindNoSpace || !strings.Contains(we.Message, "quota exceeded") {
		return "", false
	}
	return we.Message, true
}

func TestQuotaUpload(t *testing.T) {
	ts := startServer(t, "")
	ts.users["alice"].Quota = 100_000
	c := ts.dial(t, "alice")
	ctx := context.Background()
	dir := t.TempDir()

	a, _ := randomFile(t, dir, "a.bin", 60_000)
	if _, err := c.Upload(ctx, a, "", client.TransferOptions{}); err != nil {
		t.Fatalf("upload within quota: %v", err)
	}

	// Over the quota: refused before a byte is stored, nothing kept.
	b, _ := randomFile(t, dir, "b.bin", 60_000)
	_, err := c.Upload(ctx, b, "", client.TransferOptions{})
	msg, ok := quotaRefusal(err)
	if !ok {
		t.Fatalf("upload past the quota: %v; want a no-space quota refusal", err)
	}
	want := regexp.MustCompile(`^~/b\.bin: upload refused: quota exceeded: \d+\.\d KiB used \+ 58\.6 KiB upload > 97\.7 KiB quota$`)
	if !want.MatchString(msg) {
		t.Errorf("refusal %q does not match %v", msg, want)
	}
	if _, err := os.Lstat(filepath.Join(ts.home("alice"), "b.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused upload left a file: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(ts.data, "homes", ".partial", "alice")); len(ents) != 0 {
		t.Errorf("refused upload left %d partial files", len(ents))
	}

	// Replacing a file counts only the difference.
	a2, sum := randomFile(t, t.TempDir(), "a.bin", 90_000)
	if _, err := c.Upload(ctx, a2, "", client.TransferOptions{}); err != nil {
		t.Fatalf("replacing a file within quota: %v", err)
	}
	if got := fileSum(t, filepath.Join(ts.home("alice"), "a.bin")); got != sum {
		t.Error("the replaced file does not hold the new content")
	}
	a3, _ := randomFile(t, t.TempDir(), "a.bin", 99_000)
	_, err = c.Upload(ctx, a3, "", client.TransferOptions{})
	if msg, ok := quotaRefusal(err); !ok || !strings.Contains(msg, "upload − 87.9 KiB replaced >") {
		t.Errorf("replacing past the quota: %v; want a refusal counting the replaced 87.9 KiB", err)
	}
	if got := fileSum(t, filepath.Join(ts.home("alice"), "a.bin")); got != sum {
		t.Error("a refused replacement changed the file")
	}

	// Another user is not affected.
	cb := ts.dial(t, "bob")
	if _, err := cb.Upload(ctx, b, "", client.TransferOptions{}); err != nil {
		t.Errorf("bob without a quota: %v", err)
	}
}

// TestQuotaResume checks that an interrupted upload's partial counts
// against the quota, and that resuming it is not counted twice.
func TestQuotaResume(t *testing.T) {
	ts := startServer(t, "")
	ts.users["alice"].Quota = 100_000
	c := ts.dial(t, "alice")
	ctx := context.Background()
	local, sum := randomFile(t, t.TempDir(), "r.bin", 70_000)

	// Send half, then drop the connection: the partial stays.
	raw := rawLogin(t, ts, "alice")
	raw.send(t, &wire.UploadRequest{Name: "r.bin", Size: 70_000, Mode: 0o644})
	if _, ok := raw.recv(t).(*wire.UploadReady); !ok {
		t.Fatal("no UploadReady")
	}
	data, _ := os.ReadFile(local)
	raw.send(t, &wire.UploadStart{})
	raw.send(t, &wire.Data{Bytes: data[:35_000]})
	raw.nc.Close()
	waitFor(t, func() bool { return partialBytes(t, ts, "alice") == 35_000 })

	// The partial counts: 35 000 + 70 000 > 100 000.
	other, _ := randomFile(t, t.TempDir(), "o.bin", 70_000)
	if _, err := c.Upload(ctx, other, "", client.TransferOptions{}); err == nil {
		t.Error("an upload that fits only without the kept partial succeeded")
	} else if _, ok := quotaRefusal(err); !ok {
		t.Errorf("upload past the quota with a partial kept: %v", err)
	}
	if out, _ := quota(t, c); !strings.Contains(out, "34.2 KiB of it in unfinished uploads") {
		t.Errorf("quota = %q; want the partial shown", out)
	}
	// Resuming the same target fits: the partial is part of its size.
	res, err := c.Upload(ctx, local, "", client.TransferOptions{Resume: true})
	if err != nil || res.ResumedFrom != 35_000 {
		t.Fatalf("resume: %v, %+v; want resumed from 35000", err, res)
	}
	if got := fileSum(t, filepath.Join(ts.home("alice"), "r.bin")); got != sum {
		t.Error("resumed file differs")
	}
}

func quota(t testing.TB, c *client.Client) (string, int) {
	t.Helper()
	out, errOut, code := run(t, c, "quota")
	if errOut != "" {
		t.Errorf("quota wrote %q to stderr", errOut)
	}
	return out, code
}

func TestQuotaBuiltin(t *testing.T) {
	ts := startServer(t, "")
	ts.users["alice"].Quota = 1 << 30
	local, _ := randomFile(t, t.TempDir(), "f.bin", 3<<20)
	c := ts.dial(t, "alice")
	if _, err := c.Upload(context.Background(), local, "", client.TransferOptions{}); err != nil {
		t.Fatal(err)
	}
	out, code := quota(t, c)
	if want := regexp.MustCompile(`^used 3\.0 MiB of 1\.0 GiB \(0\.3%\)\n$`); code != 0 || !want.MatchString(out) {
		t.Errorf("quota = %d, %q; want 0 and %v", code, out, want)
	}
	cb := ts.dial(t, "bob")
	out, _ = quota(t, cb)
	if want := regexp.MustCompile(`^used \d+(\.\d)? (B|KiB); no quota\n$`); !want.MatchString(out) {
		t.Errorf("quota without a quota = %q; want %v", out, want)
	}
	_, err := c.Command(context.Background(), "quota -v", nil, &strings.Builder{}, &strings.Builder{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindInvalid {
		t.Errorf("quota -v: %v; want invalid", err)
	}
}

// TestQuotaCommand runs a jailed command that writes past the quota: it is
// stopped at the space left and told, uploads are refused, and after rm the
// usage drops again.
func TestQuotaCommand(t *testing.T) {
	ts := startServer(t, jailDataDir(t), withJail(t))
	ts.users["alice"].Quota = 1 << 20
	setCommands(ts, "alice", users.AnyCommand)
	c := ts.dial(t, "alice")

	_, errOut, code := run(t, c, `sh -c 'head -c 5000000 /dev/zero > big'`)
	if code != 128+25 {
		t.Errorf("writing past the quota exited %d; want 153 (SIGXFSZ)", code)
	}
	if !strings.Contains(errOut, "cubby: ") || !strings.Contains(errOut, "quota") {
		t.Errorf("stderr %q does not tell the user about the quota", errOut)
	}
	fi, err := os.Stat(filepath.Join(ts.home("alice"), "big"))
	if err != nil || fi.Size() > 1<<20 {
		t.Fatalf("big: %v, %d bytes; want at most the quota", fi, fi.Size())
	}

	local, _ := randomFile(t, t.TempDir(), "small", 100_000)
	if _, err := c.Upload(context.Background(), local, "", client.TransferOptions{}); err == nil {
		t.Error("upload with a full quota succeeded")
	} else if _, ok := quotaRefusal(err); !ok {
		t.Errorf("upload with a full quota: %v; want a quota refusal", err)
	}

	// Many files together pass the quota (the limit is per file); the
	// user is told.
	run(t, c, "rm big")
	_, errOut, code = run(t, c, `sh -c 'for i in 1 2 3; do head -c 500000 /dev/zero > f$i; done'`)
	if code != 0 {
		t.Errorf("writing three files below the per-file limit exited %d", code)
	}
	if !strings.Contains(errOut, "you are over your quota") {
		t.Errorf("after overshooting with several files, stderr = %q; want the over-quota notice", errOut)
	}

	run(t, c, "rm f1 f2 f3")
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := quota(t, c)
		if regexp.MustCompile(`^used \d+(\.\d)? (B|KiB) of 1\.0 MiB`).MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage after rm: %q; want it back under 1 MiB", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.Upload(context.Background(), local, "", client.TransferOptions{}); err != nil {
		t.Errorf("upload after rm: %v", err)
	}
}
