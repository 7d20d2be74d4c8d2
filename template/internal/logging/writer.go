// Code managed by copier-gin: take template improvements with `make update`.

package logging

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// BatchSize is the most a Writer holds before it writes: 64 KiB, a few hundred lines.
const BatchSize = 64 << 10

// Writer writes log lines to out in batches while requests overlap, and at once otherwise:
// one write system call per line is a large share of a small request's cost.
//
// The guarantee, with interval > 0:
//   - a line logged while no request is in flight (Begin without End) is written at once,
//     and so are the lines held when the last request in flight ends (End): a client that
//     has its response finds the access line of the last request already written;
//   - a line is never held longer than interval, nor past BatchSize bytes of lines;
//   - Close writes every held line: after a graceful shutdown nothing is missing. A crash
//     (SIGKILL, an unrecovered panic, the OOM killer) loses at most the last interval's lines;
//   - lines are written whole, in the order they were logged.
//
// With interval 0 every line is written at once, as by out itself.
type Writer struct {
	out      io.Writer
	interval time.Duration
	inFlight atomic.Int64 // requests between Begin and End

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer // flushes the held lines interval after the first of them
	armed  bool        // timer is running
	closed bool
}

// NewWriter returns a Writer over out that holds lines at most interval (0: never).
func NewWriter(out io.Writer, interval time.Duration) *Writer {
	w := &Writer{out: out, interval: max(interval, 0)}
	if w.interval > 0 {
		w.buf = make([]byte, 0, BatchSize)
		w.timer = time.AfterFunc(time.Hour, func() { _ = w.Flush() })
		w.timer.Stop()
	}
	return w
}

// Begin marks a request in flight: until its End, lines may be held.
func (w *Writer) Begin() {
	w.inFlight.Add(1)
}

// End marks a request answered; when it was the last one in flight, the held lines are
// written now.
func (w *Writer) End() {
	if w.inFlight.Add(-1) == 0 {
		_ = w.Flush()
	}
}

// Write holds p (one whole line: slog writes each record with one call) while requests
// are in flight, or writes it, after the lines held before it, at once.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.interval == 0 || w.closed || w.inFlight.Load() <= 0 {
		if err := w.flushLocked(); err != nil {
			return 0, err
		}
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > cap(w.buf) {
		if err := w.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > cap(w.buf) {
			return w.out.Write(p)
		}
	}
	w.buf = append(w.buf, p...)
	if !w.armed {
		w.armed = true
		w.timer.Reset(w.interval)
	}
	return len(p), nil
}

// Flush writes the held lines.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// Close writes the held lines; later lines are written at once.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.armed {
		w.armed = false
		w.timer.Stop()
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0] // on an error too: a broken stdout must not make the lines pile up
	return err
}
