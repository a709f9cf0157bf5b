package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var sum1 = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// samples has at least one message of every type; the round-trip test
// checks that, and the fuzz target is seeded from it.
var samples = []Message{
	&Error{Kind: KindNotFound, Message: "no such file: ~/a.txt"},
	&Error{},
	&AuthStart{Mechanism: "SCRAM-ARGON2ID-SHA-256-PLUS", Message: []byte("p=tls-exporter,,n=alice,r=abc")},
	&AuthChallenge{Message: []byte("r=abcdef,s=c2FsdA,i=2")},
	&AuthResponse{Message: []byte("c=biws,r=abcdef,p=cHJvb2Y")},
	&AuthOK{Message: []byte("v=c2ln"), User: "alice", Cwd: "~"},
	&AuthOK{Message: []byte{}, User: "s01", Cwd: "~", MustChange: true}, // a key login
	&UploadRequest{Path: "dir/", Name: "CSC 574 Programming_Assignment_1.pdf", Size: 1 << 40, Mode: 0o644, MTime: -5, Resume: true},
	&UploadReady{Offset: 77, PrefixSum: sum1},
	&UploadStart{Offset: 77},
	&Data{Bytes: []byte("hello")},
	&UploadEnd{Sum: sum1},
	&TransferDone{Path: "~/dir/ünï.txt", Size: 5, Sum: sum1},
	&DownloadRequest{Path: "a.txt", Offset: 3, PrefixSum: sum1},
	&DownloadReady{Name: "a.txt", Size: 9, Offset: 3, Mode: 0o600, MTime: 1700000000000000000},
	&DownloadEnd{Sum: sum1},
	&Cancel{},
	&Command{Line: `mv "CSC 574.pdf" newfolder/`, Env: []string{"TERM=xterm", "LANG=C.UTF-8"}, Stdin: true, Timeout: 600},
	&Command{Line: "ls"},
	&Output{Stream: Stderr, Data: []byte("ls: missing: No such file\n")},
	&Stdin{Data: []byte("notes\n")},
	&Exit{Code: 2, Cwd: "~/newfolder"},
	&List{Path: "~/newfolder", Offset: 2048},
	&Listing{Entries: []Entry{{Name: "a.txt", Mode: ModeRegular | 0o644, Size: 12, MTime: 1}, {Name: "d", Mode: ModeDir | 0o755}}, More: true},
	&Listing{},
	&Mkdir{Path: "a/b/c", Mode: 0o755, Parents: true},
	&SetAttr{Path: "a", SetMode: true, Mode: 0o700, MTime: 99},
	&OK{Path: "~/a/b/c"},
	&Passwd{Message: []byte("p=tls-exporter,,n=alice,r=abc"), Verifier: "scram-argon2id$v=19$m=65536,t=3,p=4$c2FsdA$a2V5$a2V5"},
	&PasswdOK{Message: []byte("v=c2ln")},
	&Receipt{Text: []byte("cubby-receipt v1\nuser: alice\n")},
}

func allTypes() []Type {
	var ts []Type
	for t := 0; t < 256; t++ {
		if Type(t).Known() {
			ts = append(ts, Type(t))
		}
	}
	return ts
}

func TestRoundTripEveryType(t *testing.T) {
	seen := map[Type]bool{}
	for _, m := range samples {
		t.Run(m.Type().String(), func(t *testing.T) {
			seen[m.Type()] = true
			var buf bytes.Buffer
			c := NewConn(&buf)
			if err := c.WriteMessage(m); err != nil {
				t.Fatalf("WriteMessage: %v", err)
			}
			got, err := NewConn(&buf).ReadMessage()
			if err != nil {
				t.Fatalf("ReadMessage: %v", err)
			}
			if d, ok := got.(*Data); ok && len(d.Bytes) == 0 {
				d.Bytes = nil
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("round trip = %#v; want %#v", got, m)
			}
		})
	}
	for _, typ := range allTypes() {
		if !seen[typ] {
			t.Errorf("no sample of %v: add one to samples", typ)
		}
	}
}

