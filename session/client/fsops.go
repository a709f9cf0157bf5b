package client

import (
	"context"
	"time"

	"github.com/cubby-dev/cubby/wire"
)

// maxListPages bounds one List call: 2048 entries a page, 1,000 pages.
const maxListPages = 1000

// List returns the entries of a remote directory (or the one entry of a
// file), reading every page.
func (c *Client) List(ctx context.Context, remote string) ([]wire.Entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.nc.SetDeadline(time.Time{})
	var all []wire.Entry
	for page := 0; page < maxListPages; page++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.setTransferDeadline()
		if err := c.wc.WriteMessage(&wire.List{Path: remote, Offset: uint32(len(all))}); err != nil {
			return nil, c.readError(err)
		}
		l, err := expect[*wire.Listing](c)
		if err != nil {
			return nil, err
		}
		for _, e := range l.Entries {
			e.Name = string([]byte(e.Name)) // the frame buffer is reused
			all = append(all, e)
		}
		if !l.More || len(l.Entries) == 0 {
			return all, nil
		}
	}
	return all, nil
}

// Mkdir makes a remote directory; with parents, missing parents too, and
// an existing directory is not an error. It returns the "~/x" path.
func (c *Client) Mkdir(ctx context.Context, remote string, mode uint32, parents bool) (string, error) {
	return c.simple(&wire.Mkdir{Path: remote, Mode: mode, Parents: parents})
}

// SetAttr sets a remote file's permission bits (when setMode) and
// modification time (when mtime is not zero).
func (c *Client) SetAttr(ctx context.Context, remote string, setMode bool, mode uint32, mtime time.Time) error {
	req := &wire.SetAttr{Path: remote, SetMode: setMode, Mode: mode}
	if !mtime.IsZero() {
		req.MTime = mtime.UnixNano()
	}
	_, err := c.simple(req)
	return err
}

// simple sends a request answered by OK or Error.
func (c *Client) simple(req wire.Message) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.nc.SetDeadline(time.Time{})
	c.setTransferDeadline()
	if err := c.wc.WriteMessage(req); err != nil {
		return "", c.readError(err)
	}
	ok, err := expect[*wire.OK](c)
	if err != nil {
		return "", err
	}
	return ok.Path, nil
}
