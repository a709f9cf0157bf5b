package hostkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// seedKey returns the Ed25519 key whose seed is the bytes 0, 1, …, 31.
func seedKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func TestLoadOrCreate(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "missing", "data")

	key1, created, err := LoadOrCreate(dataDir)
	if err != nil {
		t.Fatalf("first LoadOrCreate: %v", err)
	}
	if !created {
		t.Error("first LoadOrCreate: created = false, want true")
	}
	if len(key1) != ed25519.PrivateKeySize {
		t.Fatalf("first LoadOrCreate: key length %d, want %d", len(key1), ed25519.PrivateKeySize)
	}

	key2, created, err := LoadOrCreate(dataDir)
	if err != nil {
		t.Fatalf("second LoadOrCreate: %v", err)
	}
	if created {
		t.Error("second LoadOrCreate: created = true, want false")
	}
	if !key1.Equal(key2) {
		t.Error("second LoadOrCreate returned a different key")
	}

	path := filepath.Join(dataDir, FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key file is not a PKCS#8 PEM file:\n%s", data)
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil || !key1.Equal(k) {
		t.Errorf("key file holds %v, %v; want the returned key", k, err)
	}

	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only %s (temporary file left behind?)", len(entries), FileName)
	}

	if runtime.GOOS == "windows" {
		return
	}
	for _, c := range []struct {
		path string
		want fs.FileMode
	}{
		{path, 0o600},
		{dataDir, 0o700},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("mode of %s = %04o, want %04o", c.path, got, c.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dataDir := t.TempDir()
	if _, err := Load(dataDir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key = %v; want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, FileName)); err == nil {
		t.Error("Load created a key")
	}
	want, _, err := LoadOrCreate(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dataDir); err != nil || !got.Equal(want) {
		t.Errorf("Load = %v; want the key LoadOrCreate made", err)
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	dataDir := t.TempDir()
	const n = 16
	type result struct {
		key     ed25519.PrivateKey
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := &results[i]
			r.key, r.created, r.err = LoadOrCreate(dataDir)
		})
	}
	wg.Wait()

	createdCount := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("LoadOrCreate #%d: %v", i, r.err)
		}
		if r.created {
			createdCount++
		}
		if !r.key.Equal(results[0].key) {
			t.Errorf("LoadOrCreate #%d returned a different key than #0", i)
		}
	}
	if createdCount != 1 {
		t.Errorf("%d calls reported creating the key, want 1", createdCount)
	}
	stored, _, err := LoadOrCreate(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Equal(results[0].key) {
		t.Error("the stored key differs from the returned ones")
	}
}

// pemFile returns a PEM file with one block.
func pemFile(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestLoadOrCreateRefuses(t *testing.T) {
	ed, err := x509.MarshalPKCS8PrivateKey(seedKey())
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	good := pemFile("PRIVATE KEY", ed)

	tests := []struct {
		name    string
		data    []byte
		mode    fs.FileMode
		unixish bool // the test depends on Unix file modes
		want    string
	}{
		{name: "world readable", data: good, mode: 0o644, unixish: true,
			want: "is readable by others (mode 0644); chmod 600 it"},
		{name: "group readable", data: good, mode: 0o640, unixish: true,
			want: "is readable by others (mode 0640); chmod 600 it"},
		{name: "group writable", data: good, mode: 0o620, unixish: true,
			want: "is accessible by others (mode 0620); chmod 600 it"},
		{name: "empty", data: nil, mode: 0o600,
			want: "no PEM data found; the key file is corrupt"},
		{name: "garbage", data: []byte("not a key\n"), mode: 0o600,
			want: "no PEM data found; the key file is corrupt"},
		{name: "truncated PEM", data: good[:len(good)/2], mode: 0o600,
			want: "no PEM data found; the key file is corrupt"},
		{name: "corrupt DER", data: pemFile("PRIVATE KEY", ed[:len(ed)-3]), mode: 0o600,
			want: "the key file is corrupt: "},
		{name: "trailing data", data: append(bytes.Clone(good), "junk"...), mode: 0o600,
			want: "unexpected data after the PEM block"},
		{name: "wrong PEM type", data: pemFile("OPENSSH PRIVATE KEY", ed), mode: 0o600,
			want: `PEM block has type "OPENSSH PRIVATE KEY", want "PRIVATE KEY"`},
		{name: "ECDSA key", data: pemFile("PRIVATE KEY", ec), mode: 0o600,
			want: "holds an ECDSA key, want an Ed25519 key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unixish && runtime.GOOS == "windows" {
				t.Skip("no Unix file modes on Windows")
			}
			dataDir := t.TempDir()
			path := filepath.Join(dataDir, FileName)
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}

			key, created, err := LoadOrCreate(dataDir)
			if err == nil {
				t.Fatalf("LoadOrCreate = %x, %v, nil; want an error containing %q", key, created, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "hostkey: "+path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadOrCreate error = %q, want it to start with %q and contain %q", err, "hostkey: "+path, tt.want)
			}
			if errors.Is(err, fs.ErrNotExist) {
				t.Errorf("LoadOrCreate error %q satisfies fs.ErrNotExist", err)
			}
			// The refused file must be left alone.
			got, rerr := os.ReadFile(path)
			if rerr != nil || !bytes.Equal(got, tt.data) {
				t.Errorf("key file changed to %q, %v; want it unchanged", got, rerr)
			}
		})
	}
}

