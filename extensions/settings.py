"""The one source of truth for values shared by the generated artifacts.

`derive(answers)` turns Copier's answers into the settings that the Go config
defaults, the Dockerfile, compose, Nginx, supervisord, Filebeat, Kubernetes and the
workflows all read (as `cg.<name>` in templates). Nothing here depends on Copier,
so it is unit tested directly.
"""

from __future__ import annotations

import importlib.util
import sys
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, Mapping


def _sibling(stem: str):
    # Cached per file path (see _load_sibling in context.py): an update loads two releases.
    path = Path(__file__).resolve().with_name(f"{stem}.py")
    name = f"copier_gin_{stem}_{zlib.crc32(str(path).encode()):08x}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


naming = _sibling("naming")
observability = _sibling("observability")
monitoring = _sibling("monitoring")
hostunits = _sibling("hostunits")
framework = _sibling("framework")
logstash = _sibling("logstash")

# HTTP server timeouts of the generated service, in seconds. The Go config's defaults
# (internal/config) are rendered from these, and the proxies in front of the service
# are derived from them, so both sides agree.
HTTP_READ_HEADER_TIMEOUT_S = 5
HTTP_READ_TIMEOUT_S = 15
HTTP_WRITE_TIMEOUT_S = 30
HTTP_IDLE_TIMEOUT_S = 60
# Largest request body the service accepts (bytes); Nginx's client_max_body_size matches.
HTTP_MAX_BODY_BYTES = 1 << 20

# Each readiness check's deadline, under the readiness probes' timeout, so a slow
# dependency turns /readyz 503 instead of timing the probe out.
K8S_PROBE_TIMEOUT_S = 2
READINESS_TIMEOUT_MS = 1500

# A request ID a client may choose; anything else is replaced, by Nginx and by the app alike.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"

LIVENESS_PATH = "/livez"
READINESS_PATH = "/readyz"
VERSION_PATH = "/version"
API_PREFIX = "/api/v1"

# Share of the memory limit the Go heap is held under (GOMEMLIMIT), leaving headroom for
# the stacks, the runtime and cgo-free buffers before the kernel's OOM killer.
GO_MEMORY_LIMIT_PERCENT = 90

# How long the service's log writer may hold lines while requests overlap, to write them
# in one system call rather than one per line (internal/logging.Writer; docs/performance.md
# measures it): what a crash can lose. A graceful shutdown writes every line.
LOG_FLUSH_INTERVAL = "100ms"

# Seconds a process manager or orchestrator waits after the app's own shutdown timeout
# before it kills the process: covers logger flush and process exit.
SHUTDOWN_MARGIN_S = 5
# Seconds Kubernetes' preStop hook sleeps so endpoints stop routing before SIGTERM.
K8S_PRESTOP_SLEEP_S = 5
# Kubernetes namespaces of the two overlays, by overlay name ({service} is replaced).
K8S_NAMESPACES = {"staging": "{service}-staging", "production": "{service}"}
# Namespaces whose pods the NetworkPolicy admits to the app port: the edge (the answer
# k8s_edge_namespace, defaulting by routing) and, for a canary, the Argo Rollouts
# controller, whose web metric probes the canary Service.
K8S_EDGE_NAMESPACE_DEFAULTS = {"ingress": "ingress-nginx", "gateway": "envoy-gateway-system"}
K8S_ROLLOUTS_NAMESPACE = "argo-rollouts"
# The workload kind: a Deployment, or an Argo Rollouts Rollout when k8s_canary is on.
K8S_WORKLOADS = {
    False: {"api_version": "apps/v1", "kind": "Deployment"},
    True: {"api_version": "argoproj.io/v1alpha1", "kind": "Rollout"},
}
# The checkers of the Kubernetes manifests, pinned: the generated CI installs these, the
# template's bootstrap (scripts/bootstrap.d/60-k8s-ci.sh) the same versions for its tests.
K8S_KUSTOMIZE = "sigs.k8s.io/kustomize/kustomize/v5@v5.8.2"
K8S_CHECK_GO_TOOLS = (K8S_KUSTOMIZE, "github.com/zegl/kube-score/cmd/kube-score@v1.20.0")
K8S_CHECK_PIP = ("kubernetes-validate==1.37.0",)
# Kubernetes minors the manifests are validated against: 1.34 (upstream support ended in
# October 2026) through the newest kubernetes-validate bundles; 1.35 is the oldest supported.
K8S_VALIDATE_VERSIONS = ("1.34", "1.35", "1.36", "1.37")
# The deploy job: minutes it may run, and 15 s polls of a canary Rollout's phase (its steps
# pause 3 x 5 minutes, plus scaling and analysis).
K8S_DEPLOY_TIMEOUT_MIN = {False: 20, True: 45}
K8S_DEPLOY_WAIT_POLLS = 160
# Where deploy.yml deploys: the repository or environment variable DEPLOY_TARGET names one
# of these, and each needs the variables listed (KUBE_CONFIG is a secret: a whole kubeconfig,
# for any cluster). An environment without DEPLOY_TARGET is skipped with a notice, so the
# first push of a new repository builds and stops there; one that sets DEPLOY_TARGET but
# misses a variable fails, naming it. Services set up before DEPLOY_TARGET existed set the
# EKS variables only: those still deploy to EKS.
DEPLOY_TARGETS = {
    "eks": ("AWS_DEPLOY_ROLE_ARN", "AWS_REGION", "EKS_CLUSTER"),
    "gke": ("GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT", "GCP_PROJECT", "GKE_CLUSTER", "GKE_LOCATION"),
    "aks": ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID", "AKS_RESOURCE_GROUP", "AKS_CLUSTER"),
    "kubeconfig": ("KUBE_CONFIG",),
}
DEPLOY_SECRETS = ("KUBE_CONFIG",)
DEPLOY_LEGACY_TARGET = "eks"
DEPLOY_LEGACY_VARS = ("AWS_DEPLOY_ROLE_ARN", "EKS_CLUSTER")  # not AWS_REGION: often set for other uses
# kubelogin turns an AKS kubeconfig's Entra ID login into the Azure CLI's token; the newest
# release whose go.mod the oldest supported Go (1.25) builds.
KUBELOGIN = "github.com/Azure/kubelogin@v0.2.16"
# The make targets the generated CI's Go job runs; the template's tests run the same ones.
CI_MAKE_TARGETS = ("fmt-check", "vet", "lint", "cover", "vuln", "tidy-check", "check-conflicts")

# The scheduled template update (.github/workflows/template-update.yml, docs/updating.md).
# The Copier the workflow installs: the one this repository's tests run (pyproject.toml).
COPIER_VERSION = "9.19.1"
TEMPLATE_UPDATE_BRANCH = "template-update"
# Kept in step with template_update.py's LABEL (a test compares them).
TEMPLATE_UPDATE_LABEL = "template-update: needs a human"
TEMPLATE_UPDATE_TOKEN_SECRET = "TEMPLATE_UPDATE_TOKEN"
# Once a week, on Monday between 05:00 and 08:59 UTC. The minute and hour come from the
# service's name, so a fleet does not clone the template all at the same moment.
TEMPLATE_UPDATE_WEEKDAY = 1
TEMPLATE_UPDATE_HOURS = (5, 9)


