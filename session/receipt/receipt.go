// Package receipt is the signed receipt a cubby server gives for every
// upload into a drop box: who submitted which file (path, size, SHA-256)
// when, signed with the server's Ed25519 host key so that anyone holding
// the server's fingerprint can check it offline.
//
// A receipt is a short text a person can read and keep:
//
//	cubby-receipt v1
//	server: SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg
//	key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI...
//	user: alice
//	box: hw3
//	path: ~/submit/hw3/report.pdf
//	size: 12345
//	sha256: 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
//	time: 2026-11-30T21:04:05.123456789Z
//	deadline: 2026-12-01T23:59:00-05:00
//	late: no
//	id: 3f0c9a51d0e24b7c8a1b2c3d4e5f6071
//	signature: base64...
//
// The signature is Ed25519 over [SignaturePrefix] followed by every byte
// before the signature line. docs/PROTOCOL.md is the specification; this
// package does no I/O, so it can be fuzzed and used by client and server
// alike.
package receipt

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format constants.
const (
	// FirstLine opens every receipt and names its version.
	FirstLine = "cubby-receipt v1"
	// SignaturePrefix comes before the signed text. It keeps a receipt
	// signature from ever being taken for another signature of the same
	// host key (TLS CertificateVerify inputs start with 64 spaces, X.509
	// signed data with a DER SEQUENCE byte).
	SignaturePrefix = "cubby receipt signature v1\x00"
	// MaxLen bounds a whole receipt: a path of the longest length the
	// protocol allows, every byte escaped, still fits.
	MaxLen = 32 << 10
	// MaxPathLen, MaxUserLen and MaxBoxLen bound the decoded fields, as
	// the protocol bounds a path and a short identifier.
	MaxPathLen = 4096
	MaxUserLen = 256
	MaxBoxLen  = 256
	// IDLen is the length of a receipt's random identifier in bytes.
	IDLen = 16
)

// keyType is the SSH name of the only key type a receipt carries.
const keyType = "ssh-ed25519"

// Errors a caller tells apart.
var (
	// ErrMalformed is wrapped by every Parse error.
	ErrMalformed = errors.New("receipt: not a valid cubby receipt")
	// ErrBadSignature means the text was changed after it was signed
	// (or signed by another key than the one it names).
	ErrBadSignature = errors.New("receipt: signature does not match: the receipt was changed")
	// ErrKeyMismatch means the key line does not have the fingerprint of
	// the server line.
	ErrKeyMismatch = errors.New("receipt: the key does not match the server fingerprint: the receipt was changed")
)

// Receipt is one submission's record.
type Receipt struct {
	// Server is the SHA256 fingerprint of Key, as hostkey.Fingerprint
	// and ssh-keygen -lf print it.
	Server string
	// Key is the server's host key, embedded so the receipt can be
	// verified without asking the server.
	Key ed25519.PublicKey
	// User submitted the file.
	User string
	// Box is the drop box's name.
	Box string
	// Path is where the file is, as the user sees it:
	// "~/submit/hw3/report.pdf".
	Path string
	// Size and SHA256 describe the file's content.
	Size   int64
	SHA256 [32]byte
	// Time is the server's clock when the upload was stored, UTC.
	Time time.Time
	// Deadline is the user's deadline for the box (extension included),
	// in the time zone the admin wrote it in; the zero Time means none.
	Deadline time.Time
	// Late reports whether the server accepted the file after the box's
	// own deadline, because the user's extension (then Deadline) allowed it.
	Late bool
	// ID is random, so every receipt is unique.
	ID [IDLen]byte

	// Signature signs SignaturePrefix followed by Signed.
	Signature []byte
	// Signed is the text before the signature line, as parsed or built.
	Signed []byte
}

// fields is the order of the lines after FirstLine, signature last.
var fields = []string{"server", "key", "user", "box", "path", "size", "sha256", "time", "deadline", "late", "id", "signature"}

// Sign fills in Server and Key from key, signs r and returns the receipt's
// text. r.ID must already be set (from crypto/rand).
func (r *Receipt) Sign(key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("receipt: Ed25519 private key of %d bytes", len(key))
	}
	r.Key = key.Public().(ed25519.PublicKey)
	r.Server = Fingerprint(r.Key)
	body, err := r.body()
	if err != nil {
		return nil, err
	}
	r.Signed = body
	r.Signature = ed25519.Sign(key, signedMessage(body))
	return r.Text(), nil
}

// Text returns the whole receipt: Signed and the signature line.
func (r *Receipt) Text() []byte {
	b := append([]byte(nil), r.Signed...)
	b = append(b, "signature: "...)
	b = base64.StdEncoding.AppendEncode(b, r.Signature)
	return append(b, '\n')
}

