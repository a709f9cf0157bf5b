package session_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/wire"
)

// fakeClock is a settable clock for the LoginGuard.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (m userMap) with(name, password string) userMap {
	n := userMap{}
	for k, v := range m {
		n[k] = v
	}
	if password != "" {
		v, err := auth.NewVerifier([]byte(password), testKDF)
		if err != nil {
			panic(err)
		}
		n[name] = &users.User{Name: name, Verifier: v}
	}
	return n
}

func (m userMap) without(name string) userMap {
	n := m.with("", "")
	delete(n, name)
	return n
}

func (m userMap) disabled(name string) userMap {
	n := m.with("", "")
	u := *n[name]
	u.Disabled = true
	n[name] = &u
	return n
}

// loginOnce logs in and out again.
func loginOnce(t testing.TB, ts *testServer, user, password string) error {
	c, err := client.Dial(context.Background(), ts.addr, clientConfig(t, user, password))
	if err == nil {
		c.Close()
	}
	return err
}

func tryLogin(t testing.TB, ts *testServer, user, password string) (*client.Client, error) {
	t.Helper()
	c, err := client.Dial(context.Background(), ts.addr, clientConfig(t, user, password))
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// kickedWith reads from a logged-in raw connection until the server ends
// it, and returns the Error it sent.
func kickedWith(t *testing.T, r *rawConn) *wire.Error {
	t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		m, err := r.wc.ReadMessage()
		if err != nil {
			t.Fatalf("connection ended without an Error: %v", err)
		}
		if e, ok := m.(*wire.Error); ok {
			if _, err := r.wc.ReadMessage(); err == nil {
				t.Error("connection still open after the Error")
			}
			return e
		}
	}
}