def template_update_cron(service: str) -> str:
    spread = zlib.crc32(f"template-update:{service}".encode())
    low, high = TEMPLATE_UPDATE_HOURS
    return f"{spread % 60} {low + (spread // 60) % (high - low)} * * {TEMPLATE_UPDATE_WEEKDAY}"

# GitLab CI (.gitlab-ci.yml, ci_provider gitlab). The images its jobs run in, pinned by tag
# (no digest is invented here); Go jobs run in the Dockerfile's builder image (BUILDER_IMAGE).
# buildah builds and pushes the image without a daemon or privileges (vfs storage, chroot
# isolation); kubectl is downloaded by the deploy jobs, checked against its published checksum.
GITLAB_BUILDAH_IMAGE = "quay.io/buildah/stable:v1.39.0"
GITLAB_HADOLINT_IMAGE = "hadolint/hadolint:v2.12.0-debian"
KUBECTL_VERSION = "v1.34.2"
# Where the GitLab deploy jobs deploy: DEPLOY_TARGET names one of these, as on GitHub. The
# cloud logins of the GitHub workflow (eks, gke, aks) are not generated for GitLab: a GitLab
# agent for Kubernetes (`agent`: the agent's context, which GitLab hands the job) or a
# kubeconfig in a CI/CD variable of type file (`kubeconfig`) reach any cluster.
GITLAB_DEPLOY_TARGETS = {"agent": ("KUBE_CONTEXT",), "kubeconfig": ("KUBE_CONFIG",)}
# The integration job's database: a throwaway server as a GitLab service, the image compose
# runs (`compose_image`), reached at the alias `database`.
GITLAB_DB_SERVICES = {
    "postgres": {
        "variables": {"POSTGRES_USER": "ci", "POSTGRES_PASSWORD": "ci", "POSTGRES_DB": "ci"},
        "url": "postgres://ci:ci@database:5432/ci?sslmode=disable",
    },
    "mysql": {
        "variables": {"MARIADB_USER": "ci", "MARIADB_PASSWORD": "ci", "MARIADB_DATABASE": "ci",
                      "MARIADB_RANDOM_ROOT_PASSWORD": "1"},
        "url": "mysql://ci:ci@database:3306/ci",
    },
}


def gitlab(out: Mapping[str, Any]) -> dict[str, Any]:
    """What .gitlab-ci.yml needs beyond the values the GitHub workflows use too."""
    db = out["db"]
    service = GITLAB_DB_SERVICES.get(str(db.get("engine"))) if db.get("enabled") else None
    return {
        "buildah_image": GITLAB_BUILDAH_IMAGE,
        "hadolint_image": GITLAB_HADOLINT_IMAGE,
        "kubectl_version": KUBECTL_VERSION,
        "deploy_targets": {name: list(names) for name, names in GITLAB_DEPLOY_TARGETS.items()},
        "db_service": {"image": db["compose_image"], **service} if service else None,
    }


# Settings of the generated example (internal/service/settings.go): key, default, doc.
EXAMPLE_SETTINGS = (
    ("SALUTATIONS_URL", "", "Base URL of the salutations API the example greeting calls for other languages; empty: no such API."),
    ("SALUTATIONS_TIMEOUT", "3s", "Time one call to the salutations API may take, retries included."),
)

REQUIRED_ANSWERS = ("service_name", "http_port", "shutdown_timeout", "owner")

# Modules the template-owned Go code imports, at the versions go.mod pins (go.mod is the
# team's once generated: `make deps` raises it to at least these on `make update`).
GO_REQUIRES = (
    "github.com/caarlos0/env/v11@v11.4.1",
    "github.com/go-playground/validator/v10@v10.30.1",
    # Metrics (internal/metrics, internal/admin) and tracing (internal/tracing): the
    # newest releases whose `go` directive is at most the oldest supported Go (1.25).
    "github.com/prometheus/client_golang@v1.24.1",
    "go.opentelemetry.io/otel@v1.46.0",
    "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp@v1.46.0",
    "go.opentelemetry.io/otel/sdk@v1.46.0",
    "go.opentelemetry.io/otel/trace@v1.46.0",
)
# Modules of the generated example code only (internal/upstream; kin-openapi for the API
# contract test of internal/api): pinned in go.mod at
# copy, never raised by updates.
GO_EXAMPLE_REQUIRES = ("github.com/sony/gobreaker/v2@v2.4.0", "github.com/getkin/kin-openapi@v0.152.0")

# Build tags of every build of the service. nomsgpack drops Gin's MessagePack codec,
# which the service does not use, from the binary (about a third of its size).
GO_BUILD_TAGS = ("nomsgpack",)
# A scratch image has no /usr/share/zoneinfo: its binary embeds the time zone database.
SCRATCH_EXTRA_BUILD_TAGS = ("timetzdata",)

# ---------------------------------------------------------------- data (answers database, redis)
# The engines the `database` answer offers. The Go code reaches all three through GORM
# (queries written once) and goose (migrations: versioned SQL files embedded in the
# binary); `goose_dialect` is goose's name for the engine. `url` is the form of
# <PREFIX>_DATABASE_URL; `compose_image` the server compose runs for the engine.
DATABASES = {
    "sqlite": {
        "title": "SQLite",
        "port": None,
        "goose_dialect": "sqlite3",
        "url": "file:PATH",
        "compose_image": None,
        "go_requires": ("github.com/glebarez/sqlite@v1.11.0",),
    },
    "postgres": {
        "title": "PostgreSQL",
        "port": 5432,
        "goose_dialect": "postgres",
        "url": "postgres://USER:PASSWORD@HOST:5432/NAME?sslmode=verify-full",
        "compose_image": "postgres:17.6-bookworm",
        "go_requires": ("gorm.io/driver/postgres@v1.6.3", "github.com/jackc/pgx/v5@v5.11.0"),
    },
    "mysql": {
        "title": "MySQL",
        "port": 3306,
        "goose_dialect": "mysql",
        "url": "mysql://USER:PASSWORD@HOST:3306/NAME?tls=true",
        "compose_image": "mariadb:11.8.3-noble",
        "go_requires": ("gorm.io/driver/mysql@v1.6.0", "github.com/go-sql-driver/mysql@v1.10.1"),
    },
}
# Modules the template-owned database code (internal/database, migrations) needs with any
# engine. Like every pinned module, their `go` directive is at most the oldest supported
# Go (1.25): goose 3.28+ and go-redis 9.23+ need 1.26, so they wait.
GO_DATABASE_REQUIRES = ("gorm.io/gorm@v1.31.2", "github.com/pressly/goose/v3@v3.27.0")
GO_REDIS_REQUIRES = ("github.com/redis/go-redis/v9@v9.22.0",)
REDIS_PORT = 6379
REDIS_IMAGE = "redis:8.2.2-bookworm"
# Where the service keeps an SQLite file when it runs as a container or a host program
# ({service} is replaced); `make run` uses DATABASE_URL's default, a file in the checkout.
SQLITE_DATA_DIR = "/var/lib/{service}"

