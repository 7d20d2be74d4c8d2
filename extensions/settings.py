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
from pathlib import Path
from typing import Any, Mapping


def _naming():
    # Cached per file path (see _load_sibling in context.py): an update loads two releases.
    path = Path(__file__).resolve().with_name("naming.py")
    name = f"copier_gin_naming_{zlib.crc32(str(path).encode()):08x}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


naming = _naming()

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
# The make targets the generated CI's Go job runs; the template's tests run the same ones.
CI_MAKE_TARGETS = ("fmt-check", "vet", "lint", "cover", "vuln", "tidy-check", "check-conflicts")

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
    "github.com/gin-gonic/gin@v1.10.1",
    "github.com/go-playground/validator/v10@v10.30.1",
)
# Modules of the generated example code only (internal/upstream): pinned in go.mod at
# copy, never raised by updates.
GO_EXAMPLE_REQUIRES = ("github.com/sony/gobreaker/v2@v2.4.0",)

# Build tags of every build of the service. nomsgpack drops Gin's MessagePack codec,
# which the service does not use, from the binary (about a third of its size).
GO_BUILD_TAGS = ("nomsgpack",)
# A scratch image has no /usr/share/zoneinfo: its binary embeds the time zone database.
SCRATCH_EXTRA_BUILD_TAGS = ("timetzdata",)

UID = 65532
GID = 65532


def validate_instances(value: object, http_port: object = 8080) -> str:
    message = naming.validate_int_range(value, "instances", 1, 16)
    if message:
        return message
    try:
        naming.upstream_ports(int(str(http_port)), int(str(value)))
    except ValueError as exc:
        return f"instances: {exc}; lower http_port or instances."
    return ""


# ---- one-host deployment (Dockerfile, compose.yaml, Nginx, supervisord, Filebeat)
# Pinned images of the one-host layout (tags: no digest is invented here).
BUILDER_IMAGE = "golang:{go_version}-bookworm"
DISTROLESS_IMAGE = "gcr.io/distroless/static-debian12:nonroot"
NGINX_IMAGE = "nginx:1.28.0"
FILEBEAT_IMAGE = "docker.elastic.co/beats/filebeat:9.1.0"
# compose: the app service's name (Nginx's upstream host there) and its replica count.
COMPOSE_APP_SERVICE = "app"
COMPOSE_REPLICAS = 2
# Nginx -> app: fail over fast on refused connections, retry idempotent requests a
# bounded number of times, mark an instance down after repeated failures.
NGINX_CONNECT_TIMEOUT_S = 2
NGINX_MAX_FAILS = 3
NGINX_FAIL_TIMEOUT_S = 10
NGINX_NEXT_UPSTREAM_TRIES = 3
NGINX_KEEPALIVE_CONNECTIONS = 32
STATIC_PREFIX = "/static/"
# supervisord rotates each instance's log at this size and keeps this many old files.
LOG_MAX_BYTES = "50MB"
LOG_BACKUPS = 10


def compose_network(service: str) -> dict[str, str]:
    """A fixed /24 for the compose backend network, stable per service name, so that the
    app can trust exactly Nginx's address there: 172.30.<1-254>.0/24, Nginx at .10."""
    octet = zlib.crc32(service.encode()) % 254 + 1
    return {
        "subnet": f"172.30.{octet}.0/24",
        "gateway": f"172.30.{octet}.1",
        "nginx_ip": f"172.30.{octet}.10",
    }


def one_host(cg: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Values the one-host artifacts share; `cg` is derive()'s output so far."""
    service = cg["service"]
    ports = cg["upstream_ports"]
    log_dir = f"/var/log/{service}"
    network = compose_network(service)
    host = {
        "install_dir": f"/opt/{service}",
        "bin_path": f"/opt/{service}/bin/{cg['binary']}",
        "user": service,
        "log_dir": log_dir,
        # supervisord's process_num is the port (numprocs_start = http_port).
        "program": service,
        "stdout_log_pattern": f"{log_dir}/{service}-%(process_num)d.log",
        "stderr_log_pattern": f"{log_dir}/{service}-%(process_num)d.stderr.log",
        "stdout_logs": [f"{log_dir}/{service}-{port}.log" for port in ports],
        "log_max_bytes": LOG_MAX_BYTES,
        "log_backups": LOG_BACKUPS,
        "trusted_proxies": "127.0.0.1",
        "listen_host": "127.0.0.1",
        # -env-file arguments of the program: the team's settings, then host-only secrets.
        "env_file": f"/etc/{service}/{service}.env",
        "secrets_env_file": f"/etc/{service}/secrets.env",
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
        "connect_timeout_s": NGINX_CONNECT_TIMEOUT_S,
        # Nginx waits at least as long as the app may take to read a request or write a
        # response, plus the margin, so the app's own timeout answers first.
        "send_timeout_s": cg["read_timeout_s"] + SHUTDOWN_MARGIN_S,
        "read_timeout_s": cg["write_timeout_s"] + SHUTDOWN_MARGIN_S,
        # Idle upstream connections are closed by Nginx well before the app's idle timeout,
        # so Nginx never reuses a connection the app is closing.
        "keepalive_timeout_s": cg["idle_timeout_s"] // 2,
        "keepalive": NGINX_KEEPALIVE_CONNECTIONS,
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
    filebeat = {
        "input_id": f"{service}-app",
        # Each instance's log and supervisord's rotated copies of it (<file>.1, .2, ...).
        "paths": [p for log in host["stdout_logs"] for p in (log, f"{log}.*")],
        "data_dir": "/var/lib/filebeat",
    }
    return {"host": host, "nginx": nginx, "compose": compose, "images": images, "filebeat": filebeat}


def derive(answers: Mapping[str, Any]) -> dict[str, Any]:
    service = str(answers["service_name"])
    port = int(answers["http_port"])
    shutdown = int(answers["shutdown_timeout"])
    instances = int(answers.get("instances") or 1)
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
        ("GIN_MODE", "release", "release, debug or test."),
        ("TRUSTED_PROXIES", "", "Comma-separated IPs/CIDRs of proxies allowed to set the client IP; empty trusts none."),
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
    out["config_fields"] = [
        {"key": key, "var": f"{prefix}_{key}", "default": default, "doc": doc} for key, default, doc in fields
    ]
    out.update(one_host(out, answers))
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
    out["ci_make_targets"] = list(CI_MAKE_TARGETS)
    out["go_requires"] = list(GO_REQUIRES)
    out["go_mod_requires"] = sorted(
        [tuple(r.split("@")) for r in GO_REQUIRES + GO_EXAMPLE_REQUIRES]
    )
    host = registry.split("/")[0]
    out["registry"] = {"host": host, "is_ghcr": host == "ghcr.io"}
    return out
