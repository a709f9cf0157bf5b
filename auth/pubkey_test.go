package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func testSigners(t *testing.T) map[string]ssh.Signer {
	t.Helper()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]ssh.Signer{}
	for name, k := range map[string]any{"ed25519": ed, "ecdsa": ec, "rsa": rk} {
		s, err := ssh.NewSignerFromKey(k)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = s
	}
	return out
}

func TestPubkeyLogin(t *testing.T) {
	cb := bytes.Repeat([]byte{1}, ChannelBindingLen)
	otherCB := bytes.Repeat([]byte{2}, ChannelBindingLen)
	id := []byte("server certificate hash")
	for name, s := range testSigners(t) {
		t.Run(name, func(t *testing.T) {
			start, err := PubkeyStart("alice", s.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			user, key, err := ParsePubkeyStart(start)
			if err != nil || user != "alice" || !SameKey(key, s.PublicKey()) {
				t.Fatalf("ParsePubkeyStart = %q, %v, %v", user, key, err)
			}
			ch, err := NewChallenge()
			if err != nil {
				t.Fatal(err)
			}
			sig, err := SignPubkeyLogin(s, "alice", ch, cb, id)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyPubkeyLogin(key, "alice", ch, cb, id, sig); err != nil {
				t.Fatalf("genuine signature: %v", err)
			}
			other, _ := NewChallenge()
			for what, err := range map[string]error{
				"other connection": VerifyPubkeyLogin(key, "alice", ch, otherCB, id, sig),
				"other challenge":  VerifyPubkeyLogin(key, "alice", other, cb, id, sig),
				"other server":     VerifyPubkeyLogin(key, "alice", ch, cb, []byte("another server"), sig),
				"other user":       VerifyPubkeyLogin(key, "bob", ch, cb, id, sig),
				"garbage":          VerifyPubkeyLogin(key, "alice", ch, cb, id, []byte("x")),
			} {
				if !errors.Is(err, ErrLoginFailed) {
					t.Errorf("%s: %v; want ErrLoginFailed", what, err)
				}
			}
		})
	}
}

func TestPubkeyRefusesSHA1RSA(t *testing.T) {
	s := testSigners(t)["rsa"]
	ch, _ := NewChallenge()
	cb := make([]byte, ChannelBindingLen)
	data := PubkeySignedData("alice", s.PublicKey(), ch, cb, nil)
	sig, err := s.(ssh.AlgorithmSigner).SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyPubkeyLogin(s.PublicKey(), "alice", ch, cb, nil, ssh.Marshal(sig)); err == nil || !strings.Contains(err.Error(), "SHA-1") {
		t.Errorf("ssh-rsa signature: %v; want refused", err)
	}
}

func TestParseAuthorizedKey(t *testing.T) {
	s := testSigners(t)["ed25519"]
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))) + " alice@laptop"
	k, comment, err := ParseAuthorizedKey(line)
	if err != nil || comment != "alice@laptop" || !SameKey(k, s.PublicKey()) {
		t.Fatalf("ParseAuthorizedKey(%q) = %v, %q, %v", line, k, comment, err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	sp, _ := ssh.NewPublicKey(&small.PublicKey)
	for _, tt := range []struct{ line, want string }{
		{"ssh-ed25519 AAAA", "not a public key"},
		{"", "not a public key"},
		{`command="ls" ` + line, "options are not supported"},
		{line + "\n" + line, "more than one key"},
		{string(ssh.MarshalAuthorizedKey(sp)), "RSA key of 1024 bits"},
	} {
		if _, _, err := ParseAuthorizedKey(tt.line); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseAuthorizedKey(%.40q) = %v; want %q", tt.line, err, tt.want)
		}
	}
}

func TestCheckNewVerifier(t *testing.T) {
	for _, tt := range []struct {
		p  KDFParams
		ok bool
	}{
		{DefaultKDFParams(), true},
		{MinNewKDFParams(), true},
		{KDFParams{Time: 1, MemoryKiB: 46 * 1024, Threads: 1}, true},
		{KDFParams{Time: 1, MemoryKiB: 19 * 1024, Threads: 1}, false},
		{KDFParams{Time: 16, MemoryKiB: 1024, Threads: 1}, false},
	} {
		v := Verifier{KDF: tt.p, Salt: make([]byte, 16)}
		if err := CheckNewVerifier(v, MinNewKDFParams()); (err == nil) != tt.ok {
			t.Errorf("CheckNewVerifier(%+v) = %v; want ok %v", tt.p, err, tt.ok)
		}
	}
	v := Verifier{KDF: DefaultKDFParams(), Salt: make([]byte, 8)}
	if err := CheckNewVerifier(v, MinNewKDFParams()); err == nil {
		t.Error("an 8-byte salt passed")
	}
}