# Settings of internal/database and internal/cache: key, default, doc. DATABASE_URL and
# REDIS_URL hold credentials: they come from secrets (compose's app.secrets.env,
# supervisord's secrets.env, a Kubernetes Secret), never from a ConfigMap or an image.
DATABASE_SETTINGS = (
    ("DATABASE_URL", None, "Where the database is, credentials included (a secret)."),
    ("DATABASE_MAX_OPEN_CONNS", "10", "Connections the pool opens at most; more requests wait for one."),
    ("DATABASE_MAX_IDLE_CONNS", "5", "Idle connections the pool keeps, at most DATABASE_MAX_OPEN_CONNS."),
    ("DATABASE_CONN_MAX_LIFETIME", "30m", "Age after which a connection is closed and replaced."),
    ("DATABASE_CONN_MAX_IDLE_TIME", "5m", "Idle time after which a connection is closed."),
    ("DATABASE_CONNECT_TIMEOUT", "5s", "Time allowed to open a connection."),
    ("DATABASE_QUERY_TIMEOUT", "5s", "Time one statement may take unless its context ends sooner."),
    ("DATABASE_MIGRATE_ON_START", "false", "Apply pending migrations at start: true suits development; deployments run the migrate command once per release."),
)
REDIS_SETTINGS = (
    ("REDIS_URL", "", "Where Redis is, password included (a secret): redis://:PASSWORD@HOST:6379/0 (rediss:// for TLS)."),
    ("REDIS_POOL_SIZE", "10", "Connections the client keeps at most."),
    ("REDIS_DIAL_TIMEOUT", "2s", "Time allowed to open a connection."),
    ("REDIS_READ_TIMEOUT", "500ms", "Time one command's reply may take."),
    ("REDIS_WRITE_TIMEOUT", "500ms", "Time writing one command may take."),
    ("REDIS_MAX_RETRIES", "2", "Retries of a command that failed on a network error (0: none)."),
)


# go.mod's indirect requirements and go.sum depend on the data answers (the modules
# each engine's driver pulls in): scripts/lock-go-modules writes them, tidied, for every
# combination into extensions/gomod/<key>.mod and <key>.sum; templates render them.
GOMOD_DIR = Path(__file__).resolve().with_name("gomod")


def gomod_key(answers: Mapping[str, Any]) -> str:
    engine = str(answers.get("database") or "none")
    key = f"{engine}-{'redis' if answers.get('redis') else 'noredis'}"
    return key if framework.name(answers) == "gin" else f"{framework.name(answers)}-{key}"


def gomod_keys() -> list[str]:
    return [("" if fw == "gin" else f"{fw}-") + f"{engine}-{r}"
            for fw in framework.FRAMEWORKS for engine in ("none", *DATABASES) for r in ("noredis", "redis")]


def gomod_lock(key: str) -> tuple[list[tuple[str, str]], str]:
    """The indirect requirements and the go.sum text of one combination ([] and "" when the
    lock is missing: scripts/lock-go-modules is writing it; a test fails on a missing one)."""
    mod, total = GOMOD_DIR / f"{key}.mod", GOMOD_DIR / f"{key}.sum"
    if not mod.exists() or not total.exists():
        # While the script writes a new combination: start from the base's versions (tidy
        # keeps them as minimums, so a module raised on purpose stays raised).
        mod, total = GOMOD_DIR / "none-noredis.mod", GOMOD_DIR / "none-noredis.sum"
    if not mod.exists() or not total.exists():
        return [], ""
    indirect = [tuple(line.split()) for line in mod.read_text().splitlines() if line.strip()]
    return indirect, total.read_text()


# The generated CI's integration job (GitHub Actions) uses the database server the
# ubuntu-24.04 runner image ships, stopped (PostgreSQL 16, MySQL 8.0 with root/root):
# started with throwaway credentials, so no image is pulled by a tag that cannot be
# pinned to a digest. `start` are the step's commands, `url` what the tests read.
CI_DATABASE_SERVICES = {
    "postgres": {
        "title": "the runner's PostgreSQL",
        "start": [
            "sudo systemctl start postgresql.service",
            "sudo -u postgres psql -v ON_ERROR_STOP=1 -c \"CREATE ROLE ci LOGIN PASSWORD 'ci'\"",
            "sudo -u postgres createdb --owner ci ci",
        ],
        "url": "postgres://ci:ci@127.0.0.1:5432/ci?sslmode=disable",
    },
    "mysql": {
        "title": "the runner's MySQL",
        "start": [
            "sudo systemctl start mysql.service",
            "mysql -uroot -proot -e \"CREATE DATABASE ci; CREATE USER 'ci'@'%' IDENTIFIED BY 'ci'\"",
            "mysql -uroot -proot -e \"GRANT ALL ON ci.* TO 'ci'@'%'\"",
        ],
        "url": "mysql://ci:ci@127.0.0.1:3306/ci",
    },
}


def validate_canary(canary: object, database: object = "none") -> str:
    """k8s_canary: a canary runs two releases side by side, one SQLite file serves one pod."""
    if canary in (True, "true", "True", "yes") and str(database) == "sqlite":
        return (
            "k8s_canary needs a database server: with database=sqlite the service runs as one pod "
            "with its file on a volume. Answer database=postgres or mysql, or k8s_canary=false."
        )
    return ""


def data(answers: Mapping[str, Any], service: str, prefix: str) -> dict[str, Any]:
    """What the data answers (database, redis) give the templates, as `cg.db` and `cg.redis`."""
    engine = str(answers.get("database") or "none")
    if engine not in DATABASES:
        # "none", or a value Copier's choices have not rejected yet: Copier renders the
        # context while it validates earlier questions, which must not fail on this one.
        engine = "none"
    with_redis = bool(answers.get("redis"))
    ident = service.replace("-", "_")
    data_dir = SQLITE_DATA_DIR.format(service=service)
    db: dict[str, Any] = {"engine": engine, "enabled": engine != "none"}
    if engine != "none":
        spec = DATABASES[engine]
        host_url = {
            "sqlite": f"file:{data_dir}/{service}.db",
            "postgres": f"postgres://{ident}:CHANGE_ME@127.0.0.1:5432/{ident}?sslmode=disable",
            "mysql": f"mysql://{ident}:CHANGE_ME@127.0.0.1:3306/{ident}",
        }[engine]
        compose_url = {
            "sqlite": f"file:{data_dir}/{service}.db",
            "postgres": f"postgres://{ident}:compose-only-password@db:5432/{ident}?sslmode=disable",
            "mysql": f"mysql://{ident}:compose-only-password@db:3306/{ident}",
        }[engine]
        db.update(
            title=spec["title"],
            port=spec["port"],
            goose_dialect=spec["goose_dialect"],
            url_form=spec["url"],
            compose_image=spec["compose_image"],
            name=ident,
            user=ident,
            data_dir=data_dir,
            # make run's default: a file in the checkout (git-ignored); servers have none.
            default_url=f"file:{service}.db" if engine == "sqlite" else "",
            host_url=host_url,
            compose_url=compose_url,
            k8s_secret=f"{service}-database",
            # The generated CI's integration job: the engine as a service container with
            # throwaway credentials, and the URL the project's integration tests read.
            ci=CI_DATABASE_SERVICES.get(engine),
        )
    # The Go struct's tags take defaults and docs from here, as .env.example does.
    db["defaults"] = {k: (db.get("default_url", "") if d is None else d) for k, d, _ in DATABASE_SETTINGS}
    db["docs"] = {k: doc for k, _, doc in DATABASE_SETTINGS}
    db["fields"] = [
        {"key": k, "var": f"{prefix}_{k}", "default": (db.get("default_url", "") if d is None else d), "doc": doc}
        for k, d, doc in DATABASE_SETTINGS
    ] if engine != "none" else []
    redis = {
        "enabled": with_redis,
        "defaults": {k: d for k, d, _ in REDIS_SETTINGS},
        "docs": {k: doc for k, _, doc in REDIS_SETTINGS},
        "port": REDIS_PORT,
        "compose_image": REDIS_IMAGE,
        "compose_url": "redis://:compose-only-password@redis:6379/0",
        "host_url": "redis://:CHANGE_ME@127.0.0.1:6379/0",
        "k8s_secret": f"{service}-redis",
        "fields": [{"key": k, "var": f"{prefix}_{k}", "default": d, "doc": doc} for k, d, doc in REDIS_SETTINGS]
        if with_redis else [],
    }
    requires: tuple[str, ...] = ()
    example: tuple[str, ...] = ()
    if engine != "none":
        requires += GO_DATABASE_REQUIRES + DATABASES[engine]["go_requires"]
    if with_redis:
        requires += GO_REDIS_REQUIRES
    # Tests build settings that have no usable default: a database and a Redis nobody
    # listens on (nothing connects until a readiness check or a query), or a fresh file.
    if engine != "none":
        db["test_url_expr"] = {
            "sqlite": '"file:" + t.TempDir() + "/test.db"',
            "postgres": '"postgres://test:test@127.0.0.1:1/test?sslmode=disable"',
            "mysql": '"mysql://test:test@127.0.0.1:1/test"',
        }[engine]
    redis["test_url_expr"] = '"redis://127.0.0.1:1/0"'
    run_defaults = [f"{prefix}_DATABASE_MIGRATE_ON_START=true"] if engine != "none" else []
    return {"db": db, "redis": redis, "data_go_requires": requires, "data_go_example_requires": example,
            "run_defaults": run_defaults}


