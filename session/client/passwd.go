package client

import (
	"context"
	"fmt"
	"time"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/wire"
)

// Passwd changes the logged-in user's password from old to new. It proves
// old with a fresh login exchange bound to this connection and sends the
// verifier of new (computed here with Config.PasswordKDF), so neither
// password crosses the wire. It checks nothing about new; callers apply
// their own rules.
func (c *Client) Passwd(ctx context.Context, old, new []byte) error {
	kdf := c.cfg.PasswordKDF
	if kdf == (auth.KDFParams{}) {
		kdf = auth.DefaultKDFParams()
	}
	nv, err := auth.NewVerifier(new, kdf)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.nc.SetDeadline(time.Time{})
	cs := c.tc.ConnectionState()
	cb, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		return fmt.Errorf("client: channel binding: %w", err)
	}
	cl, err := auth.NewClientLogin(c.user, old, cb)
	if err != nil {
		return err
	}
	c.setTransferDeadline()
	if err := c.wc.WriteMessage(&wire.Passwd{Message: cl.First(), Verifier: nv.String()}); err != nil {
		return c.readError(err)
	}
	ch, err := expect[*wire.AuthChallenge](c)
	if err != nil {
		return err
	}
	final, err := cl.Final(ch.Message)
	if err != nil {
		// The server waits for an answer this client cannot give.
		c.nc.Close()
		return err
	}
	c.setTransferDeadline()
	if err := c.wc.WriteMessage(&wire.AuthResponse{Message: final}); err != nil {
		return c.readError(err)
	}
	ok, err := expect[*wire.PasswdOK](c)
	if err != nil {
		return err
	}
	if err := cl.Verify(ok.Message); err != nil {
		return err
	}
	c.passwordChanged()
	return nil
}