func TestLiveUserChanges(t *testing.T) {
	ts := startServer(t, "")
	if _, err := tryLogin(t, ts, "dave", "dave-password"); err == nil {
		t.Fatal("dave logged in before he was added")
	}
	alice := rawLogin(t, ts, "alice")
	bob := rawLogin(t, ts, "bob")
	carol := rawLogin(t, ts, "carol")

	// Carol is in the middle of an upload when she is removed.
	carol.send(t, &wire.UploadRequest{Path: "big.bin", Size: 1 << 20, Mode: 0o644})
	if _, ok := carol.recv(t).(*wire.UploadReady); !ok {
		t.Fatal("no UploadReady")
	}
	carol.send(t, &wire.UploadStart{})
	if err := carol.wc.WriteData(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	carol.wc.Flush()
	waitFor(t, func() bool { return partialBytes(t, ts, "carol") == 1000 })

	db := ts.users.with("dave", "dave-password").without("alice").disabled("bob").without("carol")
	start := time.Now()
	if n := ts.srv.SetUsers(db); n != 3 {
		t.Errorf("SetUsers ended %d sessions; want 3 (alice, bob, carol)", n)
	}
	for name, r := range map[string]*rawConn{"alice": alice, "bob": bob, "carol (uploading)": carol} {
		e := kickedWith(t, r)
		if e.Kind != wire.KindAuth || !strings.Contains(e.Message, "removed or disabled by the admin") {
			t.Errorf("%s was ended with %v %q; want kind auth and a clear reason", name, e.Kind, e.Message)
		}
		t.Logf("%s's open session ended %v after the change", name, time.Since(start).Round(time.Millisecond))
	}

	start = time.Now()
	if _, err := tryLogin(t, ts, "dave", "dave-password"); err != nil {
		t.Fatalf("dave, added while running, cannot log in: %v", err)
	}
	t.Logf("dave logged in %v after being added", time.Since(start).Round(time.Millisecond))
	for _, name := range []string{"alice", "bob", "carol"} {
		_, err := tryLogin(t, ts, name, passwords[name])
		var we *wire.Error
		if !errors.As(err, &we) || we.Kind != wire.KindAuth {
			t.Errorf("%s logs in after removal: %v; want an auth failure", name, err)
		}
	}
	waitFor(t, func() bool { return ts.srv.Sessions() == 1 })
}

// TestLoginPenaltySchedule makes 12 wrong guesses for alice, each as soon
// as the server checks one again, and records the schedule; bob, from the
// same address, logs straight in throughout.
func TestLoginPenaltySchedule(t *testing.T) {
	clock := newFakeClock()
	ts := startServer(t, "", func(s *session.Server) { s.Guard = &session.LoginGuard{Now: clock.Now} })
	refusal := "too many failed logins for alice from this address; try again in "
	waitIn := func(err error) time.Duration {
		var s int
		fmt.Sscanf(err.Error()[strings.LastIndex(err.Error(), "in ")+3:], "%d s", &s)
		return time.Duration(s) * time.Second
	}
	var schedule []string
	penalties := map[int]time.Duration{}
	failures := 0
	for failures < 12 {
		err := loginOnce(t, ts, "alice", "a-wrong-guess")
		switch {
		case err != nil && strings.Contains(err.Error(), "wrong user name or password"):
			failures++
			schedule = append(schedule, fmt.Sprintf("guess %2d: checked, failed", failures))
		case err != nil && strings.Contains(err.Error(), refusal):
			if _, seen := penalties[failures]; seen {
				t.Fatalf("refused twice after %d failures, though the clock moved past the penalty", failures)
			}
			w := waitIn(err)
			penalties[failures] = w
			schedule = append(schedule, fmt.Sprintf("          refused without a check: %q", err.Error()))
			clock.Advance(w)
		default:
			t.Fatalf("after %d failures: %v", failures, err)
		}
		if err := loginOnce(t, ts, "bob", passwords["bob"]); err != nil {
			t.Fatalf("bob, same address, after alice's failure %d: %v", failures, err)
		}
	}
	// Now even the right password is refused without being checked.
	err := loginOnce(t, ts, "alice", passwords["alice"])
	if err == nil || !strings.Contains(err.Error(), refusal) {
		t.Fatalf("alice's right password during her penalty: %v; want refused", err)
	}
	penalties[12] = waitIn(err)
	schedule = append(schedule, fmt.Sprintf("right password: refused without a check: %q", err.Error()))
	t.Logf("penalty schedule observed for alice from 127.0.0.1 (bob logged in after every step):\n  %s", strings.Join(schedule, "\n  "))
	want := map[int]time.Duration{6: 1, 7: 2, 8: 4, 9: 8, 10: 16, 11: 32, 12: 64}
	for f := 1; f <= 12; f++ {
		if penalties[f] != want[f]*time.Second {
			t.Errorf("penalty after failure %d = %v; want %v", f, penalties[f], want[f]*time.Second)
		}
	}
	if err := loginOnce(t, ts, "bob", passwords["bob"]); err != nil {
		t.Fatalf("bob during alice's penalty: %v", err)
	}
	// After 64 s the right password works and resets the count.
	clock.Advance(64 * time.Second)
	if err := loginOnce(t, ts, "alice", passwords["alice"]); err != nil {
		t.Fatalf("alice after her penalty: %v", err)
	}
	for range session.DefaultFreeFailures {
		if err := loginOnce(t, ts, "alice", "wrong-again"); err == nil || strings.Contains(err.Error(), "too many") {
			t.Fatalf("after a success alice's failures should start afresh: %v", err)
		}
	}
	if err := loginOnce(t, ts, "alice", passwords["alice"]); err != nil {
		t.Fatalf("five failures after a reset are free: %v", err)
	}
	for _, want := range []string{
		`level=WARN msg="login penalty" remote=\S+ user=alice failures=6 penalty=1s`,
		`level=WARN msg="login refused: too many failures" remote=\S+ user=alice method=password rule=pair retry_in=1m4s`,
		`level=INFO msg="login failed" remote=\S+ user=alice method=password reason="auth: login failed: user \\"alice\\": wrong password" failures=12`,
	} {
		if !regexp.MustCompile(want).MatchString(ts.logs.String()) {
			t.Errorf("server log lacks %s", want)
		}
	}
}

func TestLoginGuardUnit(t *testing.T) {
	clock := newFakeClock()
	g := &session.LoginGuard{Now: clock.Now, MaxEntries: 100}
	nat := "203.0.113.7:40000"

	// Distributed guessing at one user: delayed, never refused.
	var delays []string
	for i := range 30 {
		addr := fmt.Sprintf("198.51.100.%d:1234", i)
		v := g.Check("alice", addr)
		if v.Refuse {
			t.Fatalf("attempt %d from a fresh address refused: %+v", i, v)
		}
		if v.Delay > 0 {
			delays = append(delays, v.Delay.String())
		}
		g.Failed("alice", addr)
	}
	t.Logf("per-user delays over 30 failures from 30 addresses: %v", delays)
	// The attempt after the 20 free failures is the first delayed.
	if len(delays) != 30-session.DefaultUserFreeFailures-1 {
		t.Errorf("%d delayed attempts; want %d", len(delays), 30-session.DefaultUserFreeFailures-1)
	}
	if v := g.Check("alice", "198.51.100.200:1"); v.Delay != session.DefaultUserMaxDelay && v.Delay != 10*session.DefaultUserDelayStep {
		t.Errorf("delay after 30 failures = %v", v.Delay)
	}
	// The real alice, from where she logged in before, is not delayed.
	g.Succeeded("alice", nat)
	if v := g.Check("alice", nat); v.Delay != 0 || v.Refuse {
		t.Errorf("trusted alice: %+v; want no delay", v)
	}
	// The bucket drains: an hour later there is no delay.
	clock.Advance(time.Hour)
	if v := g.Check("alice", "198.51.100.201:1"); v.Delay != 0 {
		t.Errorf("delay an hour later: %v", v.Delay)
	}

	// A spray over many names from inside the NAT trips the address cap
	// for new names, not for alice, who logged in from there before.
	g2 := &session.LoginGuard{Now: clock.Now, AddrFailureCap: 50}
	g2.Succeeded("alice", nat)
	for i := range 50 {
		g2.Failed(fmt.Sprintf("user%d", i), nat)
	}
	if v := g2.Check("newstudent", nat); !v.Refuse || v.Why != "address" {
		t.Errorf("new name after the spray: %+v; want refused by the address cap", v)
	}
	if v := g2.Check("alice", nat); v.Refuse {
		t.Errorf("alice after a spray from her NAT: %+v; want allowed", v)
	}
	if v := g2.Check("newstudent", "192.0.2.1:5"); v.Refuse {
		t.Errorf("another address: %+v; want allowed", v)
	}

	// Memory stays bounded under a flood of made-up names.
	for i := range 10_000 {
		g.Failed(fmt.Sprintf("u%d", i), fmt.Sprintf("10.%d.%d.%d:1", i>>16, (i>>8)&255, i&255))
	}
	p, u, a := g.Len()
	if p > 100 || u > 100 || a > 100 {
		t.Errorf("tables hold %d pairs, %d users, %d addresses; want at most 100 each", p, u, a)
	}
	if session.GuardName("Bad Name!") != session.GuardName("../etc") {
		t.Error("invalid names should share one key")
	}
	if got := session.GuardAddr("[2001:db8:1:2:3:4:5:6]:99"); got != "2001:db8:1:2::/64" {
		t.Errorf("GuardAddr(IPv6) = %q; want the /64", got)
	}
}

// raiseFileLimit makes room for n more descriptors, and returns how many
// connections the test may open.
func raiseFileLimit(t *testing.T, n int) int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 500
	}
	need := uint64(2*n + 256) // both ends live in this process
	if rl.Cur < need {
		rl.Cur = min(need, rl.Max)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	if rl.Cur < need {
		t.Logf("RLIMIT_NOFILE is %d and cannot be raised to %d; using 500 connections", rl.Cur, need)
		return 500
	}
	return n
}

