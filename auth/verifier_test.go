package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// cheapParams are argon2id parameters small enough for tests under -race.
func cheapParams() KDFParams { return KDFParams{Time: 1, MemoryKiB: 64, Threads: 1} }

// fixedSalt returns a deterministic 16-byte salt.
func fixedSalt() []byte {
	return []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
}

func TestNewVerifierKeys(t *testing.T) {
	password := []byte("pencil")
	v, err := newVerifierWithSalt(password, fixedSalt(), cheapParams())
	if err != nil {
		t.Fatal(err)
	}
	// Recompute the RFC 5802 definitions independently.
	salted := argon2.IDKey(password, fixedSalt(), 1, 64, 1, 32)
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	wantStored := sha256.Sum256(mac(salted, "Client Key"))
	if v.StoredKey != wantStored {
		t.Errorf("StoredKey = %x, want %x", v.StoredKey, wantStored)
	}
	if wantServer := mac(salted, "Server Key"); !bytes.Equal(v.ServerKey[:], wantServer) {
		t.Errorf("ServerKey = %x, want %x", v.ServerKey, wantServer)
	}
	if !bytes.Equal(v.Salt, fixedSalt()) || v.KDF != cheapParams() {
		t.Errorf("salt/params = %x/%+v, want %x/%+v", v.Salt, v.KDF, fixedSalt(), cheapParams())
	}
	// Known answer, pinned: a change here breaks every stored verifier.
	const want = "scram-argon2id$v=19$m=64,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$" +
		"36d+RgVRqUXcck0wgbyjtx8wl2Dz0GaMXYa7RXSK/Ec$" +
		"GcA3L3oVfJSHSPVSJKnCLViHAQSTzo+jT0rUSqecPFk"
	if got := v.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestNewVerifierRandomSalt(t *testing.T) {
	a, err := NewVerifier([]byte("pw"), cheapParams())
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewVerifier([]byte("pw"), cheapParams())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Salt) != 16 {
		t.Errorf("salt is %d bytes, want 16", len(a.Salt))
	}
	if bytes.Equal(a.Salt, b.Salt) || a.StoredKey == b.StoredKey {
		t.Error("two verifiers for the same password share salt or keys")
	}
}

func TestNewVerifierBadParams(t *testing.T) {
	for _, p := range []KDFParams{
		{Time: 0, MemoryKiB: 64, Threads: 1},
		{Time: 17, MemoryKiB: 64, Threads: 1},
		{Time: 1, MemoryKiB: 64, Threads: 0},
		{Time: 1, MemoryKiB: 64, Threads: 17},
		{Time: 1, MemoryKiB: 15, Threads: 2},
		{Time: 1, MemoryKiB: 1<<20 + 1, Threads: 1},
		{Time: 1, MemoryKiB: 4 << 20, Threads: 1},
	} {
		if _, err := NewVerifier([]byte("pw"), p); err == nil {
			t.Errorf("NewVerifier(%+v) succeeded, want error", p)
		} else if !strings.HasPrefix(err.Error(), "auth: ") {
			t.Errorf("NewVerifier(%+v) error %q lacks the auth: prefix", p, err)
		}
	}
}

func TestVerifierRoundTrip(t *testing.T) {
	for _, p := range []KDFParams{cheapParams(), DefaultKDFParams(), {Time: 16, MemoryKiB: 1 << 20, Threads: 16}} {
		v := Verifier{KDF: p, Salt: bytes.Repeat([]byte{0xa5}, 64)}
		for i := range v.StoredKey {
			v.StoredKey[i] = byte(i)
			v.ServerKey[i] = byte(255 - i)
		}
		s := v.String()
		got, err := ParseVerifier(s)
		if err != nil {
			t.Fatalf("ParseVerifier(%q): %v", s, err)
		}
		if got.KDF != v.KDF || !bytes.Equal(got.Salt, v.Salt) || got.StoredKey != v.StoredKey || got.ServerKey != v.ServerKey {
			t.Errorf("ParseVerifier(%q) = %+v, want %+v", s, got, v)
		}
		if got.String() != s {
			t.Errorf("round trip changed %q to %q", s, got.String())
		}
	}
}

