package shell

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/session/receipt"
)

func TestSafeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":       "report.pdf",
		"ünï 報告.pdf":       "ünï_報告.pdf",
		"../../etc/passwd": "_._.._etc_passwd",
		".hidden":          "_hidden",
		"a\nb:c*d?e|f<>\"": "a_b_c_d_e_f___",
		"C:\\x":            "C__x",
		"":                 "_",
		"con.txt":          "_con.txt",
		"LPT1":             "_LPT1",
		"end.":             "end_",
		"::1":              "__1",
	} {
		if got := safeFileName(in); got != want {
			t.Errorf("safeFileName(%q) = %q; want %q", in, got, want)
		}
	}
	if got := safeFileName(strings.Repeat("é", 200)); len(got) > maxFileNamePart {
		t.Errorf("safeFileName of a long name is %d bytes", len(got))
	}
}

func TestSaveReceipt(t *testing.T) {
	r := &receipt.Receipt{User: "alice", Box: "hw3", Path: "~/submit/hw3/sub/../x/report 1.pdf", Size: 1,
		Time: time.Date(2026, 11, 30, 21, 4, 5, 6, time.UTC), ID: [receipt.IDLen]byte{0xab, 0xcd}}
	text, err := r.Sign(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "receipts")
	want := filepath.Join(dir, "127.0.0.1", "hw3", "20261130T210405Z-report_1.pdf.receipt")
	var paths []string
	for range 3 {
		p, err := SaveReceipt(dir, "127.0.0.1", r)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, text) {
			t.Errorf("%s holds %q, %v; want the receipt", p, got, err)
		}
		if fi, _ := os.Stat(p); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v; want 0600", p, fi.Mode())
		}
	}
	if paths[0] != want || paths[1] == paths[0] || paths[2] == paths[1] {
		t.Errorf("SaveReceipt paths = %q; want %q first, then others", paths, want)
	}
	if _, err := SaveReceipt(dir, "127.0.0.1", r); err == nil {
		t.Error("a fourth receipt of the same name and ID was saved")
	}
}
