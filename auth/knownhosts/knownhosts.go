package knownhosts

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// DefaultPath returns the default location of the cubby client's
// known_hosts file: known_hosts in a "cubby" directory under the user's
// configuration directory (os.UserConfigDir).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("knownhosts: %w", err)
	}
	return filepath.Join(dir, "cubby", "known_hosts"), nil
}

// A Store is a known_hosts file. A missing file is an empty store; [Store.Add]
// creates it.
//
// Methods on one Store, or on Stores with the same Path, may be called
// concurrently, also from several processes: Add locks the file while it
// checks and appends (except on systems without file locking, such as
// Plan 9 and WebAssembly).
type Store struct {
	// Path is the name of the known_hosts file.
	Path string
}

// UnknownHostError is returned by [Store.Check] for a host that has no key
// in the store.
type UnknownHostError struct {
	// Host is the normalized [host]:port of the server.
	Host string
	// Fingerprint is the SHA256 fingerprint of the server's key, as
	// ssh-keygen -lf would print it.
	Fingerprint string
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("knownhosts: the authenticity of host %s can't be established; its key fingerprint is %s",
		e.Host, e.Fingerprint)
}

// ChangedHostError is returned by [Store.Check] and [Store.Add] for a host
// whose key in the store differs from the one presented, including a key of a
// different type. It may mean that someone is intercepting the connection.
type ChangedHostError struct {
	// Host is the normalized [host]:port of the server.
	Host string
	// Fingerprint is the SHA256 fingerprint of the key the server
	// presented, not of the one in the store.
	Fingerprint string
	// Path and Line locate the store's entry for the host. If there are
	// several, Line is the first.
	Path string
	Line int
}

func (e *ChangedHostError) Error() string {
	return fmt.Sprintf("knownhosts: WARNING: the host key for %s has CHANGED (now %s); "+
		"someone may be intercepting the connection; if the change is expected, remove line %d of %s",
		e.Host, e.Fingerprint, e.Line, e.Path)
}

// RevokedHostError is returned by [Store.Check] and [Store.Add] for a key
// that the store marks as revoked, whatever the host.
type RevokedHostError struct {
	// Host is the normalized [host]:port of the server.
	Host string
	// Fingerprint is the SHA256 fingerprint of the revoked key.
	Fingerprint string
	// Path and Line locate the @revoked entry.
	Path string
	Line int
}

func (e *RevokedHostError) Error() string {
	return fmt.Sprintf("knownhosts: the host key %s presented by %s is revoked by line %d of %s",
		e.Fingerprint, e.Host, e.Line, e.Path)
}

// Check reports whether pub is the pinned key for hostport.
//
// hostport is "host:port", with IPv6 addresses in brackets as in
// "[::1]:5050"; the host name is case-insensitive. pub is the server's
// public key, such as an ed25519.PublicKey taken from its TLS certificate.
// Only an entry for the same host and port counts: a key pinned for
// 127.0.0.1:5050 says nothing about 127.0.0.1:5051.
//
// Check returns nil if the store holds pub for hostport, an
// *[UnknownHostError] if it holds no key for hostport, a
// *[ChangedHostError] if it holds only other keys for hostport, and a
// *[RevokedHostError] if it marks pub as revoked.
func (s *Store) Check(hostport string, pub crypto.PublicKey) error {
	host, key, err := s.prepare(hostport, pub)
	if err != nil {
		return err
	}
	return s.check(host, key)
}

// Add pins pub as the key of hostport by appending a line to the store,
// creating the file with mode 0600 (and its directory with mode 0700) if
// needed. Existing lines, including comments, are kept as they are.
//
// If pub is already pinned for hostport, Add does nothing. Add never pins a
// second key for a host: if the store holds another key for hostport it
// returns a *[ChangedHostError], and if it marks pub as revoked a
// *[RevokedHostError], without changing the file.
func (s *Store) Add(hostport string, pub crypto.PublicKey) (err error) {
	host, key, err := s.prepare(hostport, pub)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("knownhosts: %w", err)
	}
	f, err := os.OpenFile(s.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("knownhosts: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("knownhosts: %w", cerr)
		}
	}()
	// Hold the lock from the check to the append, so that two clients
	// pinning different keys for one host cannot both succeed.
	if err := lockFile(f); err != nil {
		return fmt.Errorf("knownhosts: locking %s: %w", s.Path, err)
	}
	defer unlockFile(f)

	var uerr *UnknownHostError
	if err := s.check(host, key); err == nil {
		return nil // Already pinned.
	} else if !errors.As(err, &uerr) {
		return err
	}

	line := []byte(host + " " + string(ssh.MarshalAuthorizedKey(key)))
	// Keep the new entry off the end of a last line that lacks its
	// newline, as a hand-edited file may.
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("knownhosts: %w", err)
	}
	if size := fi.Size(); size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil && err != io.EOF {
			return fmt.Errorf("knownhosts: reading %s: %w", s.Path, err)
		}
		if last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	// With O_APPEND, one write adds the whole line at the end.
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("knownhosts: writing %s: %w", s.Path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("knownhosts: writing %s: %w", s.Path, err)
	}
	return nil
}

// maxFileSize bounds how much of a known_hosts file HostsFor reads.
const maxFileSize = 16 << 20

