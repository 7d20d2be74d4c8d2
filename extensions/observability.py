"""Observability values shared by the Go code and every artifact that reads its metrics.

The metric names and labels below are the contract between the generated service
(internal/metrics, internal/httpserver) and what consumes them: the Prometheus rules, the
Grafana dashboard, the canary analysis, the scrape configurations. `observability(cg,
answers)` gives the templates `cg.obs`. Nothing here depends on Copier: it is unit tested
directly (tests/test_extensions.py).
"""

from __future__ import annotations

from typing import Any, Mapping


# The admin listener: /metrics, and pprof when PPROF_ENABLED is true. Its own port, never
# the service's: no proxy, Ingress, Gateway or published compose port routes to it.
# 9464 is the port OpenTelemetry's Prometheus exporters use by convention. On a bare host
# instance i (0-based) of the service listens on ADMIN_PORT + i, as its HTTP port is
# http_port + i.
ADMIN_PORT = 9464
METRICS_PATH = "/metrics"
PPROF_PATH = "/debug/pprof/"
# The Kubernetes namespace Prometheus runs in: only its pods may reach the admin port.
K8S_MONITORING_NAMESPACE = "monitoring"

# Metric names. Every label value is bounded: `route` is the route template
# (/api/v1/products/:id), UNMATCHED_ROUTE for any path no route matches; `method` is one
# of HTTP_METHODS or "other"; `status` the status class ("2xx" ... "5xx").
UNMATCHED_ROUTE = "unmatched"
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
METRICS = {
    # counter {method, route, status}
    "requests": "http_server_requests_total",
    # histogram {method, route}, seconds, DURATION_BUCKETS
    "duration": "http_server_request_duration_seconds",
    # gauge, no labels
    "in_flight": "http_server_requests_in_flight",
    # gauge = 1 {version, commit, goversion}
    "build_info": "app_build_info",
    # outbound client (internal/upstream): counter {client, method, status} where status is
    # a class or "error" (no response); histogram {client}; gauge {client} 1 while the
    # circuit breaker is open
    "client_requests": "http_client_requests_total",
    "client_duration": "http_client_request_duration_seconds",
    "client_breaker_open": "http_client_circuit_open",
    # Redis pool (internal/cache), when redis is on: counters and gauges, no labels
    "redis_hits": "redis_pool_hits_total",
    "redis_misses": "redis_pool_misses_total",
    "redis_timeouts": "redis_pool_timeouts_total",
    "redis_conns": "redis_pool_connections",  # gauge {state="idle"|"total"}
    # The database pool, when a database is on: client_golang's DB stats collector, with
    # db_name="<ident>" (go_sql_open_connections, go_sql_in_use_connections,
    # go_sql_wait_count_total, go_sql_wait_duration_seconds_total, ...)
    "db_open": "go_sql_open_connections",
    "db_in_use": "go_sql_in_use_connections",
    "db_wait": "go_sql_wait_duration_seconds_total",
    # Go runtime and process collectors (client_golang): go_goroutines,
    # go_memstats_heap_inuse_bytes, process_cpu_seconds_total,
    # process_resident_memory_bytes, process_start_time_seconds, ...
}
# OpenTelemetry's db.system.name of each engine, as the Go constant of the semconv package.
DB_SYSTEM_ATTRS = {
    "sqlite": "semconv.DBSystemNameSQLite",
    "postgres": "semconv.DBSystemNamePostgreSQL",
    "mysql": "semconv.DBSystemNameMySQL",
}
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# Alert thresholds (the rules, their unit tests and the canary analysis read these).
ERROR_RATIO_MAX = 0.05  # share of 5xx responses
ERROR_RATIO_FOR = "2m"
LATENCY_P99_MAX_S = 1.0
LATENCY_P99_FOR = "10m"
TARGET_DOWN_FOR = "5m"
RESTARTS_MAX = 2  # restarts within RESTARTS_WINDOW
RESTARTS_WINDOW = "15m"


def observability(cg: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """`cg.obs`: what the Go code and the deployment artifacts share about metrics."""
    service = cg["service"]
    instances = int(cg.get("instances") or 1)
    obs = {
        "admin_port": ADMIN_PORT,
        # One per bare-host instance, in the order of cg.upstream_ports.
        "host_admin_ports": [host_admin_port(i) for i in range(instances)],
        "metrics_path": METRICS_PATH,
        "pprof_path": PPROF_PATH,
        "job": service,
        "metrics": dict(METRICS),
        "unmatched_route": UNMATCHED_ROUTE,
        "http_methods": list(HTTP_METHODS),
        "duration_buckets": list(DURATION_BUCKETS),
        "db_name": service.replace("-", "_"),
        "db_system_attr": DB_SYSTEM_ATTRS.get(str(answers.get("database") or "none"), ""),
        "k8s_monitoring_namespace": str(answers.get("k8s_monitoring_namespace") or K8S_MONITORING_NAMESPACE),
        "thresholds": {
            "error_ratio_max": ERROR_RATIO_MAX,
            "error_ratio_for": ERROR_RATIO_FOR,
            "latency_p99_max_s": LATENCY_P99_MAX_S,
            "latency_p99_for": LATENCY_P99_FOR,
            "target_down_for": TARGET_DOWN_FOR,
            "restarts_max": RESTARTS_MAX,
            "restarts_window": RESTARTS_WINDOW,
        },
    }
    return obs


def host_admin_port(instance: int) -> int:
    """The admin port of a bare host's instance (0-based), whose HTTP port is http_port + instance."""
    return ADMIN_PORT + instance


def admin_ports_clash(http_port: int, instances: int) -> str:
    """A message when the HTTP ports of the instances overlap their admin ports, else ""."""
    http = set(range(http_port, http_port + instances))
    admin = set(range(ADMIN_PORT, ADMIN_PORT + instances))
    if http & admin:
        return (
            f"http_port {http_port} with {instances} instance(s) overlaps the admin (metrics) ports "
            f"{ADMIN_PORT}-{ADMIN_PORT + instances - 1}; choose another http_port."
        )
    return ""
