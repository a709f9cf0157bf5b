package wire

import (
	"fmt"
	"unicode/utf8"
)

// Field limits. A decoder rejects a longer field before looking at it.
const (
	MaxPathLen    = 4096     // a path as the user typed it
	MaxNameLen    = 255      // one file name
	MaxAuthLen    = 4096     // one login message
	MaxMessageLen = 4096     // human-readable text such as an error
	MaxTextLen    = 256      // short identifiers: user names, mechanisms, versions
	MaxLineLen    = 64 << 10 // one command line
	MaxEnv        = 16       // environment entries sent with a command
	MaxVerifier   = 512      // a password verifier string
	MaxReceiptLen = 32 << 10 // a drop-box receipt's text (receipt.MaxLen)
)

// Message is one framed protocol message. AppendBinary appends the payload
// (not the frame header); UnmarshalBinary decodes a whole payload and
// rejects trailing bytes. Decoded byte slices may alias the payload.
type Message interface {
	Type() Type
	AppendBinary(b []byte) ([]byte, error)
	UnmarshalBinary(p []byte) error
}

// Type is the first byte of a frame. Values never change meaning; new
// types are only added.
type Type uint8

// Frame types. docs/PROTOCOL.md lists the same table; a test keeps them in step.
const (
	TypeError           Type = 0x01
	TypeAuthStart       Type = 0x02
	TypeAuthChallenge   Type = 0x03
	TypeAuthResponse    Type = 0x04
	TypeAuthOK          Type = 0x05
	TypeUploadRequest   Type = 0x10
	TypeUploadReady     Type = 0x11
	TypeUploadStart     Type = 0x12
	TypeData            Type = 0x13
	TypeUploadEnd       Type = 0x14
	TypeTransferDone    Type = 0x15
	TypeDownloadRequest Type = 0x16
	TypeDownloadReady   Type = 0x17
	TypeDownloadEnd     Type = 0x18
	TypeCancel          Type = 0x19
	TypeCommand         Type = 0x20
	TypeOutput          Type = 0x21
	TypeStdin           Type = 0x22
	TypeExit            Type = 0x23
	TypeList            Type = 0x24
	TypeListing         Type = 0x25
	TypeMkdir           Type = 0x26
	TypeSetAttr         Type = 0x27
	TypeOK              Type = 0x28
	TypePasswd          Type = 0x29
	TypePasswdOK        Type = 0x2a
	TypeReceipt         Type = 0x2b
)

// newMessage returns an empty message of type t, or nil for an unknown type.
func newMessage(t Type) Message {
	switch t {
	case TypeError:
		return new(Error)
	case TypeAuthStart:
		return new(AuthStart)
	case TypeAuthChallenge:
		return new(AuthChallenge)
	case TypeAuthResponse:
		return new(AuthResponse)
	case TypeAuthOK:
		return new(AuthOK)
	case TypeUploadRequest:
		return new(UploadRequest)
	case TypeUploadReady:
		return new(UploadReady)
	case TypeUploadStart:
		return new(UploadStart)
	case TypeData:
		return new(Data)
	case TypeUploadEnd:
		return new(UploadEnd)
	case TypeTransferDone:
		return new(TransferDone)
	case TypeDownloadRequest:
		return new(DownloadRequest)
	case TypeDownloadReady:
		return new(DownloadReady)
	case TypeDownloadEnd:
		return new(DownloadEnd)
	case TypeCancel:
		return new(Cancel)
	case TypeCommand:
		return new(Command)
	case TypeOutput:
		return new(Output)
	case TypeStdin:
		return new(Stdin)
	case TypeExit:
		return new(Exit)
	case TypeList:
		return new(List)
	case TypeListing:
		return new(Listing)
	case TypeMkdir:
		return new(Mkdir)
	case TypeSetAttr:
		return new(SetAttr)
	case TypeOK:
		return new(OK)
	case TypePasswd:
		return new(Passwd)
	case TypePasswdOK:
		return new(PasswdOK)
	case TypeReceipt:
		return new(Receipt)
	}
	return nil
}

// knownTypes marks the types newMessage makes, so the per-frame check in
// ReadFrame allocates nothing.
var knownTypes = func() (k [256]bool) {
	for t := range k {
		k[t] = newMessage(Type(t)) != nil
	}
	return k
}()

