"""The one source of truth for values shared by the generated artifacts.

`derive(answers)` turns Copier's answers into the settings that the Go config
defaults, the Dockerfile, compose, Nginx, supervisord, Filebeat, Kubernetes and the
workflows all read (as `cg.<name>` in templates). Nothing here depends on Copier,
so it is unit tested directly.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Mapping


def _naming():
    name = "copier_gin_naming"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("naming.py"))
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

LIVENESS_PATH = "/livez"
READINESS_PATH = "/readyz"
VERSION_PATH = "/version"
API_PREFIX = "/api/v1"

# Seconds a process manager or orchestrator waits after the app's own shutdown timeout
# before it kills the process: covers logger flush and process exit.
SHUTDOWN_MARGIN_S = 5
# Seconds Kubernetes' preStop hook sleeps so endpoints stop routing before SIGTERM.
K8S_PRESTOP_SLEEP_S = 5

REQUIRED_ANSWERS = ("service_name", "http_port", "shutdown_timeout", "owner")

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
        "uid": UID,
        "gid": GID,
        "stop_grace_s": shutdown + SHUTDOWN_MARGIN_S,
        "k8s_prestop_sleep_s": K8S_PRESTOP_SLEEP_S,
        "k8s_termination_grace_s": K8S_PRESTOP_SLEEP_S + shutdown + SHUTDOWN_MARGIN_S,
        "instances": instances,
        "upstream_ports": naming.upstream_ports(port, instances),
        "image": f"{registry}/{service}",
    }
    # Environment variable names, in one place (config struct tags, .env.example, deploy files).
    prefix = out["env_prefix"]
    out["env"] = {
        key: f"{prefix}_{key}"
        for key in (
            "HTTP_HOST",
            "HTTP_PORT",
            "HTTP_READ_HEADER_TIMEOUT",
            "HTTP_READ_TIMEOUT",
            "HTTP_WRITE_TIMEOUT",
            "HTTP_IDLE_TIMEOUT",
            "HTTP_MAX_BODY_BYTES",
            "SHUTDOWN_TIMEOUT",
            "LOG_LEVEL",
            "LOG_FORMAT",
            "GIN_MODE",
            "TRUSTED_PROXIES",
        )
    }
    return out