// body formats the lines before the signature, checking each field.
func (r *Receipt) body() ([]byte, error) {
	switch {
	case len(r.Key) != ed25519.PublicKeySize:
		return nil, errors.New("receipt: no Ed25519 public key")
	case r.Server != Fingerprint(r.Key):
		return nil, ErrKeyMismatch
	case r.User == "" || len(r.User) > MaxUserLen || !utf8.ValidString(r.User):
		return nil, fmt.Errorf("receipt: user name of %d bytes, want 1 to %d bytes of UTF-8", len(r.User), MaxUserLen)
	case r.Box == "" || len(r.Box) > MaxBoxLen || !utf8.ValidString(r.Box):
		return nil, fmt.Errorf("receipt: box name of %d bytes, want 1 to %d bytes of UTF-8", len(r.Box), MaxBoxLen)
	case r.Path == "" || len(r.Path) > MaxPathLen || !utf8.ValidString(r.Path):
		return nil, fmt.Errorf("receipt: path of %d bytes, want 1 to %d bytes of UTF-8", len(r.Path), MaxPathLen)
	case r.Size < 0:
		return nil, fmt.Errorf("receipt: negative size %d", r.Size)
	case r.Time.IsZero():
		return nil, errors.New("receipt: no time")
	}
	var b bytes.Buffer
	line := func(k, v string) { b.WriteString(k + ": " + v + "\n") }
	b.WriteString(FirstLine + "\n")
	line("server", r.Server)
	line("key", authorizedKey(r.Key))
	line("user", quote(r.User))
	line("box", quote(r.Box))
	line("path", quote(r.Path))
	line("size", strconv.FormatInt(r.Size, 10))
	line("sha256", hex.EncodeToString(r.SHA256[:]))
	line("time", formatTime(r.Time))
	deadline := "none"
	if !r.Deadline.IsZero() {
		deadline = r.Deadline.Format(time.RFC3339Nano)
	}
	line("deadline", deadline)
	line("late", yesNo(r.Late))
	line("id", hex.EncodeToString(r.ID[:]))
	return b.Bytes(), nil
}

// Verify checks that Key has the fingerprint Server and that Signature
// signs the text. It says nothing about whether the key is one the caller
// trusts: compare Key or Server with a pinned key for that.
func (r *Receipt) Verify() error {
	if len(r.Key) != ed25519.PublicKeySize || Fingerprint(r.Key) != r.Server {
		return ErrKeyMismatch
	}
	if len(r.Signature) != ed25519.SignatureSize || !ed25519.Verify(r.Key, signedMessage(r.Signed), r.Signature) {
		return ErrBadSignature
	}
	return nil
}

func signedMessage(body []byte) []byte {
	return append([]byte(SignaturePrefix), body...)
}

// Parse reads one receipt, strictly: the first line, then each field once,
// in order, in its one canonical form, and nothing after the signature
// line. It does not check the signature; call Verify.
func Parse(data []byte) (*Receipt, error) {
	if len(data) > MaxLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(data), MaxLen)
	}
	if i := bytes.IndexByte(data, '\r'); i >= 0 {
		return nil, fmt.Errorf("%w: line %d ends in CR (Windows line endings): the file was changed after it was saved", ErrMalformed, 1+bytes.Count(data[:i], []byte("\n")))
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: not UTF-8 text", ErrMalformed)
	}
	rest := string(data)
	next := func() (string, bool) {
		line, after, ok := strings.Cut(rest, "\n")
		rest = after
		return line, ok
	}
	if first, ok := next(); !ok || first != FirstLine {
		return nil, fmt.Errorf("%w: line 1 is not %q", ErrMalformed, FirstLine)
	}
	r := &Receipt{}
	for i, name := range fields {
		n := i + 2
		start := len(data) - len(rest)
		line, ok := next()
		if !ok {
			return nil, fmt.Errorf("%w: line %d (%s) is missing or has no newline", ErrMalformed, n, name)
		}
		k, v, found := strings.Cut(line, ": ")
		if !found || k != name {
			return nil, fmt.Errorf("%w: line %d: want %q", ErrMalformed, n, name+": ")
		}
		if err := r.set(name, v); err != nil {
			return nil, fmt.Errorf("%w: line %d: %s: %v", ErrMalformed, n, name, err)
		}
		if name == "signature" {
			r.Signed = append([]byte(nil), data[:start]...)
		}
	}
	if rest != "" {
		return nil, fmt.Errorf("%w: %d bytes after the signature line", ErrMalformed, len(rest))
	}
	// A key that does not match the server line still parses: Verify
	// reports it, as the tampering it is.
	return r, nil
}