func TestGoldenBytes(t *testing.T) {
	tests := []struct {
		m    Message
		want []byte
	}{
		{&Error{Kind: KindAuth, Message: "no"},
			[]byte{0x01, 0, 0, 0, 8, 0, 3, 0, 0, 0, 2, 'n', 'o'}},
		{&UploadStart{Offset: 258},
			[]byte{0x12, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 2}},
		{&Data{Bytes: []byte("hi")},
			[]byte{0x13, 0, 0, 0, 2, 'h', 'i'}},
		{&Cancel{}, []byte{0x19, 0, 0, 0, 0}},
		{&UploadRequest{Path: "p", Name: "n", Size: 1, Mode: 0o644, MTime: 2, Resume: true},
			[]byte{0x10, 0, 0, 0, 31,
				0, 0, 0, 1, 'p',
				0, 0, 0, 1, 'n',
				0, 0, 0, 0, 0, 0, 0, 1,
				0, 0, 0x01, 0xa4,
				0, 0, 0, 0, 0, 0, 0, 2,
				1}},
		{&AuthOK{Message: []byte("v"), User: "al", Cwd: "~", MustChange: true},
			[]byte{0x05, 0, 0, 0, 17, 0, 0, 0, 1, 'v', 0, 0, 0, 2, 'a', 'l', 0, 0, 0, 1, '~', 1}},
	}
	for _, tt := range tests {
		t.Run(tt.m.Type().String(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := NewConn(&buf).WriteMessage(tt.m); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), tt.want) {
				t.Errorf("encoding = % x\nwant       % x", buf.Bytes(), tt.want)
			}
		})
	}
}

func TestWriteDataSplitsIntoChunks(t *testing.T) {
	var buf bytes.Buffer
	c := NewConn(&buf)
	data := bytes.Repeat([]byte{7}, DataChunk*2+3)
	if err := c.WriteData(data); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewConn(&buf)
	var got []byte
	var sizes []int
	for {
		typ, p, err := r.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if typ != TypeData {
			t.Fatalf("type %v; want Data", typ)
		}
		sizes = append(sizes, len(p))
		got = append(got, p...)
	}
	if !bytes.Equal(got, data) {
		t.Error("data changed in transit")
	}
	if want := []int{DataChunk, DataChunk, 3}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("frame sizes %v; want %v", sizes, want)
	}
}

