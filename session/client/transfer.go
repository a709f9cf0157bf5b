package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cubby-dev/cubby/session/receipt"
	"github.com/cubby-dev/cubby/session/stream"
	"github.com/cubby-dev/cubby/wire"
)

// TransferOptions adjust one upload or download.
type TransferOptions struct {
	// Resume continues an interrupted transfer whose prefix both sides
	// hash the same; otherwise the transfer starts over.
	Resume bool
	// Progress, if set, is called after each chunk with bytes done of total.
	Progress func(done, total int64)
	// Receipt, if set, is called by UploadTree for every file whose upload
	// came with a receipt (an upload into a drop box), in the order the
	// files were stored.
	Receipt func(*Result)
}

// Result describes a finished transfer.
type Result struct {
	Remote      string // home-relative remote path, "~/a.txt"
	Local       string
	Size        int64
	ResumedFrom int64
	Sum         [32]byte
	// Receipt is the server's signed receipt for an upload into a drop
	// box, checked to match this upload; nil for other transfers.
	Receipt *receipt.Receipt
}

// ErrCanceled is returned when the context ends a transfer.
var ErrCanceled = errors.New("client: transfer canceled")

func (c *Client) setTransferDeadline() {
	d := c.cfg.TransferTimeout
	if d <= 0 {
		d = 2 * time.Minute
	}
	c.nc.SetDeadline(time.Now().Add(d))
}

// Upload stores the local file at remote, which may be empty (the remote
// working directory) or a directory, in which case the file keeps its
// base name. The remote file appears only once complete and verified.
func (c *Client) Upload(ctx context.Context, local, remote string, opt TransferOptions) (*Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.nc.SetDeadline(time.Time{})

	f, err := os.Open(local)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("client: %s is a directory; use upload -r", local)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("client: %s is not a regular file", local)
	}
	size := fi.Size()
	c.setTransferDeadline()
	if err := c.wc.WriteMessage(&wire.UploadRequest{
		Path: remote, Name: filepath.Base(local), Size: uint64(size),
		Mode: uint32(fi.Mode().Perm()), MTime: fi.ModTime().UnixNano(), Resume: opt.Resume,
	}); err != nil {
		return nil, c.readError(err)
	}
	ready, err := expect[*wire.UploadReady](c)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	var start int64
	if ready.Offset > 0 && ready.Offset <= uint64(size) {
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, int64(ready.Offset))); err != nil {
			return nil, fmt.Errorf("client: reading %s: %w", local, err)
		}
		if subtle.ConstantTimeCompare(h.Sum(nil), ready.PrefixSum[:]) == 1 {
			start = int64(ready.Offset)
		} else {
			h.Reset()
		}
	}
	if err := c.wc.WriteMessage(&wire.UploadStart{Offset: uint64(start)}); err != nil {
		return nil, c.readError(err)
	}

	src := stream.NewSource(f, start, size-start, stream.ChunkSize, h)
	defer src.Close()
	done := start
	for {
		if ctx.Err() != nil {
			return nil, c.cancelUpload()
		}
		chunk, err := src.Next()
		if err == io.EOF {
			break
		}
		if len(chunk) > 0 {
			c.setTransferDeadline()
			if werr := c.wc.WriteData(chunk); werr != nil {
				return nil, c.serverGone(werr)
			}
			done += int64(len(chunk))
			if opt.Progress != nil {
				opt.Progress(done, size)
			}
		}
		if err != nil {
			c.cancelUpload()
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("client: %s shrank while uploading; nothing was stored", local)
			}
			return nil, fmt.Errorf("client: reading %s: %w", local, err)
		}
	}
	src.Close()
	var sum [32]byte
	h.Sum(sum[:0])
	if err := c.wc.WriteMessage(&wire.UploadEnd{Sum: sum}); err != nil {
		return nil, c.serverGone(err)
	}
	var rtext []byte
	m, err := c.wc.ReadMessage()
	if err != nil {
		return nil, c.readError(err)
	}
	if r, ok := m.(*wire.Receipt); ok {
		rtext = bytes.Clone(r.Text)
		m, err = c.wc.ReadMessage()
		if err != nil {
			return nil, c.readError(err)
		}
	}
	td, err := as[*wire.TransferDone](m)
	if err != nil {
		return nil, err
	}
	if td.Size != uint64(size) || td.Sum != sum {
		return nil, fmt.Errorf("client: server stored %d bytes with another SHA-256 than sent", td.Size)
	}
	res := &Result{Remote: td.Path, Local: local, Size: size, ResumedFrom: start, Sum: sum}
	if rtext != nil {
		if res.Receipt, err = c.checkReceipt(rtext, res); err != nil {
			return nil, fmt.Errorf("client: %s was stored, but the server's receipt for it is not valid: %w", td.Path, err)
		}
	}
	return res, nil
}

