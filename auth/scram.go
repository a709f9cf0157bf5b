package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on the login messages. Longer or larger input is rejected before it
// is parsed further.
const (
	// MaxMessageLen is the maximum length in bytes of any login message.
	MaxMessageLen = 4096
	// MaxUserLen is the maximum length in bytes of a user name, before
	// SCRAM escaping.
	MaxUserLen = 64
	// ChannelBindingLen is the length of the tls-exporter channel binding
	// (RFC 9266) that both sides must pass in.
	ChannelBindingLen = 32
)

const (
	gs2Header      = "p=tls-exporter,," // GS2 header: channel binding required, no authzid
	nonceRandLen   = 32                 // random bytes in each side's nonce
	minNonceLen    = 16                 // shortest client nonce accepted, in characters
	maxNonceLen    = 256                // longest client or server nonce part accepted
	kdfAttrPrefix  = "argon2id:v19:"    // start of the k= attribute value
	failureMessage = "e=login-failed"   // the one server-error message
	failureValue   = "login-failed"
	minFakeKeyLen  = 32
	fakeSaltLabel  = "cubby fake salt"
	fakeKeyLabel   = "cubby fake key"
)

// Mechanism names this login exchange on the wire (wire.AuthStart), in
// the SASL style: SCRAM with argon2id and SHA-256, with channel binding.
const Mechanism = "SCRAM-ARGON2ID-SHA-256-PLUS"

// ErrLoginFailed is the one generic failure of a login. The server reports
// it (as the message "e=login-failed") for a wrong password, an unknown or
// disabled user, a malformed message or a channel binding mismatch alike, so
// that a client cannot tell these apart. ServerLogin errors wrap it with a
// detail meant for server logs; ClientLogin returns it when the server
// reports the failure.
var ErrLoginFailed = errors.New("auth: login failed: wrong user name or password")

// ErrServerNotVerified is returned by ClientLogin.Verify when the server's
// signature is wrong: the server could not prove it knows the password
// verifier, so it may be an impostor.
var ErrServerNotVerified = errors.New("auth: the server could not prove it knows your password (possible impostor)")

// loginError is a server-side login failure. It wraps ErrLoginFailed and
// carries a detail for logs that must not be sent to the client.
type loginError struct{ detail string }

func (e *loginError) Error() string { return "auth: login failed: " + e.detail }
func (e *loginError) Unwrap() error { return ErrLoginFailed }

// decodeStrict decodes canonical base64 only. Strict rejects non-zero
// padding bits, but every Go decoder skips CR and LF, so "p=ab\rcd" would
// pass as "p=abcd": a second spelling of the same message, which a
// protocol that authenticates bytes must not accept.
func decodeStrict(enc *base64.Encoding, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("auth: line break in base64")
	}
	return enc.Strict().DecodeString(s)
}

