// Package stream overlaps the per-byte work of a transfer — file I/O and
// SHA-256 — with the network, so each side of a transfer uses a second
// core instead of doing read, hash, encrypt and send one after another.
// Memory stays constant: at most depth+1 chunks exist per Source or Sink.
package stream

import (
	"hash"
	"io"
	"sync"
)

// ChunkSize is the read size a Source is given by transfers: one file
// read and one hand-off between goroutines per four Data frames.
const ChunkSize = 1 << 20

// depth is the number of chunks in flight between the two goroutines.
const depth = 4

// Source reads a section of a file on its own goroutine, hashing each
// chunk before handing it out.
type Source struct {
	chunks chan chunk
	free   chan []byte
	stop   chan struct{}
	once   sync.Once
	done   chan struct{}
	prev   []byte
}

type chunk struct {
	b   []byte
	err error
}

// NewSource starts reading n bytes of r from off in chunks of size bytes,
// writing each into h unless h is nil.
func NewSource(r io.ReaderAt, off, n int64, size int, h hash.Hash) *Source {
	s := &Source{
		chunks: make(chan chunk, depth),
		free:   make(chan []byte, depth+1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for range depth + 1 {
		s.free <- make([]byte, size)
	}
	go s.run(r, off, n, h)
	return s
}

func (s *Source) run(r io.ReaderAt, off, n int64, h hash.Hash) {
	defer close(s.done)
	defer close(s.chunks)
	end := off + n
	for off < end {
		var buf []byte
		select {
		case buf = <-s.free:
		case <-s.stop:
			return
		}
		m, err := r.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if m > 0 {
			if h != nil {
				h.Write(buf[:m])
			}
			off += int64(m)
		}
		if err == io.EOF && off == end {
			err = nil
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		select {
		case s.chunks <- chunk{buf[:m], err}:
		case <-s.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// Next returns the next chunk, valid until the following call, or io.EOF
// after the last one. A file that ends early gives io.ErrUnexpectedEOF.
func (s *Source) Next() ([]byte, error) {
	if s.prev != nil {
		s.free <- s.prev[:cap(s.prev)]
		s.prev = nil
	}
	c, ok := <-s.chunks
	if !ok {
		return nil, io.EOF
	}
	if c.err != nil && len(c.b) == 0 {
		return nil, c.err
	}
	s.prev = c.b
	return c.b, c.err
}

// Close stops the reader and waits for it; the hash is then final. It may
// be called more than once.
func (s *Source) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// Sink writes and hashes chunks on its own goroutine. Each Write is
// handed over at once, so what a peer sent reaches the file even while
// the connection then stalls (a killed upload keeps all it delivered).
// The hash covers every chunk even after a write fails, so a failed disk
// still lets the caller tell a damaged stream from a full disk.
type Sink struct {
	chunks chan []byte
	free   chan []byte
	done   chan struct{}
	err    error // the first write error, read after done is closed
	closed bool
}

// NewSink starts a writer into w and h for chunks of up to size bytes.
func NewSink(w io.Writer, size int, h hash.Hash) *Sink {
	s := &Sink{
		chunks: make(chan []byte, depth),
		free:   make(chan []byte, depth+1),
		done:   make(chan struct{}),
	}
	for range depth + 1 {
		s.free <- make([]byte, size)
	}
	go func() {
		defer close(s.done)
		for b := range s.chunks {
			if s.err == nil {
				if _, err := w.Write(b); err != nil {
					s.err = err
				}
			}
			h.Write(b)
			s.free <- b[:cap(b)]
		}
	}()
	return s
}

// Write queues a copy of p and returns at once unless every buffer is in
// flight.
func (s *Sink) Write(p []byte) {
	for len(p) > 0 {
		buf := <-s.free
		n := copy(buf, p)
		s.chunks <- buf[:n]
		p = p[n:]
	}
}

// Close waits for every queued chunk and returns the first write error.
// The hash is then final. Later calls return the same error.
func (s *Sink) Close() error {
	if !s.closed {
		s.closed = true
		close(s.chunks)
	}
	<-s.done
	return s.err
}
