// The benchmark suite (benchmarks/bench.py) copies this file, with chain_common_test.go,
// into a generated Echo service's (framework: echo) internal/httpserver, with MODULE
// replaced by its module path, and runs
//
//	go test -run '^$' -bench '^BenchmarkChain$' -benchmem -count N ./internal/httpserver
//
// It is chain_bench_test.go for Echo: GET /livez in process, without a network, through a
// bare echo.New() and through the service's whole handler (benchService: the same
// middleware as on Gin, on Echo's adapter). The difference is the middleware's own cost per
// request, and its allocations, which the HTTP rows (dominated by loopback TCP in the
// kernel) cannot show.
package httpserver

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v5"
)

func BenchmarkChain(b *testing.B) {
	b.Run("engine=echo.New", func(b *testing.B) {
		e := echo.New()
		e.GET(LivenessPath, func(c *echo.Context) error {
			return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
		})
		serveLivez(b, e)
	})
	b.Run("engine=service", benchService)
}