# ---------------------------------------------------------------- data: deployment side
# What the deployment artifacts (compose.yaml, deploy/k8s, the deployment docs) need of the
# data answers, kept apart from data() (which the Go code shares): `cg.data_deploy`.
# DATABASE_URL and REDIS_URL are secrets everywhere: compose's app.secrets.env, the host's
# secrets.env, a Kubernetes Secret the team creates; never compose.yaml, a ConfigMap or the image.
DATA_SECRET_KEYS = ("DATABASE_URL", "REDIS_URL")
# Password of the compose-only database server and Redis. The committed examples
# (deploy/compose/*.secrets.env.example) hold it so that a clone runs with nothing else;
# a real deployment sets its own in the git-ignored *.secrets.env, which compose reads after.
COMPOSE_DEV_PASSWORD = "compose-only-password"
# The database servers compose runs, as their official images expect: the variables their
# entrypoints read (secrets apart), the user they run as (not root: the entrypoints then
# skip their chown steps), where they keep the data and a health check. The check
# goes over TCP: the entrypoint's first server, which initialises the data, listens only on
# the socket, so the check passes once the real server is up.
COMPOSE_DB_SERVERS = {
    "postgres": {
        "user": "postgres",
        "env": {"POSTGRES_USER": "{ident}", "POSTGRES_DB": "{ident}"},
        "secret_env": {"POSTGRES_PASSWORD": COMPOSE_DEV_PASSWORD},
        "data_dir": "/var/lib/postgresql/data",
        "healthcheck": ["CMD", "pg_isready", "--host=127.0.0.1", "--username={ident}", "--dbname={ident}"],
        "memory": "512M",
    },
    "mysql": {
        "user": "mysql",
        "env": {"MARIADB_USER": "{ident}", "MARIADB_DATABASE": "{ident}"},
        "secret_env": {"MARIADB_PASSWORD": COMPOSE_DEV_PASSWORD, "MARIADB_ROOT_PASSWORD": "compose-only-root-password"},
        "data_dir": "/var/lib/mysql",
        "healthcheck": ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"],
        "memory": "512M",
    },
}
# Redis in compose: the password comes from REDIS_PASSWORD (redis.secrets.env), never the
# command line compose.yaml shows ($$: compose leaves the variable to the container's shell,
# and redis-server replaces its process title); no persistence (a cache); redis-cli takes
# the password from REDISCLI_AUTH in the check.
COMPOSE_REDIS = {
    "user": "redis",
    "secret_env": {"REDIS_PASSWORD": COMPOSE_DEV_PASSWORD},
    "command": ["sh", "-c", 'exec redis-server --requirepass "$$REDIS_PASSWORD" --save "" --appendonly no'],
    "healthcheck": ["CMD-SHELL", 'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -q PONG'],
    "memory": "128M",
}
# `<binary> migrate up`: a compose one-shot service, a Kubernetes init container, a step
# before `supervisorctl update` on a host.
MIGRATE_ARGS = ("migrate", "up")
# With SQLite on Kubernetes: one pod, its file on a volume claim of this size.
K8S_SQLITE_STORAGE = "1Gi"


def data_deploy(cg: Mapping[str, Any]) -> dict[str, Any]:
    """`cg.data_deploy`: the data answers' compose services, Kubernetes components and host steps."""
    db, redis, service, prefix = cg["db"], cg["redis"], cg["service"], cg["env_prefix"]
    ident = service.replace("-", "_")
    engine = db["engine"]

    def settings_env(rows) -> dict[str, str]:  # the non-secret settings, at their defaults
        return {f"{prefix}_{k}": d for k, d, _ in rows if k not in DATA_SECRET_KEYS}

    spec = COMPOSE_DB_SERVERS.get(engine)
    server = None
    if spec:
        server = {
            "image": db["compose_image"],
            "user": spec["user"],
            "env": {k: v.format(ident=ident) for k, v in spec["env"].items()},
            "secret_env": dict(spec["secret_env"]),
            "data_dir": spec["data_dir"],
            "healthcheck": [a.format(ident=ident) for a in spec["healthcheck"]],
            "memory": spec["memory"],
        }
    sqlite = engine == "sqlite"
    # compose: the app's image runs `migrate up` once, after the database is healthy; the app
    # waits for it (and for Redis). With SQLite both mount the data volume.
    app_depends_on = {}
    if db["enabled"]:
        app_depends_on["migrate"] = "service_completed_successfully"
    if redis["enabled"]:
        app_depends_on["redis"] = "service_healthy"
    volumes = {}
    if sqlite:
        volumes["data"] = f"The SQLite file ({db['data_dir']} in the app's containers)."
    if server:
        volumes["db-data"] = f"{db['title']}'s data."
    secrets_examples = {}
    if db["enabled"] or redis["enabled"]:
        secrets_examples["app"] = {
            **({f"{prefix}_DATABASE_URL": db["compose_url"]} if db["enabled"] else {}),
            **({f"{prefix}_REDIS_URL": redis["compose_url"]} if redis["enabled"] else {}),
        }
    if server:
        secrets_examples["db"] = server["secret_env"]
    if redis["enabled"]:
        secrets_examples["redis"] = dict(COMPOSE_REDIS["secret_env"])
    compose = {
        "secrets_examples": secrets_examples,
        "db": server,
        "redis": {**COMPOSE_REDIS, "image": redis["compose_image"]} if redis["enabled"] else None,
        "app_depends_on": app_depends_on,
        "migrate_depends_on": {"db": "service_healthy"} if server else {},
        "app_volumes": [f"data:{db['data_dir']}"] if sqlite else [],
        "volumes": volumes,
    }
    # Kubernetes: Kustomize components of deploy/k8s/components the base includes, in this
    # order (database last: its init container copies the app container as the others left it).
    components = (["sqlite"] if sqlite else []) + (["redis"] if redis["enabled"] else []) \
        + (["database-egress"] if server else []) + (["database"] if db["enabled"] else [])
    host = cg["host"]
    migrate = " ".join([host["bin_path"], *MIGRATE_ARGS, "-env-file", host["env_file"], "-env-file",
                        host["secrets_env_file"]])
    return {
        "enabled": db["enabled"] or redis["enabled"],
        "secret_vars": [f"{prefix}_{k}" for k, on in zip(DATA_SECRET_KEYS, (db["enabled"], redis["enabled"])) if on],
        "migrate_args": list(MIGRATE_ARGS),
        "db": {
            "url_var": f"{prefix}_DATABASE_URL",
            "server": server is not None,
            "sqlite": sqlite,
            "settings_env": settings_env(DATABASE_SETTINGS) if db["enabled"] else {},
            "sqlite_url": f"file:{db['data_dir']}/{service}.db" if sqlite else "",
            # The image creates the SQLite directory (owned by the service's user) in its parent.
            "data_dir_parent": str(PurePosixPath(db["data_dir"]).parent) if sqlite else "",
            "data_dir_name": PurePosixPath(db["data_dir"]).name if sqlite else "",
        },
        "redis": {
            "url_var": f"{prefix}_REDIS_URL",
            "settings_env": settings_env(REDIS_SETTINGS) if redis["enabled"] else {},
        },
        "compose": compose,
        "k8s_components": components,
        "k8s_sqlite_storage": K8S_SQLITE_STORAGE,
        "host_migrate_command": migrate if db["enabled"] else "",
    }