// Known reports whether t is a frame type this version understands.
func (t Type) Known() bool { return knownTypes[t] }

func (t Type) String() string {
	if m := newMessage(t); m != nil {
		return fmt.Sprintf("%T", m)[len("*wire."):]
	}
	return fmt.Sprintf("Type(0x%02x)", uint8(t))
}

// Decode decodes a payload of type t into a new message.
func Decode(t Type, payload []byte) (Message, error) {
	m := newMessage(t)
	if m == nil {
		return nil, fmt.Errorf("%w: 0x%02x", ErrUnknownType, uint8(t))
	}
	if err := m.UnmarshalBinary(payload); err != nil {
		return nil, fmt.Errorf("wire: decoding %v: %w", t, err)
	}
	return m, nil
}

// checkText reports an encoding error for a string field the decoder would refuse.
func checkText(field, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("wire: %s is %d bytes, limit %d", field, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("wire: %s is not valid UTF-8", field)
	}
	return nil
}

func checkBytes(field string, p []byte, limit int) error {
	if len(p) > limit {
		return fmt.Errorf("wire: %s is %d bytes, limit %d", field, len(p), limit)
	}
	return nil
}

// Error ends a request, or with KindProtocol the connection. Message is
// written for the user and never carries internal detail.
type Error struct {
	Kind    Kind
	Message string
}

func (*Error) Type() Type { return TypeError }

func (m *Error) Error() string { return m.Message }

func (m *Error) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("error message", m.Message, MaxMessageLen); err != nil {
		return b, err
	}
	b = appendUint16(b, uint16(m.Kind))
	return appendString(b, m.Message), nil
}

func (m *Error) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = Error{Kind: Kind(d.uint16()), Message: d.string(MaxMessageLen)}
	return d.finish()
}

// AuthStart opens the login: the client-first-message of the mechanism.
type AuthStart struct {
	Mechanism string
	Message   []byte
}

func (*AuthStart) Type() Type { return TypeAuthStart }

func (m *AuthStart) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("mechanism", m.Mechanism, MaxTextLen); err != nil {
		return b, err
	}
	if err := checkBytes("login message", m.Message, MaxAuthLen); err != nil {
		return b, err
	}
	b = appendString(b, m.Mechanism)
	return appendBytes(b, m.Message), nil
}

func (m *AuthStart) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = AuthStart{Mechanism: d.string(MaxTextLen), Message: d.bytes(MaxAuthLen)}
	return d.finish()
}

// authMessage is the shape shared by AuthChallenge and AuthResponse.
func appendAuth(b, msg []byte) ([]byte, error) {
	if err := checkBytes("login message", msg, MaxAuthLen); err != nil {
		return b, err
	}
	return appendBytes(b, msg), nil
}

func decodeAuth(p []byte) ([]byte, error) {
	d := decoder{b: p}
	msg := d.bytes(MaxAuthLen)
	return msg, d.finish()
}

// AuthChallenge is the server-first-message.
type AuthChallenge struct{ Message []byte }

func (*AuthChallenge) Type() Type { return TypeAuthChallenge }

func (m *AuthChallenge) AppendBinary(b []byte) ([]byte, error) { return appendAuth(b, m.Message) }

func (m *AuthChallenge) UnmarshalBinary(p []byte) (err error) {
	m.Message, err = decodeAuth(p)
	return err
}

// AuthResponse is the client-final-message.
type AuthResponse struct{ Message []byte }

func (*AuthResponse) Type() Type { return TypeAuthResponse }

func (m *AuthResponse) AppendBinary(b []byte) ([]byte, error) { return appendAuth(b, m.Message) }

func (m *AuthResponse) UnmarshalBinary(p []byte) (err error) {
	m.Message, err = decodeAuth(p)
	return err
}

// AuthOK ends a successful login: the server-final-message, which the
// client must verify before it trusts the session, and the session's start.
type AuthOK struct {
	Message []byte // server-final-message
	User    string
	Cwd     string // home-relative working directory, "~" at login
	// MustChange says the user must set a new password (Passwd) before
	// the server accepts any other request.
	MustChange bool
}

func (*AuthOK) Type() Type { return TypeAuthOK }

