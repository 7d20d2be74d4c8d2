// The benchmark suite (benchmarks/bench.py) copies this file into a generated service's
// internal/httpserver, with MODULE replaced by its module path, and runs
//
//	go test -run '^$' -bench '^BenchmarkChain$' -benchmem -count N ./internal/httpserver
//
// It serves GET /livez in process, without a network, through a bare gin.New(), a
// gin.Default() (its text log to a file) and the service's whole handler (request ID,
// JSON access log to a file through logging.Writer, metrics, recovery, body limit,
// deadline): the difference is the middleware's own cost per request, and its allocations.
package httpserver

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gin-gonic/gin"
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
	logFile := func(b *testing.B) *os.File {
		f, err := os.Create(filepath.Join(b.TempDir(), "stdout"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = f.Close() })
		return f
	}
	hello := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
	b.Run("engine=gin.New", func(b *testing.B) {
		gin.SetMode(gin.ReleaseMode)
		e := gin.New()
		e.GET(LivenessPath, hello)
		serveLivez(b, e)
	})
	b.Run("engine=gin.Default", func(b *testing.B) {
		gin.SetMode(gin.ReleaseMode)
		gin.DefaultWriter = logFile(b)
		e := gin.Default()
		e.GET(LivenessPath, hello)
		serveLivez(b, e)
	})
	b.Run("engine=service", func(b *testing.B) {
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
	})
}
