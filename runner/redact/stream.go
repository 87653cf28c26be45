package redact

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// chunkSize bounds how much new input one scan takes in, and so the memory
// a stream uses besides its held context.
const chunkSize = 32 << 10

var errClosed = errors.New("redact: write after close")

// stream is the state shared by Writer and Reader: the matcher and the held
// part of the stream (context and text not yet written) followed by new
// input.
type stream struct {
	m   matcher
	buf []byte
}

func newStream(s *Set) stream {
	return stream{m: matcher{set: s}}
}

// scan processes the bytes of buf from index from on and drops from buf
// what no longer needs to be held.
func (st *stream) scan(from int, final bool) {
	st.m.scan(st.buf, from, final)
	drop := st.m.heldFrom(st.buf)
	if final {
		drop = len(st.buf)
	}
	st.buf = st.buf[:copy(st.buf, st.buf[drop:])]
	st.m.base += drop
}

// Writer redacts what is written to it and writes the result to an
// underlying writer. Each Write passes on at once everything that can no
// longer be part of an occurrence; the few bytes that might begin one are
// held until the next Write or Close.
type Writer struct {
	w      io.Writer
	st     stream
	pass   bool // empty set: write through
	err    error
	closed bool
}

// NewWriter returns a Writer that writes to w the redacted form of what is
// written to it. Call Close at the end of the stream to write the held tail.
func (s *Set) NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, st: newStream(s), pass: s.Empty()}
}

// Write redacts p and writes what is final to the underlying writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.pass {
		return w.w.Write(p)
	}
	written := 0
	for written < len(p) {
		chunk := p[written:min(len(p), written+chunkSize)]
		from := len(w.st.buf)
		w.st.buf = append(w.st.buf, chunk...)
		w.st.scan(from, false)
		if err := w.drain(); err != nil {
			return written, err
		}
		written += len(chunk)
	}
	return written, nil
}

// Flush flushes the underlying writer when it can be flushed (an
// http.Flusher or a writer with Flush() error). It does not release the
// held tail, which may be the start of a secret.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	switch f := w.w.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case http.Flusher:
		f.Flush()
	}
	return nil
}

// Close redacts and writes the held tail. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil || w.pass {
		return w.err
	}
	w.st.scan(len(w.st.buf), true)
	return w.drain()
}

// Count returns the number of replacements written so far.
func (w *Writer) Count() int { return w.st.m.count }

func (w *Writer) drain() error {
	out := w.st.m.out
	w.st.m.out = out[:0]
	if len(out) == 0 {
		return nil
	}
	if _, err := w.w.Write(out); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Reader redacts what it reads from an underlying reader. A Read returns
// as soon as some redacted output is final, so a stream of events is
// passed on event by event. Its buffers come from a pool and go back,
// cleared, once the stream has ended (the underlying reader returned
// io.EOF or an error) and its last byte has been read.
type Reader struct {
	r    io.Reader
	st   stream
	pass bool
	out  []byte   // redacted output not yet returned
	bufs *buffers // pooled buffers in use, returned when the stream ends
	// inUsed and outUsed are the most bytes the buffers have held: what
	// release must clear.
	inUsed, outUsed int
	err             error // sticky error of the underlying reader (io.EOF at the end)
	idle            int   // consecutive empty reads of the underlying reader
}

// maxIdleReads is how many empty reads in a row make a Read fail with
// io.ErrNoProgress.
const maxIdleReads = 100

// NewReader returns a Reader of the redacted form of r. Closing it closes
// r when r is an io.Closer. If r fails, the held tail is discarded rather
// than released unchecked.
func (s *Set) NewReader(r io.Reader) *Reader {
	return &Reader{r: r, st: newStream(s), pass: s.Empty()}
}

// Read reads redacted bytes into p.
func (r *Reader) Read(p []byte) (int, error) {
	if r.pass {
		return r.r.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	if len(r.out) == 0 {
		r.st.m.out = r.st.m.out[:0]
		r.out = nil
		if r.err != nil {
			r.release()
		}
	}
	return n, nil
}

// fill reads once from the underlying reader and scans what arrived.
func (r *Reader) fill() {
	st := &r.st
	from := len(st.buf)
	if cap(st.buf)-from < chunkSize {
		st.buf = r.grow(st.buf, from+chunkSize+st.m.set.maxLen)
	}
	n, err := r.r.Read(st.buf[from : from+chunkSize])
	st.buf = st.buf[:from+n]
	r.inUsed = max(r.inUsed, len(st.buf))
	switch {
	case err == io.EOF:
		st.scan(from, true)
		r.err = io.EOF
	case err != nil:
		r.err = err
		return
	case n > 0:
		r.idle = 0
		st.scan(from, false)
	default:
		if r.idle++; r.idle >= maxIdleReads {
			r.err = io.ErrNoProgress
		}
	}
	r.out = st.m.out
	r.outUsed = max(r.outUsed, len(r.out))
}

// Count returns the number of replacements read so far.
func (r *Reader) Count() int { return r.st.m.count }

// streamBuffers holds the buffers of ended Readers (*buffers). They are
// cleared before they go back, so no byte of one stream (which may be an
// unredacted secret) outlives it in the pool.
var streamBuffers = sync.Pool{New: func() any { return new(buffers) }}

// buffers are a Reader's input (held context and new input) and output.
type buffers struct{ in, out []byte }

// pooledCap is the capacity of pooled buffers: one chunk and the context
// of the longest forms seen in practice. Larger ones are not kept.
const pooledCap = chunkSize + 4<<10

// grow returns a buffer holding buf with capacity at least size. A
// Reader's first buffers come from the pool.
func (r *Reader) grow(buf []byte, size int) []byte {
	if r.bufs == nil && len(buf) == 0 && size <= pooledCap {
		r.bufs = streamBuffers.Get().(*buffers)
		if cap(r.bufs.in) < pooledCap {
			r.bufs.in = make([]byte, 0, pooledCap)
		}
		if r.st.m.out == nil {
			if cap(r.bufs.out) < pooledCap {
				r.bufs.out = make([]byte, 0, pooledCap)
			}
			r.st.m.out = r.bufs.out[:0]
		}
		return r.bufs.in[:0]
	}
	grown := make([]byte, len(buf), size)
	copy(grown, buf)
	return grown
}

// release clears the stream's buffers and returns them to the pool. It is
// called by Read, on the reading goroutine, once the stream has ended and
// been read to the last byte, so no Read can still be using them.
func (r *Reader) release() {
	if b := r.bufs; b != nil {
		b.in, b.out = reusable(r.st.buf, r.inUsed), reusable(r.st.m.out, r.outUsed)
		streamBuffers.Put(b)
	}
	r.bufs, r.st.buf, r.st.m.out, r.out = nil, nil, nil, nil
}

// reusable clears the first used bytes of b (pooled buffers are all zero
// beyond what was used) and returns it empty if it is worth pooling, else
// nil.
func reusable(b []byte, used int) []byte {
	if cap(b) < pooledCap || cap(b) > 2*pooledCap {
		return nil
	}
	clear(b[:min(used, cap(b))])
	return b[:0]
}

// Close closes the underlying reader when it is an io.Closer.
func (r *Reader) Close() error {
	if c, ok := r.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