// randomNonce returns nonceRandLen bytes from r as unpadded standard base64.
func randomNonce(r io.Reader) (string, error) {
	b := make([]byte, nonceRandLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("auth: reading random nonce: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// checkUser returns "" if user is acceptable as a SCRAM user name: 1 to
// MaxUserLen bytes of valid UTF-8 without NUL.
func checkUser(user string) string {
	switch {
	case user == "":
		return "empty user name"
	case len(user) > MaxUserLen:
		return fmt.Sprintf("user name longer than %d bytes", MaxUserLen)
	case !utf8.ValidString(user):
		return "user name is not valid UTF-8"
	case strings.IndexByte(user, 0) >= 0:
		return "user name contains NUL"
	}
	return ""
}

// escapeUser applies SCRAM saslname escaping: "=" becomes "=3D" and ","
// becomes "=2C".
func escapeUser(user string) string {
	return strings.ReplaceAll(strings.ReplaceAll(user, "=", "=3D"), ",", "=2C")
}

// unescapeUser reverses escapeUser. It reports false for an "=" not
// followed by "2C" or "3D".
func unescapeUser(s string) (string, bool) {
	if strings.IndexByte(s, '=') < 0 {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", false
		}
		switch s[i+1 : i+3] {
		case "2C":
			b.WriteByte(',')
		case "3D":
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// printable reports whether s consists only of the RFC 5802 "printable"
// characters: ASCII 0x21 to 0x7E except ",".
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// splitAttrs splits msg into exactly len(names) comma-separated attributes
// whose one-letter names are names, in that order, and returns their values.
func splitAttrs(msg, names string) ([]string, bool) {
	parts := strings.Split(msg, ",")
	if len(parts) != len(names) {
		return nil, false
	}
	for i, p := range parts {
		if len(p) < 2 || p[0] != names[i] || p[1] != '=' {
			return nil, false
		}
		parts[i] = p[2:]
	}
	return parts, true
}

// parseDecimal parses a canonical decimal: digits only, no leading zeros.
func parseDecimal(s string, bits int) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return 0, false
	}
	return n, true
}

// kdfAttr formats the value of the k= attribute for p.
func kdfAttr(p KDFParams) string {
	return kdfAttrPrefix + "m" + strconv.FormatUint(uint64(p.MemoryKiB), 10) +
		":p" + strconv.FormatUint(uint64(p.Threads), 10)
}

// parseKDFAttr parses the i= and k= attribute values into KDFParams without
// checking bounds.
func parseKDFAttr(i, k string) (KDFParams, bool) {
	t, ok := parseDecimal(i, 32)
	if !ok {
		return KDFParams{}, false
	}
	rest, ok := strings.CutPrefix(k, kdfAttrPrefix)
	if !ok {
		return KDFParams{}, false
	}
	ms, ps, ok := strings.Cut(rest, ":")
	if !ok || len(ms) < 2 || ms[0] != 'm' || len(ps) < 2 || ps[0] != 'p' {
		return KDFParams{}, false
	}
	m, ok := parseDecimal(ms[1:], 32)
	if !ok {
		return KDFParams{}, false
	}
	p, ok := parseDecimal(ps[1:], 8)
	if !ok {
		return KDFParams{}, false
	}
	return KDFParams{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(p)}, true
}

// channelBindingAttr is the value of the c= attribute for cb.
func channelBindingAttr(cb []byte) string {
	return base64.StdEncoding.EncodeToString(append([]byte(gs2Header), cb...))
}

// clientProof computes, from SaltedPassword and the AuthMessage, the
// ClientProof the client sends and the ServerSignature it expects.
func clientProof(salted []byte, authMessage string) (proof, serverSig [32]byte) {
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	storedKey := sha256.Sum256(clientKey)
	clientSig := hmacSHA256(storedKey[:], []byte(authMessage))
	subtle.XORBytes(proof[:], clientKey, clientSig)
	serverKey := hmacSHA256(salted, []byte("Server Key"))
	copy(serverSig[:], hmacSHA256(serverKey, []byte(authMessage)))
	clear(clientKey)
	clear(serverKey)
	return proof, serverSig
}

// checkProof reports whether proof shows knowledge of the ClientKey behind
// v.StoredKey for authMessage, and returns the ServerSignature. It takes the
// same time whether or not the proof is right.
func checkProof(v *Verifier, authMessage string, proof []byte) (ok bool, serverSig [32]byte) {
	clientSig := hmacSHA256(v.StoredKey[:], []byte(authMessage))
	clientKey := make([]byte, len(clientSig))
	subtle.XORBytes(clientKey, proof, clientSig)
	storedKey := sha256.Sum256(clientKey)
	ok = subtle.ConstantTimeCompare(storedKey[:], v.StoredKey[:]) == 1
	copy(serverSig[:], hmacSHA256(v.ServerKey[:], []byte(authMessage)))
	return ok, serverSig
}

type loginState uint8

const (
	stateNew       loginState = iota // nothing sent or received yet
	stateFirstDone                   // first message handled
	stateFinalDone                   // client: client-final sent, awaiting server-final
	stateSucceeded                   // login complete
	stateFailed                      // a step failed; every later call fails
)

// ClientLogin is the client side of one login exchange. Use it as
//
//	c, err := NewClientLogin(user, password, cb)
//	send(c.First())
//	clientFinal, err := c.Final(receive()) // server-first
//	send(clientFinal)
//	err = c.Verify(receive())              // server-final
//
// and treat the login as successful only if Verify returns nil. A
// ClientLogin is single-use and not safe for concurrent use.
type ClientLogin struct {
	password []byte
	cb       []byte
	limit    KDFParams // largest KDF parameters accepted from the server
	nonce    string    // client nonce
	state    loginState

	clientFirstBare string
	serverSig       [32]byte // expected ServerSignature
}

// NewClientLogin starts a login as user with password, bound to the TLS
// connection whose RFC 9266 tls-exporter value is channelBinding (exactly
// ChannelBindingLen bytes, the output of ExportKeyingMaterial with label
// "EXPORTER-Channel-Binding" and no context). The user name must be 1 to
// MaxUserLen bytes of UTF-8 without NUL; other syntax rules are the
// caller's. The password is used as raw bytes with no normalization.
func NewClientLogin(user string, password []byte, channelBinding []byte) (*ClientLogin, error) {
	return newClientLogin(user, password, channelBinding, rand.Reader)
}

// newClientLogin is NewClientLogin with the randomness source r.
func newClientLogin(user string, password, channelBinding []byte, r io.Reader) (*ClientLogin, error) {
	if msg := checkUser(user); msg != "" {
		return nil, errors.New("auth: " + msg)
	}
	if len(channelBinding) != ChannelBindingLen {
		return nil, fmt.Errorf("auth: channel binding is %d bytes, want %d", len(channelBinding), ChannelBindingLen)
	}
	nonce, err := randomNonce(r)
	if err != nil {
		return nil, err
	}
	return &ClientLogin{
		password:        append([]byte(nil), password...),
		cb:              append([]byte(nil), channelBinding...),
		limit:           maxKDFParams(),
		nonce:           nonce,
		clientFirstBare: "n=" + escapeUser(user) + ",r=" + nonce,
	}, nil
}

// First returns the client-first-message,
//
//	p=tls-exporter,,n=<user>,r=<client nonce>
//
// where <user> is SCRAM-escaped. It may be called more than once and always
// returns the same bytes.
func (c *ClientLogin) First() []byte {
	if c.state == stateNew {
		c.state = stateFirstDone
	}
	return []byte(gs2Header + c.clientFirstBare)
}

// Final processes the server-first-message and returns the
// client-final-message. It checks that the server's nonce extends the
// client's, that the salt and argon2id parameters are within bounds (so a
// hostile server cannot make the client exhaust memory or time), then runs
// argon2id once. If the server sent its failure message instead, Final
// returns an error wrapping ErrLoginFailed. First must have been called.
func (c *ClientLogin) Final(serverFirst []byte) ([]byte, error) {
	if c.state != stateFirstDone {
		c.state = stateFailed
		return nil, errors.New("auth: ClientLogin.Final called out of order")
	}
	c.state = stateFailed // until proven otherwise
	if len(serverFirst) > MaxMessageLen {
		return nil, errors.New("auth: server-first message too long")
	}
	if err := serverError(serverFirst); err != nil {
		return nil, err
	}
	sf := string(serverFirst)
	attrs, ok := splitAttrs(sf, "rsik")
	if !ok {
		return nil, errors.New("auth: malformed server-first message: want attributes r, s, i, k")
	}
	nonce, salt64, iter, kdf := attrs[0], attrs[1], attrs[2], attrs[3]
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) ||
		len(nonce) > len(c.nonce)+maxNonceLen || !printable(nonce) {
		return nil, errors.New("auth: server-first message has an invalid nonce")
	}
	salt, err := decodeStrict(base64.StdEncoding, salt64)
	if err != nil {
		return nil, errors.New("auth: server-first message has a malformed salt")
	}
	if msg := checkSalt(salt); msg != "" {
		return nil, errors.New("auth: server-first message: " + msg)
	}
	p, ok := parseKDFAttr(iter, kdf)
	if !ok {
		return nil, errors.New("auth: server-first message has malformed argon2id parameters")
	}
	if msg := p.checkWithin(c.limit); msg != "" {
		return nil, errors.New("auth: refusing server's request: " + msg)
	}

	salted := saltedPassword(c.password, salt, p)
	clear(c.password)
	withoutProof := "c=" + channelBindingAttr(c.cb) + ",r=" + nonce
	authMessage := c.clientFirstBare + "," + sf + "," + withoutProof
	proof, serverSig := clientProof(salted, authMessage)
	clear(salted)
	c.serverSig = serverSig
	c.state = stateFinalDone
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof[:])), nil
}

