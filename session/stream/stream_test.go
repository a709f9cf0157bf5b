package stream

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkNoLeak fails if goroutines started during the test outlive it.
func checkNoLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Errorf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// drain reads src to the end and returns what it gave and the final error.
func drain(src *Source) ([]byte, error) {
	var got []byte
	for {
		b, err := src.Next()
		got = append(got, b...)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
	}
}

func TestSourceOrderAndHash(t *testing.T) {
	const size = 64
	data := randomBytes(10*size+13, 1)
	for _, tt := range []struct {
		name   string
		off, n int64
	}{
		{"empty", 0, 0},
		{"one byte", 5, 1},
		{"less than a chunk", 0, size - 1},
		{"one chunk", 0, size},
		{"chunk plus one", 3, size + 1},
		{"many chunks", 0, int64(len(data))},
		{"tail", 100, int64(len(data)) - 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			h := sha256.New()
			src := NewSource(bytes.NewReader(data), tt.off, tt.n, size, h)
			got, err := drain(src)
			src.Close()
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			want := data[tt.off : tt.off+tt.n]
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d; content differs", len(got), len(want))
			}
			if sum := sha256.Sum256(want); !bytes.Equal(h.Sum(nil), sum[:]) {
				t.Errorf("hash = %x, want %x", h.Sum(nil), sum)
			}
		})
	}
}

func TestSourceNilHash(t *testing.T) {
	checkNoLeak(t)
	data := randomBytes(1000, 2)
	src := NewSource(bytes.NewReader(data), 0, int64(len(data)), 64, nil)
	defer src.Close()
	got, err := drain(src)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("drain = %d bytes, %v; want %d bytes, nil", len(got), err, len(data))
	}
}

func TestSourceEarlyEOF(t *testing.T) {
	for _, n := range []int64{1, 64, 65, 300} {
		checkNoLeak(t)
		data := randomBytes(200, 3)
		h := sha256.New()
		src := NewSource(bytes.NewReader(data), 0, int64(len(data))+n, 64, h)
		got, err := drain(src)
		src.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("file %d bytes short: err = %v, want io.ErrUnexpectedEOF", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("file %d bytes short: got %d bytes, want the %d there are", n, len(got), len(data))
		}
	}
}

type failingReaderAt struct {
	r     io.ReaderAt
	after int64
	err   error
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.after {
		return 0, f.err
	}
	return f.r.ReadAt(p[:min(int64(len(p)), f.after-off)], off)
}

func TestSourceReadError(t *testing.T) {
	checkNoLeak(t)
	data := randomBytes(1000, 4)
	errDisk := errors.New("disk on fire")
	src := NewSource(failingReaderAt{bytes.NewReader(data), 300, errDisk}, 0, int64(len(data)), 64, sha256.New())
	got, err := drain(src)
	src.Close()
	if !errors.Is(err, errDisk) {
		t.Errorf("err = %v, want %v", err, errDisk)
	}
	if !bytes.Equal(got, data[:300]) {
		t.Errorf("got %d bytes before the error, want 300", len(got))
	}
}

func TestSourceCloseEarly(t *testing.T) {
	data := randomBytes(64*100, 5)
	for _, take := range []int{0, 1, 3} {
		checkNoLeak(t)
		src := NewSource(bytes.NewReader(data), 0, int64(len(data)), 64, sha256.New())
		for range take {
			if _, err := src.Next(); err != nil {
				t.Fatal(err)
			}
		}
		src.Close()
		src.Close() // a second Close is harmless
	}
}

// chunkRecorder records each Write as it comes, failing after limit bytes.
type chunkRecorder struct {
	buf   bytes.Buffer
	limit int
	err   error
	calls int
}

func (w *chunkRecorder) Write(p []byte) (int, error) {
	w.calls++
	if w.err != nil && w.buf.Len()+len(p) > w.limit {
		n := w.limit - w.buf.Len()
		w.buf.Write(p[:n])
		return n, w.err
	}
	return w.buf.Write(p)
}

func TestSinkOrderAndHash(t *testing.T) {
	const size = 64
	data := randomBytes(10*size+7, 6)
	for _, piece := range []int{1, 5, size - 1, size, size + 3, 3 * size, len(data)} {
		checkNoLeak(t)
		var w chunkRecorder
		h := sha256.New()
		s := NewSink(&w, size, h)
		var scratch []byte
		for p := data; len(p) > 0; {
			n := min(piece, len(p))
			// Sink must copy: the caller reuses its buffer at once.
			scratch = append(scratch[:0], p[:n]...)
			s.Write(scratch)
			clear(scratch)
			p = p[n:]
		}
		if err := s.Close(); err != nil {
			t.Fatalf("pieces of %d: Close: %v", piece, err)
		}
		if !bytes.Equal(w.buf.Bytes(), data) {
			t.Fatalf("pieces of %d: output differs from input", piece)
		}
		if want := (len(data) + size - 1) / size; piece >= size && w.calls < want {
			t.Errorf("pieces of %d: %d writes, want at least %d", piece, w.calls, want)
		}
		if sum := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), sum[:]) {
			t.Errorf("pieces of %d: hash differs from SHA-256 of the data", piece)
		}
	}
}

func TestSinkEmpty(t *testing.T) {
	checkNoLeak(t)
	var w chunkRecorder
	h := sha256.New()
	if err := NewSink(&w, 64, h).Close(); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(nil); w.calls != 0 || !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Errorf("empty sink: %d writes, hash %x", w.calls, h.Sum(nil))
	}
}

func TestSinkWriteError(t *testing.T) {
	checkNoLeak(t)
	data := randomBytes(1000, 7)
	errFull := errors.New("no space left")
	w := &chunkRecorder{limit: 200, err: errFull}
	h := sha256.New()
	s := NewSink(w, 64, h)
	for p := data; len(p) > 0; p = p[min(100, len(p)):] {
		s.Write(p[:min(100, len(p))])
	}
	if err := s.Close(); !errors.Is(err, errFull) {
		t.Fatalf("Close = %v, want %v", err, errFull)
	}
	if err := s.Close(); !errors.Is(err, errFull) {
		t.Errorf("second Close = %v, want %v", err, errFull)
	}
	// The hash still covers the whole stream.
	if sum := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Errorf("hash after a write error does not cover the whole stream")
	}
}
