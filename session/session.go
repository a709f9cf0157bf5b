package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cubby-dev/cubby/sandbox"
	"github.com/cubby-dev/cubby/wire"
)

// session is a logged-in connection: the user's home, the working
// directory, and at most one request at a time.
type session struct {
	conn *conn
	wc   *wire.Conn
	home *home
	cwd  string // clean, relative to the home; "." is the home
	log  *slog.Logger

	// A request that streams to the client (a download) runs in its own
	// goroutine so the loop can still read Cancel; activeDone is closed
	// when it ends.
	mu           sync.Mutex
	activeCancel context.CancelFunc
	activeDone   chan struct{}
	activeInput  chan []byte // Stdin frames for a running program, or nil

	limiter tokenBucket // requests

	// jail runs this session's programs, keeping their jail between
	// commands; made at the first program, closed when the session ends.
	jail *sandbox.Session
}

// errDraining ends the loop when the server shuts down between requests.
var errDraining = errors.New("session: server shutting down")

// errKicked ends the loop when the admin removed or disabled the user.
var errKicked = errors.New("session: account removed or disabled")

func (s *session) run(ctx context.Context) {
	defer func() {
		if s.jail != nil {
			s.jail.Close()
		}
	}()
	// A client that goes away takes whatever it was running with it.
	defer s.waitActive()
	defer s.cancelActive()
	for {
		m, err := s.next()
		if err != nil {
			switch {
			case s.conn.kickMessage() != "":
				s.endKicked()
			case errors.Is(err, errDraining):
				s.log.Info("closing: server shutting down")
				s.conn.writeError(s.wc, &wire.Error{Kind: wire.KindOther, Message: "the server is shutting down"})
			case isTimeout(err):
				s.log.Info("closing: idle timeout")
				s.conn.writeError(s.wc, &wire.Error{Kind: wire.KindTimeout, Message: "session closed after being idle too long"})
			default:
				s.conn.protocolError(s.wc, err)
			}
			return
		}
		if err := s.dispatch(ctx, m); err != nil {
			if s.conn.kickMessage() != "" {
				s.endKicked()
				return
			}
			s.log.Info("closing", "err", err)
			return
		}
	}
}

// endKicked tells the client why the admin ended the session, once the
// request in progress (killed by the kick) has ended.
func (s *session) endKicked() {
	s.cancelActive()
	s.waitActive()
	s.log.Info("closing: account removed or disabled")
	s.conn.writeError(s.wc, &wire.Error{Kind: wire.KindAuth, Message: s.conn.kickMessage()})
}

// next reads the next frame with the idle deadline, or fails if the server
// is draining.
func (s *session) next() (wire.Message, error) {
	c := s.conn
	c.nc.SetReadDeadline(c.srv.now().Add(orDefault(c.srv.IdleTimeout, DefaultIdleTimeout)))
	if c.kickMessage() != "" {
		return nil, errKicked
	}
	if c.draining.Load() && !s.busy() {
		return nil, errDraining
	}
	m, err := s.wc.ReadMessage()
	if err != nil && c.kickMessage() != "" {
		return nil, errKicked
	}
	if err != nil && c.draining.Load() && isTimeout(err) {
		return nil, errDraining
	}
	return m, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dispatch handles one frame. A returned error ends the connection;
// errors the user should see are sent as Error frames by the handlers.
func (s *session) dispatch(ctx context.Context, m wire.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic handling request", "type", m.Type(), "panic", r, "stack", string(debug.Stack()))
			s.conn.writeError(s.wc, &wire.Error{Kind: wire.KindInternal, Message: "internal server error"})
			err = fmt.Errorf("session: panic in %v handler", m.Type())
		}
	}()
	switch m := m.(type) {
	case *wire.Cancel:
		s.cancelActive()
		return nil
	case *wire.Stdin:
		s.feedInput(m.Data)
		return nil
	}
	// A new request waits for the previous streaming one: the client only
	// sends it after that one ended, so this is brief.
	s.waitActive()
	if err := s.throttle(ctx); err != nil {
		return err
	}
	// Until a user whose password was set for them has chosen their own,
	// only Passwd is served. Every other frame is refused, not only the
	// requests known here, so that a request type added later cannot
	// slip past.
	if _, ok := m.(*wire.Passwd); !ok && s.conn.srv.mustChangePassword(s.home.user) {
		return s.replyError(errorf(wire.KindPasswordChange, s.home.user+" must set a new password first (cubby asks at login)"), m.Type().String())
	}
	switch m := m.(type) {
	case *wire.UploadRequest:
		return s.upload(ctx, m)
	case *wire.DownloadRequest:
		s.startActive(ctx, nil, func(ctx context.Context) error { return s.download(ctx, m) })
		return nil
	case *wire.Command:
		return s.command(ctx, m)
	case *wire.List:
		return s.list(m)
	case *wire.Mkdir:
		return s.mkdir(m)
	case *wire.SetAttr:
		return s.setAttr(m)
	case *wire.Passwd:
		return s.passwd(ctx, m)
	default:
		return s.conn.unexpected(s.wc, m, "a request")
	}
}