func TestDefaultKDFParamsValid(t *testing.T) {
	if msg := DefaultKDFParams().check(); msg != "" {
		t.Errorf("DefaultKDFParams() out of bounds: %s", msg)
	}
}

func TestParseVerifierErrors(t *testing.T) {
	const (
		salt = "AAECAwQFBgcICQoLDA0ODw"                      // 16 bytes
		key  = "VCwxMxKtw9ESWm8Pkky0Bc1Qv2Avz8eGkTqEgAJQdUM" // 32 bytes
		key2 = "4pDqTk7bT6mpwtydZIb7C9ncD+WytDzFhnBWzYmyRj8" // 32 bytes
		good = "scram-argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$" + key2
	)
	if _, err := ParseVerifier(good); err != nil {
		t.Fatalf("ParseVerifier(good): %v", err)
	}
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "auth: verifier has 1 $-separated fields, want 6"},
		{"too few fields", "scram-argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key, "auth: verifier has 5 $-separated fields, want 6"},
		{"too many fields", good + "$", "auth: verifier has 7 $-separated fields, want 6"},
		{"leading dollar", "$" + good, "auth: verifier has 7 $-separated fields, want 6"},
		{"scheme", "scram-sha-256$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$" + key2, "auth: verifier scheme is not scram-argon2id"},
		{"version", "scram-argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key + "$" + key2, "auth: verifier version is not v=19"},
		{"param count", "scram-argon2id$v=19$m=64,t=1$" + salt + "$" + key + "$" + key2, "auth: verifier parameters must be m=<KiB>,t=<passes>,p=<threads>"},
		{"param order", "scram-argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key + "$" + key2, `auth: verifier parameter "m" missing or out of order`},
		{"leading zero", "scram-argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key + "$" + key2, `auth: verifier parameter "m" is not a valid number`},
		{"plus sign", "scram-argon2id$v=19$m=64,t=+1,p=1$" + salt + "$" + key + "$" + key2, `auth: verifier parameter "t" is not a valid number`},
		{"threads overflow", "scram-argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key + "$" + key2, `auth: verifier parameter "p" is not a valid number`},
		{"memory overflow", "scram-argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key + "$" + key2, `auth: verifier parameter "m" is not a valid number`},
		{"time zero", "scram-argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key + "$" + key2, "auth: verifier argon2id time 0 out of range [1, 16]"},
		{"time huge", "scram-argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key + "$" + key2, "auth: verifier argon2id time 1000 out of range [1, 16]"},
		{"memory 4GiB", "scram-argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key + "$" + key2, "auth: verifier argon2id memory 4194304 KiB out of range [8, 1048576]"},
		{"memory below 8p", "scram-argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key + "$" + key2, "auth: verifier argon2id memory 8 KiB out of range [16, 1048576]"},
		{"threads zero", "scram-argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key + "$" + key2, "auth: verifier argon2id threads 0 out of range [1, 16]"},
		{"salt padded", "scram-argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key + "$" + key2, "auth: verifier salt is not unpadded base64"},
		{"salt short", "scram-argon2id$v=19$m=64,t=1,p=1$AAECAwQFBg$" + key + "$" + key2, "auth: verifier salt is 7 bytes, want 8 to 64"},
		{"salt long", "scram-argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 88) + "$" + key + "$" + key2, "auth: verifier salt is 66 bytes, want 8 to 64"},
		{"stored key base64", "scram-argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:42] + "!$" + key2, "auth: verifier stored key is not unpadded base64"},
		{"stored key short", "scram-argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + salt + "$" + key2, "auth: verifier stored key is 16 bytes, want 32"},
		{"server key long", "scram-argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$" + key2 + "AAAA", "auth: verifier server key is 35 bytes, want 32"},
		{"server key non-canonical", "scram-argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$" + key2[:42] + "9", "auth: verifier server key is not unpadded base64"},
		{"too long", good + strings.Repeat("A", 512), "auth: verifier longer than 512 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseVerifier(tt.in)
			if err == nil {
				t.Fatalf("ParseVerifier(%q) succeeded, want error %q", tt.in, tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("ParseVerifier(%q) error = %q, want %q", tt.in, err, tt.wantErr)
			}
			// Errors must not echo key material.
			for _, secret := range []string{key, key2} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q echoes key material", err)
				}
			}
		})
	}
}