// Verify checks the server-final-message "v=<ServerSignature>" in constant
// time. It returns nil only if the server proved that it holds the user's
// verifier; ErrServerNotVerified if the signature is wrong; an error
// wrapping ErrLoginFailed if the server sent its failure message; and
// another error for a malformed message or a call out of order.
func (c *ClientLogin) Verify(serverFinal []byte) error {
	if c.state != stateFinalDone {
		c.state = stateFailed
		return errors.New("auth: ClientLogin.Verify called out of order")
	}
	c.state = stateFailed
	if len(serverFinal) > MaxMessageLen {
		return errors.New("auth: server-final message too long")
	}
	if err := serverError(serverFinal); err != nil {
		return err
	}
	attrs, ok := splitAttrs(string(serverFinal), "v")
	if !ok {
		return errors.New("auth: malformed server-final message: want attribute v")
	}
	sig, err := decodeStrict(base64.StdEncoding, attrs[0])
	if err != nil || len(sig) != len(c.serverSig) {
		return errors.New("auth: malformed server-final message: bad server signature encoding")
	}
	if subtle.ConstantTimeCompare(sig, c.serverSig[:]) != 1 {
		return ErrServerNotVerified
	}
	c.state = stateSucceeded
	return nil
}

// serverError returns an error wrapping ErrLoginFailed if msg is a
// server-error message "e=<value>", and nil otherwise.
func serverError(msg []byte) error {
	v, ok := strings.CutPrefix(string(msg), "e=")
	switch {
	case !ok:
		return nil
	case v == failureValue:
		return ErrLoginFailed
	default:
		return fmt.Errorf("%w (server error %.64q)", ErrLoginFailed, v)
	}
}