// startActive runs a streaming request in its own goroutine. The request
// message is copied first: the loop's next read reuses the frame buffer.
func (s *session) startActive(ctx context.Context, input chan []byte, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	s.mu.Lock()
	s.activeCancel, s.activeDone, s.activeInput = cancel, done, input
	s.mu.Unlock()
	go func() {
		defer close(done)
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in streaming request", "panic", r, "stack", string(debug.Stack()))
				s.conn.nc.Close()
			}
		}()
		if err := f(ctx); err != nil {
			s.log.Info("closing: streaming request failed", "err", err)
			s.conn.nc.Close()
		}
		// Restart the idle clock: the loop's read began before this request.
		s.conn.nc.SetReadDeadline(s.conn.srv.now().Add(orDefault(s.conn.srv.IdleTimeout, DefaultIdleTimeout)))
		if s.conn.draining.Load() || s.conn.kickMessage() != "" {
			s.conn.nc.SetReadDeadline(time.Now())
		}
	}()
}

func (s *session) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.activeDone == nil {
		return false
	}
	select {
	case <-s.activeDone:
		return false
	default:
		return true
	}
}

// feedInput hands a Stdin frame to the running program. The frame buffer
// is reused by the next read, so the data is copied. Input for a program
// that has ended, or that takes none, is dropped.
func (s *session) feedInput(data []byte) {
	s.mu.Lock()
	input, done := s.activeInput, s.activeDone
	s.mu.Unlock()
	if input == nil {
		return
	}
	select {
	case input <- append([]byte(nil), data...):
	case <-done:
	}
}

func (s *session) cancelActive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.activeCancel != nil {
		s.activeCancel()
	}
}

func (s *session) waitActive() {
	s.mu.Lock()
	done := s.activeDone
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// replyError sends err to the client as an Error frame about subject and
// logs what the client is not told.
func (s *session) replyError(err error, subject string) error {
	we := toWire(err, subject)
	if we.Kind == wire.KindInternal {
		s.log.Error("request failed", "subject", subject, "err", err)
	} else {
		s.log.Info("request refused", "subject", subject, "err", err)
	}
	s.refreshWriteDeadline()
	return s.wc.WriteMessage(we)
}

// refreshWriteDeadline extends the write deadline before each write, so a
// client that stops reading is dropped after TransferTimeout.
func (s *session) refreshWriteDeadline() {
	s.conn.nc.SetWriteDeadline(s.conn.srv.now().Add(orDefault(s.conn.srv.TransferTimeout, DefaultTransferTimeout)))
}

// tokenBucket paces requests: rate a second on average, burst at once.
type tokenBucket struct {
	tokens float64
	at     time.Time
}

// throttle waits until the session may send another request, so that one
// session cannot keep the server busy with a stream of cheap requests.
func (s *session) throttle(ctx context.Context) error {
	srv := s.conn.srv
	rate := srv.RequestRate
	if rate == 0 {
		rate = DefaultRequestRate
	}
	if rate < 0 {
		return nil
	}
	burst := float64(srv.RequestBurst)
	if burst <= 0 {
		burst = max(DefaultRequestBurst*rate/DefaultRequestRate, 1)
	}
	b := &s.limiter
	now := time.Now()
	if b.at.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	wait := time.Duration((1 - b.tokens) / rate * float64(time.Second))
	b.tokens--
	s.log.Debug("request throttled", "wait", wait)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
