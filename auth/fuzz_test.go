package auth

import (
	"errors"
	"testing"
)

// FuzzServerLogin feeds arbitrary client-first and client-final messages to
// a ServerLogin. It must never panic, every failure must be the generic
// one, and only the genuine transcript may log in.
func FuzzServerLogin(f *testing.F) {
	ka := knownAnswer(f)
	f.Add([]byte(ka.clientFirst), []byte(ka.clientFinal))
	for _, tt := range serverFirstSeeds() {
		f.Add([]byte(tt.msg), []byte(ka.clientFinal))
	}
	for _, tt := range serverFinalSeeds(ka.clientFinal) {
		f.Add([]byte(ka.clientFirst), []byte(tt.msg))
	}
	lookup := testUsers(f)
	f.Fuzz(func(t *testing.T, clientFirst, clientFinal []byte) {
		// Fixed randomness, so the fuzzer can explore Final for a known
		// server nonce.
		s := newServerLogin(lookup, testFakeKey(), testCB(1), countingRand(2))
		checkFailure := func(step string, msg []byte, err error) {
			t.Helper()
			if !errors.Is(err, ErrLoginFailed) || string(msg) != failureMessage || s.User() != "" {
				t.Fatalf("%s failure: message %q, error %v, User %q", step, msg, err, s.User())
			}
		}
		first, err := s.First(clientFirst)
		if err != nil {
			checkFailure("First", first, err)
			msg, err := s.Final(clientFinal)
			checkFailure("Final after failed First", msg, err)
			return
		}
		if len(first) > MaxMessageLen {
			t.Fatalf("server-first is %d bytes", len(first))
		}
		if _, ok := splitAttrs(string(first), "rsik"); !ok {
			t.Fatalf("server-first %q malformed", first)
		}
		final, err := s.Final(clientFinal)
		if err != nil {
			checkFailure("Final", final, err)
			return
		}
		if string(clientFirst) != ka.clientFirst || string(clientFinal) != ka.clientFinal ||
			string(final) != ka.serverFinal || s.User() != "alice" {
			t.Fatalf("login succeeded with a non-genuine transcript %q / %q -> %q, User %q",
				clientFirst, clientFinal, final, s.User())
		}
	})
}

// FuzzClientLogin feeds arbitrary server-first and server-final messages to
// a ClientLogin. It must never panic, and Verify may succeed only for the
// genuine server.
func FuzzClientLogin(f *testing.F) {
	ka := knownAnswer(f)
	newClient := func(t testing.TB) *ClientLogin {
		c, err := newClientLogin("alice", []byte("pencil"), testCB(1), countingRand(1))
		if err != nil {
			t.Fatal(err)
		}
		// Keep each execution cheap: the bounds logic is the same.
		c.limit = KDFParams{Time: 2, MemoryKiB: 256, Threads: 4}
		return c
	}
	f.Add([]byte(ka.serverFirst), []byte(ka.serverFinal))
	for _, tt := range clientFinalSeeds(newClient(f).nonce) {
		f.Add([]byte(tt.msg), []byte(ka.serverFinal))
	}
	for _, tt := range verifySeeds() {
		f.Add([]byte(ka.serverFirst), []byte(tt.msg))
	}
	f.Fuzz(func(t *testing.T, serverFirst, serverFinal []byte) {
		c := newClient(t)
		c.First()
		clientFinal, err := c.Final(serverFirst)
		if err != nil {
			if clientFinal != nil {
				t.Fatalf("Final returned %q with error %v", clientFinal, err)
			}
			if c.Verify(serverFinal) == nil {
				t.Fatal("Verify succeeded after a failed Final")
			}
			return
		}
		if len(clientFinal) > MaxMessageLen {
			t.Fatalf("client-final is %d bytes", len(clientFinal))
		}
		if _, ok := splitAttrs(string(clientFinal), "crp"); !ok {
			t.Fatalf("client-final %q malformed", clientFinal)
		}
		if err := c.Verify(serverFinal); err == nil &&
			(string(serverFirst) != ka.serverFirst || string(serverFinal) != ka.serverFinal) {
			t.Fatalf("Verify accepted a non-genuine server: %q / %q", serverFirst, serverFinal)
		}
	})
}