// UserLookup returns the stored Verifier of user. It returns false for an
// unknown or disabled user; ServerLogin then runs a fake exchange that
// fails in the same way and takes the same time as a wrong password.
type UserLookup func(user string) (Verifier, bool)

// ServerLogin is the server side of one login exchange. Use it as
//
//	s := NewServerLogin(lookup, fakeSaltKey, cb)
//	serverFirst, err := s.First(receive())  // client-first
//	send(serverFirst)
//	if err != nil { log(err); close }
//	serverFinal, err := s.Final(receive())  // client-final
//	send(serverFinal)
//	if err != nil { log(err); close }
//	user := s.User()
//
// On failure, First and Final return both an error and a message. The
// message is always the generic server-error "e=login-failed", identical
// for every cause; send it to the client. The error wraps ErrLoginFailed
// (errors.Is holds) and its text carries the detail (unknown user, wrong
// password, channel binding mismatch, malformed message, ...) for server
// logs only: never send the error text to the client.
//
// A ServerLogin is single-use and not safe for concurrent use.
type ServerLogin struct {
	lookup      UserLookup
	fakeSaltKey []byte
	cb          []byte
	rand        io.Reader
	state       loginState

	user            string // claimed user name (unescaped)
	known           bool   // lookup found a valid verifier
	badVerifier     string // why a found verifier was not usable
	verifier        Verifier
	nonce           string // client nonce + server nonce
	clientFirstBare string
	serverFirst     string
	authUser        string // set on success
}

