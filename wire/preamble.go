package wire

import (
	"errors"
	"fmt"
	"io"
)

// Magic opens every connection, in plaintext before TLS, so either side
// can tell a cubby peer of another version from something else entirely.
const Magic = "\x89CUBBY\r\n"

// Version is the protocol version this package speaks. It is bumped on
// every wire-incompatible change.
const Version = 1

// PreambleLen is the length of the magic plus the version byte.
const PreambleLen = len(Magic) + 1

// ErrNotCubby reports a peer whose first bytes are not Magic.
var ErrNotCubby = errors.New("wire: peer does not speak the cubby protocol")

// VersionError reports peers speaking different protocol versions.
type VersionError struct {
	Local, Remote  uint8
	RemoteIsServer bool
}

func (e *VersionError) Error() string {
	if e.RemoteIsServer {
		return fmt.Sprintf("server speaks cubby protocol %d, this client speaks %d", e.Remote, e.Local)
	}
	return fmt.Sprintf("client speaks cubby protocol %d, this server speaks %d", e.Remote, e.Local)
}

// WritePreamble writes Magic and Version.
func WritePreamble(w io.Writer) error {
	_, err := w.Write(append([]byte(Magic), Version))
	return err
}

// ReadPreamble reads the peer's preamble and returns its version, or
// ErrNotCubby. It reads exactly PreambleLen bytes.
func ReadPreamble(r io.Reader) (uint8, error) {
	var b [PreambleLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("%w: connection closed during the preamble", ErrNotCubby)
		}
		return 0, err
	}
	if string(b[:len(Magic)]) != Magic {
		return 0, ErrNotCubby
	}
	return b[len(Magic)], nil
}