# The platforms the image is built for (the image workflow) and `make build-all`
# cross-compiles: the build stage runs on the builder's own platform and cross-compiles.
BUILD_PLATFORMS = ("linux/amd64", "linux/arm64")

UID = 65532
GID = 65532


def validate_http_port(value: object) -> str:
    """http_port: a non-root port that is not the admin listener's (metrics, pprof)."""
    message = naming.validate_port(value)
    if message:
        return message
    return observability.admin_ports_clash(int(str(value)), 1)


def validate_instances(value: object, http_port: object = 8080) -> str:
    message = naming.validate_int_range(value, "instances", 1, 16)
    if message:
        return message
    try:
        naming.upstream_ports(int(str(http_port)), int(str(value)))
    except ValueError as exc:
        return f"instances: {exc}; lower http_port or instances."
    clash = observability.admin_ports_clash(int(str(http_port)), int(str(value)))
    return f"instances: {clash}" if clash else ""


# ---- one-host deployment (Dockerfile, compose.yaml, Nginx, supervisord, Filebeat)
# Pinned images of the one-host layout (tags: no digest is invented here).
BUILDER_IMAGE = "golang:{go_version}-bookworm"
DISTROLESS_IMAGE = "gcr.io/distroless/static-debian12:nonroot"
NGINX_IMAGE = "nginx:1.28.0"
FILEBEAT_IMAGE = "docker.elastic.co/beats/filebeat:9.1.0"
# compose: the app service's name (Nginx's upstream host there) and its replica count.
COMPOSE_APP_SERVICE = "app"
COMPOSE_REPLICAS = 2
# compose's backend network: the variable holding its /24's first three octets.
COMPOSE_NET_VAR = "BACKEND_NET"
# Nginx -> app: fail over fast on refused connections, retry idempotent requests a
# bounded number of times, mark an instance down after repeated failures.
NGINX_CONNECT_TIMEOUT_S = 2
NGINX_MAX_FAILS = 3
NGINX_FAIL_TIMEOUT_S = 10
NGINX_NEXT_UPSTREAM_TRIES = 3
NGINX_KEEPALIVE_CONNECTIONS = 32
# Shared memory for the upstream group's run-time state: without it every Nginx worker
# counts connections (least_conn) and failures (max_fails) on its own, so a worker that has
# not yet seen an instance hang still sends it new requests. 64 KiB holds far more servers
# than a host runs.
NGINX_UPSTREAM_ZONE = "64k"
STATIC_PREFIX = "/static/"
ACME_PREFIX = "/.well-known/acme-challenge/"
ACME_WEBROOT = "/var/www/letsencrypt"
# Static assets (with_assets): the team's files in ASSETS_DIR are embedded in the binary
# (assets/embed.go) and served under STATIC_PREFIX by the service in every layout; on a bare
# host Nginx serves the same prefix from its static_dir when the file is there. Both send
# these Cache-Control values: a name with a content hash before its extension
# (app.3f2a9c1b.css) never changes, any other is revalidated (ETag) on every use.
ASSETS_DIR = "assets/public"
ASSET_FINGERPRINT = r"\.[0-9a-f]{8,}\.[^./]+$"
ASSET_CACHE_FINGERPRINTED = "public, max-age=31536000, immutable"
ASSET_CACHE_OTHER = "no-cache"
# Precompressed variants (x.css.br, x.css.gz) served when present and accepted, best first.
ASSET_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
# Content types by extension, the same for the service and Nginx (neither reads the host's
# mime.types for assets); anything else is application/octet-stream.
ASSET_TYPES = (
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("html", "text/html; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("map", "application/json"),
    ("json", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("xml", "application/xml"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/x-icon"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
)
# `make assets` precompresses these (already compressed formats gain nothing).
ASSET_COMPRESSIBLE = ("css", "js", "mjs", "html", "txt", "map", "json", "webmanifest", "xml", "svg", "ico", "wasm")
# Filebeat renames these keys of the service's log lines to the Elastic Common Schema's
# names: where ECS has an object (user_agent, error) a string would be rejected or shadow
# it, and ECS names are what Kibana and shared dashboards query. The rest (msg, time,
# route, latency_ms, ...) keeps the service's names; none of them is an ECS field.
FILEBEAT_CONTAINER_LABEL = "service_logs"
FILEBEAT_ECS_RENAMES = (
    ("level", "log.level"),
    ("request_id", "http.request.id"),
    ("method", "http.request.method"),
    ("path", "url.path"),
    ("status", "http.response.status_code"),
    ("bytes", "http.response.body.bytes"),
    ("client_ip", "client.ip"),
    ("user_agent", "user_agent.original"),
    ("trace_id", "trace.id"),
    ("error", "error.message"),
    ("stack", "error.stack_trace"),
)
# Filebeat's output speaks TLS, verified against FILEBEAT_CA_VAR's bundle, unless
# FILEBEAT_TLS_VAR=false says otherwise; deploy/filebeat/check-tls.sh refuses to start it
# when an Elasticsearch host says http:// without that (the API key would go in clear).
FILEBEAT_TLS_VAR = "FILEBEAT_TLS"
FILEBEAT_CA_VAR = "FILEBEAT_TLS_CA"
FILEBEAT_DEFAULT_CA = "/etc/ssl/certs/ca-certificates.crt"
FILEBEAT_HOSTS_VAR = {"elasticsearch": "ELASTICSEARCH_HOSTS", "logstash": "LOGSTASH_HOSTS", "kafka": "KAFKA_HOSTS"}
FILEBEAT_CHECK_SCRIPT = "check-tls.sh"
# supervisord rotates each instance's log at this size and keeps this many old files.
LOG_MAX_BYTES = "50MB"
LOG_BACKUPS = 10


def compose_network(service: str) -> dict[str, Any]:
    """The compose backend network: a /24 whose first three octets are the variable
    BACKEND_NET (compose reads it from the environment or the git-ignored `.env`: the
    network is a property of the host, where two services may pick the same one), by
    default 172.30.<1-254>, stable per service name. The app trusts exactly Nginx's address
    there (.10). Containers without a fixed address (app replicas, migrate, the database,
    yours) get theirs from the upper half (ip_range), so none can take Nginx's.

    The values are compose interpolations (`${BACKEND_NET:-172.30.42}.0/24`); `defaults`
    holds them resolved for the default, for the docs."""
    octet = zlib.crc32(service.encode()) % 254 + 1
    default = f"172.30.{octet}"
    prefix = f"${{{COMPOSE_NET_VAR}:-{default}}}"
    suffixes = {"subnet": ".0/24", "gateway": ".1", "ip_range": ".128/25", "nginx_ip": ".10"}
    return {
        "net_var": COMPOSE_NET_VAR,
        "net_default": default,
        **{key: prefix + suffix for key, suffix in suffixes.items()},
        "defaults": {key: default + suffix for key, suffix in suffixes.items()},
    }


def one_host(cg: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Values the one-host artifacts share; `cg` is derive()'s output so far."""
    service = cg["service"]
    ports = cg["upstream_ports"]
    log_dir = f"/var/log/{service}"
    network = compose_network(service)
    managers = hostunits.managers(answers)
    host = {
        "install_dir": f"/opt/{service}",
        "bin_path": f"/opt/{service}/bin/{cg['binary']}",
        "user": service,
        "log_dir": log_dir,
        # supervisord's group: one program per instance, `<service>-<port>`, each with its
        # own HTTP port and admin (metrics) port, so supervisorctl names `<service>:<service>-<port>`.
        "program": service,
        "instances": [
            {
                "program": f"{service}-{port}",
                "http_port": port,
                "admin_port": observability.host_admin_port(i),
                "stdout_log": f"{log_dir}/{service}-{port}.log",
                "stderr_log": f"{log_dir}/{service}-{port}.stderr.log",
            }
            for i, port in enumerate(ports)
        ],
        "stdout_logs": [f"{log_dir}/{service}-{port}.log" for port in ports],
        "log_max_bytes": LOG_MAX_BYTES,
        "log_backups": LOG_BACKUPS,
        # Behind the host's Nginx: loopback only, Nginx the only trusted proxy. Without Nginx
        # the instances are what clients reach: every interface, and no proxy is trusted.
        "trusted_proxies": "127.0.0.1" if answers.get("with_nginx", True) else "",
        "listen_host": "127.0.0.1" if answers.get("with_nginx", True) else "",
        # The admin listener (metrics, pprof) stays on loopback whatever is in front.
        "admin_host": "127.0.0.1",
        # -env-file arguments of the program: the team's settings, then host-only secrets.
        "env_file": f"/etc/{service}/{service}.env",
        "secrets_env_file": f"/etc/{service}/secrets.env",
        # The process managers generated (supervisord, systemd: either runs the instances
        # on a host), and the team's committed file installed as env_file.
        "managers": managers,
        "managed": bool(managers),
        "manager_dirs": [f"deploy/{m}" for m in managers],
        "team_env": hostunits.team_env_source(service, answers),
    }
    nginx = {
        "server_name": str(answers.get("nginx_server_name") or f"{service}.example.com"),
        "upstream": cg["env_prefix"].lower(),
        "conf_dir": service,
        "host_servers": [f"127.0.0.1:{port}" for port in ports],
        "compose_server": f"{COMPOSE_APP_SERVICE}:{cg['http_port']}",
        "access_log": f"/var/log/nginx/{service}.access.log",
        "error_log": f"/var/log/nginx/{service}.error.log",
        "static_prefix": STATIC_PREFIX,
        "static_dir": f"/var/www/{service}/static",
        # Let's Encrypt's HTTP-01 challenges: certbot --webroot writes the token files under
        # acme_webroot, the HTTP server serves acme_prefix from it (everything else redirects),
        # and after each renewal certbot runs the deploy hook, which reloads Nginx.
        "acme_prefix": ACME_PREFIX,
        "acme_webroot": ACME_WEBROOT,
        "certbot_hook": f"/etc/letsencrypt/renewal-hooks/deploy/{service}-nginx.sh",
        "certbot_live": f"/etc/letsencrypt/live/{answers.get('nginx_server_name') or f'{service}.example.com'}",
        # A file that is not in static_dir: the service's embedded copy, or Nginx's 404.
        "static_fallback": f"@{cg['env_prefix'].lower()}_idempotent" if cg["assets"]["enabled"] else "=404",
        "connect_timeout_s": NGINX_CONNECT_TIMEOUT_S,
        # Nginx waits at least as long as the app may take to read a request or write a
        # response, plus the margin, so the app's own timeout answers first.
        "send_timeout_s": cg["read_timeout_s"] + SHUTDOWN_MARGIN_S,
        "read_timeout_s": cg["write_timeout_s"] + SHUTDOWN_MARGIN_S,
        # A GET, HEAD or OPTIONS waits this long for an instance, so that after a try on
        # one that hangs another try fits in read_timeout_s (connects included).
        "idempotent_read_timeout_s": (cg["write_timeout_s"] + SHUTDOWN_MARGIN_S - 2 * NGINX_CONNECT_TIMEOUT_S) // 2,
        # Idle upstream connections are closed by Nginx well before the app's idle timeout,
        # so Nginx never reuses a connection the app is closing.
        "keepalive_timeout_s": cg["idle_timeout_s"] // 2,
        "keepalive": NGINX_KEEPALIVE_CONNECTIONS,
        "zone_size": NGINX_UPSTREAM_ZONE,
        "max_fails": NGINX_MAX_FAILS,
        "fail_timeout_s": NGINX_FAIL_TIMEOUT_S,
        "next_upstream_tries": NGINX_NEXT_UPSTREAM_TRIES,
    }
    compose = {
        "app_service": COMPOSE_APP_SERVICE,
        "replicas": COMPOSE_REPLICAS,
        **network,
        "trusted_proxies": f"{network['nginx_ip']}/32",
    }
    go_version = str(answers.get("go_version") or "1.26")
    images = {
        "builder": BUILDER_IMAGE.format(go_version=go_version),
        "runtime": "scratch" if answers.get("runtime_image") == "scratch" else DISTROLESS_IMAGE,
        "nginx": NGINX_IMAGE,
        "filebeat": FILEBEAT_IMAGE,
    }
    hosts_var = FILEBEAT_HOSTS_VAR[str(answers.get("filebeat_output") or "elasticsearch")]
    filebeat = {
        "input_id": f"{service}-app",
        # Each instance's log and supervisord's rotated copies of it (<file>.1, .2, ...).
        "paths": [p for log in host["stdout_logs"] for p in (log, f"{log}.*")],
        "data_dir": "/var/lib/filebeat",
        "ecs_renames": [list(pair) for pair in FILEBEAT_ECS_RENAMES],
        # compose: the label of the app image's containers, which json-file writes into
        # each line and Filebeat selects on (a key without dots: Filebeat reads it as a path).
        "container_label": FILEBEAT_CONTAINER_LABEL,
        "tls_var": FILEBEAT_TLS_VAR,
        "ca_var": FILEBEAT_CA_VAR,
        "default_ca": FILEBEAT_DEFAULT_CA,
        "hosts_var": hosts_var,
        "check_script": FILEBEAT_CHECK_SCRIPT,
        # A bare host: Filebeat's package reads /etc/filebeat/filebeat.yml; the drop-in
        # (deploy/filebeat/systemd-dropin.conf) gives it this env file and the check.
        "host_dir": "/etc/filebeat",
        "host_env_file": "/etc/filebeat/filebeat.env",
        "host_dropin": f"/etc/systemd/system/filebeat.service.d/{service}.conf",
        # The same settings as filebeat.yml reads them (Filebeat's ${NAME:default} form).
        "ref": {
            "hosts": f"${{{hosts_var}}}",
            "tls": f"${{{FILEBEAT_TLS_VAR}:true}}",
            "ca": f"${{{FILEBEAT_CA_VAR}:{FILEBEAT_DEFAULT_CA}}}",
        },
    }
    return {"host": host, "nginx": nginx, "compose": compose, "images": images, "filebeat": filebeat}


def assets(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Static assets embedded in the binary (with_assets, default on)."""
    return {
        "enabled": bool(answers.get("with_assets", True)),
        "prefix": STATIC_PREFIX,
        "dir": ASSETS_DIR,
        "fingerprint": ASSET_FINGERPRINT,
        "cache_fingerprinted": ASSET_CACHE_FINGERPRINTED,
        "cache_other": ASSET_CACHE_OTHER,
        "encodings": [list(pair) for pair in ASSET_ENCODINGS],
        "types": [list(pair) for pair in ASSET_TYPES],
        # Nginx: the bare types (gzip_types matches them, not "text/css; charset=utf-8"),
        # and those its charset module gives "; charset=utf-8", as the service sends them.
        "nginx_types": [[ext, mime.split(";")[0]] for ext, mime in ASSET_TYPES],
        # Nginx's charset module always includes text/html: naming it again makes nginx warn.
        "charset_types": sorted({mime.split(";")[0] for _, mime in ASSET_TYPES if "charset=utf-8" in mime}
                                - {"text/html"}),
        "compressible": list(ASSET_COMPRESSIBLE),
    }


def ownership(answers: Mapping[str, Any], service: str, db: bool, redis: bool) -> dict[str, Any]:
    """Who owns which file (docs/updating.md), listing only what this project has (but the
    CI answer's files, which the template adds): the team's files and seams, then the template's (copier.yml's _skip_if_exists and _exclude
    say the same for every project)."""
    on = lambda key: bool(answers.get(key, True))  # noqa: E731 - the yes/no answers default to yes
    docker = on("with_docker")
    team = ["README.md", "internal/api/", "internal/service/", "internal/upstream/"]
    team += ["internal/products/", "migrations/sql/*.sql"] if db else []
    team += [".env", "go.mod", "go.sum"]
    team += ["deploy/compose/"] if docker and on("with_compose") else []
    team += [f"deploy/supervisord/{service}.env"] if on("with_supervisord") else []
    team += [f"deploy/systemd/{service}.env"] if answers.get("with_systemd") and not on("with_supervisord") else []
    team += ["deploy/k8s/team/"] if on("with_kubernetes") else []
    team += [f"deploy/nginx/{service}/http.d/", f"deploy/nginx/{service}/locations.d/"] if on("with_nginx") else []
    team += [f"{ASSETS_DIR}/"] if on("with_assets") else []
    template = ["cmd/", "internal/app/", "internal/admin/", "internal/buildinfo/", "internal/config/",
                "internal/health/", "internal/httpserver/", "internal/lifecycle/", "internal/logging/",
                "internal/metrics/", "internal/respond/", "internal/tracing/"]
    template += ["internal/database/", "migrations/migrations.go"] if db else []
    template += ["internal/cache/"] if redis else []
    template += ["assets/embed.go", "internal/static/"] if on("with_assets") else []
    template += ["Makefile", "docs/"]
    deploys = any(on(k) for k in ("with_docker", "with_nginx", "with_supervisord", "with_filebeat", "with_kubernetes"))
    deploys = deploys or bool(answers.get("with_systemd"))
    # The CI answer's files (.github/, .gitlab/) are added by the template itself, which knows
    # ci_provider; a service generated by 0.1.0 answered with_github_actions instead.
    return {"team": team, "template": template, "deploys": deploys}


def derive(answers: Mapping[str, Any]) -> dict[str, Any]:
    service = str(answers["service_name"])
    port = int(answers["http_port"])
    shutdown = int(answers["shutdown_timeout"])
    # supervisord or systemd runs the instances: without either one instance serves (instances
    # is not asked, and its hidden default must count nowhere). Copier also renders this context
    # while it validates earlier questions: an instance count the `instances` validator will
    # refuse (past the last port) is clipped here, never raised, so the error names `instances`.
    instances = int(answers.get("instances") or 1) if hostunits.managers(answers) else 1
    instances = max(1, min(instances, 65536 - port))
    registry = str(answers.get("image_registry") or f"ghcr.io/{answers.get('owner', 'acme')}".lower())
    out: dict[str, Any] = {
        "service": service,
        "binary": service,
        "cmd_dir": f"cmd/{service}",
        "go_package": naming.go_identifier(service),
        "title": naming.title_words(service),
        "env_prefix": naming.env_prefix(service),
        "http_port": port,
        "shutdown_timeout_s": shutdown,
        "read_header_timeout_s": HTTP_READ_HEADER_TIMEOUT_S,
        "read_timeout_s": HTTP_READ_TIMEOUT_S,
        "write_timeout_s": HTTP_WRITE_TIMEOUT_S,
        "idle_timeout_s": HTTP_IDLE_TIMEOUT_S,
        "max_body_bytes": HTTP_MAX_BODY_BYTES,
        "max_body_nginx": f"{HTTP_MAX_BODY_BYTES // (1 << 20)}m",
        "liveness_path": LIVENESS_PATH,
        "readiness_path": READINESS_PATH,
        "version_path": VERSION_PATH,
        "api_prefix": API_PREFIX,
        "readiness_timeout_ms": READINESS_TIMEOUT_MS,
        "go_memory_limit_percent": GO_MEMORY_LIMIT_PERCENT,
        "request_id_pattern": REQUEST_ID_PATTERN,
        "k8s_probe_timeout_s": K8S_PROBE_TIMEOUT_S,
        "uid": UID,
        "gid": GID,
        "stop_grace_s": shutdown + SHUTDOWN_MARGIN_S,
        "k8s_prestop_sleep_s": K8S_PRESTOP_SLEEP_S,
        "k8s_termination_grace_s": K8S_PRESTOP_SLEEP_S + shutdown + SHUTDOWN_MARGIN_S,
        "instances": instances,
        "upstream_ports": naming.upstream_ports(port, instances),
        "image": f"{registry}/{service}",
        "go_build_tags": ",".join(GO_BUILD_TAGS),
        "image_go_build_tags": ",".join(
            GO_BUILD_TAGS + (SCRATCH_EXTRA_BUILD_TAGS if answers.get("runtime_image") == "scratch" else ())
        ),
    }
    # Environment variables of the service, in one place: the Go config struct's
    # defaults, .env.example, the Kubernetes ConfigMap and the deploy files are rendered
    # from this list; the generated Go test internal/config/envexample_test.go checks
    # .env.example against the config struct.
    prefix = out["env_prefix"]
    fields = [
        ("HTTP_HOST", "", "Interface to listen on; empty means all interfaces."),
        ("HTTP_PORT", str(port), "TCP port to listen on."),
        ("HTTP_READ_HEADER_TIMEOUT", f"{HTTP_READ_HEADER_TIMEOUT_S}s", "Time allowed to read request headers."),
        ("HTTP_READ_TIMEOUT", f"{HTTP_READ_TIMEOUT_S}s", "Time allowed to read a whole request, body included."),
        ("HTTP_WRITE_TIMEOUT", f"{HTTP_WRITE_TIMEOUT_S}s", "Time allowed to write a response."),
        ("HTTP_IDLE_TIMEOUT", f"{HTTP_IDLE_TIMEOUT_S}s", "How long a keep-alive connection may wait for its next request."),
        ("HTTP_MAX_BODY_BYTES", str(HTTP_MAX_BODY_BYTES), "Largest request body accepted, in bytes (larger: 413)."),
        ("SHUTDOWN_TIMEOUT", f"{shutdown}s", "Time in-flight requests get to finish after SIGTERM."),
        ("MEMORY_LIMIT", "0", "Memory the process may use, in bytes (the container's limit): the Go heap is kept "
         f"under {GO_MEMORY_LIMIT_PERCENT}% of it; 0 reads the cgroup's limit, if any."),
        ("LOG_LEVEL", "info", "debug, info, warn or error."),
        ("LOG_FORMAT", "json", "json (one object per line) or text."),
        ("LOG_FLUSH_INTERVAL", LOG_FLUSH_INTERVAL, "While requests overlap, log lines are written together, at most this "
         "long after they are logged (a crash loses at most this much; a graceful shutdown nothing); "
         "a line logged while no request is in flight is written at once. 0: every line at once."),
        *framework.settings(answers),
        ("TRUSTED_PROXIES", "", "Comma-separated IPs/CIDRs of proxies allowed to set the client IP; empty trusts none."),
        ("ADMIN_HOST", "", "Interface the admin listener (metrics, pprof) listens on; empty means all interfaces."),
        ("ADMIN_PORT", str(observability.ADMIN_PORT), f"TCP port of the admin listener: {observability.METRICS_PATH} "
         f"(and {observability.PPROF_PATH} with PPROF_ENABLED); never route it to the internet. 0 turns it off."),
        ("PPROF_ENABLED", "false", f"Serve Go's profiler at {observability.PPROF_PATH} on the admin listener."),
    ]
    out["env"] = {key: f"{prefix}_{key}" for key, _, _ in fields}
    # The example's own settings (internal/service.Settings, the team's file once
    # generated): .env.example lists them after the platform's.
    out["example_settings"] = {key: default for key, default, _ in EXAMPLE_SETTINGS}
    out["example_setting_fields"] = [
        {"key": key, "var": f"{prefix}_{key}", "default": default, "doc": doc} for key, default, doc in EXAMPLE_SETTINGS
    ]
    # The Go config's default for every variable, as the text an env file or ConfigMap
    # holds (durations in Go syntax).
    out["config_defaults"] = {key: default for key, default, _ in fields}
    out["config_docs"] = {key: doc for key, _, doc in fields}
    out["config_fields"] = [
        {"key": key, "var": f"{prefix}_{key}", "default": default, "doc": doc} for key, default, doc in fields
    ]
    # The framework's own settings: the Go config and .env.example list them, the deployment
    # files never (they render the same for every framework; each default is what they need).
    out["deploy_config_defaults"] = {
        key: default for key, default, _ in fields if key not in {k for k, _, _ in framework.settings(answers)}
    }
    out["http"] = framework.http(answers)
    out["assets"] = assets(answers)
    out.update(one_host(out, answers))
    out["systemd"] = hostunits.systemd(out, answers)
    out["host_deploy"] = hostunits.deploy(out, answers)
    out["logstash"] = logstash.logstash(out, answers)
    out["k8s_namespaces"] = {name: ns.format(service=service) for name, ns in K8S_NAMESPACES.items()}
    out["k8s_workload"] = dict(K8S_WORKLOADS[bool(answers.get("k8s_canary"))])
    routing = str(answers.get("k8s_routing") or "ingress")
    out["k8s_edge_namespace"] = str(answers.get("k8s_edge_namespace") or K8S_EDGE_NAMESPACE_DEFAULTS[routing])
    out["k8s_ingress_namespaces"] = [out["k8s_edge_namespace"]] + (
        [K8S_ROLLOUTS_NAMESPACE] if answers.get("k8s_canary") else []
    )
    out["k8s_check_tools"] = {"go": list(K8S_CHECK_GO_TOOLS), "pip": list(K8S_CHECK_PIP), "kustomize": K8S_KUSTOMIZE}
    out["k8s_validate_versions"] = list(K8S_VALIDATE_VERSIONS)
    out["k8s_deploy_timeout_min"] = K8S_DEPLOY_TIMEOUT_MIN[bool(answers.get("k8s_canary"))]
    out["k8s_deploy_wait_polls"] = K8S_DEPLOY_WAIT_POLLS
    out["deploy_targets"] = {name: list(names) for name, names in DEPLOY_TARGETS.items()}
    out["deploy_vars"] = [n for names in DEPLOY_TARGETS.values() for n in names if n not in DEPLOY_SECRETS]
    out["deploy_legacy"] = {"target": DEPLOY_LEGACY_TARGET, "vars": list(DEPLOY_LEGACY_VARS)}
    out["kubelogin"] = KUBELOGIN
    out["ci_make_targets"] = list(CI_MAKE_TARGETS)
    out["template_update"] = {
        "copier": COPIER_VERSION, "branch": TEMPLATE_UPDATE_BRANCH, "label": TEMPLATE_UPDATE_LABEL,
        "token": TEMPLATE_UPDATE_TOKEN_SECRET, "token_expr": "${{ secrets.%s }}" % TEMPLATE_UPDATE_TOKEN_SECRET,
        "cron": template_update_cron(service),
    }
    out["build_platforms"] = list(BUILD_PLATFORMS)
    data_values = data(answers, service, prefix)
    out["db"], out["redis"] = data_values["db"], data_values["redis"]
    out["run_defaults"] = data_values["run_defaults"]
    go_requires = framework.go_requires(answers) + GO_REQUIRES
    out["go_requires"] = list(go_requires + data_values["data_go_requires"])
    out["go_mod_requires"] = sorted(
        [tuple(r.split("@")) for r in go_requires + data_values["data_go_requires"] + GO_EXAMPLE_REQUIRES
         + data_values["data_go_example_requires"]]
    )
    out["data_deploy"] = data_deploy(out)
    out["ownership"] = ownership(answers, service, out["db"]["enabled"], out["redis"]["enabled"])
    out["obs"] = observability.observability(out, answers)
    # What Prometheus, Grafana and the canary analysis make of the contract.
    out["obs"].update(monitoring.deployment(out["obs"], out, answers))
    out["go_mod_indirect"], out["go_sum"] = gomod_lock(gomod_key(answers))
    host = registry.split("/")[0]
    out["registry"] = {"host": host, "is_ghcr": host == "ghcr.io"}
    out["gitlab"] = gitlab(out)
    return out
