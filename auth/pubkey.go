package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"
)

// PubkeyMechanism names public-key login on the wire (wire.AuthStart): the
// client signs a server challenge bound to the TLS channel with an SSH key
// listed for the user.
const PubkeyMechanism = "CUBBY-PUBKEY-TLS-EXPORTER"

// ChallengeLen is the length of the server's public-key login challenge.
const ChallengeLen = 32

// MinRSABits is the smallest RSA key accepted for login.
const MinRSABits = 2048

const (
	pubkeyMagic  = "cubby pubkey login v1"
	maxKeyBlob   = 2048 // an RSA key of 16384 bits is about 2 KiB
	maxSigBlob   = 2048
	rsaSHA256Alg = ssh.KeyAlgoRSASHA256
)

// CheckPubkey returns nil if key is of a type accepted for login:
// Ed25519, ECDSA (P-256, P-384, P-521) or RSA of at least MinRSABits bits.
// Certificates and security-key (sk-) types are refused.
func CheckPubkey(key ssh.PublicKey) error {
	switch key.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return nil
	case ssh.KeyAlgoRSA:
		ck, ok := key.(ssh.CryptoPublicKey)
		if !ok {
			return errors.New("auth: RSA key without a public key")
		}
		rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey)
		if !ok {
			return errors.New("auth: RSA key without a public key")
		}
		if n := rk.N.BitLen(); n < MinRSABits {
			return fmt.Errorf("auth: RSA key of %d bits; at least %d are needed", n, MinRSABits)
		}
		return nil
	}
	return fmt.Errorf("auth: key type %s is not accepted (use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa of %d bits or more)", key.Type(), MinRSABits)
}

// ParseAuthorizedKey parses one line in OpenSSH authorized_keys format,
// "TYPE BASE64 [COMMENT]", and checks the key with CheckPubkey. Options
// before the type (such as command="...") and more than one key are
// refused.
func ParseAuthorizedKey(line string) (key ssh.PublicKey, comment string, err error) {
	key, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	switch {
	case err != nil:
		return nil, "", errors.New(`auth: not a public key in authorized_keys format ("ssh-ed25519 AAAA... comment")`)
	case len(options) > 0:
		return nil, "", errors.New("auth: authorized_keys options are not supported; give only TYPE KEY [COMMENT]")
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, "", errors.New("auth: more than one key in one entry")
	}
	if err := CheckPubkey(key); err != nil {
		return nil, "", err
	}
	return key, comment, nil
}