// NewServerLogin starts the server side of a login. lookup finds users'
// verifiers. fakeSaltKey is a secret of at least 32 random bytes, stable
// across restarts, from which the fake salt of unknown users is derived as
// HMAC-SHA-256(fakeSaltKey, "cubby fake salt" || user)[:16]; with a shorter
// key every login fails. channelBinding is the RFC 9266 tls-exporter value
// of this connection (exactly ChannelBindingLen bytes, otherwise every login
// fails).
//
// Unknown users are given DefaultKDFParams, so verifiers made with other
// parameters let a client tell them apart from unknown users.
func NewServerLogin(lookup UserLookup, fakeSaltKey []byte, channelBinding []byte) *ServerLogin {
	return newServerLogin(lookup, fakeSaltKey, channelBinding, rand.Reader)
}

// newServerLogin is NewServerLogin with the randomness source r.
func newServerLogin(lookup UserLookup, fakeSaltKey, channelBinding []byte, r io.Reader) *ServerLogin {
	return &ServerLogin{
		lookup:      lookup,
		fakeSaltKey: append([]byte(nil), fakeSaltKey...),
		cb:          append([]byte(nil), channelBinding...),
		rand:        r,
	}
}

// fail moves s to the failed state and returns the failure message with an
// error for logs.
func (s *ServerLogin) fail(format string, args ...any) ([]byte, error) {
	s.state = stateFailed
	return []byte(failureMessage), &loginError{detail: fmt.Sprintf(format, args...)}
}

// First processes the client-first-message and returns the
// server-first-message,
//
//	r=<client nonce><server nonce>,s=<salt>,i=<time>,k=argon2id:v19:m<memory KiB>:p<threads>
//
// For an unknown user it answers with a deterministic fake salt and
// DefaultKDFParams, so the reply has the same shape as for a known user.
// See ServerLogin for what to do on error.
func (s *ServerLogin) First(clientFirst []byte) ([]byte, error) {
	switch {
	case s.state != stateNew:
		return s.fail("ServerLogin.First called out of order")
	case len(s.fakeSaltKey) < minFakeKeyLen:
		return s.fail("server misconfigured: fake salt key is %d bytes, want at least %d", len(s.fakeSaltKey), minFakeKeyLen)
	case len(s.cb) != ChannelBindingLen:
		return s.fail("server misconfigured: channel binding is %d bytes, want %d", len(s.cb), ChannelBindingLen)
	case s.lookup == nil:
		return s.fail("server misconfigured: nil UserLookup")
	case len(clientFirst) > MaxMessageLen:
		return s.fail("client-first message longer than %d bytes", MaxMessageLen)
	}
	bare, ok := strings.CutPrefix(string(clientFirst), gs2Header)
	if !ok {
		return s.fail("client-first message does not start with GS2 header %q", gs2Header)
	}
	attrs, ok := splitAttrs(bare, "nr")
	if !ok {
		return s.fail("malformed client-first message: want attributes n, r")
	}
	if len(attrs[0]) > 3*MaxUserLen {
		return s.fail("client-first message: user name longer than %d bytes", MaxUserLen)
	}
	user, ok := unescapeUser(attrs[0])
	if !ok {
		return s.fail("client-first message: invalid escape in user name")
	}
	if msg := checkUser(user); msg != "" {
		return s.fail("client-first message: %s", msg)
	}
	cnonce := attrs[1]
	if len(cnonce) < minNonceLen || len(cnonce) > maxNonceLen || !printable(cnonce) {
		return s.fail("client-first message: invalid client nonce")
	}
	snonce, err := randomNonce(s.rand)
	if err != nil {
		return s.fail("%v", err)
	}

	// The fake verifier is computed for every user so that known and
	// unknown users cost the same; its keys are never matched because
	// s.known is false whenever it is used.
	mac := hmacSHA256(s.fakeSaltKey, []byte(fakeSaltLabel+user))
	fake := Verifier{KDF: DefaultKDFParams(), Salt: mac[:saltLen]}
	copy(fake.StoredKey[:], hmacSHA256(s.fakeSaltKey, []byte(fakeKeyLabel+user)))
	fake.ServerKey = sha256.Sum256(fake.StoredKey[:])

	s.user = user
	v, found := s.lookup(user)
	if found {
		if msg := v.KDF.check(); msg != "" {
			s.badVerifier = msg
		} else if msg := checkSalt(v.Salt); msg != "" {
			s.badVerifier = msg
		}
	}
	s.known = found && s.badVerifier == ""
	if !s.known {
		v = fake
	}
	s.verifier = v
	s.nonce = cnonce + snonce
	s.clientFirstBare = bare
	s.serverFirst = "r=" + s.nonce +
		",s=" + base64.StdEncoding.EncodeToString(v.Salt) +
		",i=" + strconv.FormatUint(uint64(v.KDF.Time), 10) +
		",k=" + kdfAttr(v.KDF)
	s.state = stateFirstDone
	return []byte(s.serverFirst), nil
}