// checkReceipt parses a receipt the server sent and checks that it
// describes this upload and was signed by the key this connection's TLS
// handshake proved the server holds. A server with a CA-issued
// certificate presents another key than its host key; then only the
// signature is checked here, and verify-receipt checks the key later.
func (c *Client) checkReceipt(text []byte, res *Result) (*receipt.Receipt, error) {
	r, err := receipt.Parse(text)
	if err != nil {
		return nil, err
	}
	if err := r.Verify(); err != nil {
		return nil, err
	}
	if certs := c.tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		if k, ok := certs[0].PublicKey.(ed25519.PublicKey); ok && !k.Equal(r.Key) {
			return nil, fmt.Errorf("signed by %s, not by the key of this connection", r.Server)
		}
	}
	if r.User != c.user || r.Path != res.Remote || r.Size != res.Size || r.SHA256 != res.Sum {
		return nil, fmt.Errorf("it describes another upload: %s, %s, %d bytes, sha256 %x", receipt.Printable(r.User), receipt.Printable(r.Path), r.Size, r.SHA256[:4])
	}
	return r, nil
}

// cancelUpload tells the server to drop the upload and waits for its answer.
func (c *Client) cancelUpload() error {
	if err := c.wc.WriteMessage(&wire.Cancel{}); err != nil {
		return c.serverGone(err)
	}
	_, err := expect[*wire.TransferDone](c)
	var we *wire.Error
	if errors.As(err, &we) && we.Kind == wire.KindCanceled {
		return ErrCanceled
	}
	if err == nil {
		return ErrCanceled
	}
	return err
}

// serverGone explains a failed write: the server may have said why before
// it closed the connection.
func (c *Client) serverGone(werr error) error {
	c.nc.SetReadDeadline(time.Now().Add(time.Second))
	if m, err := c.wc.ReadMessage(); err == nil {
		if e, ok := m.(*wire.Error); ok {
			return e
		}
	}
	return c.readError(werr)
}

// PartialName is the hidden file a download writes before it is verified
// and renamed into place; a later --resume continues it.
func PartialName(target string) string {
	dir, base := filepath.Split(target)
	return filepath.Join(dir, "."+base+".cubby-part")
}

// Download fetches the remote file to local, which may be empty (the
// current directory) or a directory, in which case the file keeps its
// remote name. An existing local file is replaced only by a complete,
// verified download.
func (c *Client) Download(ctx context.Context, remote, local string, opt TransferOptions) (*Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.nc.SetDeadline(time.Time{})

	target := local
	if target == "" {
		target = "."
	}
	if fi, err := os.Stat(target); err == nil && fi.IsDir() {
		name := path.Base(strings.TrimRight(remote, "/"))
		if name == "." || name == "/" || name == "~" || name == ".." || name == "" {
			return nil, fmt.Errorf("client: %s is a directory; use download -r", remote)
		}
		target = filepath.Join(target, name)
	}
	partPath := PartialName(target)

	req := &wire.DownloadRequest{Path: remote}
	h := sha256.New()
	if opt.Resume {
		if pf, err := os.Open(partPath); err == nil {
			n, err := io.Copy(h, pf)
			pf.Close()
			if err == nil && n > 0 {
				req.Offset = uint64(n)
				h.Sum(req.PrefixSum[:0])
			}
		}
	}
	c.setTransferDeadline()
	if err := c.wc.WriteMessage(req); err != nil {
		return nil, c.readError(err)
	}
	stop := context.AfterFunc(ctx, func() { c.wc.WriteMessage(&wire.Cancel{}) })
	defer stop()

	ready, err := expect[*wire.DownloadReady](c)
	if err != nil {
		return nil, c.canceledOr(ctx, err)
	}
	if ready.Offset > ready.Size || (ready.Offset != 0 && ready.Offset != req.Offset) {
		return nil, fmt.Errorf("client: protocol error: server resumes at %d of %d", ready.Offset, ready.Size)
	}
	if ready.Offset == 0 {
		h.Reset()
	}
	part, err := os.OpenFile(partPath, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		c.drainDownload()
		return nil, fmt.Errorf("client: %w", err)
	}
	res, err := c.receive(part, h, ready, opt)
	if cerr := part.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("client: writing %s: %w", partPath, cerr)
	}
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) && we.Kind == wire.KindChecksum {
			os.Remove(partPath)
		}
		return nil, c.canceledOr(ctx, err)
	}
	if ready.Mode != 0 {
		os.Chmod(partPath, os.FileMode(ready.Mode&0o777))
	}
	if ready.MTime != 0 {
		t := time.Unix(0, ready.MTime)
		os.Chtimes(partPath, t, t)
	}
	if err := os.Rename(partPath, target); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	res.Local, res.Remote = target, remote
	return res, nil
}

