package auth

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// countingRand is a deterministic io.Reader for tests: byte i of every read
// is start+i.
type countingRand byte

func (r countingRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r) + byte(i)
	}
	return len(p), nil
}

// testCB returns a 32-byte channel binding distinguished by b.
func testCB(b byte) []byte { return bytes.Repeat([]byte{b}, ChannelBindingLen) }

// testFakeKey returns a 32-byte fake salt key.
func testFakeKey() []byte { return bytes.Repeat([]byte("fake"), 8) }

// testUsers returns a lookup that knows alice (password "pencil", cheap
// parameters, fixed salt) and a disabled bob.
func testUsers(t testing.TB) UserLookup {
	t.Helper()
	alice, err := newVerifierWithSalt([]byte("pencil"), fixedSalt(), cheapParams())
	if err != nil {
		t.Fatal(err)
	}
	return func(user string) (Verifier, bool) {
		if user == "alice" {
			return alice, true
		}
		return Verifier{}, false // unknown, or bob who is disabled
	}
}

// transcript records one login exchange.
type transcript struct {
	clientFirst, serverFirst, clientFinal, serverFinal []byte
	serverErr, clientErr                               error // first error on each side
}

// runLogin runs a whole exchange between c and s, stopping at the first
// error.
func runLogin(c *ClientLogin, s *ServerLogin) transcript {
	var tr transcript
	tr.clientFirst = c.First()
	if tr.serverFirst, tr.serverErr = s.First(tr.clientFirst); tr.serverErr != nil {
		tr.clientErr = serverError(tr.serverFirst)
		return tr
	}
	if tr.clientFinal, tr.clientErr = c.Final(tr.serverFirst); tr.clientErr != nil {
		return tr
	}
	tr.serverFinal, tr.serverErr = s.Final(tr.clientFinal)
	tr.clientErr = c.Verify(tr.serverFinal)
	return tr
}

