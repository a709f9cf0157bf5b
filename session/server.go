package session

import (
	"cmp"
	"container/list"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/sandbox"
	"github.com/cubby-dev/cubby/wire"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("session: server closed")

// Defaults for the Server's zero durations.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 30 * time.Minute
	DefaultTransferTimeout  = 2 * time.Minute
	// DefaultMaxSessions bounds logged-in sessions in total.
	DefaultMaxSessions = 1024
	// DefaultMaxSessionsPerUser bounds one user's logged-in sessions.
	DefaultMaxSessionsPerUser = 16
	// DefaultRequestRate is the requests per second a session may send on
	// average; DefaultRequestBurst how many it may send at once. A session
	// runs one request at a time, so this only bites on cheap requests:
	// at 100 a second, a batch of 1,000 `pwd` or `mkdir` took 8 s.
	DefaultRequestRate  = 500
	DefaultRequestBurst = 1000
	// PartialTTL is how long an interrupted upload is kept for resuming.
	PartialTTL = 24 * time.Hour
)

// UserDB looks up accounts; it reports false for unknown and disabled users.
type UserDB interface {
	Lookup(name string) (*users.User, bool)
}

// Startups bounds connections that have not logged in yet, like sshd's
// MaxStartups "start:rate:full": past Start such connections, each new one
// drops a waiting one with probability Rate percent, rising linearly to 100
// at Full. Unlike sshd, which refuses the newcomer, the connection dropped
// is the oldest waiting one: a flood of silent connections then ages out
// instead of keeping real users from starting their logins.
type Startups struct{ Start, Rate, Full int }

// DefaultStartups is used when Server.MaxStartups is zero: far above what a
// class logging in at once needs, far below the file descriptor limit.
var DefaultStartups = Startups{Start: 256, Rate: 30, Full: 1024}

// ParseStartups parses "start:rate:full", or one number N meaning
// "N:100:N", a hard limit.
func ParseStartups(s string) (Startups, error) {
	parts := strings.Split(s, ":")
	if len(parts) == 1 {
		parts = []string{parts[0], "100", parts[0]}
	}
	var v [3]int
	ok := len(parts) == 3
	for i := 0; ok && i < 3; i++ {
		var err error
		v[i], err = strconv.Atoi(parts[i])
		ok = err == nil
	}
	st := Startups{Start: v[0], Rate: v[1], Full: v[2]}
	if !ok || st.Start < 1 || st.Rate < 0 || st.Rate > 100 || st.Full < st.Start {
		return Startups{}, fmt.Errorf("session: max startups %q: want start:rate:full with 1 <= start <= full and 0 <= rate <= 100, such as %v", s, DefaultStartups)
	}
	return st, nil
}

// String formats s as start:rate:full.
func (s Startups) String() string { return fmt.Sprintf("%d:%d:%d", s.Start, s.Rate, s.Full) }

// Server accepts cubby connections: it checks the preamble, runs TLS,
// logs the user in and serves their requests inside their home.
type Server struct {
	// TLSConfig holds the server certificate. Serve forces TLS 1.3.
	TLSConfig *tls.Config
	// Users are the accounts when the server starts; SetUsers replaces
	// them while it runs.
	Users UserDB
	// UsersFile is the users file that Users came from. Users change
	// their own passwords in it (users.SetPassword); when it is empty,
	// password changes are refused.
	UsersFile string
	// MinPasswordKDF is the weakest argon2id cost accepted for a new
	// password's verifier; the zero value means auth.MinNewKDFParams.
	MinPasswordKDF auth.KDFParams
	// DataDir holds homes/<user> and the partial uploads.
	DataDir string
	// FakeSaltKey keys the fake salts given for unknown users.
	FakeSaltKey []byte
	Logger      *slog.Logger

	// HandshakeTimeout bounds the time from accept to a finished login.
	HandshakeTimeout time.Duration
	// IdleTimeout ends a logged-in session that sends no request.
	IdleTimeout time.Duration
	// TransferTimeout ends a transfer whose peer stalls this long.
	TransferTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// MaxStartups bounds connections that have not logged in yet; the zero
	// value means DefaultStartups.
	MaxStartups Startups
	// MaxSessions and MaxSessionsPerUser bound logged-in sessions; 0 means
	// the defaults, a negative value no limit.
	MaxSessions        int
	MaxSessionsPerUser int
	// RequestRate is how many requests per second a session may send on
	// average, with bursts of RequestBurst; faster requests wait. 0 means
	// the defaults, a negative rate no limit.
	RequestRate  float64
	RequestBurst int
	// Guard slows password guessing; nil means a LoginGuard with its
	// defaults.
	Guard *LoginGuard

	// Jail runs users' programs. When it is nil, commands are refused
	// with JailError as the reason; transfers work regardless.
	Jail      Jail
	JailError error
	// Limits bounds each program; the zero value means sandbox.DefaultLimits.
	Limits sandbox.Limits
	// ReceiptKey signs the receipt of every upload into a drop box: the
	// host key, whose fingerprint users pin. Nil means no receipts.
	ReceiptKey ed25519.PrivateKey
	// HomeOwner, when set, owns every home and uploaded file: the host uid
	// and gid the jail's user maps to, so jailed programs can use them.
	HomeOwner *Owner

	// users, once set by SetUsers, replaces Users.
	users atomic.Pointer[UserDB]

	usage     *usageBook // quota usage per user, made by init
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	unauth    *list.List // *conn not yet logged in, oldest first
	sessions  map[string]int
	nsessions int
	dropped   int       // waiting connections dropped since lastDropLog
	droppedAt time.Time // when that was last logged
	closed    bool
	active    atomic.Int64
	wg        sync.WaitGroup
	cancel    context.CancelFunc
	ctx       context.Context
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (s *Server) init() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.ctx == nil {
		if s.TLSConfig == nil || s.userDB() == nil || s.DataDir == "" || len(s.FakeSaltKey) < 32 {
			return errors.New("session: Server needs TLSConfig, Users, DataDir and a FakeSaltKey of at least 32 bytes")
		}
		abs, err := filepath.Abs(s.DataDir)
		if err != nil {
			return fmt.Errorf("session: data dir: %w", err)
		}
		s.DataDir = abs // the jail binds homes by absolute path
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.unauth = list.New()
		s.sessions = map[string]int{}
		s.usage = s.newUsageBook()
		if s.Guard == nil {
			s.Guard = &LoginGuard{Now: s.Now}
		}
		if err := PrepareDataDir(s.DataDir); err != nil {
			return err
		}
		if err := os.MkdirAll(s.partialRoot(), 0o700); err != nil {
			return fmt.Errorf("session: creating %s: %w", s.partialRoot(), err)
		}
		s.wg.Add(1)
		go s.sweepPartials()
	}
	return nil
}

