package session

import (
	"container/list"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
)

// Defaults for a LoginGuard's zero fields.
const (
	DefaultFreeFailures   = 5
	DefaultPenaltyBase    = time.Second
	DefaultPenaltyMax     = 15 * time.Minute
	DefaultForgetFailures = time.Hour
	DefaultTrustFor       = 30 * 24 * time.Hour

	DefaultUserFreeFailures = 20
	DefaultUserLeak         = time.Minute
	DefaultUserDelayStep    = 250 * time.Millisecond
	DefaultUserMaxDelay     = 3 * time.Second

	DefaultAddrFailureCap = 1000
	DefaultAddrLeak       = 3600 * time.Millisecond // 1000 failures an hour

	DefaultGuardEntries = 1 << 16
)

// LoginGuard slows down password guessing without locking a classroom out.
// It keeps three kinds of state, each in a table of bounded size:
//
//   - Per user name and source address: the first FreeFailures failed
//     logins are free; each further failure puts the pair on penalty for
//     PenaltyBase, doubling with every failure up to PenaltyMax. While on
//     penalty, attempts are refused without checking the password. A
//     successful login resets the pair and marks it trusted for TrustFor.
//   - Per user name, across all addresses: a leaky bucket of failures
//     (UserFreeFailures deep, draining one every UserLeak). Past it, each
//     attempt is delayed by UserDelayStep per excess failure, at most
//     UserMaxDelay; it is never refused, so a distributed attack cannot lock
//     the real user out.
//   - Per source address, across all names: a leaky bucket of failures
//     (AddrFailureCap deep, draining one every AddrLeak) against sprays over
//     many user names. When it is full, names without a trusted pair at that
//     address are refused until it drains.
//
// Users with a trusted pair (a recent success from the same address) skip
// the per-user delay and the per-address cap, so one account's penalties,
// or a spray from inside a NAT, never affect classmates who logged in from
// there before. IPv6 addresses count per /64, the block one host usually
// controls. Unknown user names are counted like known ones, so the answers
// do not reveal which names exist.
//
// The zero value is ready to use with the defaults above. Fields must not
// change after first use.
type LoginGuard struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	FreeFailures   int
	PenaltyBase    time.Duration
	PenaltyMax     time.Duration
	ForgetFailures time.Duration // a pair idle this long (and off penalty) starts afresh
	TrustFor       time.Duration

	UserFreeFailures int
	UserLeak         time.Duration
	UserDelayStep    time.Duration
	UserMaxDelay     time.Duration

	AddrFailureCap int
	AddrLeak       time.Duration

	// MaxEntries bounds each of the three tables; the least recently used
	// entries are dropped first.
	MaxEntries int

	mu    sync.Mutex
	pairs *lru[pairKey, *pairState]
	users *lru[string, *bucket]
	addrs *lru[string, *bucket]
}

type pairKey struct{ user, addr string }

type pairState struct {
	failures    int
	lastFailure time.Time
	until       time.Time // on penalty before this
	lastSuccess time.Time
}

// bucket is a leaky bucket of failures.
type bucket struct {
	level float64
	at    time.Time
}

func (b *bucket) drain(now time.Time, leak time.Duration) {
	if d := now.Sub(b.at); d > 0 {
		b.level = max(0, b.level-float64(d)/float64(leak))
		b.at = now
	}
}

// Verdict is a LoginGuard's answer before a login attempt.
type Verdict struct {
	// Refuse, when set, means the attempt must fail without checking the
	// password; Message says why and for how long, for the client.
	Refuse  bool
	Message string
	// RetryIn is how long the refusal lasts.
	RetryIn time.Duration
	// Delay is how long to wait before answering an attempt that is
	// checked.
	Delay time.Duration
	// Why names the rule for the log: "pair", "address" or "user".
	Why string
}