func newClient(t testing.TB, user, password string, cb []byte) *ClientLogin {
	t.Helper()
	c, err := NewClientLogin(user, []byte(password), cb)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoginSuccess(t *testing.T) {
	s := NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
	c := newClient(t, "alice", "pencil", testCB(1))
	tr := runLogin(c, s)
	if tr.serverErr != nil || tr.clientErr != nil {
		t.Fatalf("login failed: server %v, client %v", tr.serverErr, tr.clientErr)
	}
	if got := s.User(); got != "alice" {
		t.Errorf("User() = %q, want alice", got)
	}
	if !strings.HasPrefix(string(tr.serverFinal), "v=") {
		t.Errorf("server-final = %q, want v=...", tr.serverFinal)
	}
}

func TestLoginWrongPassword(t *testing.T) {
	s := NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
	c := newClient(t, "alice", "pencil!", testCB(1))
	tr := runLogin(c, s)
	if !errors.Is(tr.serverErr, ErrLoginFailed) {
		t.Fatalf("server error = %v, want ErrLoginFailed", tr.serverErr)
	}
	if !strings.Contains(tr.serverErr.Error(), "wrong password") {
		t.Errorf("server error %q lacks the log detail", tr.serverErr)
	}
	if string(tr.serverFinal) != failureMessage {
		t.Errorf("server-final = %q, want %q", tr.serverFinal, failureMessage)
	}
	if !errors.Is(tr.clientErr, ErrLoginFailed) {
		t.Errorf("client error = %v, want ErrLoginFailed", tr.clientErr)
	}
	if s.User() != "" {
		t.Errorf("User() = %q after failure, want empty", s.User())
	}
}

// serverFirstShape matches a server-first message with 43-character nonces,
// a 16-byte salt and any argon2id parameters.
var serverFirstShape = regexp.MustCompile(`^r=[A-Za-z0-9+/]{86},s=[A-Za-z0-9+/]{22}==,i=[1-9][0-9]*,k=argon2id:v19:m[1-9][0-9]*:p[1-9][0-9]*$`)

func TestLoginUnknownUser(t *testing.T) {
	for _, user := range []string{"mallory", "bob"} {
		t.Run(user, func(t *testing.T) {
			var firsts [2]string
			for i := range firsts {
				s := NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
				c := newClient(t, user, "pencil", testCB(1))
				tr := runLogin(c, s)
				if !errors.Is(tr.serverErr, ErrLoginFailed) || !errors.Is(tr.clientErr, ErrLoginFailed) {
					t.Fatalf("errors = server %v, client %v; want ErrLoginFailed on both", tr.serverErr, tr.clientErr)
				}
				if !strings.Contains(tr.serverErr.Error(), "unknown or disabled user") {
					t.Errorf("server error %q lacks the log detail", tr.serverErr)
				}
				if string(tr.serverFinal) != failureMessage {
					t.Errorf("server-final = %q, want %q", tr.serverFinal, failureMessage)
				}
				if !serverFirstShape.Match(tr.serverFirst) {
					t.Errorf("server-first %q has an unexpected shape", tr.serverFirst)
				}
				// Drop the nonce, which differs every time.
				_, firsts[i], _ = strings.Cut(string(tr.serverFirst), ",")
			}
			if firsts[0] != firsts[1] {
				t.Errorf("fake salt/params not deterministic: %q vs %q", firsts[0], firsts[1])
			}
			d := DefaultKDFParams()
			if want := "i=" + itoa(d.Time) + ",k=" + kdfAttr(d); !strings.HasSuffix(firsts[0], want) {
				t.Errorf("fake server-first %q does not carry DefaultKDFParams %q", firsts[0], want)
			}
		})
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// TestUnknownUserSameShape compares the server-first message for a known
// user whose verifier uses DefaultKDFParams with that for an unknown user:
// apart from nonce and salt bytes they must be indistinguishable.
func TestUnknownUserSameShape(t *testing.T) {
	known := Verifier{KDF: DefaultKDFParams(), Salt: bytes.Repeat([]byte{7}, 16)}
	lookup := func(user string) (Verifier, bool) { return known, user == "alice" }
	shape := func(user string) string {
		s := NewServerLogin(lookup, testFakeKey(), testCB(1))
		c := newClient(t, user, "x", testCB(1))
		sf, err := s.First(c.First())
		if err != nil {
			t.Fatalf("First for %q: %v", user, err)
		}
		attrs, ok := splitAttrs(string(sf), "rsik")
		if !ok {
			t.Fatalf("server-first %q malformed", sf)
		}
		return strings.Join([]string{itoa(uint32(len(attrs[0]))), itoa(uint32(len(attrs[1]))), attrs[2], attrs[3]}, "|")
	}
	if a, b := shape("alice"), shape("mallory"); a != b {
		t.Errorf("known user shape %q != unknown user shape %q", a, b)
	}
}

func TestFakeSaltDependsOnUserAndKey(t *testing.T) {
	salt := func(user string, key []byte) string {
		s := NewServerLogin(testUsers(t), key, testCB(1))
		sf, err := s.First(newClient(t, user, "x", testCB(1)).First())
		if err != nil {
			t.Fatal(err)
		}
		attrs, _ := splitAttrs(string(sf), "rsik")
		return attrs[1]
	}
	otherKey := bytes.Repeat([]byte("FAKE"), 8)
	if salt("mallory", testFakeKey()) == salt("trudy", testFakeKey()) {
		t.Error("two unknown users share a fake salt")
	}
	if salt("mallory", testFakeKey()) == salt("mallory", otherKey) {
		t.Error("fake salt does not depend on the fake salt key")
	}
}

func TestLoginChannelBindingMismatch(t *testing.T) {
	// The client is on one TLS connection, the server on another: a
	// man in the middle relaying messages between two connections.
	s := NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
	c := newClient(t, "alice", "pencil", testCB(2))
	tr := runLogin(c, s)
	if !errors.Is(tr.serverErr, ErrLoginFailed) || !strings.Contains(tr.serverErr.Error(), "channel binding") {
		t.Fatalf("server error = %v, want ErrLoginFailed for channel binding", tr.serverErr)
	}
	if !errors.Is(tr.clientErr, ErrLoginFailed) || s.User() != "" {
		t.Errorf("client error = %v, User() = %q", tr.clientErr, s.User())
	}
}

func TestLoginReplayOnOtherConnection(t *testing.T) {
	// Record a successful login on connection 1 ...
	s1 := NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
	tr := runLogin(newClient(t, "alice", "pencil", testCB(1)), s1)
	if tr.serverErr != nil || tr.clientErr != nil {
		t.Fatalf("recorded login failed: %v, %v", tr.serverErr, tr.clientErr)
	}
	// ... and replay it on connection 2 (different channel binding) and on a
	// fresh exchange over the same binding (new server nonce).
	for _, cb := range [][]byte{testCB(2), testCB(1)} {
		s := NewServerLogin(testUsers(t), testFakeKey(), cb)
		if _, err := s.First(tr.clientFirst); err != nil {
			t.Fatalf("First: %v", err)
		}
		msg, err := s.Final(tr.clientFinal)
		if !errors.Is(err, ErrLoginFailed) || string(msg) != failureMessage || s.User() != "" {
			t.Errorf("replay with cb %x: Final = %q, %v; User() = %q; want failure", cb[0], msg, err, s.User())
		}
	}
}

func TestClientRejectsForgedServerFinal(t *testing.T) {
	s := NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
	c := newClient(t, "alice", "pencil", testCB(1))
	sf, err := s.First(c.First())
	if err != nil {
		t.Fatal(err)
	}
	cf, err := c.Final(sf)
	if err != nil {
		t.Fatal(err)
	}
	good, err := s.Final(cf)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(string(good[2:]))
	sig[31] ^= 1
	forged := "v=" + base64.StdEncoding.EncodeToString(sig)
	// An impostor who knows nothing also cannot produce the right signature.
	zero := "v=" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, msg := range []string{forged, zero} {
		c2 := *c // same state, so Verify may be tried again
		if err := c2.Verify([]byte(msg)); !errors.Is(err, ErrServerNotVerified) {
			t.Errorf("Verify(%q) = %v, want ErrServerNotVerified", msg, err)
		}
	}
	if err := c.Verify(good); err != nil {
		t.Errorf("Verify(genuine) = %v", err)
	}
}

// verifySeeds are bad server-final messages, each noting whether
// ClientLogin.Verify's error must wrap ErrLoginFailed.
func verifySeeds() []struct {
	name, msg   string
	loginFailed bool
} {
	return []struct {
		name, msg   string
		loginFailed bool
	}{
		{"generic failure", "e=login-failed", true},
		{"other server error", "e=invalid-proof", true},
		{"empty", "", false},
		{"no v", "x=abc", false},
		{"extension", "v=" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + ",x=1", false},
		{"short signature", "v=AAAA", false},
		{"unpadded", "v=" + base64.RawStdEncoding.EncodeToString(make([]byte, 32)), false},
		{"too long", "v=" + strings.Repeat("A", MaxMessageLen), false},
	}
}

func TestClientVerifyErrors(t *testing.T) {
	for _, tt := range verifySeeds() {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
			c := newClient(t, "alice", "pencil", testCB(1))
			sf, _ := s.First(c.First())
			if _, err := c.Final(sf); err != nil {
				t.Fatal(err)
			}
			err := c.Verify([]byte(tt.msg))
			if err == nil {
				t.Fatalf("Verify(%q) succeeded", tt.msg)
			}
			if errors.Is(err, ErrLoginFailed) != tt.loginFailed {
				t.Errorf("Verify(%q) = %v; errors.Is(ErrLoginFailed) = %v, want %v", tt.msg, err, !tt.loginFailed, tt.loginFailed)
			}
			if !strings.HasPrefix(err.Error(), "auth: ") {
				t.Errorf("error %q lacks the auth: prefix", err)
			}
		})
	}
}

// clientFinalSeeds are server-first messages for a client whose nonce is
// cnonce, each with the error ClientLogin.Final must return.
func clientFinalSeeds(cnonce string) []struct{ name, msg, wantErr string } {
	const salt = "AAECAwQFBgcICQoLDA0ODw=="
	return []struct{ name, msg, wantErr string }{
		{"generic failure", "e=login-failed", "auth: login failed: wrong user name or password"},
		{"empty", "", "auth: malformed server-first message: want attributes r, s, i, k"},
		{"mandatory extension", "m=x,r=" + cnonce + "S,s=" + salt + ",i=1,k=argon2id:v19:m64:p1", "auth: malformed server-first message: want attributes r, s, i, k"},
		{"extra attribute", "r=" + cnonce + "S,s=" + salt + ",i=1,k=argon2id:v19:m64:p1,x=1", "auth: malformed server-first message: want attributes r, s, i, k"},
		{"wrong order", "s=" + salt + ",r=" + cnonce + "S,i=1,k=argon2id:v19:m64:p1", "auth: malformed server-first message: want attributes r, s, i, k"},
		{"nonce not ours", "r=" + strings.ToLower(cnonce) + "S,s=" + salt + ",i=1,k=argon2id:v19:m64:p1", "auth: server-first message has an invalid nonce"},
		{"nonce not extended", "r=" + cnonce + ",s=" + salt + ",i=1,k=argon2id:v19:m64:p1", "auth: server-first message has an invalid nonce"},
		{"nonce not printable", "r=" + cnonce + "S\x7f,s=" + salt + ",i=1,k=argon2id:v19:m64:p1", "auth: server-first message has an invalid nonce"},
		{"salt not base64", "r=" + cnonce + "S,s=AAEC!wQF,i=1,k=argon2id:v19:m64:p1", "auth: server-first message has a malformed salt"},
		{"salt short", "r=" + cnonce + "S,s=AAECAw==,i=1,k=argon2id:v19:m64:p1", "auth: server-first message: salt is 4 bytes, want 8 to 64"},
		{"time not number", "r=" + cnonce + "S,s=" + salt + ",i=x,k=argon2id:v19:m64:p1", "auth: server-first message has malformed argon2id parameters"},
		{"wrong kdf", "r=" + cnonce + "S,s=" + salt + ",i=1,k=argon2i:v19:m64:p1", "auth: server-first message has malformed argon2id parameters"},
		{"wrong version", "r=" + cnonce + "S,s=" + salt + ",i=1,k=argon2id:v16:m64:p1", "auth: server-first message has malformed argon2id parameters"},
		{"params swapped", "r=" + cnonce + "S,s=" + salt + ",i=1,k=argon2id:v19:p1:m64", "auth: server-first message has malformed argon2id parameters"},
		{"params extra", "r=" + cnonce + "S,s=" + salt + ",i=1,k=argon2id:v19:m64:p1:x", "auth: server-first message has malformed argon2id parameters"},
		{"4 GiB memory", "r=" + cnonce + "S,s=" + salt + ",i=1,k=argon2id:v19:m4194304:p1", "auth: refusing server's request: argon2id memory 4194304 KiB out of range [8, 1048576]"},
		{"time 0", "r=" + cnonce + "S,s=" + salt + ",i=0,k=argon2id:v19:m64:p1", "auth: refusing server's request: argon2id time 0 out of range [1, 16]"},
		{"time huge", "r=" + cnonce + "S,s=" + salt + ",i=4294967295,k=argon2id:v19:m64:p1", "auth: refusing server's request: argon2id time 4294967295 out of range [1, 16]"},
		{"threads 0", "r=" + cnonce + "S,s=" + salt + ",i=1,k=argon2id:v19:m64:p0", "auth: refusing server's request: argon2id threads 0 out of range [1, 16]"},
		{"too long", "r=" + cnonce + strings.Repeat("S", MaxMessageLen) + ",s=" + salt + ",i=1,k=argon2id:v19:m64:p1", "auth: server-first message too long"},
	}
}

// TestClientFinalErrors feeds bad server-first messages to a client.
func TestClientFinalErrors(t *testing.T) {
	c0, err := newClientLogin("alice", []byte("pencil"), testCB(1), countingRand(1))
	if err != nil {
		t.Fatal(err)
	}
	tests := clientFinalSeeds(c0.nonce)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newClientLogin("alice", []byte("pencil"), testCB(1), countingRand(1))
			if err != nil {
				t.Fatal(err)
			}
			c.First()
			msg, err := c.Final([]byte(tt.msg))
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Final(%q) = %q, %v; want error %q", tt.msg, msg, err, tt.wantErr)
			}
			if err := c.Verify([]byte("v=AAAA")); err == nil {
				t.Error("Verify succeeded after a failed Final")
			}
		})
	}
}