// Final processes the client-final-message. It checks the channel binding
// (so a transcript replayed on another TLS connection fails), the nonce and
// the client proof, and on success returns the server-final-message
//
//	v=<ServerSignature>
//
// after which User reports the authenticated user. Known and unknown users
// take the same code path. See ServerLogin for what to do on error.
func (s *ServerLogin) Final(clientFinal []byte) ([]byte, error) {
	if s.state != stateFirstDone {
		return s.fail("ServerLogin.Final called out of order")
	}
	if len(clientFinal) > MaxMessageLen {
		return s.fail("user %q: client-final message longer than %d bytes", s.user, MaxMessageLen)
	}
	attrs, ok := splitAttrs(string(clientFinal), "crp")
	if !ok {
		return s.fail("user %q: malformed client-final message: want attributes c, r, p", s.user)
	}
	cb, err := decodeStrict(base64.StdEncoding, attrs[0])
	if err != nil {
		return s.fail("user %q: client-final message: malformed channel binding", s.user)
	}
	proof, err := decodeStrict(base64.StdEncoding, attrs[2])
	if err != nil || len(proof) != sha256.Size {
		return s.fail("user %q: client-final message: malformed proof", s.user)
	}
	wantCB := append([]byte(gs2Header), s.cb...)
	cbOK := subtle.ConstantTimeCompare(cb, wantCB) == 1
	nonceOK := subtle.ConstantTimeCompare([]byte(attrs[1]), []byte(s.nonce)) == 1
	withoutProof := clientFinal[:len("c=")+len(attrs[0])+len(",r=")+len(attrs[1])]
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + string(withoutProof)
	proofOK, serverSig := checkProof(&s.verifier, authMessage, proof)

	switch {
	case !cbOK:
		return s.fail("user %q: channel binding mismatch (transcript from another connection?)", s.user)
	case !nonceOK:
		return s.fail("user %q: nonce mismatch (replayed message?)", s.user)
	case s.badVerifier != "":
		return s.fail("user %q: stored verifier unusable: %s", s.user, s.badVerifier)
	case !s.known:
		return s.fail("user %q: unknown or disabled user", s.user)
	case !proofOK:
		return s.fail("user %q: wrong password", s.user)
	}
	s.state = stateSucceeded
	s.authUser = s.user
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig[:])), nil
}

// User returns the authenticated user name after Final succeeded, and ""
// otherwise.
func (s *ServerLogin) User() string {
	if s.state != stateSucceeded {
		return ""
	}
	return s.authUser
}
