package client

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cubby-dev/cubby/wire"
)

// maxTreeDepth bounds recursion into remote trees.
const maxTreeDepth = 64

// TreeResult counts what a recursive transfer moved.
type TreeResult struct {
	Files, Dirs int
	Bytes       int64
}

// UploadTree copies the local directory tree at local into remote (which
// is created; its parent must exist): every regular file byte-exact and
// verified, directory structure, permission bits (never setuid or setgid)
// and mtimes. Symbolic links and special files are skipped and reported
// through skipped.
func (c *Client) UploadTree(ctx context.Context, local, remote string, opt TransferOptions, skipped func(path, why string)) (*TreeResult, error) {
	res := &TreeResult{}
	type dirAttr struct {
		remote string
		mode   fs.FileMode
		mtime  time.Time
	}
	var dirs []dirAttr
	err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, err := filepath.Rel(local, p)
		if err != nil {
			return err
		}
		target := remote
		if rel != "." {
			target = path.Join(remote, filepath.ToSlash(rel))
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if _, err := c.Mkdir(ctx, target, 0o700, true); err != nil {
				return err
			}
			dirs = append(dirs, dirAttr{target, info.Mode().Perm(), info.ModTime()})
			res.Dirs++
		case info.Mode().IsRegular():
			r, err := c.Upload(ctx, p, target, opt)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			res.Files++
			res.Bytes += r.Size
			if r.Receipt != nil && opt.Receipt != nil {
				opt.Receipt(r)
			}
		default:
			if skipped != nil {
				skipped(p, "not a regular file or directory")
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	// Modes and times last, deepest first: writing into a directory
	// changes its mtime, and a read-only mode would stop the writes.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := c.SetAttr(ctx, d.remote, true, uint32(d.mode), d.mtime); err != nil {
			return res, err
		}
	}
	return res, nil
}

// DownloadTree copies the remote directory tree at remote into local
// (created if missing): files byte-exact and verified, structure,
// permission bits and mtimes. Remote symbolic links are skipped and
// reported through skipped.
func (c *Client) DownloadTree(ctx context.Context, remote, local string, opt TransferOptions, skipped func(path, why string)) (*TreeResult, error) {
	res := &TreeResult{}
	if err := c.downloadDir(ctx, remote, local, 0, opt, skipped, res); err != nil {
		return res, err
	}
	return res, nil
}

func (c *Client) downloadDir(ctx context.Context, remote, local string, depth int, opt TransferOptions, skipped func(string, string), res *TreeResult) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("client: %s: deeper than %d levels", remote, maxTreeDepth)
	}
	entries, err := c.List(ctx, remote)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(local, 0o755); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	res.Dirs++
	for _, e := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !safeName(e.Name) {
			if skipped != nil {
				skipped(path.Join(remote, e.Name), "name not usable here")
			}
			continue
		}
		rpath, lpath := path.Join(remote, e.Name), filepath.Join(local, e.Name)
		switch e.Mode & wire.ModeTypeMask {
		case wire.ModeDir:
			if err := c.downloadDir(ctx, rpath, lpath, depth+1, opt, skipped, res); err != nil {
				return err
			}
			mt := time.Unix(0, e.MTime)
			os.Chmod(lpath, fs.FileMode(e.Mode&0o777))
			os.Chtimes(lpath, mt, mt)
		case wire.ModeRegular:
			r, err := c.Download(ctx, rpath, lpath, opt)
			if err != nil {
				return fmt.Errorf("%s: %w", rpath, err)
			}
			res.Files++
			res.Bytes += r.Size
		default:
			if skipped != nil {
				skipped(rpath, "not a regular file or directory")
			}
		}
	}
	return nil
}

// safeName reports whether a name from the server is one plain element
// here: never "..", a separator, or (on Windows) a drive or reserved form.
func safeName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return false
	}
	if filepath.Separator == '\\' && strings.ContainsAny(name, `\:*?"<>|`) {
		return false
	}
	return filepath.Base(name) == name
}