// receive writes the Data frames of a download to part and checks the
// final hash. h holds the state after the resumed prefix.
func (c *Client) receive(part *os.File, h hash.Hash, ready *wire.DownloadReady, opt TransferOptions) (*Result, error) {
	size, done := int64(ready.Size), int64(ready.Offset)
	if err := part.Truncate(done); err != nil {
		c.drainDownload()
		return nil, fmt.Errorf("client: %w", err)
	}
	if _, err := part.Seek(done, io.SeekStart); err != nil {
		c.drainDownload()
		return nil, fmt.Errorf("client: %w", err)
	}
	sink := stream.NewSink(part, wire.DataChunk, h)
	sinkOpen := true
	closeSink := func() error {
		if !sinkOpen {
			return nil
		}
		sinkOpen = false
		return sink.Close()
	}
	defer closeSink()
	for {
		c.setTransferDeadline()
		m, err := c.wc.ReadMessage()
		if err != nil {
			return nil, c.readError(err)
		}
		switch m := m.(type) {
		case *wire.Data:
			if int64(len(m.Bytes)) > size-done {
				return nil, fmt.Errorf("client: protocol error: server sent more than the %d bytes announced", size)
			}
			sink.Write(m.Bytes)
			done += int64(len(m.Bytes))
			if opt.Progress != nil {
				opt.Progress(done, size)
			}
		case *wire.DownloadEnd:
			if err := closeSink(); err != nil {
				return nil, fmt.Errorf("client: writing %s: %w", part.Name(), err)
			}
			if done != size {
				return nil, fmt.Errorf("client: protocol error: download ended after %d of %d bytes", done, size)
			}
			var sum [32]byte
			h.Sum(sum[:0])
			if subtle.ConstantTimeCompare(sum[:], m.Sum[:]) != 1 {
				return nil, &wire.Error{Kind: wire.KindChecksum, Message: "SHA-256 mismatch: the download was damaged; the local file was left as it was"}
			}
			if err := part.Sync(); err != nil {
				return nil, fmt.Errorf("client: %w", err)
			}
			return &Result{Size: size, ResumedFrom: int64(ready.Offset), Sum: sum}, nil
		case *wire.Error:
			return nil, m
		default:
			return nil, fmt.Errorf("client: protocol error: server sent %v during a download", m.Type())
		}
	}
}

// drainDownload cancels a download the client cannot store and reads
// until the server's last frame, keeping the session usable.
func (c *Client) drainDownload() {
	c.wc.WriteMessage(&wire.Cancel{})
	for {
		c.setTransferDeadline()
		m, err := c.wc.ReadMessage()
		if err != nil {
			return
		}
		switch m.(type) {
		case *wire.DownloadEnd, *wire.Error:
			return
		}
	}
}

func (c *Client) canceledOr(ctx context.Context, err error) error {
	var we *wire.Error
	if ctx.Err() != nil && errors.As(err, &we) && we.Kind == wire.KindCanceled {
		return ErrCanceled
	}
	return err
}
