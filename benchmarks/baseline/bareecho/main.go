// Command bareecho is the benchmark suite's Echo baseline: Echo's hello world, nothing
// else: echo.New() (no middleware) and e.Start, which serves with Echo's own defaults
// (a 30 s ReadTimeout; a graceful shutdown on SIGTERM). BENCH_ADDR is the address to
// listen on; /readyz answers as /livez does, as in bare, for the suite's startup probe.
// It is a module of its own (Echo pinned in its go.mod, the version the template's Echo
// services use); benchmarks/bench.py builds it with the same flags as `make build`, the
// go directive set to the generated Echo service's, and checks that the two Echos match.
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/labstack/echo/v5"
)

func main() {
	e := echo.New()
	hello := func(c *echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) }
	e.GET("/livez", hello)
	e.GET("/readyz", hello)
	if err := e.Start(os.Getenv("BENCH_ADDR")); err != nil {
		log.Fatal(err)
	}
}