func (s *Server) homesDir() string { return filepath.Join(s.DataDir, "homes") }

// PrepareDataDir creates the data directory and its homes directory with
// modes the jail needs: traversable by the jail's uid (0711: it can reach
// its own home by name but list nothing) and owned by the server.
func PrepareDataDir(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "homes")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("session: creating %s: %w", d, err)
		}
		if err := os.Chmod(d, 0o711); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	return nil
}

// partialRoot lies beside the homes, on the same file system so a finished
// upload can be renamed into place, but outside every user's view.
func (s *Server) partialRoot() string { return filepath.Join(s.DataDir, "homes", ".partial") }

// Serve accepts connections on l until Shutdown or Close, serving each in
// its own goroutine. It always returns a non-nil error and closes l.
func (s *Server) Serve(l net.Listener) error {
	if err := s.init(); err != nil {
		l.Close()
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	s.logger().Info("listening", "addr", l.Addr().String())
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger().Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("session: accept: %w", err)
		}
		backoff = 0
		c := s.newConn(nc)
		if c == nil {
			nc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

// Shutdown stops accepting, asks every session to end after its current
// request, and waits for them until ctx is done, then closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		c.shutdown()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close stops the server at once, closing every connection.
func (s *Server) Close() error {
	s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		if s.cancel != nil {
			s.cancel()
		}
	}
	for l := range s.listeners {
		l.Close()
	}
}

func (s *Server) newConn(nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{
		srv:    s,
		nc:     nc,
		ctx:    ctx,
		cancel: cancel,
		log:    s.logger().With("remote", nc.RemoteAddr().String()),
	}
	s.dropWaiting()
	s.conns[c] = struct{}{}
	c.waiting = s.unauth.PushBack(c)
	s.wg.Add(1)
	n := s.active.Add(1)
	c.log.Info("connected", "active", n, "waiting", s.unauth.Len())
	return c
}

// dropWaiting applies MaxStartups before a new connection joins the
// waiting ones: it may close the oldest. s.mu is held.
func (s *Server) dropWaiting() {
	st := s.MaxStartups
	if st == (Startups{}) {
		st = DefaultStartups
	}
	n := s.unauth.Len()
	if n < st.Start {
		return
	}
	p := 100
	if n < st.Full {
		p = st.Rate + (100-st.Rate)*(n-st.Start)/(st.Full-st.Start)
	}
	if rand.IntN(100) >= p {
		return
	}
	old := s.unauth.Front().Value.(*conn)
	s.unauth.Remove(old.waiting)
	old.waiting = nil
	old.nc.Close()
	s.dropped++
	if now := time.Now(); now.Sub(s.droppedAt) >= 10*time.Second {
		s.logger().Warn("too many connections waiting to log in; dropping the oldest", "waiting", n, "max_startups", st.String(), "dropped", s.dropped)
		s.dropped, s.droppedAt = 0, now
	}
}

// loggedIn moves c from the waiting connections to user's sessions if
// the session limits allow, and checks that user is still an account: a
// reload that removed them either sees c in SetUsers or is seen here.
func (s *Server) loggedIn(c *conn, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.waiting != nil {
		s.unauth.Remove(c.waiting)
		c.waiting = nil
	}
	maxTotal := cmp.Or(s.MaxSessions, DefaultMaxSessions)
	if maxTotal > 0 && s.nsessions >= maxTotal {
		return errorf(wire.KindUnavailable, fmt.Sprintf("the server has its maximum of %d sessions open; try again later", maxTotal))
	}
	maxUser := cmp.Or(s.MaxSessionsPerUser, DefaultMaxSessionsPerUser)
	if maxUser > 0 && s.sessions[user] >= maxUser {
		return errorf(wire.KindUnavailable, fmt.Sprintf("%s already has %d sessions open, the most allowed; close one and try again", user, maxUser))
	}
	if _, ok := s.userDB().Lookup(user); !ok {
		return errorf(wire.KindAuth, auth.ErrLoginFailed.Error())
	}
	c.user = user
	s.sessions[user]++
	s.nsessions++
	return nil
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.waiting != nil {
		s.unauth.Remove(c.waiting)
		c.waiting = nil
	}
	if c.user != "" {
		s.nsessions--
		if s.sessions[c.user]--; s.sessions[c.user] <= 0 {
			delete(s.sessions, c.user)
		}
	}
	s.mu.Unlock()
	n := s.active.Add(-1)
	c.log.Info("disconnected", "active", n)
	s.wg.Done()
}

// userDB returns the accounts in force: the last SetUsers, or Users.
func (s *Server) userDB() UserDB {
	if p := s.users.Load(); p != nil {
		return *p
	}
	return s.Users
}

// SetUsers puts db in force for every later login and command, and ends
// the sessions of users db no longer has (removed or disabled) with a
// message. It is safe to call while the server runs; it returns the
// number of sessions ended.
func (s *Server) SetUsers(db UserDB) int {
	s.users.Store(&db)
	s.mu.Lock()
	var gone []*conn
	for c := range s.conns {
		if c.user == "" {
			continue
		}
		if _, ok := db.Lookup(c.user); !ok {
			gone = append(gone, c)
		}
	}
	s.mu.Unlock()
	for _, c := range gone {
		c.log.Warn("ending session: the account was removed or disabled")
		c.kick("your account was removed or disabled by the admin; the session is closed")
	}
	return len(gone)
}

// Sessions reports how many logged-in sessions are open.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nsessions
}