func TestLoadOrCreateNotRegular(t *testing.T) {
	dataDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dataDir, FileName), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(dataDir); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("LoadOrCreate with a directory as key file: err = %v, want \"is not a regular file\"", err)
	}
}

func TestCertificate(t *testing.T) {
	key := seedKey()
	cert, err := Certificate(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := leaf.PublicKey.(ed25519.PublicKey); !ok || !pub.Equal(key.Public()) {
		t.Errorf("certificate public key = %v, want the host key's", leaf.PublicKey)
	}
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}
	if got, want := leaf.Subject.CommonName, "cubby host key"; got != want {
		t.Errorf("subject common name = %q, want %q", got, want)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage = %v, want only digital signature", leaf.KeyUsage)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("extended key usage = %v, want only server auth", leaf.ExtKeyUsage)
	}
	if leaf.IsCA {
		t.Error("certificate is a CA")
	}
	now := time.Now()
	if !leaf.NotBefore.Before(now.Add(-30*time.Minute)) || leaf.NotBefore.After(now) {
		t.Errorf("NotBefore = %v, want about an hour before %v", leaf.NotBefore, now)
	}
	if min := now.AddDate(99, 0, 0); leaf.NotAfter.Before(min) {
		t.Errorf("NotAfter = %v, want after %v", leaf.NotAfter, min)
	}
	if leaf.SerialNumber.Sign() <= 0 {
		t.Errorf("serial number %v is not positive", leaf.SerialNumber)
	}
	cert2, err := Certificate(key)
	if err != nil {
		t.Fatal(err)
	}
	if cert2.Leaf.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Error("two certificates have the same serial number")
	}

	if _, err := Certificate(key[:10]); err == nil {
		t.Error("Certificate accepted a truncated key")
	}
}

