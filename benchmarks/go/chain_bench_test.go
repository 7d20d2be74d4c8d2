// The benchmark suite (benchmarks/bench.py) copies this file, with chain_common_test.go,
// into a generated service's internal/httpserver, with MODULE replaced by its module path,
// and runs
//
//	go test -run '^$' -bench '^BenchmarkChain$' -benchmem -count N ./internal/httpserver
//
// It serves GET /livez in process, without a network, through a bare gin.New(), a
// gin.Default() (its text log to a file) and the service's whole handler (benchService):
// the difference is the middleware's own cost per request, and its allocations.
package httpserver

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
)

func BenchmarkChain(b *testing.B) {
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
	b.Run("engine=service", benchService)
}
