# The benchmark suite (issue 13, scripts/bench, docs/performance.md): wrk loads the
# services on loopback, hyperfine (30-update.sh) times whole commands, benchstat summarises
# `go test -bench` runs. Images are built with podman (50-podman.sh).
APT_PACKAGES+=(wrk)
GO_TOOLS+=(
  "golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"
)
