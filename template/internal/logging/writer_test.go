// Code managed by copier-gin: take template improvements with `make update`.

package logging

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an output that keeps every Write call apart.
type recorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.writes, "")
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes)
}

func TestWriterWritesAtOnceWhenNoRequestIsInFlight(t *testing.T) {
	out := &recorder{}
	w := NewWriter(out, time.Hour)
	_, _ = w.Write([]byte("started\n"))
	if out.text() != "started\n" {
		t.Fatalf("a line outside requests was held: %q", out.text())
	}
}

func TestWriterHoldsTheLinesOfOverlappingRequestsUntilTheLastEnds(t *testing.T) {
	out := &recorder{}
	w := NewWriter(out, time.Hour)
	w.Begin()
	w.Begin()
	_, _ = w.Write([]byte("one\n"))
	w.End()
	_, _ = w.Write([]byte("two\n"))
	if out.calls() != 0 {
		t.Fatalf("lines written while a request is in flight: %q", out.writes)
	}
	w.End()
	if out.calls() != 1 || out.text() != "one\ntwo\n" {
		t.Fatalf("the last request's end must write every held line, in order, at once: %q", out.writes)
	}
}

func TestWriterHoldsNoLineLongerThanItsInterval(t *testing.T) {
	out := &recorder{}
	w := NewWriter(out, 50*time.Millisecond)
	w.Begin() // a request that never ends
	logged := time.Now()
	_, _ = w.Write([]byte("held\n"))
	for out.text() == "" && time.Since(logged) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if took := time.Since(logged); out.text() != "held\n" || took < 50*time.Millisecond {
		t.Fatalf("line written after %s (%q), want after the 50ms interval", took, out.text())
	}
}

func TestWriterWritesWholeLinesWhenItsBatchIsFull(t *testing.T) {
	out := &recorder{}
	w := NewWriter(out, time.Hour)
	w.Begin()
	line := strings.Repeat("x", 999) + "\n"
	n := 3*BatchSize/len(line) + 1
	for range n {
		_, _ = w.Write([]byte(line))
	}
	if out.calls() < 2 {
		t.Fatalf("%d bytes held in %d writes, want at most %d bytes per write", n*len(line), out.calls(), BatchSize)
	}
	big := strings.Repeat("y", 2*BatchSize) + "\n" // longer than a batch: written alone
	_, _ = w.Write([]byte(big))
	w.End()
	for _, p := range out.writes {
		if !strings.HasSuffix(p, "\n") || (len(p) > BatchSize && p != big) {
			t.Fatalf("a write of %d bytes is not whole lines within a batch", len(p))
		}
	}
	if out.text() != strings.Repeat(line, n)+big {
		t.Fatal("lines lost or out of order")
	}
}

func TestWriterWithoutIntervalWritesEveryLineAtOnce(t *testing.T) {
	out := &recorder{}
	w := NewWriter(out, 0)
	w.Begin()
	_, _ = w.Write([]byte("a\n"))
	_, _ = w.Write([]byte("b\n"))
	if out.calls() != 2 {
		t.Fatalf("writes = %q", out.writes)
	}
}

// The guarantee LOG_FLUSH_INTERVAL documents: every line logged before Close, from any
// number of goroutines and requests still in flight, is written by Close, whole.
func TestCloseWritesEveryLineLoggedBefore(t *testing.T) {
	out := &recorder{}
	w := NewWriter(out, time.Hour)
	logger := New(w, "json", slog.LevelInfo)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				w.Begin()
				logger.Info("request", slog.String("id", fmt.Sprintf("%d-%d", g, i)))
				if i%3 != 0 { // a third of the requests never end before Close
					w.End()
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString(out.text())
	if got := lines(t, &buf); len(got) != workers*each {
		t.Fatalf("%d lines after Close, want %d", len(got), workers*each)
	}
	_, _ = w.Write([]byte("after\n"))
	if !strings.HasSuffix(out.text(), "after\n") {
		t.Fatal("a line after Close must be written at once")
	}
}