func TestSilentConnectionsDoNotBlockLogin(t *testing.T) {
	n := raiseFileLimit(t, 1000)
	ts := startServer(t, "")
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	start := time.Now()
	for range n {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatalf("silent connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	opened := time.Since(start)
	// Let the server accept them all before the real user comes.
	for prev := -1; ts.srv.ActiveConnections() != prev; time.Sleep(100 * time.Millisecond) {
		prev = ts.srv.ActiveConnections()
	}
	t.Logf("%d silent connections opened in %v; %d wait at the server (max startups %v; the oldest were dropped)", n, opened.Round(time.Millisecond), ts.srv.Waiting(), session.DefaultStartups)
	var lat []time.Duration
	for range 3 {
		start = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := client.Dial(ctx, ts.addr, clientConfig(t, "alice", passwords["alice"]))
		cancel()
		if err != nil {
			t.Fatalf("login beside %d silent connections: %v", n, err)
		}
		lat = append(lat, time.Since(start).Round(time.Millisecond))
		c.Close()
	}
	t.Logf("login latency beside %d silent connections: %v (server holds %d waiting)", n, lat, ts.srv.Waiting())
	if w := ts.srv.Waiting(); w > session.DefaultStartups.Full {
		t.Errorf("%d connections wait to log in; want at most %d", w, session.DefaultStartups.Full)
	}
}

func TestMaxStartupsDropsOldest(t *testing.T) {
	ts := startServer(t, "", func(s *session.Server) { s.MaxStartups = session.Startups{Start: 5, Rate: 100, Full: 5} })
	var conns []net.Conn
	for range 10 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		waitFor(t, func() bool {
			return ts.srv.ActiveConnections() <= 5 && ts.srv.ActiveConnections() >= min(len(conns), 5)
		})
	}
	// The five oldest were closed, the newest five still wait.
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		closed := err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
		if closed != (i < 5) {
			t.Errorf("connection %d: closed = %v (%v); want %v", i, closed, err, i < 5)
		}
	}
	if _, err := tryLogin(t, ts, "alice", passwords["alice"]); err != nil {
		t.Fatalf("login with the waiting room full: %v", err)
	}
	if !strings.Contains(ts.logs.String(), "dropping the oldest") {
		t.Error("no log of the dropped connections")
	}
}

