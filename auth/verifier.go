package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Bounds on argon2id parameters. They apply both to stored verifiers
// (NewVerifier, ParseVerifier, ServerLogin) and to the parameters a client
// accepts from a server (ClientLogin.Final), so that a stored verifier is
// always usable and a hostile server cannot make a client spend unbounded
// memory or time.
const (
	// MinKDFTime and MaxKDFTime bound KDFParams.Time (passes over memory).
	MinKDFTime = 1
	MaxKDFTime = 16
	// MaxKDFMemoryKiB bounds KDFParams.MemoryKiB to 1 GiB. The lower bound
	// is 8 KiB per thread, as RFC 9106 requires.
	MaxKDFMemoryKiB = 1 << 20
	// MinKDFThreads and MaxKDFThreads bound KDFParams.Threads (lanes).
	MinKDFThreads = 1
	MaxKDFThreads = 16
	// MinSaltLen and MaxSaltLen bound the salt length in bytes.
	MinSaltLen = 8
	MaxSaltLen = 64
)

const (
	keyLen          = 32 // SHA-256 output; length of every derived key
	saltLen         = 16 // salt length chosen by NewVerifier
	verifierScheme  = "scram-argon2id"
	verifierVersion = "v=19" // argon2.Version, 0x13
	maxVerifierLen  = 512    // far above the longest valid verifier string
)

// KDFParams are argon2id cost parameters (RFC 9106).
type KDFParams struct {
	Time      uint32 // number of passes over memory
	MemoryKiB uint32 // memory size in KiB
	Threads   uint8  // degree of parallelism (lanes)
}

// DefaultKDFParams returns the argon2id parameters used for new verifiers and
// for the fake verifier of unknown users: t=3, m=64 MiB, p=4, the second
// recommended option of RFC 9106 section 4.
//
// Measured with BenchmarkDefaultKDF on a 2-core VM (AMD EPYC, Go 1.26,
// linux/amd64), 64 MiB allocated per derivation: 62–100 ms per derivation
// (about 80 ms typical) with the machine otherwise idle, 130–300 ms while
// other CPU-heavy work ran. For comparison t=2, m=64 MiB, p=2 measured
// 47–55 ms, at the low edge of the 50–150 ms target.
func DefaultKDFParams() KDFParams {
	return KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}
}

// maxKDFParams returns the upper bound of every KDF parameter.
func maxKDFParams() KDFParams {
	return KDFParams{Time: MaxKDFTime, MemoryKiB: MaxKDFMemoryKiB, Threads: MaxKDFThreads}
}

// check returns "" if p is within the bounds documented on the
// MinKDF*/MaxKDF* constants, and otherwise what is wrong. The text carries
// no package prefix so that callers can add their own context.
func (p KDFParams) check() string { return p.checkWithin(maxKDFParams()) }

// checkWithin is like check with upper bounds taken from limit.
func (p KDFParams) checkWithin(limit KDFParams) string {
	switch {
	case p.Time < MinKDFTime || p.Time > limit.Time:
		return fmt.Sprintf("argon2id time %d out of range [%d, %d]", p.Time, MinKDFTime, limit.Time)
	case p.Threads < MinKDFThreads || p.Threads > limit.Threads:
		return fmt.Sprintf("argon2id threads %d out of range [%d, %d]", p.Threads, MinKDFThreads, limit.Threads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > limit.MemoryKiB:
		return fmt.Sprintf("argon2id memory %d KiB out of range [%d, %d]", p.MemoryKiB, 8*uint32(p.Threads), limit.MemoryKiB)
	}
	return ""
}

// checkSalt is like KDFParams.check for a salt.
func checkSalt(salt []byte) string {
	if len(salt) < MinSaltLen || len(salt) > MaxSaltLen {
		return fmt.Sprintf("salt is %d bytes, want %d to %d", len(salt), MinSaltLen, MaxSaltLen)
	}
	return ""
}

// Verifier is what the server stores for a user instead of the password. It
// holds the SCRAM StoredKey and ServerKey derived with argon2id. A stolen
// Verifier cannot be used to log in, and testing a password guess against it
// costs one full argon2id derivation.
type Verifier struct {
	KDF       KDFParams
	Salt      []byte
	StoredKey [32]byte // SHA-256(ClientKey)
	ServerKey [32]byte // HMAC-SHA-256(SaltedPassword, "Server Key")
}

// NewVerifier derives a Verifier for password with a fresh 16-byte random
// salt and the argon2id parameters p. It returns an error if p is out of
// bounds.
func NewVerifier(password []byte, p KDFParams) (Verifier, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return Verifier{}, fmt.Errorf("auth: reading random salt: %w", err)
	}
	return newVerifierWithSalt(password, salt, p)
}

