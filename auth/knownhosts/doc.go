// Package knownhosts records the host keys of cubbyd servers that the cubby
// client has seen, trusting each server's key on first use as OpenSSH does.
//
// A [Store] is a file in the OpenSSH known_hosts format, by default
// [DefaultPath], parsed and matched with golang.org/x/crypto/ssh/knownhosts.
// Entries are keyed by host and port: cubby always writes the [host]:port
// form, even for cubby's default port 5050, so servers on different ports
// of one host have separate entries. Host names are stored in lower case and
// IP addresses in canonical form. Hand-written lines, comments, hashed host
// names and @revoked markers written by OpenSSH tools are understood.
//
// [Store.Check] tells a pinned host from an unknown one ([UnknownHostError])
// and from one whose key has changed ([ChangedHostError]); a client asks the
// user before calling [Store.Add] for an unknown host, and refuses to
// connect to a changed one.
package knownhosts
