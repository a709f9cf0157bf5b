package receipt

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cubby-dev/cubby/auth/hostkey"
	"github.com/cubby-dev/cubby/wire"
)

// testKey is a fixed key, so the golden receipt below never changes.
var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func sample() *Receipt {
	return &Receipt{
		User:     "alice",
		Box:      "hw3",
		Path:     "~/submit/hw3/report.pdf",
		Size:     12345,
		SHA256:   [32]byte{0xab, 0x12, 31: 0xff},
		Time:     time.Date(2026, 11, 30, 21, 4, 5, 123456789, time.UTC),
		Deadline: time.Date(2026, 12, 1, 23, 59, 0, 0, time.FixedZone("EST", -5*3600)),
		ID:       [IDLen]byte{1, 2, 3, 15: 16},
	}
}

func signed(t testing.TB, r *Receipt) []byte {
	t.Helper()
	text, err := r.Sign(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// golden is sample() signed with testKey. A change to it is a change to
// the format every kept receipt is in: add a version instead.
const golden = `cubby-receipt v1
server: SHA256:z/fSv0Z0RZS+Lccbc6ZoOWwt/fbj1VFJGSBKQbo4icE
key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs
user: alice
box: hw3
path: ~/submit/hw3/report.pdf
size: 12345
sha256: ab120000000000000000000000000000000000000000000000000000000000ff
time: 2026-11-30T21:04:05.123456789Z
deadline: 2026-12-01T23:59:00-05:00
late: no
id: 01020300000000000000000000000010
signature: xmLS4d7qMKwa18h31VeA77kF1QLFHcEbum8zuCEB2YsBqDEskv8SsqTEOxyUfZOnaSO2KDqxV5Bm8Ht3fTJ3Cg==
`

func TestGolden(t *testing.T) {
	got := string(signed(t, sample()))
	if got != golden {
		t.Errorf("Sign(sample) =\n%s\nwant\n%s", got, golden)
	}
	r, err := Parse([]byte(golden))
	if err != nil {
		t.Fatalf("Parse(golden): %v", err)
	}
	if err := r.Verify(); err != nil {
		t.Errorf("Verify(golden): %v", err)
	}
}

// TestProtocolDocExample keeps the example in docs/PROTOCOL.md a receipt
// that verifies, and the frame's limit the receipt's.
func TestProtocolDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(doc), FirstLine+"\n")
	if start < 0 {
		t.Fatal("docs/PROTOCOL.md has no example receipt")
	}
	example, _, _ := strings.Cut(string(doc[start:]), "```")
	if example != golden {
		t.Errorf("docs/PROTOCOL.md's example receipt =\n%s\nwant\n%s", example, golden)
	}
	if MaxLen != wire.MaxReceiptLen {
		t.Errorf("MaxLen = %d; wire.MaxReceiptLen = %d", MaxLen, wire.MaxReceiptLen)
	}
}

