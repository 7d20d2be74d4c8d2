// Command bare is the benchmark suite's baseline: Gin's hello world, nothing else.
// BENCH_GIN=default builds the engine with gin.Default() (Gin's text access log on
// stdout and its recovery) instead of gin.New(); BENCH_ADDR is the address to listen on.
// benchmarks/bench.py builds it in a module with the generated service's go.mod and
// go.sum (the same Gin), with the same flags as `make build`.
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	if os.Getenv("BENCH_GIN") == "default" {
		engine = gin.Default()
	}
	hello := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
	engine.GET("/livez", hello)
	engine.GET("/readyz", hello)
	if err := engine.Run(os.Getenv("BENCH_ADDR")); err != nil {
		log.Fatal(err)
	}
}