func TestReadFrameRejects(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"oversize before allocating", []byte{0x13, 0xff, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
		{"one byte over the limit", []byte{0x13, 0x00, 0x10, 0x00, 0x01}, ErrFrameTooLarge},
		{"unknown type", []byte{0x7f, 0, 0, 0, 0}, ErrUnknownType},
		{"type zero", []byte{0x00, 0, 0, 0, 0}, ErrUnknownType},
		{"short header", []byte{0x13, 0}, io.ErrUnexpectedEOF},
		{"short payload", []byte{0x13, 0, 0, 0, 5, 'a'}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NewConn(bytes.NewBuffer(tt.input)).ReadFrame()
			if !errors.Is(err, tt.want) {
				t.Errorf("ReadFrame(% x) error = %v; want %v", tt.input, err, tt.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name    string
		typ     Type
		payload []byte
		want    error
	}{
		{"trailing byte", TypeCancel, []byte{0}, ErrTrailingBytes},
		{"short sum", TypeUploadEnd, make([]byte, 31), ErrShortPayload},
		{"string longer than payload", TypeError, []byte{0, 1, 0, 0, 0, 9, 'x'}, ErrShortPayload},
		{"string over its limit", TypeError, []byte{0, 1, 0xff, 0xff, 0xff, 0xff}, ErrFieldTooLong},
		{"bad utf-8", TypeError, []byte{0, 1, 0, 0, 0, 1, 0xff}, ErrInvalidUTF8},
		{"bool 2", TypeUploadRequest, append(make([]byte, 4+4+8+4+8), 2), ErrInvalidBool},
		{"AuthOK without must_change", TypeAuthOK, []byte{0, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 1, '~'}, ErrShortPayload},
		{"output stream 3", TypeOutput, []byte{3, 'x'}, ErrInvalidStream},
		{"17 env entries", TypeCommand, []byte{0, 0, 0, 0, 17}, ErrFieldTooLong},
		{"listing over its limit", TypeListing, []byte{0, 0, 0x08, 0x01}, ErrFieldTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.typ, tt.payload); !errors.Is(err, tt.want) {
				t.Errorf("Decode(%v, % x) error = %v; want %v", tt.typ, tt.payload, err, tt.want)
			}
		})
	}
}

func TestEncodeRefusesWhatDecodeWouldReject(t *testing.T) {
	tests := []Message{
		&UploadRequest{Path: strings.Repeat("a", MaxPathLen+1)},
		&UploadRequest{Name: "\xff"},
		&Error{Message: strings.Repeat("e", MaxMessageLen+1)},
		&AuthStart{Message: make([]byte, MaxAuthLen+1)},
		&Passwd{Verifier: strings.Repeat("v", MaxVerifier+1)},
		&Receipt{Text: make([]byte, MaxReceiptLen+1)},
	}
	for _, m := range tests {
		if err := NewConn(new(bytes.Buffer)).WriteMessage(m); err == nil {
			t.Errorf("WriteMessage(%v) succeeded; want an error", m.Type())
		}
	}
}

func TestPreamble(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePreamble(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != PreambleLen {
		t.Fatalf("preamble is %d bytes; want %d", buf.Len(), PreambleLen)
	}
	v, err := ReadPreamble(&buf)
	if err != nil || v != Version {
		t.Fatalf("ReadPreamble = %d, %v; want %d, nil", v, err, Version)
	}
	for _, bad := range []string{"GET / HTTP/1.1\r\n", "\x89CUB", ""} {
		if _, err := ReadPreamble(strings.NewReader(bad)); !errors.Is(err, ErrNotCubby) {
			t.Errorf("ReadPreamble(%q) error = %v; want ErrNotCubby", bad, err)
		}
	}
	e := &VersionError{Local: 1, Remote: 2, RemoteIsServer: true}
	if got, want := e.Error(), "server speaks cubby protocol 2, this client speaks 1"; got != want {
		t.Errorf("VersionError = %q; want %q", got, want)
	}
}

// TestProtocolDocMatches keeps docs/PROTOCOL.md's type and kind tables in
// step with the code.
func TestProtocolDocMatches(t *testing.T) {
	doc, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	typeRow := regexp.MustCompile(`(?m)^\| 0x([0-9a-f]{2}) \| (\w+) \|`)
	documented := map[Type]string{}
	for _, m := range typeRow.FindAllStringSubmatch(string(doc), -1) {
		n, _ := strconv.ParseUint(m[1], 16, 8)
		documented[Type(n)] = m[2]
	}
	for _, typ := range allTypes() {
		if documented[typ] != typ.String() {
			t.Errorf("docs/PROTOCOL.md: type 0x%02x is %q; code says %q", uint8(typ), documented[typ], typ.String())
		}
		delete(documented, typ)
	}
	for typ, name := range documented {
		t.Errorf("docs/PROTOCOL.md documents type 0x%02x %s that the code does not know", uint8(typ), name)
	}
	kindRow := regexp.MustCompile(`(?m)^\| (\d+) \| ([a-z ]+) \|`)
	kinds := kindRow.FindAllStringSubmatch(string(doc), -1)
	if len(kinds) != len(kindNames) {
		t.Errorf("docs/PROTOCOL.md lists %d error kinds; code has %d", len(kinds), len(kindNames))
	}
	for _, m := range kinds {
		n, _ := strconv.Atoi(m[1])
		if got := Kind(n).String(); got != m[2] {
			t.Errorf("docs/PROTOCOL.md: kind %d is %q; code says %q", n, m[2], got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range samples {
		p, err := m.AppendBinary(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(m.Type()), p)
	}
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte) {
		m, err := Decode(Type(typ), payload)
		if err != nil {
			return
		}
		// Whatever decodes must encode back to the same bytes.
		p, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("re-encoding a decoded %v: %v", m.Type(), err)
		}
		if !bytes.Equal(p, payload) {
			t.Fatalf("%v: re-encoded % x; decoded from % x", m.Type(), p, payload)
		}
		// And the framed form must read back through a Conn.
		var buf bytes.Buffer
		if err := NewConn(&buf).WriteMessage(m); err != nil {
			t.Fatal(err)
		}
		if _, err := NewConn(struct {
			io.Reader
			io.Writer
		}{bufio.NewReader(&buf), io.Discard}).ReadMessage(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReadFrameDoesNotAllocate keeps the per-frame read path free of
// allocations once the buffer has grown: it runs for every Data frame.
func TestReadFrameDoesNotAllocate(t *testing.T) {
	var buf bytes.Buffer
	w := NewConn(&buf)
	chunk := make([]byte, 4096)
	for range 200 {
		w.WriteData(chunk)
	}
	w.Flush()
	r := NewConn(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(buf.Bytes()), io.Discard})
	r.ReadFrame() // grow the buffer
	if n := testing.AllocsPerRun(100, func() {
		if _, _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadFrame allocates %v times per Data frame; want 0", n)
	}
}
