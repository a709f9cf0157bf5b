package knownhosts

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// testKey returns an Ed25519 public key whose seed is n repeated.
func testKey(n byte) ed25519.PublicKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = n
	}
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

func fingerprint(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.FingerprintSHA256(k)
}

// authorizedKey returns pub in the "type base64" form of a known_hosts line.
func authorizedKey(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func newStore(t *testing.T) *Store {
	return &Store{Path: filepath.Join(t.TempDir(), "known_hosts")}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDefaultPath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("XDG_CONFIG_HOME is used on Linux only")
	}
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	got, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "cubby", "known_hosts"); got != want {
		t.Errorf("DefaultPath() = %q, want %q", got, want)
	}
}

func TestCheckUnknown(t *testing.T) {
	s := newStore(t) // The file does not exist.
	key := testKey(1)
	err := s.Check("127.0.0.1:5050", key)
	var uerr *UnknownHostError
	if !errors.As(err, &uerr) {
		t.Fatalf("Check on a missing file = %v, want *UnknownHostError", err)
	}
	want := UnknownHostError{Host: "[127.0.0.1]:5050", Fingerprint: fingerprint(t, key)}
	if *uerr != want {
		t.Errorf("Check error = %+v, want %+v", *uerr, want)
	}
	wantMsg := "knownhosts: the authenticity of host [127.0.0.1]:5050 can't be established; its key fingerprint is " + want.Fingerprint
	if err.Error() != wantMsg {
		t.Errorf("Error() = %q, want %q", err, wantMsg)
	}
	if _, err := os.Stat(s.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check created the file: stat error %v", err)
	}
}

func TestAddCheck(t *testing.T) {
	tests := []struct {
		name     string
		add      string
		check    []string // other spellings of the same host
		wantLine string   // host part of the written line
	}{
		{"ipv4", "127.0.0.1:5050", nil, "[127.0.0.1]:5050"},
		{"ipv4 in brackets", "[127.0.0.1]:5050", []string{"127.0.0.1:5050"}, "[127.0.0.1]:5050"},
		{"ipv6 loopback", "[::1]:5050", []string{"[0:0::1]:5050", "[0000:0000:0000:0000:0000:0000:0000:0001]:5050"}, "[::1]:5050"},
		{"ipv6", "[2001:DB8::A]:6000", []string{"[2001:db8:0::a]:6000"}, "[2001:db8::a]:6000"},
		{"ipv6 zone", "[fe80::1%eth0]:5050", nil, "[fe80::1%eth0]:5050"},
		{"name", "cubby.example.com:5050", []string{"CUBBY.Example.Com:5050"}, "[cubby.example.com]:5050"},
		{"upper case name", "Cubby.EXAMPLE.com:5050", []string{"cubby.example.com:5050"}, "[cubby.example.com]:5050"},
		{"ssh port", "localhost:22", nil, "[localhost]:22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			key := testKey(1)
			if err := s.Add(tt.add, key); err != nil {
				t.Fatalf("Add(%q): %v", tt.add, err)
			}
			want := tt.wantLine + " " + authorizedKey(t, key) + "\n"
			if got := readFile(t, s.Path); got != want {
				t.Errorf("file after Add(%q) =\n%q\nwant\n%q", tt.add, got, want)
			}
			for _, hp := range append([]string{tt.add}, tt.check...) {
				if err := s.Check(hp, key); err != nil {
					t.Errorf("Check(%q) after Add(%q): %v", hp, tt.add, err)
				}
			}
			// Adding the pinned key again changes nothing.
			if err := s.Add(tt.add, key); err != nil {
				t.Errorf("second Add(%q): %v", tt.add, err)
			}
			if got := readFile(t, s.Path); got != want {
				t.Errorf("file after second Add(%q) =\n%q\nwant\n%q", tt.add, got, want)
			}
			// The line is one OpenSSH's library understands.
			cb, err := xknownhosts.New(s.Path)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := ssh.NewPublicKey(key)
			host := strings.TrimPrefix(strings.SplitN(tt.wantLine, "]:", 2)[0], "[")
			port := strings.SplitN(tt.wantLine, "]:", 2)[1]
			addr := hostAddr("[" + host + "]:" + port)
			if err := cb(string(addr), addr, k); err != nil {
				t.Errorf("x/crypto knownhosts rejects the written line: %v", err)
			}
		})
	}
}