func (m *AuthOK) AppendBinary(b []byte) ([]byte, error) {
	if err := checkBytes("login message", m.Message, MaxAuthLen); err != nil {
		return b, err
	}
	if err := checkText("user", m.User, MaxTextLen); err != nil {
		return b, err
	}
	if err := checkText("cwd", m.Cwd, MaxPathLen); err != nil {
		return b, err
	}
	b = appendBytes(b, m.Message)
	b = appendString(b, m.User)
	b = appendString(b, m.Cwd)
	return appendBool(b, m.MustChange), nil
}

func (m *AuthOK) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = AuthOK{Message: d.bytes(MaxAuthLen), User: d.string(MaxTextLen), Cwd: d.string(MaxPathLen), MustChange: d.bool()}
	return d.finish()
}

// UploadRequest asks to store Size bytes at Path. When Path is empty or
// names a directory, the file is stored there under Name.
type UploadRequest struct {
	Path   string
	Name   string
	Size   uint64
	Mode   uint32 // permission bits; the server keeps only 0o777
	MTime  int64  // Unix nanoseconds; 0 leaves the server's time
	Resume bool   // continue an earlier partial upload if its prefix matches
}

func (*UploadRequest) Type() Type { return TypeUploadRequest }

func (m *UploadRequest) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("path", m.Path, MaxPathLen); err != nil {
		return b, err
	}
	if err := checkText("name", m.Name, MaxNameLen); err != nil {
		return b, err
	}
	b = appendString(b, m.Path)
	b = appendString(b, m.Name)
	b = appendUint64(b, m.Size)
	b = appendUint32(b, m.Mode)
	b = appendUint64(b, uint64(m.MTime))
	return appendBool(b, m.Resume), nil
}

func (m *UploadRequest) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = UploadRequest{
		Path:   d.string(MaxPathLen),
		Name:   d.string(MaxNameLen),
		Size:   d.uint64(),
		Mode:   d.uint32(),
		MTime:  d.int64(),
		Resume: d.bool(),
	}
	return d.finish()
}

// UploadReady accepts an upload. A non-zero Offset offers to resume after
// that many bytes already stored, whose SHA-256 is PrefixSum.
type UploadReady struct {
	Offset    uint64
	PrefixSum [32]byte
}

func (*UploadReady) Type() Type { return TypeUploadReady }

func (m *UploadReady) AppendBinary(b []byte) ([]byte, error) {
	b = appendUint64(b, m.Offset)
	return append(b, m.PrefixSum[:]...), nil
}

func (m *UploadReady) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = UploadReady{Offset: d.uint64(), PrefixSum: d.sum()}
	return d.finish()
}

// UploadStart answers UploadReady: the client sends data from Offset,
// which is either the offered offset (the prefixes matched) or 0.
type UploadStart struct{ Offset uint64 }

func (*UploadStart) Type() Type { return TypeUploadStart }

func (m *UploadStart) AppendBinary(b []byte) ([]byte, error) { return appendUint64(b, m.Offset), nil }

func (m *UploadStart) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	m.Offset = d.uint64()
	return d.finish()
}

// Data carries file bytes; the payload is the data itself.
type Data struct{ Bytes []byte }

func (*Data) Type() Type { return TypeData }

func (m *Data) AppendBinary(b []byte) ([]byte, error) { return append(b, m.Bytes...), nil }

func (m *Data) UnmarshalBinary(p []byte) error {
	m.Bytes = p
	return nil
}

// UploadEnd follows the last Data frame with the SHA-256 of the whole file.
type UploadEnd struct{ Sum [32]byte }

func (*UploadEnd) Type() Type { return TypeUploadEnd }

func (m *UploadEnd) AppendBinary(b []byte) ([]byte, error) { return append(b, m.Sum[:]...), nil }

func (m *UploadEnd) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	m.Sum = d.sum()
	return d.finish()
}

// TransferDone confirms a stored upload: where it is, its size and hash.
type TransferDone struct {
	Path string // home-relative, as "~/dir/name"
	Size uint64
	Sum  [32]byte
}

func (*TransferDone) Type() Type { return TypeTransferDone }

func (m *TransferDone) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("path", m.Path, MaxPathLen); err != nil {
		return b, err
	}
	b = appendString(b, m.Path)
	b = appendUint64(b, m.Size)
	return append(b, m.Sum[:]...), nil
}