func TestNewClientLoginErrors(t *testing.T) {
	tests := []struct {
		name, user string
		cb         []byte
	}{
		{"empty user", "", testCB(1)},
		{"long user", strings.Repeat("u", MaxUserLen+1), testCB(1)},
		{"invalid UTF-8", "a\xffb", testCB(1)},
		{"NUL", "a\x00b", testCB(1)},
		{"no channel binding", "alice", nil},
		{"short channel binding", "alice", make([]byte, 31)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewClientLogin(tt.user, []byte("pw"), tt.cb); err == nil {
				t.Errorf("NewClientLogin(%q, cb %d bytes) succeeded", tt.user, len(tt.cb))
			}
		})
	}
	if _, err := NewClientLogin(strings.Repeat("u", MaxUserLen), []byte("pw"), testCB(1)); err != nil {
		t.Errorf("NewClientLogin with a %d-byte user: %v", MaxUserLen, err)
	}
}

func TestUserEscaping(t *testing.T) {
	const user = "a=b,c=="
	var got string
	lookup := func(u string) (Verifier, bool) {
		got = u
		return Verifier{}, false
	}
	c := newClient(t, user, "pw", testCB(1))
	first := string(c.First())
	if want := gs2Header + "n=a=3Db=2Cc=3D=3D,r=" + c.nonce; first != want {
		t.Errorf("First() = %q, want %q", first, want)
	}
	s := NewServerLogin(lookup, testFakeKey(), testCB(1))
	if _, err := s.First([]byte(first)); err != nil {
		t.Fatal(err)
	}
	if got != user {
		t.Errorf("server looked up %q, want %q", got, user)
	}
	for _, bad := range []string{"a=", "a=2", "a=2c", "a=3d", "a=41", "=", "a==3D"} {
		if u, ok := unescapeUser(bad); ok {
			t.Errorf("unescapeUser(%q) = %q, true; want false", bad, u)
		}
	}
}