func TestChanged(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		other crypto.PublicKey
	}{
		{"same key type", testKey(2)},
		{"different key type", &ecKey.PublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			// Another host on line 2 and a comment on line 1, so
			// the error must name line 3.
			initial := "# cubby hosts\n[other.example]:5050 " + authorizedKey(t, testKey(9)) + "\n"
			if err := os.WriteFile(s.Path, []byte(initial), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := s.Add("host.example:5050", testKey(1)); err != nil {
				t.Fatal(err)
			}
			before := readFile(t, s.Path)

			want := ChangedHostError{
				Host:        "[host.example]:5050",
				Fingerprint: fingerprint(t, tt.other),
				Path:        s.Path,
				Line:        3,
			}
			for _, op := range []struct {
				name string
				f    func(string, crypto.PublicKey) error
			}{
				{"Check", s.Check},
				{"Add", s.Add},
			} {
				err := op.f("HOST.example:5050", tt.other)
				var cerr *ChangedHostError
				if !errors.As(err, &cerr) {
					t.Fatalf("%s with another key = %v, want *ChangedHostError", op.name, err)
				}
				if *cerr != want {
					t.Errorf("%s error = %+v, want %+v", op.name, *cerr, want)
				}
			}
			if after := readFile(t, s.Path); after != before {
				t.Errorf("Add of a changed key modified the file:\n%s", after)
			}
			wantMsg := fmt.Sprintf("knownhosts: WARNING: the host key for [host.example]:5050 has CHANGED (now %s); "+
				"someone may be intercepting the connection; if the change is expected, remove line 3 of %s",
				want.Fingerprint, s.Path)
			if got := want.Error(); got != wantMsg {
				t.Errorf("Error() = %q, want %q", got, wantMsg)
			}
			// The pinned key still checks out.
			if err := s.Check("host.example:5050", testKey(1)); err != nil {
				t.Errorf("Check with the pinned key: %v", err)
			}
		})
	}
}

func TestPortsAreDistinct(t *testing.T) {
	s := newStore(t)
	k1, k2 := testKey(1), testKey(2)
	if err := s.Add("127.0.0.1:5050", k1); err != nil {
		t.Fatal(err)
	}

	var uerr *UnknownHostError
	if err := s.Check("127.0.0.1:5051", k2); !errors.As(err, &uerr) {
		t.Fatalf("Check on another port = %v, want *UnknownHostError", err)
	}
	if err := s.Check("127.0.0.1:5051", k1); !errors.As(err, &uerr) {
		t.Fatalf("Check of the same key on another port = %v, want *UnknownHostError", err)
	}
	if err := s.Add("127.0.0.1:5051", k2); err != nil {
		t.Fatalf("Add on another port: %v", err)
	}

	tests := []struct {
		hostport string
		key      ed25519.PublicKey
		changed  bool
	}{
		{"127.0.0.1:5050", k1, false},
		{"127.0.0.1:5051", k2, false},
		{"127.0.0.1:5050", k2, true},
		{"127.0.0.1:5051", k1, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%x", tt.hostport, tt.key[:4]), func(t *testing.T) {
			err := s.Check(tt.hostport, tt.key)
			var cerr *ChangedHostError
			if tt.changed != errors.As(err, &cerr) || !tt.changed && err != nil {
				t.Errorf("Check = %v, want changed %v", err, tt.changed)
			}
		})
	}
	if got := strings.Count(readFile(t, s.Path), "\n"); got != 2 {
		t.Errorf("file has %d lines, want 2", got)
	}
}

func TestAddCreatesPrivateFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes on Windows")
	}
	dir := filepath.Join(t.TempDir(), "config", "cubby")
	s := &Store{Path: filepath.Join(dir, "known_hosts")}
	if err := s.Add("[::1]:5050", testKey(1)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want fs.FileMode
	}{
		{dir, 0o700},
		{filepath.Dir(dir), 0o700},
		{s.Path, 0o600},
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

// TestExistingFile checks that Add keeps what is already in a file written
// by hand or by OpenSSH tools, and that Check understands it.
func TestExistingFile(t *testing.T) {
	s := newStore(t)
	ssh22, hashed, wild, newKey := testKey(3), testKey(4), testKey(5), testKey(6)
	initial := strings.Join([]string{
		"# known hosts for cubby",
		"",
		"server.example " + authorizedKey(t, ssh22) + " a comment",
		xknownhosts.HashHostname("[hashed.example]:5050") + " " + authorizedKey(t, hashed),
		"  [*.wild.example]:5050\t" + authorizedKey(t, wild),
		"this line is not valid",
		"# no newline at the end",
	}, "\n")
	if err := os.WriteFile(s.Path, []byte(initial), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		hostport string
		key      ed25519.PublicKey
		want     string // "ok", "unknown" or "changed"
	}{
		{"server.example:22", ssh22, "ok"},
		{"server.example:5050", ssh22, "unknown"}, // The bare name means port 22.
		{"hashed.example:5050", hashed, "ok"},
		{"hashed.example:5050", newKey, "changed"},
		{"hashed.example:5051", hashed, "unknown"},
		{"a.wild.example:5050", wild, "ok"},
		{"wild.example:5050", wild, "unknown"},
		{"new.example:5050", newKey, "unknown"},
	}
	check := func(t *testing.T) {
		for _, tt := range tests {
			err := s.Check(tt.hostport, tt.key)
			var uerr *UnknownHostError
			var cerr *ChangedHostError
			var got string
			switch {
			case err == nil:
				got = "ok"
			case errors.As(err, &uerr):
				got = "unknown"
			case errors.As(err, &cerr):
				got = "changed"
			default:
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Check(%q) = %v, want %s", tt.hostport, err, tt.want)
			}
		}
	}
	t.Run("before Add", check)

	if err := s.Add("new.example:5050", newKey); err != nil {
		t.Fatal(err)
	}
	want := initial + "\n[new.example]:5050 " + authorizedKey(t, newKey) + "\n"
	if got := readFile(t, s.Path); got != want {
		t.Fatalf("file after Add =\n%s\nwant\n%s", got, want)
	}
	tests[len(tests)-1].want = "ok"
	t.Run("after Add", check)

	err := s.Check("new.example:5050", testKey(7))
	var cerr *ChangedHostError
	if !errors.As(err, &cerr) || cerr.Line != 8 {
		t.Errorf("Check of another key for the added host = %v, want a *ChangedHostError for line 8", err)
	}
}

func TestRevoked(t *testing.T) {
	s := newStore(t)
	revoked := testKey(1)
	initial := "@revoked * " + authorizedKey(t, revoked) + "\n"
	if err := os.WriteFile(s.Path, []byte(initial), 0o600); err != nil {
		t.Fatal(err)
	}
	want := RevokedHostError{
		Host:        "[cubby.example]:5050",
		Fingerprint: fingerprint(t, revoked),
		Path:        s.Path,
		Line:        1,
	}
	for _, op := range []struct {
		name string
		f    func(string, crypto.PublicKey) error
	}{
		{"Check", s.Check},
		{"Add", s.Add},
	} {
		t.Run(op.name, func(t *testing.T) {
			err := op.f("cubby.example:5050", revoked)
			var rerr *RevokedHostError
			if !errors.As(err, &rerr) {
				t.Fatalf("%s of a revoked key = %v, want *RevokedHostError", op.name, err)
			}
			if *rerr != want {
				t.Errorf("%s error = %+v, want %+v", op.name, *rerr, want)
			}
		})
	}
	if got := readFile(t, s.Path); got != initial {
		t.Errorf("Add of a revoked key modified the file:\n%s", got)
	}
	if err := s.Add("cubby.example:5050", testKey(2)); err != nil {
		t.Errorf("Add of an unrevoked key: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	tests := []struct {
		name     string
		hostport string
		key      crypto.PublicKey
		want     string
	}{
		{"no port", "cubby.example", testKey(1), "knownhosts: invalid host:port"},
		{"bare ipv6", "::1", testKey(1), "knownhosts: invalid host:port"},
		{"unbracketed ipv6", "::1:5050", testKey(1), "knownhosts: invalid host:port"},
		{"empty host", ":5050", testKey(1), "knownhosts: missing host"},
		{"empty port", "cubby.example:", testKey(1), "knownhosts: invalid port"},
		{"port zero", "cubby.example:0", testKey(1), "knownhosts: invalid port"},
		{"port too large", "cubby.example:65536", testKey(1), "knownhosts: invalid port"},
		{"port name", "cubby.example:cubby", testKey(1), "knownhosts: invalid port"},
		{"port leading zero", "cubby.example:05050", testKey(1), "knownhosts: invalid port"},
		{"wildcard", "*:5050", testKey(1), "knownhosts: invalid character '*'"},
		{"pattern list", "a.example,b.example:5050", testKey(1), "knownhosts: invalid character ','"},
		{"negation", "!a.example:5050", testKey(1), "knownhosts: invalid character '!'"},
		{"space", "a b:5050", testKey(1), "knownhosts: invalid character ' '"},
		{"newline", "a\nb:5050", testKey(1), "knownhosts: invalid character '\\n'"},
		{"hashed", "|1|abc:5050", testKey(1), "knownhosts: invalid character '|'"},
		{"marker", "@revoked:5050", testKey(1), "knownhosts: invalid character '@'"},
		{"zone with space", "[fe80::1%a b]:5050", testKey(1), "knownhosts: invalid character ' '"},
		{"bad ipv6", "[fe80::1::2]:5050", testKey(1), "knownhosts: invalid IPv6 address"},
		{"private key", "cubby.example:5050", ed25519.NewKeyFromSeed(make([]byte, 32)), "knownhosts: host key of [cubby.example]:5050: ssh: unsupported key type"},
		{"nil key", "cubby.example:5050", nil, "knownhosts: host key of [cubby.example]:5050: ssh: unsupported key type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			for _, op := range []struct {
				name string
				f    func(string, crypto.PublicKey) error
			}{
				{"Check", s.Check},
				{"Add", s.Add},
			} {
				err := op.f(tt.hostport, tt.key)
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
					t.Errorf("%s(%q) = %v, want an error starting %q", op.name, tt.hostport, err, tt.want)
				}
			}
			if _, err := os.Stat(s.Path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a failed Add created the file: stat error %v", err)
			}
		})
	}

	var empty Store
	if err := empty.Check("cubby.example:5050", testKey(1)); err == nil {
		t.Error("Check on a Store without a Path succeeded")
	}
}