// appendField appends b with a 4-byte big-endian length.
func appendField(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// readField reads one length-prefixed field of at most limit bytes.
func readField(p []byte, limit int) (field, rest []byte, ok bool) {
	if len(p) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(p)
	if n > uint32(limit) || int(n) > len(p)-4 {
		return nil, nil, false
	}
	return p[4 : 4+n], p[4+n:], true
}

// PubkeyStart returns the AuthStart message of a public-key login: the
// user name and the key's SSH wire encoding, each length-prefixed.
func PubkeyStart(user string, key ssh.PublicKey) ([]byte, error) {
	if msg := checkUser(user); msg != "" {
		return nil, errors.New("auth: " + msg)
	}
	blob := key.Marshal()
	if len(blob) > maxKeyBlob {
		return nil, errors.New("auth: public key too large")
	}
	return appendField(appendField(nil, []byte(user)), blob), nil
}

// ParsePubkeyStart parses a PubkeyStart message. The key is checked with
// CheckPubkey. The result does not alias msg.
func ParsePubkeyStart(msg []byte) (user string, key ssh.PublicKey, err error) {
	msg = bytes.Clone(msg) // parsed keys may alias their input
	u, rest, ok := readField(msg, MaxUserLen)
	if !ok {
		return "", nil, errors.New("auth: malformed public-key login: user")
	}
	blob, rest, ok := readField(rest, maxKeyBlob)
	if !ok || len(rest) != 0 {
		return "", nil, errors.New("auth: malformed public-key login: key")
	}
	user = string(u)
	if msg := checkUser(user); msg != "" {
		return "", nil, errors.New("auth: public-key login: " + msg)
	}
	key, err = ssh.ParsePublicKey(blob)
	if err != nil {
		return "", nil, fmt.Errorf("auth: public-key login: %w", err)
	}
	if err := CheckPubkey(key); err != nil {
		return "", nil, err
	}
	return user, key, nil
}

// NewChallenge returns ChallengeLen bytes from crypto/rand.
func NewChallenge() ([]byte, error) {
	c := make([]byte, ChallengeLen)
	if _, err := io.ReadFull(rand.Reader, c); err != nil {
		return nil, fmt.Errorf("auth: reading random challenge: %w", err)
	}
	return c, nil
}

// PubkeySignedData is what the client signs in a public-key login: the
// length-prefixed magic "cubby pubkey login v1", user name, public key
// (SSH wire encoding), server challenge, tls-exporter channel binding and
// server ID (SHA-256 of the server's TLS leaf certificate). The channel
// binding stops a signature from being replayed on another connection.
func PubkeySignedData(user string, key ssh.PublicKey, challenge, channelBinding, serverID []byte) []byte {
	var b []byte
	b = appendField(b, []byte(pubkeyMagic))
	b = appendField(b, []byte(user))
	b = appendField(b, key.Marshal())
	b = appendField(b, challenge)
	b = appendField(b, channelBinding)
	return appendField(b, serverID)
}

// SignPubkeyLogin signs the login data with signer and returns the SSH
// wire encoding of the signature, for wire.AuthResponse. RSA keys sign with
// rsa-sha2-256, never SHA-1. The private key never leaves signer, which
// may be an ssh-agent.
func SignPubkeyLogin(signer ssh.Signer, user string, challenge, channelBinding, serverID []byte) ([]byte, error) {
	if len(challenge) != ChallengeLen {
		return nil, fmt.Errorf("auth: server challenge is %d bytes, want %d", len(challenge), ChallengeLen)
	}
	if len(channelBinding) != ChannelBindingLen {
		return nil, fmt.Errorf("auth: channel binding is %d bytes, want %d", len(channelBinding), ChannelBindingLen)
	}
	data := PubkeySignedData(user, signer.PublicKey(), challenge, channelBinding, serverID)
	var sig *ssh.Signature
	var err error
	if signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		as, ok := signer.(ssh.AlgorithmSigner)
		if !ok {
			return nil, errors.New("auth: this RSA key can only make SHA-1 signatures, which are not accepted")
		}
		sig, err = as.SignWithAlgorithm(rand.Reader, data, rsaSHA256Alg)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: signing the login: %w", err)
	}
	return ssh.Marshal(sig), nil
}

// VerifyPubkeyLogin checks a SignPubkeyLogin signature by key over the
// login data. Every failure wraps ErrLoginFailed; the text is for logs.
func VerifyPubkeyLogin(key ssh.PublicKey, user string, challenge, channelBinding, serverID, sigBlob []byte) error {
	fail := func(detail string) error { return &loginError{detail: fmt.Sprintf("user %q: %s", user, detail)} }
	if len(challenge) != ChallengeLen || len(channelBinding) != ChannelBindingLen {
		return fail("server misconfigured: bad challenge or channel binding length")
	}
	if len(sigBlob) > maxSigBlob {
		return fail("signature too large")
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(sigBlob, &sig); err != nil {
		return fail("malformed signature")
	}
	if sig.Format == ssh.KeyAlgoRSA {
		return fail("SHA-1 RSA signature (ssh-rsa) refused")
	}
	data := PubkeySignedData(user, key, challenge, channelBinding, serverID)
	if err := key.Verify(data, &sig); err != nil {
		return fail("bad signature (wrong key, or replayed from another connection?)")
	}
	return nil
}

// SameKey reports whether a and b are the same public key.
func SameKey(a, b ssh.PublicKey) bool {
	return subtle.ConstantTimeCompare(a.Marshal(), b.Marshal()) == 1
}