// set decodes one field's value into r.
func (r *Receipt) set(name, v string) error {
	var err error
	switch name {
	case "server":
		if !strings.HasPrefix(v, "SHA256:") || len(v) != len("SHA256:")+43 {
			return errors.New("want SHA256: and 43 characters of base64")
		}
		if _, err := base64.RawStdEncoding.Strict().DecodeString(v[len("SHA256:"):]); err != nil {
			return errors.New("bad base64")
		}
		r.Server = v
	case "key":
		r.Key, err = parseAuthorizedKey(v)
	case "user":
		r.User, err = unquote(v, MaxUserLen)
	case "box":
		r.Box, err = unquote(v, MaxBoxLen)
	case "path":
		r.Path, err = unquote(v, MaxPathLen)
	case "size":
		r.Size, err = strconv.ParseInt(v, 10, 64)
		if err != nil || r.Size < 0 || strconv.FormatInt(r.Size, 10) != v {
			return errors.New("want a byte count in decimal")
		}
	case "sha256":
		if len(v) != 64 || strings.ToLower(v) != v {
			return errors.New("want 64 lowercase hex digits")
		}
		_, err = hex.Decode(r.SHA256[:], []byte(v))
	case "time":
		r.Time, err = parseTime(v)
		if err == nil && !strings.HasSuffix(v, "Z") {
			return errors.New("want the time in UTC (Z)")
		}
	case "deadline":
		if v != "none" {
			r.Deadline, err = parseTime(v)
		}
	case "late":
		switch v {
		case "yes":
			r.Late = true
		case "no":
		default:
			return errors.New("want yes or no")
		}
	case "id":
		if len(v) != 2*IDLen || strings.ToLower(v) != v {
			return fmt.Errorf("want %d lowercase hex digits", 2*IDLen)
		}
		_, err = hex.Decode(r.ID[:], []byte(v))
	case "signature":
		r.Signature, err = base64.StdEncoding.Strict().DecodeString(v)
		if err == nil && len(r.Signature) != ed25519.SignatureSize {
			return fmt.Errorf("%d bytes, want %d", len(r.Signature), ed25519.SignatureSize)
		}
		if err == nil && base64.StdEncoding.EncodeToString(r.Signature) != v {
			return errors.New("not canonical base64")
		}
	}
	return err
}

// Fingerprint is the OpenSSH SHA256 fingerprint of an Ed25519 key, the
// same string as hostkey.Fingerprint and ssh-keygen -lf.
func Fingerprint(key ed25519.PublicKey) string {
	sum := sha256.Sum256(sshWire(key))
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// sshWire is the key's SSH wire encoding (RFC 8709): string
// "ssh-ed25519", string key.
func sshWire(key ed25519.PublicKey) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(keyType)))
	b = append(b, keyType...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	return append(b, key...)
}

// authorizedKey is the key as an authorized_keys or known_hosts line
// writes it, without a comment.
func authorizedKey(key ed25519.PublicKey) string {
	return keyType + " " + base64.StdEncoding.EncodeToString(sshWire(key))
}

func parseAuthorizedKey(v string) (ed25519.PublicKey, error) {
	typ, b64, ok := strings.Cut(v, " ")
	if !ok || typ != keyType {
		return nil, fmt.Errorf("want %q and base64", keyType+" ")
	}
	w, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, errors.New("bad base64")
	}
	want := sshWire(make(ed25519.PublicKey, ed25519.PublicKeySize))
	if len(w) != len(want) || !bytes.Equal(w[:len(want)-ed25519.PublicKeySize], want[:len(want)-ed25519.PublicKeySize]) {
		return nil, errors.New("not an Ed25519 public key")
	}
	key := ed25519.PublicKey(w[len(w)-ed25519.PublicKeySize:])
	if authorizedKey(key) != v {
		return nil, errors.New("not canonical base64")
	}
	return key, nil
}

// formatTime is RFC 3339 in UTC with as many fractional digits as needed.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// parseTime reads an RFC 3339 time in its canonical spelling: no trailing
// zeros in the fraction, and Z for UTC.
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || t.Format(time.RFC3339Nano) != v {
		return time.Time{}, errors.New("want an RFC 3339 time such as 2026-11-30T21:04:05.5Z")
	}
	return t, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// plain reports whether s may be written as it is: printable, no quote or
// backslash, no space at either end. Anything else is written as a Go
// string literal, so a file name can never start another line.
func plain(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' || s[0] == '"' {
		return false
	}
	for _, c := range s {
		if c == '\\' || !strconv.IsPrint(c) {
			return false
		}
	}
	return true
}

// Printable is s for a person to read: as it is when every character is
// printable and no tab, otherwise as a Go string literal. A user or path
// from a receipt, shown on a terminal, then cannot move the cursor, hide
// the text after it (ESC [8m) or start a line of its own.
func Printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !strconv.IsPrint(r) || r == '\t' }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

func quote(s string) string {
	if plain(s) {
		return s
	}
	return strconv.Quote(s)
}

// unquote reads a value quote wrote, refusing every other spelling so
// that a receipt has exactly one text.
func unquote(v string, limit int) (string, error) {
	s := v
	if strings.HasPrefix(v, `"`) {
		var err error
		if s, err = strconv.Unquote(v); err != nil {
			return "", errors.New("bad quoted string")
		}
	}
	switch {
	case s == "" || len(s) > limit:
		return "", fmt.Errorf("want 1 to %d bytes", limit)
	case !utf8.ValidString(s):
		return "", errors.New("not UTF-8")
	case quote(s) != v:
		return "", errors.New("not in canonical form")
	}
	return s, nil
}