// HostsFor returns the hosts for which the store pins pub, for someone
// who holds something the key signed (a drop-box receipt) rather than a
// connection to a host. Each is "host:port" (as [Store.Check] takes it),
// or "a hashed host name" for an entry that OpenSSH hashed. A store
// that marks pub as revoked returns a *[RevokedHostError]; a missing
// store pins nothing.
func (s *Store) HostsFor(pub crypto.PublicKey) ([]string, error) {
	if s.Path == "" {
		return nil, errors.New("knownhosts: Store has no Path")
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("knownhosts: %w", err)
	}
	f, err := os.Open(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("knownhosts: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("knownhosts: reading %s: %w", s.Path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("knownhosts: %s is larger than %d bytes", s.Path, maxFileSize)
	}
	want := key.Marshal()
	var hosts []string
	for i, line := range strings.Split(string(data), "\n") {
		if l := strings.TrimSpace(line); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		marker, patterns, k, _, _, err := ssh.ParseKnownHosts([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("knownhosts: %s:%d: %w", s.Path, i+1, err)
		}
		if !bytes.Equal(k.Marshal(), want) {
			continue
		}
		switch marker {
		case "revoked":
			return nil, &RevokedHostError{Host: strings.Join(patterns, ","), Fingerprint: ssh.FingerprintSHA256(key), Path: s.Path, Line: i + 1}
		case "":
			for _, p := range patterns {
				hosts = append(hosts, displayHost(p))
			}
		}
	}
	return hosts, nil
}

// displayHost turns a known_hosts pattern into what a user types:
// "[example.org]:5050" becomes "example.org:5050", a hashed name a
// description. Other patterns (wildcards, negations) stay as they are.
func displayHost(pattern string) string {
	if strings.HasPrefix(pattern, "|1|") {
		return "a hashed host name"
	}
	if strings.HasPrefix(pattern, "[") {
		if host, port, err := net.SplitHostPort(pattern); err == nil {
			return net.JoinHostPort(host, port)
		}
	}
	return pattern
}

// prepare checks the arguments of Check and Add and converts them to a
// normalized [host]:port and an SSH public key.
func (s *Store) prepare(hostport string, pub crypto.PublicKey) (string, ssh.PublicKey, error) {
	if s.Path == "" {
		return "", nil, errors.New("knownhosts: Store has no Path")
	}
	host, err := normalize(hostport)
	if err != nil {
		return "", nil, err
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", nil, fmt.Errorf("knownhosts: host key of %s: %w", host, err)
	}
	return host, key, nil
}

// check is Check with normalized arguments.
func (s *Store) check(host string, key ssh.PublicKey) error {
	callback, err := xknownhosts.New(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return &UnknownHostError{Host: host, Fingerprint: ssh.FingerprintSHA256(key)}
	}
	if err != nil {
		var perr *fs.PathError
		if errors.As(err, &perr) {
			return fmt.Errorf("knownhosts: %w", err)
		}
		// Parse errors from x/crypto already name the package
		// (knownhosts: …) and the file.
		return err
	}

	// The callback matches the hostname argument (preferred over the
	// address when set) against the host patterns of each line. It
	// wants a net.Addr too, which it only parses; pass the same
	// host and port.
	err = callback(host, hostAddr(host), key)
	var kerr *xknownhosts.KeyError
	var rerr *xknownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rerr):
		return &RevokedHostError{
			Host:        host,
			Fingerprint: ssh.FingerprintSHA256(key),
			Path:        rerr.Revoked.Filename,
			Line:        rerr.Revoked.Line,
		}
	case errors.As(err, &kerr) && len(kerr.Want) == 0:
		return &UnknownHostError{Host: host, Fingerprint: ssh.FingerprintSHA256(key)}
	case errors.As(err, &kerr):
		return &ChangedHostError{
			Host:        host,
			Fingerprint: ssh.FingerprintSHA256(key),
			Path:        kerr.Want[0].Filename,
			Line:        kerr.Want[0].Line,
		}
	default:
		return fmt.Errorf("knownhosts: checking %s: %w", host, err)
	}
}

// hostAddr is a net.Addr for a normalized [host]:port.
type hostAddr string

func (a hostAddr) Network() string { return "tcp" }
func (a hostAddr) String() string  { return string(a) }

// normalize returns hostport in the "[host]:port" form used in the store,
// with the host name in lower case and an IP address in canonical form. It
// refuses host names that are empty or that hold characters with a meaning
// in known_hosts patterns, such as '*' and ',', so that a hostile name
// cannot pin a key for other hosts.
func normalize(hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("knownhosts: invalid host:port %q: %w", hostport, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 || strconv.FormatUint(n, 10) != port {
		return "", fmt.Errorf("knownhosts: invalid port in %q", hostport)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.String()
	} else if strings.Contains(host, ":") {
		return "", fmt.Errorf("knownhosts: invalid IPv6 address in %q", hostport)
	}
	if host == "" {
		return "", fmt.Errorf("knownhosts: missing host in %q", hostport)
	}
	host = strings.ToLower(host)
	// Besides names, this admits IPv6 addresses and their zones.
	for _, c := range host {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.ContainsRune("-._:%", c)) {
			return "", fmt.Errorf("knownhosts: invalid character %q in host %q", c, host)
		}
	}
	return "[" + host + "]:" + port, nil
}