// TestKeyFormsMatchSSH checks the server and key lines against the
// fingerprint cubbyd prints and the line known_hosts holds.
func TestKeyFormsMatchSSH(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	want, err := hostkey.Fingerprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if got := Fingerprint(pub); got != want {
		t.Errorf("Fingerprint = %s; hostkey.Fingerprint = %s", got, want)
	}
	sk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := authorizedKey(pub)+"\n", string(ssh.MarshalAuthorizedKey(sk)); got != want {
		t.Errorf("authorizedKey = %q; ssh.MarshalAuthorizedKey = %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := map[string]func(*Receipt){
		"as is":             func(*Receipt) {},
		"late":              func(r *Receipt) { r.Late = true },
		"no deadline":       func(r *Receipt) { r.Deadline = time.Time{} },
		"whole seconds":     func(r *Receipt) { r.Time = r.Time.Truncate(time.Second) },
		"local time zone":   func(r *Receipt) { r.Time = r.Time.In(time.FixedZone("X", 3600)) },
		"deadline in UTC":   func(r *Receipt) { r.Deadline = r.Deadline.UTC() },
		"empty file":        func(r *Receipt) { r.Size, r.SHA256 = 0, [32]byte{} },
		"newline in path":   func(r *Receipt) { r.Path = "~/submit/hw3/a\nsize: 1" },
		"quote in path":     func(r *Receipt) { r.Path = `"~/x"` },
		"inner quote":       func(r *Receipt) { r.Path = `~/a "b".pdf` },
		"backslash in path": func(r *Receipt) { r.Path = `~/submit/hw3/a\b` },
		"space at the end":  func(r *Receipt) { r.Path = "~/submit/hw3/a " },
		"unicode":           func(r *Receipt) { r.Path = "~/submit/hw3/ünï 報告.pdf" },
		"control":           func(r *Receipt) { r.Path = "~/\x01\x7f\u2028" },
		"longest path":      func(r *Receipt) { r.Path = strings.Repeat("\x01", MaxPathLen) },
		"longest names":     func(r *Receipt) { r.User, r.Box = strings.Repeat("\n", MaxUserLen), strings.Repeat("\t", MaxBoxLen) },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			want := sample()
			change(want)
			text := signed(t, want)
			got, err := Parse(text)
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, text)
			}
			if err := got.Verify(); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !bytes.Equal(got.Text(), text) {
				t.Errorf("Text() after Parse differs:\n%s\nwant\n%s", got.Text(), text)
			}
			if got.User != want.User || got.Box != want.Box || got.Path != want.Path || got.Size != want.Size ||
				got.SHA256 != want.SHA256 || !got.Time.Equal(want.Time) || !got.Deadline.Equal(want.Deadline) ||
				got.Late != want.Late || got.ID != want.ID || got.Server != want.Server || !got.Key.Equal(want.Key) {
				t.Errorf("Parse = %+v\nwant %+v", got, want)
			}
			if strings.Count(string(text), "\n") != 1+len(fields) {
				t.Errorf("receipt has %d lines; want %d", strings.Count(string(text), "\n"), 1+len(fields))
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	tests := map[string]func(*Receipt){
		"no user":        func(r *Receipt) { r.User = "" },
		"long user":      func(r *Receipt) { r.User = strings.Repeat("u", MaxUserLen+1) },
		"no box":         func(r *Receipt) { r.Box = "" },
		"no path":        func(r *Receipt) { r.Path = "" },
		"long path":      func(r *Receipt) { r.Path = strings.Repeat("p", MaxPathLen+1) },
		"not UTF-8":      func(r *Receipt) { r.Path = "~/\xff" },
		"negative size":  func(r *Receipt) { r.Size = -1 },
		"no time":        func(r *Receipt) { r.Time = time.Time{} },
		"no private key": nil,
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			r := sample()
			key := testKey
			if change == nil {
				key = nil
			} else {
				change(r)
			}
			if text, err := r.Sign(key); err == nil {
				t.Errorf("Sign succeeded:\n%s", text)
			}
		})
	}
}

// TestTamperingFails changes every line of a signed receipt in turn, the
// way a hand edit would; each change must fail Parse or Verify.
func TestTamperingFails(t *testing.T) {
	r := sample()
	r.Late = true
	text := string(signed(t, r))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	otherText := string(signed(t, &Receipt{User: "bob", Box: "hw3", Path: "~/x", Time: r.Time}))
	lineOf := func(s, key string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, key+": ") {
				return l
			}
		}
		t.Fatalf("no %s line", key)
		return ""
	}
	otherKeyReceipt := sample()
	otherKeyText, err := otherKeyReceipt.Sign(other)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		old, new string
		want     error
	}{
		{"user", "user: alice", "user: alicf", ErrBadSignature},
		{"box", "box: hw3", "box: hw4", ErrBadSignature},
		{"path", "report.pdf", "report.pdF", ErrBadSignature},
		{"size", "size: 12345", "size: 12346", ErrBadSignature},
		{"sha256", "sha256: ab12", "sha256: ab13", ErrBadSignature},
		{"time", "21:04:05.123456789Z", "21:04:04.123456789Z", ErrBadSignature},
		{"deadline", "deadline: 2026-12-01", "deadline: 2026-12-02", ErrBadSignature},
		{"late", "late: yes", "late: no", ErrBadSignature},
		{"id", "id: 01", "id: 02", ErrBadSignature},
		{"signature", lineOf(text, "signature"), lineOf(otherText, "signature"), ErrBadSignature},
		{"key alone", lineOf(text, "key"), lineOf(string(otherKeyText), "key"), ErrKeyMismatch},
		{"server alone", lineOf(text, "server"), lineOf(string(otherKeyText), "server"), ErrKeyMismatch},
		{"key and server", lineOf(text, "server") + "\n" + lineOf(text, "key"),
			lineOf(string(otherKeyText), "server") + "\n" + lineOf(string(otherKeyText), "key"), ErrBadSignature},
		{"extra line", "late: yes\n", "late: yes\nlate: no\n", ErrMalformed},
		{"trailing junk", lineOf(text, "signature") + "\n", lineOf(text, "signature") + "\n\n", ErrMalformed},
		{"crlf", "\n", "\r\n", ErrMalformed},
		{"version", FirstLine, "cubby-receipt v2", ErrMalformed},
		{"quoted plain value", "user: alice", `user: "alice"`, ErrMalformed},
		{"leading zero", "size: 12345", "size: 012345", ErrMalformed},
		{"upper-case hex", "sha256: ab12", "sha256: AB12", ErrMalformed},
		{"local time", "time: 2026-11-30T21:04:05.123456789Z", "time: 2026-11-30T22:04:05.123456789+01:00", ErrMalformed},
		{"trailing zero", "05.123456789Z", "05.1234567890Z", ErrMalformed},
		{"deadline +00:00", "deadline: 2026-12-01T23:59:00-05:00", "deadline: 2026-12-02T04:59:00+00:00", ErrMalformed},
		{"swapped lines", "user: alice\nbox: hw3", "box: hw3\nuser: alice", ErrMalformed},
		{"missing line", "late: yes\n", "", ErrMalformed},
		{"no final newline", lineOf(text, "signature") + "\n", lineOf(text, "signature"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(text, tt.old) {
				t.Fatalf("receipt has no %q", tt.old)
			}
			changed := strings.Replace(text, tt.old, tt.new, 1)
			r, err := Parse([]byte(changed))
			if err == nil {
				err = r.Verify()
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse+Verify of the changed receipt = %v; want %v\n%s", err, tt.want, changed)
			}
		})
	}
	t.Run("every byte", func(t *testing.T) {
		// Flipping any one bit anywhere must be caught.
		b := []byte(text)
		for i := range b {
			for _, bit := range []byte{0x01, 0x20} {
				b[i] ^= bit
				r, err := Parse(b)
				if err == nil {
					err = r.Verify()
				}
				if err == nil {
					t.Errorf("byte %d ^ %#x went unnoticed: %q", i, bit, b)
				}
				b[i] ^= bit
			}
		}
	})
}