// serverFirstSeeds are client-first messages for the server, good and bad.
func serverFirstSeeds() []struct{ name, msg, detail string } {
	const nonce = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
	return []struct{ name, msg, detail string }{
		{"no channel binding", "n,,n=alice,r=" + nonce, "does not start with GS2 header"},
		{"client supports binding", "y,,n=alice,r=" + nonce, "does not start with GS2 header"},
		{"other binding type", "p=tls-unique,,n=alice,r=" + nonce, "does not start with GS2 header"},
		{"authzid", "p=tls-exporter,a=root,n=alice,r=" + nonce, "does not start with GS2 header"},
		{"empty", "", "does not start with GS2 header"},
		{"header only", gs2Header, "malformed client-first"},
		{"mandatory extension", gs2Header + "m=x,n=alice,r=" + nonce, "malformed client-first"},
		{"extension", gs2Header + "n=alice,r=" + nonce + ",x=1", "malformed client-first"},
		{"wrong order", gs2Header + "r=" + nonce + ",n=alice", "malformed client-first"},
		{"missing nonce", gs2Header + "n=alice", "malformed client-first"},
		{"empty user", gs2Header + "n=,r=" + nonce, "empty user name"},
		{"bad escape", gs2Header + "n=al=ce,r=" + nonce, "invalid escape"},
		{"truncated escape", gs2Header + "n=alice=2,r=" + nonce, "invalid escape"},
		{"long user", gs2Header + "n=" + strings.Repeat("u", 65) + ",r=" + nonce, "longer than 64 bytes"},
		{"long escaped user", gs2Header + "n=" + strings.Repeat("=3D", 65) + ",r=" + nonce, "longer than 64 bytes"},
		{"long unescaped user", gs2Header + "n=" + strings.Repeat("=3D", 30) + strings.Repeat("u", 40) + ",r=" + nonce, "longer than 64 bytes"},
		{"escaped user at limit", gs2Header + "n=" + strings.Repeat("=2C", 64) + ",r=" + nonce, ""},
		{"very long user", gs2Header + "n=" + strings.Repeat("u", 200) + ",r=" + nonce, "longer than 64 bytes"},
		{"invalid UTF-8", gs2Header + "n=al\xffce,r=" + nonce, "not valid UTF-8"},
		{"short nonce", gs2Header + "n=alice,r=abc", "invalid client nonce"},
		{"nonce with space", gs2Header + "n=alice,r=" + nonce + " x", "invalid client nonce"},
		{"nonce with DEL", gs2Header + "n=alice,r=" + nonce + "\x7f", "invalid client nonce"},
		{"too long", gs2Header + "n=alice,r=" + strings.Repeat("A", MaxMessageLen), "longer than 4096 bytes"},
		{"good", gs2Header + "n=alice,r=" + nonce, ""},
	}
}

