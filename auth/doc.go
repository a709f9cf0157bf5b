// Package auth implements cubby's login: a mutual challenge-response
// exchange in which the password never crosses the wire and the server
// stores only a verifier.
//
// # Overview
//
// The exchange is SCRAM (RFC 5802 message flow, SHA-256 as in RFC 7677)
// with two changes: the key derivation is argon2id (RFC 9106) instead of
// PBKDF2, and channel binding to the TLS 1.3 connection is mandatory, using
// the RFC 9266 "tls-exporter" binding: the 32 bytes returned by
// ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32). Both sides
// compute the binding from their own end of the TLS connection and pass it
// in. Both sides authenticate: the server checks the client's proof, and
// the client checks the server's signature.
//
// This package only builds and checks messages. Each message is an opaque
// byte string carried in one frame by the transport, in this order:
//
//	client → server   client-first
//	server → client   server-first   (or the failure message)
//	client → server   client-final
//	server → client   server-final   (or the failure message)
//
// The client uses ClientLogin (First, Final, Verify) and the server
// ServerLogin (First, Final, User).
//
// # Keys
//
// For a password P, a salt S and argon2id parameters t (passes), m (memory
// in KiB) and p (threads), with HMAC and H being HMAC-SHA-256 and SHA-256:
//
//	SaltedPassword  = argon2id(P, S, t, m, p, 32 bytes)   (argon2 version 0x13)
//	ClientKey       = HMAC(SaltedPassword, "Client Key")
//	StoredKey       = H(ClientKey)
//	ServerKey       = HMAC(SaltedPassword, "Server Key")
//	AuthMessage     = client-first-bare + "," + server-first + "," + client-final-without-proof
//	ClientSignature = HMAC(StoredKey, AuthMessage)
//	ClientProof     = ClientKey XOR ClientSignature
//	ServerSignature = HMAC(ServerKey, AuthMessage)
//
// The server stores a Verifier (salt, parameters, StoredKey, ServerKey) and
// never the password. It recovers ClientKey = ClientProof XOR
// ClientSignature and accepts if H(ClientKey) equals StoredKey, compared in
// constant time. A stolen verifier does not let anyone log in, and testing
// one password guess against it costs a full argon2id derivation.
//
// Verifiers are stored as one string (Verifier.String, ParseVerifier):
//
//	scram-argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<StoredKey>$<ServerKey>
//
// with salt and keys in standard base64 without padding (see Example).
//
// # Messages
//
// All messages are ASCII text made of comma-separated attributes "a=value"
// with one-letter names, in exactly the order shown; no other attribute
// (including RFC 5802 "m=" mandatory extensions) is accepted. Every message
// is at most MaxMessageLen (4096) bytes. Base64 is standard base64 (RFC
// 4648 section 4) with padding, decoded strictly, except the nonces, which
// are unpadded. A nonce is printable ASCII 0x21–0x7E other than ",".
//
// client-first:
//
//	p=tls-exporter,,n=<user>,r=<c-nonce>
//
// "p=tls-exporter,," is the GS2 header: the client requires tls-exporter
// channel binding and sends no authorization identity; the server rejects
// any other header ("n,,", "y,,", other binding types, "a="). The rest,
// "n=<user>,r=<c-nonce>", is client-first-bare. <user> is the user name (1
// to MaxUserLen = 64 bytes of UTF-8 without NUL, before escaping) with "="
// written as "=3D" and "," as "=2C"; any other "=" sequence is rejected.
// <c-nonce> is 32 random bytes in unpadded base64 (43 characters); the
// server accepts 16 to 256 characters.
//
// server-first:
//
//	r=<c-nonce><s-nonce>,s=<salt>,i=<t>,k=argon2id:v19:m<m>:p<p>
//
// <s-nonce> is 32 random bytes in unpadded base64, appended to the client's
// nonce. <salt> is the user's salt in base64 (8 to 64 bytes; 16 for new
// verifiers). The argon2id parameters travel as i=<t> (passes, the SCRAM
// iteration count) and the extension attribute k=argon2id:v19:m<m>:p<p>
// naming the algorithm, argon2 version 19 (0x13), the memory in KiB and the
// number of threads, all canonical decimals (RFC 5802 forbids "=" inside an
// attribute value, hence "m65536" rather than "m=65536"). With
// DefaultKDFParams the tail is ",i=3,k=argon2id:v19:m65536:p4".
//
// The client checks that the nonce starts with its own and extends it, and
// refuses parameters outside 1 ≤ t ≤ 16, 1 ≤ p ≤ 16, 8p ≤ m ≤ 1048576 (1
// GiB), so that a hostile server cannot make it exhaust memory or time. The
// same bounds apply to stored verifiers.
//
// For an unknown or disabled user the server answers with a fake but stable
// salt, HMAC-SHA-256(fakeSaltKey, "cubby fake salt" || user)[:16], and
// DefaultKDFParams, then lets the exchange fail at the proof check, so the
// reply has the same shape and timing as for a real user and user names
// cannot be enumerated. fakeSaltKey is a server secret.
//
// client-final:
//
//	c=<base64("p=tls-exporter,," || channel binding)>,r=<c-nonce><s-nonce>,p=<ClientProof>
//
// client-final-without-proof is everything before ",p=". The server
// requires c= to equal the GS2 header followed by its own channel binding,
// so a transcript relayed to or replayed on another TLS connection fails;
// r= to equal the nonce it sent, so a client-final recorded from another
// exchange fails; and <ClientProof> (32 bytes, base64) to be valid.
//
// server-final:
//
//	v=<ServerSignature>
//
// with the 32-byte signature in base64. The client compares it in constant
// time; a wrong signature means the server does not hold the user's
// verifier (a possible impostor) and Verify returns ErrServerNotVerified.
// The client must treat the login as successful only if Verify returns nil.
//
// failure (in place of server-first or server-final):
//
//	e=login-failed
//
// The server sends this one message for every failure: wrong password,
// unknown or disabled user, channel binding mismatch, malformed message.
// The client maps it to ErrLoginFailed. ServerLogin returns it together
// with an error that wraps ErrLoginFailed and describes the real cause for
// the server's log; that error text must never be sent to the client.
//
// # Example
//
// User "alice", password "pencil", salt bytes 0x00…0x0f, t=1, m=64 KiB,
// p=1 (test-sized parameters), client nonce bytes 0x01…0x20, server nonce
// bytes 0x02…0x21, channel binding 32 bytes of 0x01. The verifier is
//
//	scram-argon2id$v=19$m=64,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$36d+RgVRqUXcck0wgbyjtx8wl2Dz0GaMXYa7RXSK/Ec$GcA3L3oVfJSHSPVSJKnCLViHAQSTzo+jT0rUSqecPFk
//
// and the exchange is (lines wrapped at commas for display only):
//
//	client-first: p=tls-exporter,,n=alice,r=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA
//	server-first: r=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICE,
//	              s=AAECAwQFBgcICQoLDA0ODw==,i=1,k=argon2id:v19:m64:p1
//	client-final: c=cD10bHMtZXhwb3J0ZXIsLAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB,
//	              r=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICE,
//	              p=N/cqF4ZumvruFs7KHC2XPU7XdhYffBf7R+3FTaTi0K0=
//	server-final: v=6+9QUDZUTlH3rfmq16+BjL84VAqhZJ2dLaBPpLxPSdc=
//
// # Limits
//
// Messages longer than MaxMessageLen, user names longer than MaxUserLen,
// missing, extra, misordered or malformed attributes, invalid escapes and
// non-printable nonces are rejected; no input makes the parsers panic. A
// ClientLogin or ServerLogin is single-use: after any failure every later
// Final or Verify call fails and User returns "".
//
// # Public keys and new passwords
//
// PubkeyMechanism is the other login: the client offers an SSH public key
// (PubkeyStart), the server answers with a 32-byte crypto/rand challenge
// (NewChallenge), and the client signs, with an ssh.Signer that may be an
// ssh-agent, the length-prefixed magic "cubby pubkey login v1", user, key,
// challenge, tls-exporter channel binding and server ID (PubkeySignedData,
// SignPubkeyLogin); the server checks it with VerifyPubkeyLogin. Keys come
// from users.toml through ParseAuthorizedKey and CheckPubkey.
//
// For a password change the client sends a verifier it computed with
// NewVerifier; the server checks it with ParseVerifier and
// CheckNewVerifier, which refuses a cost below MinNewKDFParams.
package auth
