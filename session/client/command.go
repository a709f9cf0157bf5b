package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cubby-dev/cubby/wire"
)

// stdinChunk bounds one Stdin frame.
const stdinChunk = 32 << 10

// Command runs a command line in the session: a built-in such as cd, or a
// program in the user's jail on the server. Output is copied to stdout and
// stderr as it arrives. With stdin non-nil the input is forwarded until
// its end. Cancelling ctx stops the program (and all it started) and
// returns ErrCanceled; the session stays usable.
func (c *Client) Command(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nc.SetDeadline(time.Time{})
	req := &wire.Command{Line: line, Env: localEnv(), Stdin: stdin != nil}
	if t := c.cfg.CommandTimeout; t > 0 {
		req.Timeout = uint32(min(t.Round(time.Second), time.Duration(1<<31)*time.Second) / time.Second)
	}
	if err := c.wc.WriteMessage(req); err != nil {
		return 0, c.readError(err)
	}
	stop := context.AfterFunc(ctx, func() { c.wc.WriteMessage(&wire.Cancel{}) })
	defer stop()
	if stdin != nil {
		done := make(chan struct{})
		defer close(done)
		go c.forwardStdin(stdin, done)
	}
	for {
		m, err := c.wc.ReadMessage()
		if err != nil {
			return 0, c.readError(err)
		}
		switch m := m.(type) {
		case *wire.Output:
			w := stdout
			if m.Stream == wire.Stderr {
				w = stderr
			}
			if _, err := w.Write(m.Data); err != nil && !errors.Is(err, os.ErrClosed) {
				return 0, fmt.Errorf("client: writing output: %w", err)
			}
		case *wire.Exit:
			c.cwd = m.Cwd
			return int(m.Code), nil
		case *wire.Error:
			if m.Kind == wire.KindCanceled && ctx.Err() != nil {
				return 0, ErrCanceled
			}
			return 0, m
		default:
			return 0, fmt.Errorf("client: protocol error: server sent %v during a command", m.Type())
		}
	}
}

// forwardStdin sends the input as Stdin frames and an empty frame at its
// end. A command that ends first stops it at its next read.
func (c *Client) forwardStdin(r io.Reader, done <-chan struct{}) {
	buf := make([]byte, stdinChunk)
	for {
		n, err := r.Read(buf)
		select {
		case <-done:
			return
		default:
		}
		if n > 0 {
			if c.wc.WriteMessage(&wire.Stdin{Data: buf[:n]}) != nil {
				return
			}
		}
		if err != nil {
			c.wc.WriteMessage(&wire.Stdin{})
			return
		}
	}
}

// localEnv offers the server the variables it may pass to programs.
func localEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		if (name == "TERM" || name == "LANG" || strings.HasPrefix(name, "LC_")) && len(e) <= wire.MaxTextLen && len(env) < wire.MaxEnv {
			env = append(env, e)
		}
	}
	return env
}
