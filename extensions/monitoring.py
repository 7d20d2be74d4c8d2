"""The deployment side of observability: what Prometheus, Grafana and the canary analysis do
with the service's metrics.

extensions/observability.py holds the contract (metric names, labels, thresholds, the admin
port); this module turns it into what the deployment artifacts share, as more keys of
`cg.obs` (`deployment(obs, cg, answers)`):

- the alerts' names, severities and texts (deploy/prometheus/rules.yml and the Kubernetes
  PrometheusRule are one Jinja partial, partials/prometheus-rules.yml.jinja), and the
  synthetic series and expectations of their promtool unit tests;
- the Prometheus and Grafana images and ports of compose's `observability` profile;
- the Grafana dashboard, built here as one JSON document that compose provisions and the
  Kubernetes ConfigMap carries (the same text in both);
- the canary analysis's Prometheus address and windows.

Nothing here depends on Copier: it is unit tested directly (tests/test_extensions.py).
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

# ---------------------------------------------------------------- Prometheus
# compose's `observability` profile (pinned tags; the UIs are published on 127.0.0.1 only).
PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0"
GRAFANA_IMAGE = "grafana/grafana:12.1.1"
COMPOSE_PROMETHEUS_PORT = 9090
COMPOSE_GRAFANA_PORT = 3000
# The users the images run as (neither is root).
PROMETHEUS_USER = "65534:65534"
GRAFANA_USER = "472:0"
SCRAPE_INTERVAL = "15s"
EVALUATION_INTERVAL = "15s"
# The windows the rules compute over. The error ratio's is short so that "above 5% for 2
# minutes" means about that (four scrapes a window); p99 needs more requests to mean much.
ERROR_RATIO_WINDOW = "1m"
LATENCY_WINDOW = "5m"

# The alerts: key -> name, severity and texts. {job} and {instance} become the alert's
# labels ({{$labels.job}} in the rules; the promtool tests expect them filled in).
ALERTS = {
    "error_ratio": {
        "alert": "HTTPErrorRatioHigh",
        "severity": "critical",
        "summary": "{job}: more than {error_ratio_pct}% of requests fail with 5xx",
        "description": "More than {error_ratio_pct}% of the requests {job} answered over {error_ratio_window} were 5xx, "
                       "for {error_ratio_for}. Its logs name the failing requests (status >= 500).",
    },
    "latency_p99": {
        "alert": "HTTPLatencyP99High",
        "severity": "warning",
        "summary": "{job}: p99 latency above {latency_p99_max}s",
        "description": "The slowest 1% of {job}'s requests took more than {latency_p99_max}s over {latency_window}, "
                       "for {latency_p99_for}. The dashboard's p99 by route says which routes.",
    },
    "target_down": {
        "alert": "TargetDown",
        "severity": "critical",
        "summary": "{job}: {instance} cannot be scraped",
        "description": "Prometheus has not scraped {job}'s admin listener at {instance} for {target_down_for}: "
                       "the instance is down, or its admin port is unreachable or off.",
    },
    "restarts": {
        "alert": "FrequentRestarts",
        "severity": "warning",
        "summary": "{job}: {instance} restarted more than {restarts_max} times in {restarts_window}",
        "description": "{job} at {instance} started more than {restarts_max} times in {restarts_window} "
                       "(process_start_time_seconds changed): look for crashes or failed probes.",
    },
}

# ---------------------------------------------------------------- the canary analysis
# Where the Argo Rollouts controller asks Prometheus (the Prometheus Operator's governing
# Service in the monitoring namespace), and over which window the canary is judged.
K8S_PROMETHEUS_URL = "http://prometheus-operated.{namespace}.svc:9090"
CANARY_WINDOW = "2m"
CANARY_INTERVAL = "1m"
# Consecutive failed measurements the analysis tolerates before it aborts the rollout.
CANARY_FAILURE_LIMIT = 1
# The label Argo Rollouts puts on the pods of each ReplicaSet, and the name Prometheus
# gives it on the scraped series (the ServiceMonitor's podTargetLabels copies it).
ROLLOUTS_HASH_LABEL = "rollouts-pod-template-hash"

# ---------------------------------------------------------------- Grafana
# The label the Grafana dashboard sidecar (kube-prometheus-stack, grafana's chart) watches.
GRAFANA_DASHBOARD_LABEL = ("grafana_dashboard", "1")
GRAFANA_SCHEMA_VERSION = 39
# The promtool tests' instance, as a bare host's first one is scraped.
TEST_INSTANCE = "127.0.0.1:{port}"


def seconds(duration: str) -> int:
    """A Prometheus duration ("90s", "2m", "1h30m") in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return int(sum(int(n) * unit[u] for n, u in parts))