func TestServerFirstErrors(t *testing.T) {
	for _, tt := range serverFirstSeeds() {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
			msg, err := s.First([]byte(tt.msg))
			if tt.detail == "" {
				if err != nil {
					t.Fatalf("First(%q): %v", tt.msg, err)
				}
				return
			}
			if !errors.Is(err, ErrLoginFailed) || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("First(%q) error = %v, want ErrLoginFailed with %q", tt.msg, err, tt.detail)
			}
			if string(msg) != failureMessage {
				t.Errorf("First(%q) message = %q, want %q", tt.msg, msg, failureMessage)
			}
			if _, err := s.Final([]byte("c=x,r=y,p=z")); !errors.Is(err, ErrLoginFailed) {
				t.Errorf("Final after failed First = %v", err)
			}
		})
	}
}

// serverFinalSeeds are client-final messages, derived from a genuine one,
// for a server whose First accepted knownAnswer's client-first.
func serverFinalSeeds(genuine string) []struct{ name, msg, detail string } {
	attrs, _ := splitAttrs(genuine, "crp")
	c, r, p := attrs[0], attrs[1], attrs[2]
	zeroProof := base64.StdEncoding.EncodeToString(make([]byte, 32))
	return []struct{ name, msg, detail string }{
		{"empty", "", "malformed client-final"},
		{"missing proof", "c=" + c + ",r=" + r, "malformed client-final"},
		{"extension", "c=" + c + ",r=" + r + ",x=1,p=" + p, "malformed client-final"},
		{"wrong order", "r=" + r + ",c=" + c + ",p=" + p, "malformed client-final"},
		{"no channel binding", "c=biws,r=" + r + ",p=" + p, "channel binding mismatch"},
		{"bad channel binding b64", "c=" + c[1:] + ",r=" + r + ",p=" + p, "malformed channel binding"},
		{"other channel binding", "c=" + channelBindingAttr(testCB(2)) + ",r=" + r + ",p=" + p, "channel binding mismatch"},
		{"nonce prefix only", "c=" + c + ",r=" + r[:43] + ",p=" + p, "nonce mismatch"},
		{"nonce changed", "c=" + c + ",r=" + r[:len(r)-1] + "A,p=" + p, "nonce mismatch"},
		{"short proof", "c=" + c + ",r=" + r + ",p=AAAA", "malformed proof"},
		{"unpadded proof", "c=" + c + ",r=" + r + ",p=" + strings.TrimRight(p, "="), "malformed proof"},
		{"zero proof", "c=" + c + ",r=" + r + ",p=" + zeroProof, "wrong password"},
		{"too long", "c=" + c + ",r=" + r + strings.Repeat("A", MaxMessageLen) + ",p=" + p, "longer than 4096 bytes"},
		{"good", genuine, ""},
	}
}