// newVerifierWithSalt is NewVerifier with a caller-chosen salt.
func newVerifierWithSalt(password, salt []byte, p KDFParams) (Verifier, error) {
	if msg := p.check(); msg != "" {
		return Verifier{}, errors.New("auth: " + msg)
	}
	if msg := checkSalt(salt); msg != "" {
		return Verifier{}, errors.New("auth: " + msg)
	}
	salted := saltedPassword(password, salt, p)
	v := Verifier{KDF: p, Salt: append([]byte(nil), salt...)}
	ck := hmacSHA256(salted, []byte("Client Key"))
	v.StoredKey = sha256.Sum256(ck)
	copy(v.ServerKey[:], hmacSHA256(salted, []byte("Server Key")))
	clear(salted)
	clear(ck)
	return v, nil
}

// saltedPassword computes the SCRAM SaltedPassword with argon2id. The
// parameters must have been validated: argon2 panics on zero time or threads.
func saltedPassword(password, salt []byte, p KDFParams) []byte {
	return argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// String encodes v as one self-describing, PHC-like string:
//
//	scram-argon2id$v=19$m=<MemoryKiB>,t=<Time>,p=<Threads>$<salt>$<StoredKey>$<ServerKey>
//
// The salt and keys are standard base64 without padding. ParseVerifier is
// the inverse.
func (v Verifier) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("%s$%s$m=%d,t=%d,p=%d$%s$%s$%s",
		verifierScheme, verifierVersion,
		v.KDF.MemoryKiB, v.KDF.Time, v.KDF.Threads,
		b64.EncodeToString(v.Salt),
		b64.EncodeToString(v.StoredKey[:]),
		b64.EncodeToString(v.ServerKey[:]))
}

// ParseVerifier parses the format written by Verifier.String. It is strict:
// it requires at most 512 bytes in exactly six "$"-separated fields, the
// scheme "scram-argon2id", version v=19, the parameters in the order m, t, p
// as canonical decimals within the MinKDF*/MaxKDF* bounds, a salt of
// MinSaltLen to MaxSaltLen bytes and keys of exactly 32 bytes, all in
// unpadded standard base64. Errors name the faulty field but never include
// the salt or key material.
func ParseVerifier(s string) (Verifier, error) {
	if len(s) > maxVerifierLen {
		return Verifier{}, fmt.Errorf("auth: verifier longer than %d bytes", maxVerifierLen)
	}
	fields := strings.Split(s, "$")
	if len(fields) != 6 {
		return Verifier{}, fmt.Errorf("auth: verifier has %d $-separated fields, want 6", len(fields))
	}
	if fields[0] != verifierScheme {
		return Verifier{}, errors.New("auth: verifier scheme is not " + verifierScheme)
	}
	if fields[1] != verifierVersion {
		return Verifier{}, errors.New("auth: verifier version is not " + verifierVersion)
	}
	var v Verifier
	params := strings.Split(fields[2], ",")
	if len(params) != 3 {
		return Verifier{}, errors.New("auth: verifier parameters must be m=<KiB>,t=<passes>,p=<threads>")
	}
	m, err := parseParam(params[0], "m", 32)
	if err != nil {
		return Verifier{}, err
	}
	t, err := parseParam(params[1], "t", 32)
	if err != nil {
		return Verifier{}, err
	}
	p, err := parseParam(params[2], "p", 8)
	if err != nil {
		return Verifier{}, err
	}
	v.KDF = KDFParams{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(p)}
	if msg := v.KDF.check(); msg != "" {
		return Verifier{}, errors.New("auth: verifier " + msg)
	}
	b64 := base64.RawStdEncoding
	if v.Salt, err = decodeStrict(b64, fields[3]); err != nil {
		return Verifier{}, errors.New("auth: verifier salt is not unpadded base64")
	}
	if msg := checkSalt(v.Salt); msg != "" {
		return Verifier{}, errors.New("auth: verifier " + msg)
	}
	if err := decodeKey(b64, fields[4], "stored key", &v.StoredKey); err != nil {
		return Verifier{}, err
	}
	if err := decodeKey(b64, fields[5], "server key", &v.ServerKey); err != nil {
		return Verifier{}, err
	}
	return v, nil
}