func (m *TransferDone) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = TransferDone{Path: d.string(MaxPathLen), Size: d.uint64(), Sum: d.sum()}
	return d.finish()
}

// DownloadRequest asks for the file at Path. A non-zero Offset asks to
// resume after a local prefix of that length whose SHA-256 is PrefixSum.
type DownloadRequest struct {
	Path      string
	Offset    uint64
	PrefixSum [32]byte
}

func (*DownloadRequest) Type() Type { return TypeDownloadRequest }

func (m *DownloadRequest) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("path", m.Path, MaxPathLen); err != nil {
		return b, err
	}
	b = appendString(b, m.Path)
	b = appendUint64(b, m.Offset)
	return append(b, m.PrefixSum[:]...), nil
}

func (m *DownloadRequest) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = DownloadRequest{Path: d.string(MaxPathLen), Offset: d.uint64(), PrefixSum: d.sum()}
	return d.finish()
}

// DownloadReady starts a download: Size-Offset bytes follow in Data frames,
// then DownloadEnd. Offset is the requested one if the prefixes matched, else 0.
type DownloadReady struct {
	Name   string
	Size   uint64
	Offset uint64
	Mode   uint32
	MTime  int64
}

func (*DownloadReady) Type() Type { return TypeDownloadReady }

func (m *DownloadReady) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("name", m.Name, MaxNameLen); err != nil {
		return b, err
	}
	b = appendString(b, m.Name)
	b = appendUint64(b, m.Size)
	b = appendUint64(b, m.Offset)
	b = appendUint32(b, m.Mode)
	return appendUint64(b, uint64(m.MTime)), nil
}

func (m *DownloadReady) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = DownloadReady{Name: d.string(MaxNameLen), Size: d.uint64(), Offset: d.uint64(), Mode: d.uint32(), MTime: d.int64()}
	return d.finish()
}

// DownloadEnd follows the last Data frame with the SHA-256 of the whole file.
type DownloadEnd struct{ Sum [32]byte }

func (*DownloadEnd) Type() Type { return TypeDownloadEnd }

func (m *DownloadEnd) AppendBinary(b []byte) ([]byte, error) { return append(b, m.Sum[:]...), nil }

func (m *DownloadEnd) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	m.Sum = d.sum()
	return d.finish()
}

// Cancel asks the server to abandon the running request.
type Cancel struct{}

func (*Cancel) Type() Type { return TypeCancel }

func (*Cancel) AppendBinary(b []byte) ([]byte, error) { return b, nil }

func (*Cancel) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	return d.finish()
}

// Command runs a command line in the session: a built-in (cd, pwd, help)
// or a program in the user's jail. The server splits Line into words as a
// POSIX shell would, without running a shell. Env offers TERM and LANG
// style variables; the server keeps only those it allows. With Stdin set
// the client will send Stdin frames; otherwise the program's input is empty.
// Timeout asks for a wall-clock limit in seconds other than the user's
// default, up to the user's maximum; 0 keeps the default.
type Command struct {
	Line    string
	Env     []string
	Stdin   bool
	Timeout uint32
}

func (*Command) Type() Type { return TypeCommand }

func (m *Command) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("command line", m.Line, MaxLineLen); err != nil {
		return b, err
	}
	if len(m.Env) > MaxEnv {
		return b, fmt.Errorf("wire: %d environment entries, limit %d", len(m.Env), MaxEnv)
	}
	b = appendString(b, m.Line)
	b = append(b, byte(len(m.Env)))
	for _, e := range m.Env {
		if err := checkText("environment entry", e, MaxTextLen); err != nil {
			return b, err
		}
		b = appendString(b, e)
	}
	b = appendBool(b, m.Stdin)
	return appendUint32(b, m.Timeout), nil
}

func (m *Command) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = Command{Line: d.string(MaxLineLen)}
	n := int(d.uint8())
	if n > MaxEnv {
		d.fail(fmt.Errorf("%w: %d environment entries, limit %d", ErrFieldTooLong, n, MaxEnv))
	}
	for i := 0; i < n && d.err == nil; i++ {
		m.Env = append(m.Env, d.string(MaxTextLen))
	}
	m.Stdin = d.bool()
	m.Timeout = d.uint32()
	return d.finish()
}