func TestServerFinalErrors(t *testing.T) {
	ka := knownAnswer(t)
	for _, tt := range serverFinalSeeds(ka.clientFinal) {
		t.Run(tt.name, func(t *testing.T) {
			s := newServerLogin(testUsers(t), testFakeKey(), testCB(1), countingRand(2))
			if _, err := s.First([]byte(ka.clientFirst)); err != nil {
				t.Fatal(err)
			}
			msg, err := s.Final([]byte(tt.msg))
			if tt.detail == "" {
				if err != nil || string(msg) != ka.serverFinal || s.User() != "alice" {
					t.Fatalf("Final(genuine) = %q, %v, User %q", msg, err, s.User())
				}
				return
			}
			if !errors.Is(err, ErrLoginFailed) || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("Final(%q) error = %v, want ErrLoginFailed with %q", tt.msg, err, tt.detail)
			}
			if string(msg) != failureMessage || s.User() != "" {
				t.Errorf("Final(%q) = %q, User %q; want %q and no user", tt.msg, msg, s.User(), failureMessage)
			}
		})
	}
}

func TestServerMisconfigured(t *testing.T) {
	c := newClient(t, "alice", "pencil", testCB(1))
	tests := []struct {
		name   string
		lookup UserLookup
		key    []byte
		cb     []byte
	}{
		{"short fake key", testUsers(t), make([]byte, 31), testCB(1)},
		{"nil fake key", testUsers(t), nil, testCB(1)},
		{"no channel binding", testUsers(t), testFakeKey(), nil},
		{"nil lookup", nil, testFakeKey(), testCB(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServerLogin(tt.lookup, tt.key, tt.cb)
			msg, err := s.First(c.First())
			if !errors.Is(err, ErrLoginFailed) || !strings.Contains(err.Error(), "misconfigured") || string(msg) != failureMessage {
				t.Errorf("First = %q, %v; want failure for misconfiguration", msg, err)
			}
		})
	}
}

