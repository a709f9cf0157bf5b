package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Frame layout and limits.
const (
	HeaderLen   = 1 + 4   // type, then big-endian payload length
	MaxFrameLen = 1 << 20 // the largest payload either side accepts
	// DataChunk is the payload size senders use for Data frames.
	DataChunk = 256 << 10
)

// Framing errors. Both end the connection.
var (
	ErrFrameTooLarge = errors.New("wire: frame exceeds the reader's limit")
	ErrUnknownType   = errors.New("wire: unknown frame type")
)

// Conn reads and writes frames on a byte stream, normally a TLS
// connection. One goroutine may read while others write; writes are
// serialized so frames never interleave.
type Conn struct {
	rw io.ReadWriter
	br *bufio.Reader
	// rbuf holds the last payload read; it grows to the largest frame
	// seen, never beyond MaxFrameLen.
	rbuf []byte
	hdr  [HeaderLen]byte

	wmu  sync.Mutex
	bw   *bufio.Writer
	wbuf []byte
}

// NewConn returns a Conn framing rw.
func NewConn(rw io.ReadWriter) *Conn {
	return &Conn{
		rw: rw,
		br: bufio.NewReaderSize(rw, 64<<10),
		bw: bufio.NewWriterSize(rw, 64<<10),
	}
}

// ReadFrame reads one frame. The payload is valid until the next call.
// It fails before allocating if the declared length exceeds MaxFrameLen,
// and on a type this version does not know.
func (c *Conn) ReadFrame() (Type, []byte, error) {
	if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
		return 0, nil, err
	}
	t := Type(c.hdr[0])
	n := binary.BigEndian.Uint32(c.hdr[1:])
	if n > MaxFrameLen {
		return t, nil, fmt.Errorf("%w: %v frame of %d bytes, limit %d", ErrFrameTooLarge, t, n, MaxFrameLen)
	}
	if !t.Known() {
		return t, nil, fmt.Errorf("%w: 0x%02x", ErrUnknownType, uint8(t))
	}
	if int(n) > cap(c.rbuf) {
		c.rbuf = make([]byte, n)
	}
	p := c.rbuf[:n]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return t, nil, noEOF(err)
	}
	return t, p, nil
}

// ReadMessage reads and decodes one frame. Byte fields of the result alias
// the read buffer and are valid until the next read.
func (c *Conn) ReadMessage() (Message, error) {
	t, p, err := c.ReadFrame()
	if err != nil {
		return nil, err
	}
	return Decode(t, p)
}

// WriteMessage encodes m into one frame and flushes it.
func (c *Conn) WriteMessage(m Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b, err := m.AppendBinary(append(c.wbuf[:0], 0, 0, 0, 0, 0))
	if err != nil {
		return err
	}
	c.wbuf = b[:0]
	n := len(b) - HeaderLen
	if n > MaxFrameLen {
		return errMessageTooLarge
	}
	b[0] = byte(m.Type())
	binary.BigEndian.PutUint32(b[1:], uint32(n))
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	return c.bw.Flush()
}

// WriteData writes p as Data frames of at most DataChunk bytes without
// copying it and without flushing: the frame that ends a transfer flushes.
func (c *Conn) WriteData(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for len(p) > 0 {
		chunk := p[:min(len(p), DataChunk)]
		p = p[len(chunk):]
		var hdr [HeaderLen]byte
		hdr[0] = byte(TypeData)
		binary.BigEndian.PutUint32(hdr[1:], uint32(len(chunk)))
		if _, err := c.bw.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := c.bw.Write(chunk); err != nil {
			return err
		}
	}
	return nil
}

// Flush writes any buffered frames.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.bw.Flush()
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
