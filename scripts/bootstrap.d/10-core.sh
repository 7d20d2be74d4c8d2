# Go tools the generated projects' checks use (make lint / make vuln) and the tests run.
# Versions are pinned; keep them in sync with template/Makefile.jinja.
GO_TOOLS+=(
  "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0"
  "golang.org/x/vuln/cmd/govulncheck@v1.8.0"
)
APT_PACKAGES+=(ca-certificates curl)