// Output streams what a command writes: Stream 1 is stdout, 2 stderr.
type Output struct {
	Stream uint8
	Data   []byte
}

// Output streams.
const (
	Stdout = 1
	Stderr = 2
)

func (*Output) Type() Type { return TypeOutput }

func (m *Output) AppendBinary(b []byte) ([]byte, error) {
	if m.Stream != Stdout && m.Stream != Stderr {
		return b, fmt.Errorf("wire: output stream %d is neither 1 nor 2", m.Stream)
	}
	return append(append(b, m.Stream), m.Data...), nil
}

func (m *Output) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	m.Stream = d.uint8()
	if d.err == nil && m.Stream != Stdout && m.Stream != Stderr {
		d.fail(fmt.Errorf("%w: %d", ErrInvalidStream, m.Stream))
	}
	if d.err != nil {
		return d.err
	}
	m.Data = d.b
	return nil
}

// Stdin carries the client's input to a running command; an empty Data
// is end of input.
type Stdin struct{ Data []byte }

func (*Stdin) Type() Type { return TypeStdin }

func (m *Stdin) AppendBinary(b []byte) ([]byte, error) { return append(b, m.Data...), nil }

func (m *Stdin) UnmarshalBinary(p []byte) error {
	m.Data = p
	return nil
}

// Exit ends a Command: the program's exit status (128+n if signal n
// killed it) and the session's working directory afterwards.
type Exit struct {
	Code int32
	Cwd  string
}

func (*Exit) Type() Type { return TypeExit }

func (m *Exit) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("cwd", m.Cwd, MaxPathLen); err != nil {
		return b, err
	}
	b = appendUint32(b, uint32(m.Code))
	return appendString(b, m.Cwd), nil
}

func (m *Exit) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = Exit{Code: int32(d.uint32()), Cwd: d.string(MaxPathLen)}
	return d.finish()
}

// MaxListing is the most entries one Listing carries; a longer directory
// is read in pages.
const MaxListing = 2048

// File type bits of Entry.Mode, as in POSIX st_mode.
const (
	ModeTypeMask = 0o170000
	ModeDir      = 0o040000
	ModeRegular  = 0o100000
	ModeSymlink  = 0o120000
)

// List asks for the entries of a directory, skipping the first Offset
// (in the server's directory order), for completion and recursive downloads.
type List struct {
	Path   string
	Offset uint32
}

func (*List) Type() Type { return TypeList }

func (m *List) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("path", m.Path, MaxPathLen); err != nil {
		return b, err
	}
	return appendUint32(appendString(b, m.Path), m.Offset), nil
}

func (m *List) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = List{Path: d.string(MaxPathLen), Offset: d.uint32()}
	return d.finish()
}

// Entry is one directory entry. Mode is POSIX st_mode: type and permission
// bits. A symbolic link is reported as a link, never followed.
type Entry struct {
	Name  string
	Mode  uint32
	Size  uint64
	MTime int64 // Unix nanoseconds
}

// Listing answers List with at most MaxListing entries; More says another
// page follows at Offset+len(Entries).
type Listing struct {
	Entries []Entry
	More    bool
}

func (*Listing) Type() Type { return TypeListing }

func (m *Listing) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Entries) > MaxListing {
		return b, fmt.Errorf("wire: %d entries in a listing, limit %d", len(m.Entries), MaxListing)
	}
	b = appendUint32(b, uint32(len(m.Entries)))
	for _, e := range m.Entries {
		if err := checkText("name", e.Name, MaxNameLen); err != nil {
			return b, err
		}
		b = appendString(b, e.Name)
		b = appendUint32(b, e.Mode)
		b = appendUint64(b, e.Size)
		b = appendUint64(b, uint64(e.MTime))
	}
	return appendBool(b, m.More), nil
}

func (m *Listing) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	n := d.uint32()
	if n > MaxListing {
		d.fail(fmt.Errorf("%w: %d entries, limit %d", ErrFieldTooLong, n, MaxListing))
	}
	*m = Listing{}
	for i := uint32(0); i < n && d.err == nil; i++ {
		m.Entries = append(m.Entries, Entry{Name: d.string(MaxNameLen), Mode: d.uint32(), Size: d.uint64(), MTime: d.int64()})
	}
	m.More = d.bool()
	return d.finish()
}