func TestUnreadableFile(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{
			name: "no valid lines",
			setup: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("garbage\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "knownhosts: " + "%s: no valid entries",
		},
		{
			name: "directory",
			setup: func(t *testing.T, path string) {
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			},
			want: "knownhosts: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			tt.setup(t, s.Path)
			want := tt.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, s.Path)
			}
			for _, op := range []struct {
				name string
				f    func(string, crypto.PublicKey) error
			}{
				{"Check", s.Check},
				{"Add", s.Add},
			} {
				err := op.f("cubby.example:5050", testKey(1))
				var uerr *UnknownHostError
				if err == nil || errors.As(err, &uerr) || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("%s = %v, want an error starting %q", op.name, err, want)
				}
			}
		})
	}
}

// TestAddConcurrent pins two keys for one host at once: exactly one may win.
// Many other hosts are added at the same time, and all of them must land.
func TestAddConcurrent(t *testing.T) {
	if runtime.GOOS == "plan9" || runtime.GOOS == "wasip1" || runtime.GOOS == "js" {
		t.Skip("no file locking")
	}
	s := newStore(t)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Use separate Stores, as separate processes would.
			st := &Store{Path: s.Path}
			if i < 2 {
				errs[i] = st.Add("contested.example:5050", testKey(byte(100+i)))
			} else {
				errs[i] = st.Add(fmt.Sprintf("host%d.example:5050", i), testKey(byte(i)))
			}
		})
	}
	wg.Wait()

	var cerr *ChangedHostError
	switch {
	case errs[0] == nil && errors.As(errs[1], &cerr):
	case errs[1] == nil && errors.As(errs[0], &cerr):
	default:
		t.Errorf("concurrent Add of two keys for one host = %v, %v; want one nil and one *ChangedHostError", errs[0], errs[1])
	}
	for i := 2; i < n; i++ {
		if errs[i] != nil {
			t.Errorf("Add #%d: %v", i, errs[i])
		}
		if err := s.Check(fmt.Sprintf("host%d.example:5050", i), testKey(byte(i))); err != nil {
			t.Errorf("Check #%d: %v", i, err)
		}
	}
	if got := strings.Count(readFile(t, s.Path), "\n"); got != n-1 {
		t.Errorf("file has %d lines, want %d", got, n-1)
	}
}

func TestHostsFor(t *testing.T) {
	s := newStore(t)
	if hosts, err := s.HostsFor(testKey(1)); err != nil || hosts != nil {
		t.Errorf("HostsFor on a missing file = %v, %v; want nothing", hosts, err)
	}
	for _, hp := range []string{"cubby.example:5050", "[::1]:5050", "127.0.0.1:6000"} {
		if err := s.Add(hp, testKey(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add("other.example:5050", testKey(2)); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(s.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "# a comment\n\n|1|c2FsdA==|aGFzaA== %s\n", authorizedKey(t, testKey(1)))
	f.Close()
	hosts, err := s.HostsFor(testKey(1))
	want := "cubby.example:5050 [::1]:5050 127.0.0.1:6000 a hashed host name"
	if err != nil || strings.Join(hosts, " ") != want {
		t.Errorf("HostsFor = %q, %v; want %q", hosts, err, want)
	}
	if hosts, err := s.HostsFor(testKey(3)); err != nil || len(hosts) != 0 {
		t.Errorf("HostsFor(unpinned key) = %v, %v; want nothing", hosts, err)
	}

	f, _ = os.OpenFile(s.Path, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "@revoked * %s\n", authorizedKey(t, testKey(2)))
	f.Close()
	var rev *RevokedHostError
	if _, err := s.HostsFor(testKey(2)); !errors.As(err, &rev) || rev.Line != 8 {
		t.Errorf("HostsFor(revoked key) = %v; want *RevokedHostError at line 8", err)
	}
	os.WriteFile(s.Path, []byte("cubby.example:5050 ssh-ed25519 not-base64\n"), 0o600)
	if _, err := s.HostsFor(testKey(1)); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("HostsFor on a corrupt file = %v; want an error naming line 1", err)
	}
}