def duration(total_s: int) -> str:
    """Seconds as a Prometheus duration: 90 -> "1m30s", 7200 -> "2h"."""
    out = ""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if total_s >= size or (unit == "s" and not out):
            count, total_s = divmod(total_s, size)
            if count or not out:
                out += f"{count}{unit}"
    return out


def _thresholds(obs: Mapping[str, Any]) -> dict[str, Any]:
    """The thresholds and windows, with the texts the alerts' annotations show of them."""
    t = dict(obs["thresholds"])
    t.update(
        error_ratio_window=ERROR_RATIO_WINDOW,
        latency_window=LATENCY_WINDOW,
        error_ratio_pct=f"{t['error_ratio_max'] * 100:g}",
        latency_p99_max=f"{t['latency_p99_max_s']:g}",
    )
    return t


def alerts(obs: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Each alert with its texts as the rules carry them (Prometheus fills in the labels)."""
    t = _thresholds(obs)
    out = {}
    for key, spec in ALERTS.items():
        # No space inside the braces: the texts are wrapped at spaces in the rules files.
        labels = {"job": "{{$labels.job}}", "instance": "{{$labels.instance}}"}
        out[key] = {
            "alert": spec["alert"],
            "severity": spec["severity"],
            "summary": spec["summary"].format(**t, **labels),
            "description": spec["description"].format(**t, **labels),
        }
    return out


def _series(*segments: tuple[float, float, int]) -> str:
    """promtool's expanding notation for a counter that grows by `step` per sample during
    each segment of `samples` samples: (start, step, samples) ... -> "0+10x20 210+5x39"."""
    out, value = [], None
    for i, (start, step, samples) in enumerate(segments):
        first = start if i == 0 else value + step
        out.append(f"{first:g}+{step:g}x{samples - 1}")
        value = first + step * (samples - 1)
    return " ".join(out)


def rules_tests(obs: Mapping[str, Any]) -> dict[str, Any]:
    """Synthetic series and expectations of deploy/prometheus/rules.test.yml, from the
    thresholds: each alert fires when it should, and not a scrape earlier or below it."""
    t = _thresholds(obs)
    job = obs["job"]
    instance = TEST_INSTANCE.format(port=obs["admin_port"])
    step = seconds(SCRAPE_INTERVAL)
    window = seconds(ERROR_RATIO_WINDOW)

    def expected(key: str, **labels: str) -> dict[str, Any]:
        spec = ALERTS[key]
        fill = {**t, "job": job, "instance": labels.get("instance", "")}
        return {
            "alertname": spec["alert"],
            "labels": {"severity": spec["severity"], "job": job, **labels},
            "annotations": {
                "summary": spec["summary"].format(**fill),
                "description": spec["description"].format(**fill),
            },
        }

    # Error ratio: per scrape interval `total` requests; before `switch` none fails, after it
    # 1.2 times the threshold's share (the "above" run) or 0.8 times it (the "below" run).
    total = 1000
    above = round(total * t["error_ratio_max"] * 1.2)
    below = round(total * t["error_ratio_max"] * 0.8)
    switch = 5 * 60  # seconds: the errors start after this sample
    samples_before = switch // step + 1
    for_s = seconds(t["error_ratio_for"])
    # The ratio over the window is above the threshold once the window holds only failing
    # scrapes: `window` after the switch at the latest (Prometheus 2's closed window;
    # Prometheus 3's left-open one sees it a scrape earlier). So the alert must not fire
    # yet half a minute before `for` has passed since then, and must fire once it has.
    not_yet = switch + window + for_s - 30
    fires = switch + window + for_s
    samples = (fires + 5 * 60) // step + 1  # a few minutes past the last check
    after = samples - samples_before

    error_ratio = {
        "series_ok": _series((0, total, samples_before), (0, total - above, after)),
        "series_5xx": _series((0, 0, samples_before), (0, above, after)),
        "below_ok": _series((0, total - below, samples)),
        "below_5xx": _series((0, below, samples)),
        "not_yet": duration(not_yet),
        "fires": duration(fires),
        "below_check": duration((samples - 1) * step),
        "threshold_pct": t["error_ratio_pct"],
        "above_pct": f"{above * 100 / total:g}",
        "below_pct": f"{below * 100 / total:g}",
        "expected": expected("error_ratio"),
    }

    # p99: every request takes between the threshold and the next bucket up ("slow"), or
    # falls in a bucket well under it ("fast"), from the first scrape on.
    buckets = list(obs["duration_buckets"])
    slow_le = next(b for b in buckets if b > t["latency_p99_max_s"])
    fast_le = next(b for b in buckets if b >= t["latency_p99_max_s"] / 10)
    lat_for = seconds(t["latency_p99_for"])
    lat_samples = (lat_for + 2 * 60) // step + 1
    per_scrape = 100

    def buckets_for(le_min: float) -> list[dict[str, str]]:
        out = []
        for le in [*buckets, "+Inf"]:
            counted = le == "+Inf" or le >= le_min
            out.append({"le": f"{le:g}" if le != "+Inf" else le,
                        "series": _series((0, per_scrape if counted else 0, lat_samples))})
        return out

    latency = {
        "slow": buckets_for(slow_le),
        "fast": buckets_for(fast_le),
        # active from the second scrape (a rate needs two samples)
        "not_yet": duration(lat_for),
        "fires": duration(step + lat_for + 30),
        "max": t["latency_p99_max"],
        "slow_le": f"{slow_le:g}",
        "fast_le": f"{fast_le:g}",
        "expected": expected("latency_p99"),
    }

    # Target down: up is 1, then 0 from the scrape after `switch` on.
    down_for = seconds(t["target_down_for"])
    up_samples = (switch + down_for + 2 * 60) // step + 1
    target_down = {
        "series": f"1+0x{switch // step} 0+0x{up_samples - switch // step - 2}",
        "not_yet": duration(switch + down_for),
        "fires": duration(switch + step + down_for + 30),
        "expected": expected("target_down", instance=instance),
    }

    # Restarts: one instance starts restarts_max + 1 times, one restarts_max times, a
    # minute apart (process_start_time_seconds takes the new start time each time).
    restarts_max = int(t["restarts_max"])
    window_s = seconds(t["restarts_window"])

    def starts(count: int) -> str:
        values, start = [], 1000
        for i in range((count + 2) * 60 // step + 1):
            restarted = min(count, (i * step) // 60)
            values.append(str(start + restarted * 60))
        return " ".join(values)

    restarts = {
        "many": starts(restarts_max + 1),
        "few": starts(restarts_max),
        "check": duration((restarts_max + 2) * 60),
        "window_s": window_s,
        "instance_many": instance,
        "instance_few": TEST_INSTANCE.format(port=obs["admin_port"] + 1),
        "expected": expected("restarts", instance=instance),
    }
    return {
        "instance": instance,
        "interval": SCRAPE_INTERVAL,
        "evaluation_interval": EVALUATION_INTERVAL,
        "error_ratio": error_ratio,
        "latency": latency,
        "target_down": target_down,
        "restarts": restarts,
    }


# ---------------------------------------------------------------- the Grafana dashboard
def dashboard(obs: Mapping[str, Any], cg: Mapping[str, Any]) -> dict[str, Any]:
    """The service's Grafana dashboard: traffic, errors and duration; saturation; the Go
    runtime and the process. Queries go to the data source the `datasource` variable picks."""
    m = obs["metrics"]
    job = obs["job"]
    ds = {"type": "prometheus", "uid": "${datasource}"}
    sel = f'job="{job}", namespace=~"$namespace", instance=~"$instance"'
    rate = "$__rate_interval"
    panels: list[dict[str, Any]] = []
    state = {"y": 0, "x": 0, "id": 0}

    def row(title: str) -> None:
        if state["x"]:
            state["y"] += 8
            state["x"] = 0
        state["id"] += 1
        panels.append({"type": "row", "id": state["id"], "title": title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": state["y"]}, "panels": []})
        state["y"] += 1

    def panel(title: str, targets: list[tuple[str, str]], unit: str = "short", description: str = "",
              kind: str = "timeseries", width: int = 8, thresholds: float | None = None) -> None:
        if state["x"] + width > 24:
            state["y"] += 8
            state["x"] = 0
        state["id"] += 1
        steps = [{"color": "green", "value": None}]
        if thresholds is not None:
            steps.append({"color": "red", "value": thresholds})
        defaults: dict[str, Any] = {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}}
        if kind == "timeseries":
            defaults["custom"] = {"thresholdsStyle": {"mode": "line" if thresholds is not None else "off"}}
        panels.append({
            "type": kind,
            "id": state["id"],
            "title": title,
            "description": description,
            "datasource": ds,
            "gridPos": {"h": 8, "w": width, "x": state["x"], "y": state["y"]},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}} if kind == "timeseries" else
                       {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "textMode": "value_and_name", "colorMode": "value", "graphMode": "none"},
            "targets": [
                {"refId": chr(ord("A") + i), "datasource": ds, "expr": expr, "legendFormat": legend, "range": True}
                for i, (expr, legend) in enumerate(targets)
            ],
        })
        state["x"] += width

    t = obs["thresholds"]
    requests = f"{m['requests']}{{{sel}}}"
    buckets = f"{m['duration']}_bucket{{{sel}}}"

    row("Traffic, errors, duration")
    panel("Requests per second by route", [(f"sum by (route) (rate({requests}[{rate}]))", "{{route}}")], "reqps",
          f"Every request the service answered, by route template ({obs['unmatched_route']}: no route matched).")
    panel("Requests per second by status", [(f"sum by (status) (rate({requests}[{rate}]))", "{{status}}")], "reqps")
    panel("Error ratio (5xx)", [(
        f'sum(rate({m["requests"]}{{{sel}, status="5xx"}}[{rate}])) / sum(rate({requests}[{rate}]))', "5xx share")],
        "percentunit", f"The alert fires above {t['error_ratio_max']:.0%} for {t['error_ratio_for']}.",
        thresholds=t["error_ratio_max"])
    panel("Duration p50, p90, p99", [
        (f"histogram_quantile({q}, sum by (le) (rate({buckets}[{rate}])))", f"p{round(q * 100)}")
        for q in (0.5, 0.9, 0.99)
    ], "s", f"The alert fires when p99 stays above {t['latency_p99_max_s']:g}s for {t['latency_p99_for']}.",
        thresholds=t["latency_p99_max_s"])
    panel("Duration p99 by route", [
        (f"histogram_quantile(0.99, sum by (route, le) (rate({buckets}[{rate}])))", "{{route}}")], "s")
    panel("Versions running", [(f"count by (version, commit) ({m['build_info']}{{{sel}}})", "{{version}} ({{commit}})")],
          "short", "Instances per version (app_build_info).", kind="stat")

    row("Saturation")
    panel("Requests in flight", [(f"sum by (instance) ({m['in_flight']}{{{sel}}})", "{{instance}}")], "short")
    if cg.get("db", {}).get("enabled"):
        panel("Database pool", [
            (f"sum by (instance) ({m['db_in_use']}{{{sel}}})", "in use {{instance}}"),
            (f"sum by (instance) ({m['db_open']}{{{sel}}})", "open {{instance}}"),
        ], "short", "Connections of the database pool (go_sql_*).")
        panel("Database pool wait", [
            (f"sum by (instance) (rate({m['db_wait']}{{{sel}}}[{rate}]))", "{{instance}}")], "s",
            "Seconds per second requests waited for a free connection.")
    if cg.get("redis", {}).get("enabled"):
        panel("Redis pool", [(f"sum by (state) ({m['redis_conns']}{{{sel}}})", "{{state}}")], "short")
        panel("Redis hits and misses", [
            (f"sum(rate({m['redis_hits']}{{{sel}}}[{rate}]))", "hits"),
            (f"sum(rate({m['redis_misses']}{{{sel}}}[{rate}]))", "misses"),
            (f"sum(rate({m['redis_timeouts']}{{{sel}}}[{rate}]))", "pool timeouts"),
        ], "ops")
    panel("Outbound requests", [
        (f"sum by (client, status) (rate({m['client_requests']}{{{sel}}}[{rate}]))", "{{client}} {{status}}")],
        "reqps", "Calls to other APIs (each attempt, retries included).")
    panel("Outbound circuit breakers open", [(f"max by (client) ({m['client_breaker_open']}{{{sel}}})", "{{client}}")],
          "short", thresholds=1)

    row("Go runtime and process")
    panel("Goroutines", [(f"sum by (instance) (go_goroutines{{{sel}}})", "{{instance}}")], "short")
    panel("Heap in use", [(f"sum by (instance) (go_memstats_heap_inuse_bytes{{{sel}}})", "{{instance}}")], "bytes")
    panel("CPU", [(f"sum by (instance) (rate(process_cpu_seconds_total{{{sel}}}[{rate}]))", "{{instance}}")], "short",
          "CPU seconds per second (1 = one core).")
    panel("Resident memory", [(f"sum by (instance) (process_resident_memory_bytes{{{sel}}})", "{{instance}}")],
          "bytes")
    panel("Restarts", [(f"sum by (instance) (changes(process_start_time_seconds{{{sel}}}[$__range]))", "{{instance}}")],
          "short", "Starts of each instance over the dashboard's time range.", kind="stat",
          thresholds=t["restarts_max"] + 1)
    panel("Targets up", [(f"sum by (instance) (up{{{sel}}})", "{{instance}}")], "short",
          "1 while Prometheus scrapes the instance's admin listener.", kind="stat")

    def variable(name: str, label: str, query: str) -> dict[str, Any]:
        return {
            "type": "query", "name": name, "label": label, "datasource": ds,
            "query": {"query": query, "refId": f"{name}-variable"}, "definition": query,
            "refresh": 2, "includeAll": True, "allValue": ".*", "multi": True, "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        }

    return {
        "uid": job,
        "title": f"{cg['title']}",
        "description": f"{job}: requests, errors, duration, saturation and the Go runtime (copier-gin).",
        "tags": [job, "copier-gin"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": GRAFANA_SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "timezone": "",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [
            {"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "regex": ""},
            variable("namespace", "Namespace", f'label_values(up{{job="{job}"}}, namespace)'),
            variable("instance", "Instance", f'label_values(up{{job="{job}", namespace=~"$namespace"}}, instance)'),
        ]},
        "panels": panels,
    }


def records(obs: Mapping[str, Any]) -> dict[str, str]:
    """Names of the recording rules (level:metric:operations, the metric without _total)."""
    requests = obs["metrics"]["requests"].removesuffix("_total")
    return {
        "requests": f"namespace_job:{requests}:rate{ERROR_RATIO_WINDOW}",
        "errors": f"namespace_job:{requests}_5xx:rate{ERROR_RATIO_WINDOW}",
        "error_ratio": f"namespace_job:{requests}_5xx:ratio_rate{ERROR_RATIO_WINDOW}",
        "p99": f"namespace_job:{obs['metrics']['duration']}:p99_rate{LATENCY_WINDOW}",
    }


# ---------------------------------------------------------------- cg.obs
def deployment(obs: Mapping[str, Any], cg: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """The deployment artifacts' keys of `cg.obs`; `obs` is observability()'s own."""
    job = obs["job"]
    board = dashboard(obs, cg)
    namespace = obs["k8s_monitoring_namespace"]
    return {
        "alerts": alerts(obs),
        "records": records(obs),
        "windows": {"error_ratio": ERROR_RATIO_WINDOW, "latency": LATENCY_WINDOW},
        "scrape_interval": SCRAPE_INTERVAL,
        "evaluation_interval": EVALUATION_INTERVAL,
        "rules_tests": rules_tests(obs),
        "images": {"prometheus": PROMETHEUS_IMAGE, "grafana": GRAFANA_IMAGE},
        "compose": {
            "prometheus_port": COMPOSE_PROMETHEUS_PORT,
            "grafana_port": COMPOSE_GRAFANA_PORT,
            "prometheus_user": PROMETHEUS_USER,
            "grafana_user": GRAFANA_USER,
            # Prometheus asks compose's DNS for every replica of the app service.
            "scrape_name": cg.get("compose", {}).get("app_service", "app"),
        },
        # The bare host's scrape targets: every instance's admin listener, on loopback.
        "host_targets": [f"127.0.0.1:{port}" for port in obs["host_admin_ports"]],
        "dashboard": board,
        "dashboard_json": json.dumps(board, indent=2) + "\n",
        "dashboard_file": f"{job}.json",
        "dashboard_label": {"key": GRAFANA_DASHBOARD_LABEL[0], "value": GRAFANA_DASHBOARD_LABEL[1]},
        "k8s": {
            "component": "monitoring",
            "prometheus_url": K8S_PROMETHEUS_URL.format(namespace=namespace),
            "hash_label": ROLLOUTS_HASH_LABEL,
            "hash_label_prometheus": ROLLOUTS_HASH_LABEL.replace("-", "_"),
        },
        "canary": {
            "window": CANARY_WINDOW,
            "interval": CANARY_INTERVAL,
            "failure_limit": CANARY_FAILURE_LIMIT,
        },
        "rules_loaded_by": rules_loaded_by(answers),
    }


def rules_loaded_by(answers: Mapping[str, Any]) -> list[str]:
    """Who loads deploy/prometheus/rules.yml in this project (its header says so), naming
    only the files the answers generate."""
    on = lambda key: bool(answers.get(key, True))  # noqa: E731 - the yes/no answers default to yes
    loaders = []
    if on("with_supervisord") or answers.get("with_systemd"):
        loaders.append("a host's Prometheus (deploy/prometheus/prometheus-host.yml)")
    if on("with_docker") and on("with_compose"):
        loaders.append("compose's observability profile (deploy/prometheus/prometheus-compose.yml)")
    if on("with_kubernetes"):
        loaders.append("Kubernetes, as the PrometheusRule of deploy/k8s/components/monitoring (the same rules)")
    return loaders or ["the Prometheus you point at it (rule_files)"]
