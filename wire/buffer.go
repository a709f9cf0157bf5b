package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Decoding errors. A decoder records the first one and ignores the rest,
// so a message's UnmarshalBinary is a straight list of field reads.
var (
	ErrShortPayload    = errors.New("wire: payload ends inside a field")
	ErrTrailingBytes   = errors.New("wire: bytes left over after the last field")
	ErrInvalidUTF8     = errors.New("wire: string is not valid UTF-8")
	ErrInvalidBool     = errors.New("wire: boolean is neither 0 nor 1")
	ErrFieldTooLong    = errors.New("wire: field longer than its limit")
	ErrInvalidStream   = errors.New("wire: output stream is neither 1 (stdout) nor 2 (stderr)")
	errMessageTooLarge = errors.New("wire: encoded message exceeds MaxFrameLen")
)

// decoder reads fields from a payload with a sticky error: after the first
// failure every read returns a zero value, and finish reports the failure.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail(ErrShortPayload)
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) uint8() uint8 {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) uint16() uint16 {
	p := d.take(2)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (d *decoder) uint32() uint32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (d *decoder) uint64() uint64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

func (d *decoder) int64() int64 { return int64(d.uint64()) }

func (d *decoder) bool() bool {
	switch d.uint8() {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail(ErrInvalidBool)
		return false
	}
}

// bytes reads a uint32-length-prefixed byte string of at most limit bytes.
// The result aliases the payload.
func (d *decoder) bytes(limit int) []byte {
	n := d.uint32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(limit) {
		d.fail(fmt.Errorf("%w: %d bytes, limit %d", ErrFieldTooLong, n, limit))
		return nil
	}
	return d.take(int(n))
}

// string reads a length-prefixed UTF-8 string of at most limit bytes.
func (d *decoder) string(limit int) string {
	p := d.bytes(limit)
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(p) {
		d.fail(ErrInvalidUTF8)
		return ""
	}
	return string(p)
}

func (d *decoder) sum() (s [32]byte) {
	copy(s[:], d.take(32))
	return s
}

// finish reports the first error, or ErrTrailingBytes if input remains.
func (d *decoder) finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d bytes", ErrTrailingBytes, len(d.b))
	}
	return nil
}

func appendUint16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendUint32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendBytes(b, p []byte) []byte {
	b = appendUint32(b, uint32(len(p)))
	return append(b, p...)
}

func appendString(b []byte, s string) []byte {
	b = appendUint32(b, uint32(len(s)))
	return append(b, s...)
}