// parseParam parses "name=<decimal>" with no sign, no leading zeros and a
// value that fits in bits bits.
func parseParam(s, name string, bits int) (uint64, error) {
	val, ok := strings.CutPrefix(s, name+"=")
	if !ok {
		return 0, fmt.Errorf("auth: verifier parameter %q missing or out of order", name)
	}
	n, err := strconv.ParseUint(val, 10, bits)
	if err != nil || strconv.FormatUint(n, 10) != val {
		return 0, fmt.Errorf("auth: verifier parameter %q is not a valid number", name)
	}
	return n, nil
}

func decodeKey(enc *base64.Encoding, s, name string, dst *[32]byte) error {
	b, err := decodeStrict(enc, s)
	if err != nil {
		return fmt.Errorf("auth: verifier %s is not unpadded base64", name)
	}
	if len(b) != len(dst) {
		return fmt.Errorf("auth: verifier %s is %d bytes, want %d", name, len(b), len(dst))
	}
	copy(dst[:], b)
	return nil
}

// MinNewKDFParams is the weakest argon2id cost a server accepts for a
// verifier a client computed for a new password (see CheckNewVerifier):
// 19 MiB and 2 passes, the least that OWASP recommends for argon2id.
func MinNewKDFParams() KDFParams {
	return KDFParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}
}

// CheckNewVerifier returns nil if v, computed by a client for a new
// password, costs at least floor to attack: at least floor.MemoryKiB of memory
// and floor.Time·floor.MemoryKiB KiB-passes in all (so 46 MiB with one pass
// passes the OWASP floor too), with a salt of at least 16 bytes. Upper
// bounds are those of ParseVerifier.
func CheckNewVerifier(v Verifier, floor KDFParams) error {
	if msg := v.KDF.check(); msg != "" {
		return errors.New("auth: " + msg)
	}
	if msg := checkSalt(v.Salt); msg != "" {
		return errors.New("auth: " + msg)
	}
	switch {
	case len(v.Salt) < saltLen:
		return fmt.Errorf("auth: salt of %d bytes; at least %d are needed", len(v.Salt), saltLen)
	case v.KDF.MemoryKiB < floor.MemoryKiB:
		return fmt.Errorf("auth: argon2id memory %d KiB; at least %d KiB are needed", v.KDF.MemoryKiB, floor.MemoryKiB)
	case uint64(v.KDF.Time)*uint64(v.KDF.MemoryKiB) < uint64(floor.Time)*uint64(floor.MemoryKiB):
		return fmt.Errorf("auth: argon2id cost t=%d, m=%d KiB is too low; at least t·m = %d KiB is needed", v.KDF.Time, v.KDF.MemoryKiB, uint64(floor.Time)*uint64(floor.MemoryKiB))
	}
	return nil
}
