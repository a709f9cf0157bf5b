package hostkey

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/crypto/ssh"
)

// FileName is the name of the host key file inside the server's data
// directory.
const FileName = "host_ed25519_key"

// pemType is the PEM block type of a PKCS#8 private key.
const pemType = "PRIVATE KEY"

// maxFileSize bounds how much of a key file is read. An Ed25519 PKCS#8 PEM
// file is about 120 bytes.
const maxFileSize = 64 << 10

// LoadOrCreate returns the host key stored in dataDir, generating and storing
// a new one first if there is none; created reports whether it did so.
//
// A new key is written to a temporary file, synced, and then linked into
// place under [FileName] only if no file of that name exists yet, so a
// reader never sees a partly written key and two servers that start at the
// same time agree on one key. dataDir is created with mode 0700 if it is
// missing, and the key file has mode 0600.
//
// An existing key file must be a regular file holding a PKCS#8 Ed25519 key.
// On systems other than Windows it must also not be accessible to the group
// or to other users. LoadOrCreate never replaces an existing file, even one
// it refuses.
func LoadOrCreate(dataDir string) (key ed25519.PrivateKey, created bool, err error) {
	path := filepath.Join(dataDir, FileName)
	key, err = load(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("hostkey: creating data directory: %w", err)
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("hostkey: generating key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("hostkey: encoding key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der})

	err = writeNew(path, data)
	if errors.Is(err, fs.ErrExist) {
		// Another process created the key first; use that one.
		key, err = load(path)
		if err != nil {
			return nil, false, err
		}
		return key, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// Load returns the host key stored in dataDir, as LoadOrCreate checks
// it, but never creates one: for tools that must check what an existing
// key signed. A missing key satisfies errors.Is(err, fs.ErrNotExist).
func Load(dataDir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dataDir, FileName)
	key, err := load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("hostkey: no host key in %s: %w", dataDir, err)
	}
	return key, err
}

// writeNew atomically creates path with the given contents and mode 0600.
// It returns an error satisfying errors.Is(err, fs.ErrExist) if path already
// exists, and never replaces it.
func writeNew(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	// CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("hostkey: creating temporary key file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		// After a successful link the temporary name is only an
		// extra link to the key; remove it in every case.
		os.Remove(tmpName)
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("hostkey: writing temporary key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("hostkey: syncing temporary key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("hostkey: closing temporary key file: %w", err)
	}

	// Unlike rename, link fails if the target exists, so it moves the
	// complete file into place without ever replacing another one.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// Some file systems, such as FAT, have no hard links. Fall
		// back to creating the file in place: still exclusive, but a
		// concurrent reader may see it partly written.
		if ferr := writeExclusive(path, data); ferr != nil {
			if errors.Is(ferr, fs.ErrExist) {
				return ferr
			}
			return fmt.Errorf("hostkey: storing key: %w (after link failed: %v)", ferr, err)
		}
	}
	syncDir(dir)
	return nil
}

// writeExclusive creates path with O_EXCL, writes data and syncs it.
func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// syncDir makes a new directory entry in dir durable where the system
// supports it. It is best effort: the key is already complete on disk, and a
// failure here only matters after a crash, when the next start creates a new
// key.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

// load reads and checks the key file at path. If the file does not exist,
// the error satisfies errors.Is(err, fs.ErrNotExist).
func load(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("hostkey: %w", err)
	}
	defer f.Close()

	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("hostkey: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("hostkey: %s is not a regular file", path)
	}
	if err := checkMode(path, fi.Mode()); err != nil {
		return nil, err
	}

	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("hostkey: reading %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("hostkey: %s is too large to be a host key", path)
	}
	key, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("hostkey: %s: %w", path, err)
	}
	return key, nil
}

// checkMode refuses a key file that the group or other users may access.
// Windows has no such mode bits, so there is no check there.
func checkMode(path string, mode fs.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	perm := mode.Perm()
	if perm&0o077 == 0 {
		return nil
	}
	how := "readable"
	if perm&0o044 == 0 {
		how = "accessible"
	}
	return fmt.Errorf("hostkey: %s is %s by others (mode %04o); chmod 600 it", path, how, perm)
}

// parse decodes a PEM encoded PKCS#8 Ed25519 private key.
func parse(data []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM data found; the key file is corrupt")
	}
	if block.Type != pemType {
		return nil, fmt.Errorf("PEM block has type %q, want %q (a PKCS#8 key)", block.Type, pemType)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block; the key file is corrupt")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the key file is corrupt: %w", err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("holds %s key, want an Ed25519 key", keyKind(k))
	}
	return key, nil
}

// keyKind names the kind of a private key returned by
// x509.ParsePKCS8PrivateKey, for error messages.
func keyKind(k any) string {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return "an RSA"
	case *ecdsa.PrivateKey:
		return "an ECDSA"
	case *ecdh.PrivateKey:
		return fmt.Sprintf("an ECDH (%v)", k.Curve())
	default:
		return fmt.Sprintf("a %T", k)
	}
}

// certValidity is how long a host certificate is valid. The client pins the
// key, not the certificate, so the certificate should simply never expire.
const certValidity = 100 * 365 * 24 * time.Hour

// Certificate returns a self-signed X.509 certificate for key, ready for use
// in a tls.Config.
//
// The certificate's subject is "cubby host key". It is valid from an hour
// before now, to tolerate clock skew, for about a hundred years, and is
// meant for TLS server authentication only. Its serial number is random, so
// two calls return different certificates for the same key; clients should
// identify the server by the key, for example with [Fingerprint].
func Certificate(key ed25519.PrivateKey) (tls.Certificate, error) {
	if len(key) != ed25519.PrivateKeySize {
		return tls.Certificate{}, fmt.Errorf("hostkey: invalid Ed25519 private key length %d", len(key))
	}
	// RFC 5280 allows serial numbers of up to 20 octets; 128 random
	// bits are plenty.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("hostkey: generating serial number: %w", err)
	}
	serial.Add(serial, big.NewInt(1)) // Serial numbers must be positive.

	notBefore := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "cubby host key"},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("hostkey: creating certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("hostkey: parsing new certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// Fingerprint returns the OpenSSH SHA256 fingerprint of pub, such as
// "SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg". It is the string that
// ssh-keygen -lf prints for the same key: the unpadded standard base64
// encoding of the SHA-256 hash of the key's SSH wire encoding.
//
// pub may be an ed25519.PublicKey, a *ecdsa.PublicKey on P-256, P-384 or
// P-521, or a *rsa.PublicKey, such as the public key of an
// x509.Certificate.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("hostkey: fingerprint: %w", err)
	}
	return ssh.FingerprintSHA256(k), nil
}