func TestServerBadStoredVerifier(t *testing.T) {
	bad := Verifier{KDF: KDFParams{Time: 0, MemoryKiB: 64, Threads: 1}, Salt: fixedSalt()}
	lookup := func(string) (Verifier, bool) { return bad, true }
	s := NewServerLogin(lookup, testFakeKey(), testCB(1))
	c := newClient(t, "alice", "pencil", testCB(1))
	tr := runLogin(c, s)
	if !errors.Is(tr.serverErr, ErrLoginFailed) || !strings.Contains(tr.serverErr.Error(), "stored verifier unusable") {
		t.Fatalf("server error = %v, want unusable verifier", tr.serverErr)
	}
	// The broken account must look like an unknown user to the client.
	if !serverFirstShape.Match(tr.serverFirst) || !strings.HasSuffix(string(tr.serverFirst), kdfAttr(DefaultKDFParams())) {
		t.Errorf("server-first %q does not look like an unknown user's", tr.serverFirst)
	}
}

func TestCallOrder(t *testing.T) {
	s := NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
	if _, err := s.Final([]byte("c=x,r=y,p=z")); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("Final before First = %v", err)
	}
	if _, err := s.First(newClient(t, "alice", "pencil", testCB(1)).First()); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("First after failure = %v", err)
	}

	c := newClient(t, "alice", "pencil", testCB(1))
	if _, err := c.Final([]byte("r=x")); err == nil {
		t.Error("client Final before First succeeded")
	}
	c = newClient(t, "alice", "pencil", testCB(1))
	if err := c.Verify([]byte("v=x")); err == nil {
		t.Error("client Verify before Final succeeded")
	}

	// A completed exchange cannot be continued.
	s = NewServerLogin(testUsers(t), testFakeKey(), testCB(1))
	c = newClient(t, "alice", "pencil", testCB(1))
	tr := runLogin(c, s)
	if tr.serverErr != nil || tr.clientErr != nil {
		t.Fatal(tr.serverErr, tr.clientErr)
	}
	if _, err := s.Final(tr.clientFinal); !errors.Is(err, ErrLoginFailed) {
		t.Errorf("second Final = %v", err)
	}
	if err := c.Verify(tr.serverFinal); err == nil {
		t.Error("second Verify succeeded")
	}
}