// Mkdir creates a directory with permission bits Mode&0o777; with Parents
// missing parents are made too and an existing directory is fine.
type Mkdir struct {
	Path    string
	Mode    uint32
	Parents bool
}

func (*Mkdir) Type() Type { return TypeMkdir }

func (m *Mkdir) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("path", m.Path, MaxPathLen); err != nil {
		return b, err
	}
	b = appendString(b, m.Path)
	b = appendUint32(b, m.Mode)
	return appendBool(b, m.Parents), nil
}

func (m *Mkdir) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = Mkdir{Path: d.string(MaxPathLen), Mode: d.uint32(), Parents: d.bool()}
	return d.finish()
}

// SetAttr changes a file's permission bits (if SetMode; only 0o777 is
// kept) and modification time (if MTime is not 0).
type SetAttr struct {
	Path    string
	SetMode bool
	Mode    uint32
	MTime   int64
}

func (*SetAttr) Type() Type { return TypeSetAttr }

func (m *SetAttr) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("path", m.Path, MaxPathLen); err != nil {
		return b, err
	}
	b = appendString(b, m.Path)
	b = appendBool(b, m.SetMode)
	b = appendUint32(b, m.Mode)
	return appendUint64(b, uint64(m.MTime)), nil
}

func (m *SetAttr) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = SetAttr{Path: d.string(MaxPathLen), SetMode: d.bool(), Mode: d.uint32(), MTime: d.int64()}
	return d.finish()
}

// OK answers Mkdir and SetAttr: done, at Path (home-relative, "~/x").
type OK struct{ Path string }

func (*OK) Type() Type { return TypeOK }

func (m *OK) AppendBinary(b []byte) ([]byte, error) {
	if err := checkText("path", m.Path, MaxPathLen); err != nil {
		return b, err
	}
	return appendString(b, m.Path), nil
}

func (m *OK) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	m.Path = d.string(MaxPathLen)
	return d.finish()
}

// Passwd changes the logged-in user's password. Message is the
// client-first-message of a fresh login exchange for the session's user,
// proving the old password: the server answers with AuthChallenge, the
// client with AuthResponse, and the server ends with PasswdOK or an Error.
// Verifier is the new password's verifier (auth.Verifier.String),
// computed by the client, so that neither password crosses the wire.
type Passwd struct {
	Message  []byte
	Verifier string
}

func (*Passwd) Type() Type { return TypePasswd }

func (m *Passwd) AppendBinary(b []byte) ([]byte, error) {
	if err := checkBytes("login message", m.Message, MaxAuthLen); err != nil {
		return b, err
	}
	if err := checkText("verifier", m.Verifier, MaxVerifier); err != nil {
		return b, err
	}
	b = appendBytes(b, m.Message)
	return appendString(b, m.Verifier), nil
}

func (m *Passwd) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	*m = Passwd{Message: d.bytes(MaxAuthLen), Verifier: d.string(MaxVerifier)}
	return d.finish()
}

// PasswdOK ends a password change: the new verifier is stored. Message is
// the server-final-message of the exchange that proved the old password.
type PasswdOK struct{ Message []byte }

func (*PasswdOK) Type() Type { return TypePasswdOK }

func (m *PasswdOK) AppendBinary(b []byte) ([]byte, error) { return appendAuth(b, m.Message) }

func (m *PasswdOK) UnmarshalBinary(p []byte) (err error) {
	m.Message, err = decodeAuth(p)
	return err
}

// Receipt carries the signed receipt of an upload into a drop box, sent
// just before its TransferDone. Text is the receipt in the format of
// package session/receipt, which the client keeps as it is.
type Receipt struct{ Text []byte }

func (*Receipt) Type() Type { return TypeReceipt }

func (m *Receipt) AppendBinary(b []byte) ([]byte, error) {
	if err := checkBytes("receipt", m.Text, MaxReceiptLen); err != nil {
		return b, err
	}
	return appendBytes(b, m.Text), nil
}

func (m *Receipt) UnmarshalBinary(p []byte) error {
	d := decoder{b: p}
	m.Text = d.bytes(MaxReceiptLen)
	return d.finish()
}
