// The benchmark suite (benchmarks/bench.py) copies this file into a generated Echo service's
// (framework: echo) internal/httpserver, with MODULE replaced by its module path, and runs
//
//	go test -run '^$' -bench '^BenchmarkChain$' -benchmem -count N ./internal/httpserver
//
// It is chain_bench_test.go for Echo: GET /livez in process, without a network, through a
// bare echo.New() and through the service's whole handler (the same middleware as on Gin:
// request ID, JSON access log to a file through logging.Writer, metrics, recovery, body
// limit, deadline, here on Echo's adapter): the difference is the middleware's own cost
// per request, and its allocations, which the HTTP rows (dominated by loopback TCP in the
// kernel) cannot show.
package httpserver

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/labstack/echo/v5"
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

func BenchmarkChain(b *testing.B) {
	b.Run("engine=echo.New", func(b *testing.B) {
		e := echo.New()
		e.GET(LivenessPath, func(c *echo.Context) error {
			return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
		})
		serveLivez(b, e)
	})
	b.Run("engine=service", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "stdout"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = f.Close() })
		cfg, err := config.Load(nil)
		if err != nil {
			b.Fatal(err)
		}
		out := logging.NewWriter(f, cfg.LogFlushInterval)
		defer out.Close()
		logger := logging.New(out, cfg.LogFormat, slog.LevelInfo)
		telemetry := Telemetry{Metrics: metrics.NewHTTP(prometheus.NewRegistry()), LogBatch: out}
		h, err := New(cfg, logger, health.New(0), telemetry, nil)
		if err != nil {
			b.Fatal(err)
		}
		serveLivez(b, h)
	})
}