// TestRFC7677Vector checks the SCRAM computations against the SCRAM-SHA-256
// example of RFC 7677 section 3, substituting its PBKDF2 SaltedPassword for
// argon2id.
func TestRFC7677Vector(t *testing.T) {
	const (
		clientFirstBare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
		serverFirst     = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
		withoutProof    = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		wantProof       = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
		wantServerSig   = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	)
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	salted, err := pbkdf2.Key(sha256.New, "pencil", salt, 4096, 32)
	if err != nil {
		t.Fatal(err)
	}
	authMessage := clientFirstBare + "," + serverFirst + "," + withoutProof
	proof, serverSig := clientProof(salted, authMessage)
	if got := base64.StdEncoding.EncodeToString(proof[:]); got != wantProof {
		t.Errorf("proof = %s, want %s", got, wantProof)
	}
	if got := base64.StdEncoding.EncodeToString(serverSig[:]); got != wantServerSig {
		t.Errorf("server signature = %s, want %s", got, wantServerSig)
	}

	// The server side: a verifier built from the same SaltedPassword.
	var v Verifier
	v.StoredKey = sha256.Sum256(hmacSHA256(salted, []byte("Client Key")))
	copy(v.ServerKey[:], hmacSHA256(salted, []byte("Server Key")))
	ok, sig := checkProof(&v, authMessage, proof[:])
	if !ok || sig != serverSig {
		t.Errorf("checkProof(genuine) = %v, %x; want true, %x", ok, sig, serverSig)
	}
	proof[0] ^= 0x80
	if ok, _ := checkProof(&v, authMessage, proof[:]); ok {
		t.Error("checkProof accepted a modified proof")
	}
}

// knownAnswerMessages are the pinned messages of TestKnownAnswer.
type knownAnswerMessages struct {
	clientFirst, serverFirst, clientFinal, serverFinal string
}

// knownAnswer runs a login with fixed randomness (client nonce bytes
// 1..32, server nonce bytes 2..33, salt 0..15, channel binding 32×0x01,
// argon2id t=1 m=64 p=1, user alice, password pencil) and returns its
// messages.
func knownAnswer(t testing.TB) knownAnswerMessages {
	t.Helper()
	c, err := newClientLogin("alice", []byte("pencil"), testCB(1), countingRand(1))
	if err != nil {
		t.Fatal(err)
	}
	s := newServerLogin(testUsers(t), testFakeKey(), testCB(1), countingRand(2))
	tr := runLogin(c, s)
	if tr.serverErr != nil || tr.clientErr != nil {
		t.Fatalf("known-answer login failed: %v, %v", tr.serverErr, tr.clientErr)
	}
	return knownAnswerMessages{string(tr.clientFirst), string(tr.serverFirst), string(tr.clientFinal), string(tr.serverFinal)}
}

func TestKnownAnswer(t *testing.T) {
	// Pinned. The proof and signature were cross-checked against an
	// independent computation (Python hmac/hashlib from the argon2id
	// SaltedPassword 30251de5…6da16f41).
	want := knownAnswerMessages{
		clientFirst: "p=tls-exporter,,n=alice,r=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA",
		serverFirst: "r=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICE," +
			"s=AAECAwQFBgcICQoLDA0ODw==,i=1,k=argon2id:v19:m64:p1",
		clientFinal: "c=cD10bHMtZXhwb3J0ZXIsLAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB," +
			"r=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICE," +
			"p=N/cqF4ZumvruFs7KHC2XPU7XdhYffBf7R+3FTaTi0K0=",
		serverFinal: "v=6+9QUDZUTlH3rfmq16+BjL84VAqhZJ2dLaBPpLxPSdc=",
	}
	got := knownAnswer(t)
	if got != want {
		t.Errorf("known-answer messages differ:\n got %+v\nwant %+v", got, want)
	}
}