// pipeConns returns the two ends of a connection of the named type: an
// in-memory net.Pipe or a TCP connection on 127.0.0.1.
func pipeConns(t *testing.T, typ string) (client, server net.Conn) {
	t.Helper()
	switch typ {
	case "pipe":
		client, server = net.Pipe()
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		type accepted struct {
			c   net.Conn
			err error
		}
		ch := make(chan accepted, 1)
		go func() {
			c, err := l.Accept()
			ch <- accepted{c, err}
		}()
		client, err = net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		a := <-ch
		if a.err != nil {
			client.Close()
			t.Fatal(a.err)
		}
		server = a.c
	default:
		t.Fatalf("unknown connection type %q", typ)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	client.SetDeadline(deadline)
	server.SetDeadline(deadline)
	return client, server
}

// TestCertificateHandshake runs a TLS 1.3 handshake in which the server
// presents a host certificate and the client pins the host key by its
// fingerprint, as the cubby client does.
func TestCertificateHandshake(t *testing.T) {
	hostKey := seedKey()
	cert, err := Certificate(hostKey)
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := Fingerprint(hostKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Fingerprint(otherKey.Public())
	if err != nil {
		t.Fatal(err)
	}

	for _, typ := range []string{"pipe", "tcp"} {
		for _, tt := range []struct {
			name   string
			pinned string
			ok     bool
		}{
			{"pinned key", pinned, true},
			{"other key", other, false},
		} {
			t.Run(typ+"/"+tt.name, func(t *testing.T) {
				clientConn, serverConn := pipeConns(t, typ)
				server := tls.Server(serverConn, &tls.Config{
					Certificates: []tls.Certificate{cert},
					MinVersion:   tls.VersionTLS13,
				})
				errVerify := errors.New("host key fingerprint mismatch")
				client := tls.Client(clientConn, &tls.Config{
					MinVersion: tls.VersionTLS13,
					// The client pins the key instead of
					// verifying a chain; VerifyConnection
					// does the check.
					InsecureSkipVerify: true,
					VerifyConnection: func(cs tls.ConnectionState) error {
						if len(cs.PeerCertificates) == 0 {
							return errors.New("no server certificate")
						}
						fp, err := Fingerprint(cs.PeerCertificates[0].PublicKey)
						if err != nil {
							return err
						}
						if fp != tt.pinned {
							return fmt.Errorf("%w: got %s", errVerify, fp)
						}
						return nil
					},
				})

				serverErr := make(chan error, 1)
				go func() {
					err := server.Handshake()
					if err == nil {
						// Finish the exchange so the
						// client sees the server's reply.
						_, err = io.Copy(server, server)
					}
					server.Close()
					serverErr <- err
				}()

				err := client.Handshake()
				if !tt.ok {
					if !errors.Is(err, errVerify) {
						t.Errorf("client handshake error = %v, want %v", err, errVerify)
					}
					client.Close()
					<-serverErr
					return
				}
				if err != nil {
					t.Fatalf("client handshake: %v", err)
				}
				if v := client.ConnectionState().Version; v != tls.VersionTLS13 {
					t.Errorf("TLS version = %x, want TLS 1.3", v)
				}
				msg := []byte("hello")
				if _, err := client.Write(msg); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(client, got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, msg) {
					t.Errorf("echo = %q, want %q", got, msg)
				}
				client.Close()
				if err := <-serverErr; err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
					t.Errorf("server: %v", err)
				}
			})
		}
	}
}

func TestFingerprint(t *testing.T) {
	// The golden values are ssh-keygen -lf output for the same keys
	// (OpenSSH 9.2). The ECDSA and RSA keys were made by ssh-keygen.
	tests := []struct {
		name string
		key  string // authorized_keys line, or "" for seedKey
		want string
	}{
		{
			name: "ed25519 seed 0..31",
			want: "SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg",
		},
		{
			name: "ecdsa p256",
			key:  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHi7CvYB77lotpl759dCQX6lQ05feqQ9XsD8BX1sXTuWKzR/rbjxm/iNimV2DNuNX6/9ynPxoDcCEDGlSl32v2M=",
			want: "SHA256:U5Jsx/nNP1nXfPtW18JT2y2ylXIo/8Nf03oDxGCY0bM",
		},
		{
			name: "rsa 2048",
			key:  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCu36OWERcHEk7vVIv1kNuRwIZR0Y7ttp2U6lKy4EAuOa2SFk6DePguafOz+PeC9ndBEiHtiziH08W29+/60TJph9S/dtFWYo51Ozw61WN2Jp3c3DC91ESMIzdul7TvcVUPzzjZTJKcN1uCvNM+O+iqGYbW3uJuVY7RoNUxXjiC3/SB+IOtVjMwp4Y0Jfx1a4qH8iIfCxvKEUDyZMPcbCAGRKQ2uC8DdwFkYghfHkXg9ekXHpXkN//W3rclpz2VcoZxV0VLu4lxtR2j3UUxkIrb49u2eePRFiz5D1G068GyTijNqTZCXeC+iqq060tCpJKOmSHfkf25sfGymusNUeXD",
			want: "SHA256:qSNQ9ORZ4K5hKehMmXEkvAgJZakxh3IXfRtmuybWF+A",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pub any = seedKey().Public()
			if tt.key != "" {
				k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(tt.key))
				if err != nil {
					t.Fatal(err)
				}
				pub = k.(ssh.CryptoPublicKey).CryptoPublicKey()
			}
			got, err := Fingerprint(pub)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Fingerprint(%T) = %s, want %s", pub, got, tt.want)
			}
		})
	}
}

func TestFingerprintRefuses(t *testing.T) {
	key := seedKey()
	for _, tt := range []struct {
		name string
		pub  any
	}{
		{"private key", key},
		{"short ed25519", ed25519.PublicKey(key.Public().(ed25519.PublicKey)[:16])},
		{"nil", nil},
		{"string", "ssh-ed25519 AAAA"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fp, err := Fingerprint(tt.pub)
			if err == nil {
				t.Fatalf("Fingerprint(%T) = %q, want an error", tt.pub, fp)
			}
			if !strings.HasPrefix(err.Error(), "hostkey: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}
