// The part of the in-process chain benchmark every framework shares: benchmarks/bench.py
// copies it, with MODULE replaced by the service's module path, beside the framework's own
// file (chain_bench_test.go for Gin, chain_echo_bench_test.go for Echo), which measures the
// framework's bare hello world and runs benchService for the service's whole handler.
package httpserver

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"MODULE/internal/config"
	"MODULE/internal/health"
	"MODULE/internal/logging"
	"MODULE/internal/metrics"
)

type benchWriter struct{ header http.Header }

func (w *benchWriter) Header() http.Header         { return w.header }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(int)             {}

func serveLivez(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, LivenessPath, nil)
		req.RemoteAddr = "127.0.0.1:40000"
		for pb.Next() {
			h.ServeHTTP(&benchWriter{header: http.Header{}}, req)
		}
	})
}

// logFile is a file in the benchmark's temporary folder, for a handler's log.
func logFile(b *testing.B) *os.File {
	f, err := os.Create(filepath.Join(b.TempDir(), "stdout"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return f
}

// benchService serves GET /livez through the service's whole handler: request ID, JSON
// access log to a file through logging.Writer, metrics, recovery, body limit, deadline.
func benchService(b *testing.B) {
	cfg, err := config.Load(nil)
	if err != nil {
		b.Fatal(err)
	}
	out := logging.NewWriter(logFile(b), cfg.LogFlushInterval)
	defer out.Close()
	logger := logging.New(out, cfg.LogFormat, slog.LevelInfo)
	telemetry := Telemetry{Metrics: metrics.NewHTTP(prometheus.NewRegistry()), LogBatch: out}
	h, err := New(cfg, logger, health.New(0), telemetry, nil)
	if err != nil {
		b.Fatal(err)
	}
	serveLivez(b, h)
}