func TestParseStartups(t *testing.T) {
	tests := []struct {
		in   string
		want session.Startups
		ok   bool
	}{
		{"10:30:100", session.Startups{10, 30, 100}, true},
		{"50", session.Startups{50, 100, 50}, true},
		{"10:30", session.Startups{}, false},
		{"100:30:10", session.Startups{}, false},
		{"10:130:100", session.Startups{}, false},
		{"0:30:100", session.Startups{}, false},
		{"x", session.Startups{}, false},
	}
	for _, tt := range tests {
		got, err := session.ParseStartups(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseStartups(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSessionLimits(t *testing.T) {
	ts := startServer(t, "", func(s *session.Server) { s.MaxSessionsPerUser = 2; s.MaxSessions = 3 })
	a1, _ := tryLogin(t, ts, "alice", passwords["alice"])
	tryLogin(t, ts, "alice", passwords["alice"])
	_, err := tryLogin(t, ts, "alice", passwords["alice"])
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindUnavailable || !strings.Contains(we.Message, "alice already has 2 sessions") {
		t.Fatalf("alice's third session: %v; want refused as unavailable", err)
	}
	if _, err := tryLogin(t, ts, "bob", passwords["bob"]); err != nil {
		t.Fatalf("bob beside alice's two: %v", err)
	}
	_, err = tryLogin(t, ts, "carol", passwords["carol"])
	if !errors.As(err, &we) || !strings.Contains(we.Message, "maximum of 3 sessions") {
		t.Fatalf("a fourth session: %v; want refused by the total", err)
	}
	a1.Close()
	waitFor(t, func() bool { return ts.srv.Sessions() == 2 })
	if _, err := tryLogin(t, ts, "carol", passwords["carol"]); err != nil {
		t.Fatalf("carol after alice left: %v", err)
	}
}

func TestRequestRateLimit(t *testing.T) {
	ts := startServer(t, "", func(s *session.Server) { s.RequestRate = 20; s.RequestBurst = 5 })
	c := ts.dial(t, "alice")
	os.WriteFile(filepath.Join(ts.home("alice"), "f"), nil, 0o600)
	start := time.Now()
	for i := range 25 {
		if _, err := c.List(context.Background(), "f"); err != nil {
			t.Fatalf("list %d: %v", i, err)
		}
	}
	d := time.Since(start)
	t.Logf("25 requests at 20/s with a burst of 5 took %v (want about 1 s)", d.Round(time.Millisecond))
	if d < 800*time.Millisecond {
		t.Errorf("25 requests took %v; want them paced to about 1 s", d)
	}
}
