// Package hostkey manages the server's long-term host key.
//
// The cubbyd server identifies itself with an Ed25519 key, much like an
// OpenSSH server's host key. [LoadOrCreate] generates the key on first start
// and stores it, PKCS#8 PEM encoded, in the server's data directory with mode
// 0600; later starts load the same key. [Certificate] wraps the key in a
// self-signed X.509 certificate for the TLS 1.3 listener. Clients do not
// verify that certificate against a CA: they pin the key itself, trust on
// first use, and compare it by the OpenSSH-style fingerprint that
// [Fingerprint] computes, so operators can check it against the output of
// ssh-keygen -lf.
package hostkey
