package main

import (
	"context"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"time"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session"
)

// settleTime is how long a changed users file must stay unchanged before
// it is read, so that an editor writing it in place is not caught halfway.
const settleTime = 100 * time.Millisecond

// reloader keeps the server's accounts in step with the users file: it
// reloads when the file changes (polled) and when asked (SIGHUP). A file
// that does not load is logged with file:line and the accounts in force
// stay as they were.
type reloader struct {
	path string
	log  *slog.Logger
	// accept vets a new configuration before it is put in force.
	accept func(*users.Config) error
	// apply puts it in force and returns the number of sessions ended.
	apply func(*users.Config) int
	// onHUP, if set, runs on SIGHUP before the reload.
	onHUP func()

	cur  *users.Config
	seen os.FileInfo // the file as last read, or last found unreadable
}

// newReloader starts from cfg, loaded from path.
func newReloader(path string, cfg *users.Config, log *slog.Logger, accept func(*users.Config) error, apply func(*users.Config) int) *reloader {
	r := &reloader{path: path, log: log, accept: accept, apply: apply, cur: cfg}
	r.seen, _ = os.Stat(path)
	return r
}

// sameFile reports whether a and b describe the same version of a file:
// the same inode (an atomic rename makes a new one), size and mtime.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// run polls every interval (never when it is 0) and reloads on each value
// from hup, until ctx is done.
func (r *reloader) run(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if r.onHUP != nil {
				r.onHUP()
			}
			r.reload("SIGHUP")
		case <-tick:
			r.poll()
		}
	}
}

// poll reloads if the file changed since it was last read.
func (r *reloader) poll() {
	fi, err := os.Stat(r.path)
	if err != nil {
		if r.seen != nil {
			r.log.Error("users file is unreadable; keeping the previous configuration", "err", err)
			r.seen = nil
		}
		return
	}
	if sameFile(fi, r.seen) {
		return
	}
	time.Sleep(settleTime)
	if again, err := os.Stat(r.path); err != nil || !sameFile(fi, again) {
		return // still being written; the next poll sees it
	}
	r.reload("file changed")
}

// reload loads the file and, if it is good, puts it in force.
func (r *reloader) reload(why string) {
	start := time.Now()
	r.seen, _ = os.Stat(r.path)
	cfg, err := users.Load(r.path)
	if err == nil {
		err = r.accept(cfg)
	}
	if err != nil {
		r.log.Error("users file rejected; keeping the previous configuration", "why", why, "err", err)
		return
	}
	added, removed, changed := diffUsers(r.cur, cfg)
	ended := r.apply(cfg)
	r.cur = cfg
	r.log.Info("users reloaded", "why", why, "users", len(cfg.Users),
		"added", added, "removed", removed, "changed", changed, "sessions_ended", ended,
		"took", time.Since(start).Round(time.Microsecond))
}

// diffUsers names the accounts that appeared, went away (deleted or
// disabled) and changed (password, commands, quota, limits).
func diffUsers(old, cur *users.Config) (added, removed, changed []string) {
	for name, u := range cur.Users {
		o, ok := old.Lookup(name)
		_, nowOK := cur.Lookup(name)
		switch {
		case !ok && nowOK:
			added = append(added, name)
		case ok && !nowOK:
			removed = append(removed, name)
		case ok && !sameUser(o, u):
			changed = append(changed, name)
		}
	}
	for name := range old.Users {
		if _, ok := cur.Users[name]; !ok {
			if _, was := old.Lookup(name); was {
				removed = append(removed, name)
			}
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	slices.Sort(changed)
	return added, removed, changed
}

func sameUser(a, b *users.User) bool {
	x, y := *a, *b
	x.Line, y.Line = 0, 0
	return reflect.DeepEqual(x, y)
}

// userDB adapts a users.Config to session.UserDB.
var _ session.UserDB = (*users.Config)(nil)
