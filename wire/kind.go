package wire

import "fmt"

// Kind classifies an Error so a client can act on it without parsing text.
// Kinds travel on the wire: do not reorder or remove any; add new ones
// only at the end.
type Kind uint16

const (
	KindOther           Kind = iota // none of the below
	KindInternal                    // the server failed; detail is in its log
	KindProtocol                    // the peer broke the protocol; the connection ends
	KindAuth                        // login failed
	KindNotFound                    // no such file or directory
	KindExists                      // the target exists and may not be replaced
	KindPermission                  // the file system refused access
	KindOutsideHome                 // the path leads outside the user's home
	KindInvalid                     // a bad argument, such as an empty name
	KindNoSpace                     // the disk or a quota is full
	KindBusy                        // another transfer holds the same file
	KindChecksum                    // data arrived but its SHA-256 does not match
	KindIsDir                       // a file was expected, a directory found
	KindNotDir                      // a directory was expected, a file found
	KindTimeout                     // the peer was silent too long
	KindCanceled                    // the client canceled the request
	KindNotAllowed                  // the user may not run that program, or write there
	KindCommandNotFound             // no such program in the jail
	KindUnavailable                 // the server cannot offer this (e.g. no jail)
	KindPasswordChange              // the user must set a new password first
)

var kindNames = [...]string{
	KindOther:           "other",
	KindInternal:        "internal",
	KindProtocol:        "protocol",
	KindAuth:            "auth",
	KindNotFound:        "not found",
	KindExists:          "exists",
	KindPermission:      "permission",
	KindOutsideHome:     "outside home",
	KindInvalid:         "invalid",
	KindNoSpace:         "no space",
	KindBusy:            "busy",
	KindChecksum:        "checksum",
	KindIsDir:           "is a directory",
	KindNotDir:          "not a directory",
	KindTimeout:         "timeout",
	KindCanceled:        "canceled",
	KindNotAllowed:      "not allowed",
	KindCommandNotFound: "command not found",
	KindUnavailable:     "unavailable",
	KindPasswordChange:  "password change required",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint16(k))
}
