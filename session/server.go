package session

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
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
	// PartialTTL is how long an interrupted upload is kept for resuming.
	PartialTTL = 24 * time.Hour
)

// UserDB looks up accounts; it reports false for unknown and disabled users.
type UserDB interface {
	Lookup(name string) (*users.User, bool)
}

// Server accepts cubby connections: it checks the preamble, runs TLS,
// logs the user in and serves their requests inside their home.
type Server struct {
	// TLSConfig holds the server certificate. Serve forces TLS 1.3.
	TLSConfig *tls.Config
	Users     UserDB
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

	// Jail runs users' programs. When it is nil, commands are refused
	// with JailError as the reason; transfers work regardless.
	Jail      Jail
	JailError error
	// Limits bounds each program; the zero value means sandbox.DefaultLimits.
	Limits sandbox.Limits
	// HomeOwner, when set, owns every home and uploaded file: the host uid
	// and gid the jail's user maps to, so jailed programs can use them.
	HomeOwner *Owner

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
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
		if s.TLSConfig == nil || s.Users == nil || s.DataDir == "" || len(s.FakeSaltKey) < 32 {
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
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	n := s.active.Add(1)
	c.log.Info("connected", "active", n)
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	n := s.active.Add(-1)
	c.log.Info("disconnected", "active", n)
	s.wg.Done()
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
	u, ok := s.Users.Lookup(name)
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
