package session

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/wire"
)

// passwd changes the session user's password:
//
//	C: Passwd{client-first, new verifier}
//	S: AuthChallenge{server-first}          or Error
//	C: AuthResponse{client-final}
//	S: PasswdOK{server-final}               or Error
//
// The exchange is a fresh SCRAM login of the session's user, bound to this
// TLS connection, proving the old password; a wrong one counts as a failed
// login for the penalties. The new verifier was computed by the client, so
// neither password reaches the server. It is stored with
// users.SetPassword (locked, atomic, comments kept) and put in force at
// once. A refusal ends the request, not the session.
func (s *session) passwd(ctx context.Context, m *wire.Passwd) error {
	srv := s.conn.srv
	user := s.home.user
	if srv.UsersFile == "" {
		return s.replyError(errorf(wire.KindUnavailable, "passwd: this server cannot change passwords (it was started without its users file); ask the admin"), "passwd")
	}
	nv, err := auth.ParseVerifier(m.Verifier)
	if err == nil {
		floor := srv.MinPasswordKDF
		if floor == (auth.KDFParams{}) {
			floor = auth.MinNewKDFParams()
		}
		err = auth.CheckNewVerifier(nv, floor)
	}
	if err != nil {
		s.log.Info("passwd refused: bad new verifier", "err", err)
		return s.replyError(errorf(wire.KindInvalid, "passwd: the new password's verifier is not acceptable: "+trimAuth(err)), "passwd")
	}

	remote := s.conn.nc.RemoteAddr().String()
	guard := srv.Guard
	v := guard.Check(user, remote)
	if v.Refuse {
		s.log.Warn("passwd refused: too many failures", "rule", v.Why, "retry_in", v.RetryIn.Round(time.Millisecond))
		return s.replyError(errorf(wire.KindAuth, v.Message), "passwd")
	}
	// Only the session's own user can be named in the exchange.
	lookup := func(name string) (auth.Verifier, bool) {
		if name != user {
			return auth.Verifier{}, false
		}
		return srv.lookup(name)
	}
	sl := auth.NewServerLogin(lookup, srv.FakeSaltKey, s.conn.cb)
	first, err := sl.First(m.Message)
	if err != nil {
		s.log.Info("passwd refused", "reason", err)
		return s.replyError(errorf(wire.KindAuth, errWrongOld), "passwd")
	}
	s.refreshWriteDeadline()
	if err := s.wc.WriteMessage(&wire.AuthChallenge{Message: first}); err != nil {
		return err
	}
	next, err := s.wc.ReadMessage()
	if err != nil {
		return err
	}
	resp, ok := next.(*wire.AuthResponse)
	if !ok {
		return s.conn.unexpected(s.wc, next, "AuthResponse")
	}
	if v.Delay > 0 {
		t := time.NewTimer(v.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	final, err := sl.Final(resp.Message)
	if err != nil {
		p := guard.Failed(user, remote)
		s.log.Info("passwd refused: old password wrong", "method", "password", "reason", err, "failures", p.Failures)
		if p.Duration > 0 {
			s.log.Warn("login penalty", "failures", p.Failures, "penalty", p.Duration)
		}
		return s.replyError(errorf(wire.KindAuth, errWrongOld), "passwd")
	}
	guard.Succeeded(user, remote)

	if err := users.SetPassword(srv.UsersFile, user, nv); err != nil {
		if errors.Is(err, users.ErrNoUser) {
			return s.replyError(errorf(wire.KindAuth, "passwd: your account is no longer in the users file; nothing changed"), "passwd")
		}
		s.log.Error("passwd: cannot write the users file", "path", srv.UsersFile, "err", err)
		return s.replyError(errorf(wire.KindInternal, "passwd: the server could not save the new password; nothing changed; ask the admin to check the server log"), "passwd")
	}
	srv.setVerifier(user, nv)
	s.log.Info("password changed")
	s.refreshWriteDeadline()
	return s.wc.WriteMessage(&wire.PasswdOK{Message: final})
}

// mustChangePassword reports whether the accounts in force say that user
// must set a new password before anything else. It is asked at each
// request, so that the flag follows a reloaded users file.
func (s *Server) mustChangePassword(user string) bool {
	u, ok := s.userDB().Lookup(user)
	return ok && u.MustChangePassword
}

const errWrongOld = "passwd: your current password is wrong; nothing changed"

func trimAuth(err error) string {
	msg := err.Error()
	if len(msg) > len("auth: ") && msg[:len("auth: ")] == "auth: " {
		return msg[len("auth: "):]
	}
	return msg
}

// setVerifier puts v in force as user's password at once, without waiting
// for the users file to be reloaded, when the accounts in force are a
// *users.Config; like users.SetPassword, it clears MustChangePassword.
// The swap is a compare-and-swap so that a reload that lands meanwhile
// (and already has v, read from the file) is not undone.
func (s *Server) setVerifier(user string, v auth.Verifier) {
	for {
		p := s.users.Load()
		db := s.Users
		if p != nil {
			db = *p
		}
		cfg, ok := db.(*users.Config)
		if !ok {
			return
		}
		old, ok := cfg.Users[user]
		if !ok {
			return
		}
		u := *old
		u.Verifier = v
		u.MustChangePassword = false
		// A copy of everything in force (shares and drop boxes too),
		// with this one account changed.
		next := new(users.Config)
		*next = *cfg
		next.Users = maps.Clone(cfg.Users)
		next.Users[user] = &u
		var ndb UserDB = next
		if s.users.CompareAndSwap(p, &ndb) {
			return
		}
	}
}
