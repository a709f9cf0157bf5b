package auth

import "testing"

// BenchmarkDefaultKDF measures one argon2id derivation with
// DefaultKDFParams, the cost a client pays per login and an attacker pays
// per password guess against a stolen Verifier.
func BenchmarkDefaultKDF(b *testing.B) {
	p := DefaultKDFParams()
	password := []byte("correct horse battery staple")
	salt := make([]byte, saltLen)
	b.ReportAllocs()
	for b.Loop() {
		saltedPassword(password, salt, p)
	}
}