func TestParseBounds(t *testing.T) {
	if _, err := Parse(make([]byte, MaxLen+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("Parse of %d bytes = %v; want ErrMalformed", MaxLen+1, err)
	}
	for _, in := range []string{"", "\n", FirstLine, FirstLine + "\n", "\xff"} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v; want ErrMalformed", in, err)
		}
	}
}

func TestScanner(t *testing.T) {
	a := signed(t, sample())
	r := sample()
	r.Path = "~/submit/hw3/b\nc"
	b := signed(t, r)
	// Each piece, and whether it holds a valid receipt.
	pieces := []struct {
		text  string
		valid bool
	}{
		{"junk before\n", false},
		{string(a), true},
		// A write cut short by a crash; the server ends it with a
		// newline before it appends the next receipt.
		{string(a[:len(a)/2]) + "\n", false},
		{string(b), true},
		{strings.Repeat("x", 3*MaxLen) + "\n", false},
		{string(a), true},
		{string(a[:len(a)-1]), false}, // no final newline
	}
	type chunk struct {
		line  int
		valid bool
	}
	var in bytes.Buffer
	var want []chunk
	line := 1
	for _, p := range pieces {
		in.WriteString(p.text)
		want = append(want, chunk{line, p.valid})
		line += strings.Count(p.text, "\n")
	}
	var got []chunk
	sc := NewScanner(&in)
	for i := 0; sc.Scan(); i++ {
		if i > 2*len(pieces) {
			t.Fatal("Scan does not stop")
		}
		if len(sc.Text()) > MaxLen+1 {
			t.Errorf("text at line %d is %d bytes", sc.Line(), len(sc.Text()))
		}
		rc, err := Parse(sc.Text())
		if err == nil {
			err = rc.Verify()
		}
		got = append(got, chunk{sc.Line(), err == nil})
	}
	if sc.Err() != nil {
		t.Fatal(sc.Err())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("scanned (line, valid) = %v; want %v", got, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(golden))
	for _, p := range []string{"~/a\nb", `~/"q"`, "~/ü", " x "} {
		r := sample()
		r.Path = p
		text, err := r.Sign(testKey)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(text)
	}
	f.Add([]byte(FirstLine + "\nserver: SHA256:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// A receipt has exactly one text: what parses formats back the same.
		if !bytes.Equal(r.Text(), data) {
			t.Fatalf("Text() = %q; parsed from %q", r.Text(), data)
		}
		body, err := r.body()
		if err != nil && !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("a parsed receipt does not format: %v", err)
		}
		if err == nil && !bytes.Equal(body, r.Signed) {
			t.Fatalf("body() = %q; Signed = %q", body, r.Signed)
		}
		r.Verify()
	})
}