// Penalty reports what a failed login cost.
type Penalty struct {
	// Failures counts the pair's failures in a row.
	Failures int
	// Duration is the penalty that starts now, or 0 while failures are free.
	Duration time.Duration
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func (g *LoginGuard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *LoginGuard) init() {
	if g.pairs == nil {
		n := orInt(g.MaxEntries, DefaultGuardEntries)
		g.pairs = newLRU[pairKey, *pairState](n)
		g.users = newLRU[string, *bucket](n)
		g.addrs = newLRU[string, *bucket](n)
	}
}

// GuardName is the key a claimed user name is counted under: the name if
// it is valid, and one shared key for every invalid one, so garbage names
// cannot grow the tables.
func GuardName(name string) string {
	if users.ValidName(name) != nil {
		return "(invalid)"
	}
	return name
}

// GuardAddr is the key a remote address is counted under: its IP without
// the port, and the /64 prefix for IPv6.
func GuardAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// pair returns the pair's state, forgetting failures that are old.
func (g *LoginGuard) pair(k pairKey, now time.Time, create bool) *pairState {
	p, ok := g.pairs.get(k)
	if !ok {
		if !create {
			return nil
		}
		p = &pairState{}
		g.pairs.put(k, p)
	}
	if p.failures > 0 && !now.Before(p.until) && now.Sub(p.lastFailure) > orDur(g.ForgetFailures, DefaultForgetFailures) {
		p.failures, p.until = 0, time.Time{}
	}
	return p
}

func (g *LoginGuard) trusted(p *pairState, now time.Time) bool {
	return p != nil && !p.lastSuccess.IsZero() && now.Sub(p.lastSuccess) < orDur(g.TrustFor, DefaultTrustFor)
}

func bucketOf(t *lru[string, *bucket], k string, now time.Time, leak time.Duration, create bool) *bucket {
	b, ok := t.get(k)
	if !ok {
		if !create {
			return nil
		}
		b = &bucket{at: now}
		t.put(k, b)
	}
	b.drain(now, leak)
	return b
}

// Check decides whether a login attempt by user (the name as claimed) from
// remote (host:port) may go ahead.
func (g *LoginGuard) Check(user, remote string) Verdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	now := g.now()
	name, addr := GuardName(user), GuardAddr(remote)
	p := g.pair(pairKey{name, addr}, now, false)
	if p != nil && now.Before(p.until) {
		wait := p.until.Sub(now)
		return Verdict{
			Refuse:  true,
			RetryIn: wait,
			Why:     "pair",
			Message: fmt.Sprintf("too many failed logins for %s from this address; try again in %s", name, roundUp(wait)),
		}
	}
	trusted := g.trusted(p, now)
	if !trusted {
		leak := orDur(g.AddrLeak, DefaultAddrLeak)
		if b := bucketOf(g.addrs, addr, now, leak, false); b != nil {
			limit := float64(orInt(g.AddrFailureCap, DefaultAddrFailureCap))
			if b.level >= limit {
				wait := time.Duration((b.level - limit + 1) * float64(leak))
				return Verdict{
					Refuse:  true,
					RetryIn: wait,
					Why:     "address",
					Message: fmt.Sprintf("too many failed logins from this address; try again in %s", roundUp(wait)),
				}
			}
		}
		if b := bucketOf(g.users, name, now, orDur(g.UserLeak, DefaultUserLeak), false); b != nil {
			if excess := b.level - float64(orInt(g.UserFreeFailures, DefaultUserFreeFailures)); excess > 0 {
				d := min(time.Duration(math.Ceil(excess))*orDur(g.UserDelayStep, DefaultUserDelayStep), orDur(g.UserMaxDelay, DefaultUserMaxDelay))
				return Verdict{Delay: d, Why: "user"}
			}
		}
	}
	return Verdict{}
}

// Failed records a failed login by user from remote.
func (g *LoginGuard) Failed(user, remote string) Penalty {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	now := g.now()
	name, addr := GuardName(user), GuardAddr(remote)
	p := g.pair(pairKey{name, addr}, now, true)
	p.failures++
	p.lastFailure = now
	var pen time.Duration
	if free := orInt(g.FreeFailures, DefaultFreeFailures); p.failures > free {
		pen = penalty(p.failures-free, orDur(g.PenaltyBase, DefaultPenaltyBase), orDur(g.PenaltyMax, DefaultPenaltyMax))
		p.until = now.Add(pen)
	}
	bucketOf(g.users, name, now, orDur(g.UserLeak, DefaultUserLeak), true).level++
	bucketOf(g.addrs, addr, now, orDur(g.AddrLeak, DefaultAddrLeak), true).level++
	return Penalty{Failures: p.failures, Duration: pen}
}

// Succeeded records a successful login: the pair's failures are forgiven
// and the pair is trusted.
func (g *LoginGuard) Succeeded(user, remote string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	now := g.now()
	p := g.pair(pairKey{GuardName(user), GuardAddr(remote)}, now, true)
	p.failures, p.until, p.lastSuccess = 0, time.Time{}, now
}

// Len reports the number of entries in the three tables, for tests and
// monitoring.
func (g *LoginGuard) Len() (pairs, users, addrs int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	return g.pairs.len(), g.users.len(), g.addrs.len()
}

// penalty is base·2^(n-1), at most max.
func penalty(n int, base, limit time.Duration) time.Duration {
	if n > 40 {
		return limit
	}
	d := base << (n - 1)
	if d <= 0 || d > limit {
		return limit
	}
	return d
}

func orDur(d, def time.Duration) time.Duration { return orDefault(d, def) }

// roundUp shows a wait in whole seconds, rounded up, or minutes past two.
func roundUp(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s >= 120 {
		m := (s + 59) / 60
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d s", max(s, 1))
}

// lru is a map that keeps at most n entries, dropping the least recently
// used.
type lru[K comparable, V any] struct {
	n     int
	m     map[K]*list.Element
	order *list.List // front: most recent
}

type lruEntry[K comparable, V any] struct {
	k K
	v V
}

func newLRU[K comparable, V any](n int) *lru[K, V] {
	return &lru[K, V]{n: n, m: map[K]*list.Element{}, order: list.New()}
}

func (l *lru[K, V]) get(k K) (V, bool) {
	e, ok := l.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).v, true
}

func (l *lru[K, V]) put(k K, v V) {
	if e, ok := l.m[k]; ok {
		e.Value.(*lruEntry[K, V]).v = v
		l.order.MoveToFront(e)
		return
	}
	l.m[k] = l.order.PushFront(&lruEntry[K, V]{k, v})
	for l.order.Len() > l.n {
		last := l.order.Back()
		l.order.Remove(last)
		delete(l.m, last.Value.(*lruEntry[K, V]).k)
	}
}

func (l *lru[K, V]) len() int { return l.order.Len() }