// Waiting reports how many connections have not logged in yet.
func (s *Server) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unauth == nil {
		return 0
	}
	return s.unauth.Len()
}

// ActiveConnections reports how many connections are open.
func (s *Server) ActiveConnections() int { return int(s.active.Load()) }

// Owner is a host uid and gid.
type Owner struct{ UID, GID int }

// DefaultMaxTimeout caps the wall clock a client may ask for one command
// when the user has no max_timeout of their own.
const DefaultMaxTimeout = 10 * time.Minute

// limitsFor returns the limits for u's programs: the server's, overridden
// by the user's users.toml limits, with the wall clock the client asked for
// (0: the default), which may not exceed the user's max_timeout.
func (s *Server) limitsFor(u *users.User, timeout time.Duration) (sandbox.Limits, error) {
	l := s.Limits
	if l == (sandbox.Limits{}) {
		l = sandbox.DefaultLimits()
	}
	ul := u.Limits
	set := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	set(&l.Memory, ul.Memory)
	set(&l.FileSize, ul.FileSize)
	set(&l.Output, ul.Output)
	set(&l.Processes, ul.Processes)
	set(&l.OpenFiles, ul.OpenFiles)
	if ul.CPUTime != 0 {
		l.CPUTime = ul.CPUTime
	}
	if ul.Timeout != 0 {
		l.WallClock = ul.Timeout
	}
	maxT := cmp.Or(ul.MaxTimeout, DefaultMaxTimeout)
	maxT = max(maxT, l.WallClock)
	if timeout > 0 {
		if timeout > maxT {
			return l, errorf(wire.KindInvalid, fmt.Sprintf("a timeout of %v is more than your limit of %v", timeout, maxT))
		}
		l.WallClock = timeout
	}
	return l, nil
}

// lookup finds the verifier for a login; unknown and disabled users get
// false and then a fake challenge.
func (s *Server) lookup(name string) (auth.Verifier, bool) {
	if users.ValidName(name) != nil {
		return auth.Verifier{}, false
	}
	u, ok := s.userDB().Lookup(name)
	if !ok {
		return auth.Verifier{}, false
	}
	return u.Verifier, true
}

// openHome opens (creating on first login) the user's home.
func (s *Server) openHome(user string) (*home, error) {
	if err := users.ValidName(user); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.homesDir(), user)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("session: creating home %s: %w", dir, err)
	}
	if o := s.HomeOwner; o != nil {
		if err := os.Lchown(dir, o.UID, o.GID); err != nil {
			return nil, fmt.Errorf("session: giving home %s to uid %d: %w", dir, o.UID, err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("session: opening home %s: %w", dir, err)
	}
	return &home{user: user, root: root}, nil
}
