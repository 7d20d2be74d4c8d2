"""Full tier: the observability of generated services, proven with real tools (issue 11).

The generated projects' own binaries run on loopback with a free HTTP port and a free admin
port (extensions/observability.py is the contract). A real Prometheus (tests/promserver.py)
scrapes the admin port with the generated rules loaded and evaluates every PromQL expression
the project ships (rules, Grafana dashboard, canary AnalysisTemplate; tests/promql.py lists
them) against the data of real traffic, 4xx and 5xx included. An OTLP/HTTP receiver
(tests/otlp.py) collects the spans the service exports. The generated Nginx runs in front
of the service to prove the admin endpoints never leave the host through it.

Answer sets: default (SQLite), orders (PostgreSQL and Redis, Gateway API), full (MySQL on
MariaDB, Redis, Argo Rollouts canary), the database servers from tests/dbservers.py. Every
load loop is bounded and goes to loopback only.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

import deploy_tools as dt
import observability as obs
import settings
from answer_sets import ANSWER_SETS
from conftest import data_env, engine_of, run
from otlp import ConnectionCounter, OTLPReceiver
from promserver import PrometheusServer, promtool, scrape_config
from test_service_e2e import prefix_of

try:  # written beside this test; until it exists the tests that need it fail saying so
    import promql
except ImportError as exc:  # pragma: no cover - depends on the working tree
    promql = None
    PROMQL_MISSING = f"tests/promql.py (expressions(project_dir)) is missing: {exc}"

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
API = "/api/v1"
GREETING_ROUTE = f"{API}/greetings/:name"
PRODUCT_ROUTE = f"{API}/products/:id"
M = obs.METRICS
JSON = {"Content-Type": "application/json"}
# What Argo Rollouts and Kubernetes service discovery would put on the canary's series: the
# scrape configuration sets these on the target, the canary queries' args get the same values.
K8S_LABELS = {
    "namespace": "shop",
    "rollouts_pod_template_hash": "6d4cf56db6",
    "pod_template_hash": "6d4cf56db6",
}


def group(request, name: str) -> None:
    """The xdist group of the tests that build project `name` (test_data_e2e's): one worker builds it."""
    request.node.add_marker(pytest.mark.xdist_group(f"go-{name}"))


def need_promql():
    if promql is None:
        pytest.fail(PROMQL_MISSING, pytrace=False)
    return promql


def answers_of(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def cg_of(project: Path) -> dict:
    """The templates' `cg` of a generated project, from its recorded answers."""
    return settings.derive(answers_of(project))


def job_of(project: Path) -> str:
    """cg.obs.job: the Prometheus job of the service."""
    return cg_of(project)["obs"]["job"]


# ------------------------------------------------------------------ the service


class App:
    """A generated service's binary on loopback, on a free HTTP port and a free admin port;
    its stdout (the JSON log) and stderr go to files in workdir. No OTEL_* variable and none
    of the service's own reaches it from this process's environment unless given in env."""

    def __init__(self, binary: Path, prefix: str, workdir: Path, env: dict[str, str] | None = None):
        self.port, self.admin_port = dt.free_ports(2)
        self.prefix = prefix
        self.binary = binary
        base = {k: v for k, v in os.environ.items() if not k.startswith((f"{prefix}_", "OTEL_"))}
        base.update({
            f"{prefix}_HTTP_HOST": HOST, f"{prefix}_HTTP_PORT": str(self.port),
            f"{prefix}_ADMIN_HOST": HOST, f"{prefix}_ADMIN_PORT": str(self.admin_port),
        })
        base.update(env or {})
        self.env = base
        workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = workdir / "stdout.log"
        self.stderr_path = workdir / "stderr.log"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([str(binary)], env=base, cwd=workdir, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        waiting = {self.port, self.admin_port}
        while waiting:
            waiting = {port for port in waiting if not listening(port)}
            if not waiting:
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"the service exited with {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"ports {sorted(waiting)} not listening within 15 s:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return (f"--- stdout\n{self.stdout_path.read_text(errors='replace')[-4000:]}\n"
                f"--- stderr\n{self.stderr_path.read_text(errors='replace')[-4000:]}")

    def request(self, method: str, path: str, body: bytes | str | dict | None = None,
                headers: dict | None = None, port: int | None = None) -> tuple[int, dict, bytes]:
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(HOST, port or self.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def admin(self, path: str) -> tuple[int, dict, bytes]:
        return self.request("GET", path, port=self.admin_port)

    def metrics(self) -> dict[str, float]:
        status, headers, body = self.admin(obs.METRICS_PATH)
        assert status == 200, (status, body[:300])
        return parse_metrics(body.decode())

    def logs(self) -> list[dict]:
        """Every line of stdout, each one JSON object."""
        lines = self.stdout_path.read_text().splitlines()
        try:
            return [json.loads(line) for line in lines if line.strip()]
        except ValueError as exc:
            raise AssertionError(f"a stdout line is not JSON ({exc}):\n{self.output()}") from None

    def access(self, request_id: str) -> dict:
        """The access log line of the request sent with X-Request-ID request_id."""
        lines = [r for r in self.logs() if r.get("msg") == "request" and r.get("request_id") == request_id]
        assert len(lines) == 1, (request_id, lines)
        return lines[0]

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the service did not stop within {timeout} s:\n{self.output()}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def listening(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=0.2).close()
    except OSError:
        return False
    return True


_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[str, float]:
    """The Prometheus text exposition as {series: value}, a series being `name{labels}` as written."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _SERIES.match(line)
        assert m, f"not a sample line: {line!r}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def family(series: dict[str, float], name: str) -> dict[str, float]:
    return {k: v for k, v in series.items() if k == name or k.startswith(name + "{")}


def labels(series_id: str) -> dict[str, str]:
    return dict(_LABEL.findall(series_id.partition("{")[2]))


# ------------------------------------------------------------------ the example's upstream


class Salutations:
    """The salutations API the example greeting calls (SALUTATIONS_URL), on loopback:
    /salutations/es answers "Hola", any other language is a 500, / is its health check.
    Records each request's path and headers (traceparent, ...)."""

    def __init__(self):
        stub = self
        self.requests: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                with stub._lock:
                    stub.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.path == "/salutations/es":
                    self._reply(200, {"salutation": "Hola"})
                elif self.path.startswith("/salutations/"):
                    self._reply(500, {"error": "boom"})
                else:
                    self._reply(200, {"status": "ok"})

            def _reply(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Salutations:
        return self

    def __exit__(self, *exc):
        self.close()


def app_env(request, name: str, prefix: str, workdir: Path, salutations: Salutations | None = None, **extra) -> dict:
    """The service's settings for answer set `name`: its database and Redis (data_env), the
    upstream stub, and extra ones (given without the prefix)."""
    env = data_env(request, name, prefix, workdir)
    if salutations is not None:
        env[f"{prefix}_SALUTATIONS_URL"] = salutations.url
    env.update({f"{prefix}_{k}": v for k, v in extra.items()})
    return env


# ------------------------------------------------------------------ traffic


def one_round(app: App, with_db: bool, n: int) -> list[tuple[str, int]]:
    """One bounded round of every kind of request the metrics and queries look at: 2xx, 4xx
    (400, 404 on no route, 405), 5xx (the upstream's 500 becomes a 503), the outbound client,
    and with a database the products routes (a Redis miss, then a hit). Returns
    (request, status) of each; fails on an unexpected status."""
    out = []

    def call(method, path, body=None, expect=(200,)):
        status, _, raw = app.request(method, path, body, JSON if body is not None else {})
        out.append((f"{method} {path}", status))
        assert status in expect, (method, path, status, raw[:300])
        return raw

    call("GET", "/livez")
    call("GET", "/readyz", expect=(200, 503))  # the upstream stub's health decides
    call("GET", f"{API}/greetings/Ada")
    call("POST", f"{API}/greetings", {"name": "Ada", "language": "fr"})
    call("POST", f"{API}/greetings", '{"name": ', expect=(400,))
    call("GET", f"/no/such/path/{n}", expect=(404,))
    call("PUT", "/livez", expect=(405,))
    # The upstream answers es; once its 500s have opened the circuit breaker, a fast 503.
    call("GET", f"{API}/greetings/Ada?language=es", expect=(200, 503))
    for _ in range(3):
        call("GET", f"{API}/greetings/Ada?language=xx", expect=(503,))
    if with_db:
        raw = call("POST", f"{API}/products", {"sku": f"obs-{n}-{secrets.token_hex(3)}", "name": "Tea", "price_cents": 1},
                   expect=(201,))
        pid = json.loads(raw)["id"]
        call("GET", f"{API}/products/{pid}")  # a cache miss (with Redis), then
        call("GET", f"{API}/products/{pid}")  # a hit
        call("GET", f"{API}/products/99999999", expect=(404,))
        call("GET", f"{API}/products?limit=2")
    return out


def requests_total(series: dict[str, float]) -> float:
    return sum(family(series, M["requests"]).values())


def drive(app: App, prom: PrometheusServer, job: str, with_db: bool, rounds: int = 3) -> list[tuple[str, int]]:
    """`rounds` rounds of traffic, each seen by a Prometheus scrape before the next, so that
    every rate() has samples that differ."""
    sent = []
    for n in range(rounds):
        sent += one_round(app, with_db, n)
        total = requests_total(app.metrics())
        prom.wait_for(f'sum({M["requests"]}{{job="{job}"}})',
                      lambda r, total=total: r and float(r[0]["value"][1]) >= total, timeout=20)
    return sent


# ------------------------------------------------------------------ the project's PromQL


_ARG = re.compile(r"\{\{\s*args\.([\w-]+)\s*\}\}")
_MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def analysis_queries(project: Path) -> list[str]:
    """The Prometheus queries of the project's AnalysisTemplate as written, args unresolved."""
    path = project / "deploy" / "k8s" / "base" / "analysistemplate.yaml"
    if not path.exists():
        return []
    return [m["provider"]["prometheus"]["query"] for doc in yaml.safe_load_all(path.read_text())
            if doc and doc.get("kind") == "AnalysisTemplate"
            for m in doc["spec"]["metrics"] if "prometheus" in m["provider"]]


def as_argo_would(queries: list[str], job: str) -> tuple[dict[str, str], dict[str, str]]:
    """(target labels, args) that make the canary queries select this test's service as they
    select the canary's pods in a cluster: each label an arg is matched against (namespace,
    the pod-template-hash label) is put on the scrape target with a realistic value, and
    the arg gets that value, as the Rollout passes it (podTemplateHashValue: Latest, ...)."""
    labels, args = {}, {}
    for query in queries:
        for label, op, value in _MATCHER.findall(query):
            arg = _ARG.fullmatch(value)
            if not arg:
                continue
            assert label not in ("job", "instance"), f"an arg for {label}: the scrape sets it ({query})"
            labels[label] = K8S_LABELS.get(label, f"{job}-{label}")
            args[arg.group(1)] = re.escape(labels[label]) if op in ("=~", "!~") else labels[label]
    return labels, args


_CMP = re.compile(r"==|!=|>=|<=|>|<")
_SETOP = re.compile(r"\b(and|or|unless)\b")
_MODIFIERS = re.compile(r"^\s*(bool\s+)?((on|ignoring)\s*\([^)]*\)\s*)?((group_left|group_right)\s*(\([^)]*\))?\s*)?")
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def top_level_operands(expr: str) -> list[str]:
    """The operands of expr's top-level comparison and set operators (`A > 0.05`,
    `A and B`), outside parentheses, brackets, braces and strings; [expr] when it has none."""
    parts, depth, quote, start, i = [], 0, None, 0, 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            m = _CMP.match(expr, i) or _SETOP.match(expr, i)
            if m and not (c == "=" and expr[i:i + 2] == "=~"):
                parts.append(expr[start:i])
                i = start = m.end()
                continue
        i += 1
    parts.append(expr[start:])
    parts = [_MODIFIERS.sub("", p, count=1).strip() for p in parts]
    return [p for p in parts if p and not _NUMBER.match(p)]


def has_data(result: dict) -> bool:
    kind, value = result["resultType"], result["result"]
    if kind in ("vector", "matrix"):
        return bool(value)
    if kind == "scalar":
        return value[1] not in ("NaN", "")
    return True


def evaluate(prom: PrometheusServer, expressions: list[tuple[str, str]], timeout: float = 45) -> dict[str, list]:
    """Evaluate every expression until each returns data or timeout passes.

    An expression that is empty as a whole but whose top-level comparison or set operator's
    operands each return data passes as `conditional` (an alert whose condition is false
    right now: its inputs exist, with the labels it matches on). Returns
    {"data": [...], "conditional": [...], "failed": [(where, expr, why)]}."""
    pending = set(expressions)
    outcome: dict[str, list] = {"data": [], "conditional": [], "failed": []}
    deadline = time.monotonic() + timeout
    last_why: dict[tuple[str, str], str] = {}
    while pending:
        for key in sorted(pending):
            query = key[1]
            try:
                if has_data(prom.query(query)):
                    outcome["data"].append(key)
                    pending.discard(key)
                    continue
                operands = top_level_operands(query)
                if operands != [query.strip()]:
                    empty = [o for o in operands if not has_data(prom.query(o))]
                    if not empty:
                        outcome["conditional"].append(key)
                        pending.discard(key)
                        continue
                    last_why[key] = f"empty, and so are its operands {empty}"
                else:
                    last_why[key] = "empty result"
            except Exception as exc:  # noqa: BLE001 - a query error is a failure, reported
                last_why[key] = f"error: {exc}"
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    outcome["failed"] = [(w, e, last_why.get((w, e), "?")) for w, e in sorted(pending)]
    return outcome


def rule_files(project: Path, dst: Path) -> list[Path]:
    """The project's Prometheus rules as files Prometheus loads: plain rules files (a
    top-level `groups`) as they are, a PrometheusRule's spec written out; identical rule
    sets (the same groups for two targets) once."""
    dst.mkdir(parents=True, exist_ok=True)
    seen, out = set(), []
    for path in sorted(p for p in (project / "deploy").rglob("*") if p.suffix in (".yml", ".yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "PrometheusRule":
                groups, name = doc.get("spec", {}).get("groups"), f"{path.stem}-{i}-spec.yaml"
            elif isinstance(doc.get("groups"), list) and "kind" not in doc:
                groups, name = doc["groups"], f"{path.stem}-{i}.yaml"
            else:
                continue
            key = json.dumps(groups, sort_keys=True)
            if not groups or key in seen:
                continue
            seen.add(key)
            out.append(dst / name)
            out[-1].write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return out


# ------------------------------------------------------------------ harness self-tests


def test_prometheus_harness_scrapes_queries_and_reloads(prometheus):
    """The harness itself, on Prometheus's own metrics: a failure here is the harness's."""
    prom = prometheus()
    assert prom.targets() == []
    prom.configure(scrape_configs=[scrape_config("self", [f"{HOST}:{prom.port}"], labels={"namespace": "shop"})])
    (target,) = prom.wait_for_targets("self")
    assert target["labels"] == {"job": "self", "instance": f"{HOST}:{prom.port}", "namespace": "shop"}
    assert prom.wait_for('up{job="self",namespace="shop"} == 1')
    assert prom.wait_for("rate(prometheus_http_requests_total[10s])")  # two scrapes
    assert prom.series('up{job="self"}')[0]["namespace"] == "shop"
    with pytest.raises(Exception, match="parse error"):
        prom.query("sum(")
    assert not has_data(prom.query('up{job="nothing-scrapes-this"}'))
    end = time.time()
    matrix = prom.query_range('up{job="self"}', end - 10, end, 1)
    assert matrix["resultType"] == "matrix" and matrix["result"][0]["values"]


def test_canary_args_and_operands_are_found_as_argo_and_prometheus_would():
    query = ('scalar(sum(rate(x{job="svc",namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}",'
             'pod=~"{{ args.pod }}"}[5m])) / sum(rate(x{job="svc"}[5m])))')
    labels, args = as_argo_would([query], "svc")
    assert labels == {"namespace": "shop", "rollouts_pod_template_hash": "6d4cf56db6", "pod": "svc-pod"}
    assert args == {"namespace": "shop", "canary-hash": "6d4cf56db6", "pod": "svc\\-pod"}
    expr = 'sum(rate(x{a="b"}[1m])) / sum(rate(x[1m])) > 0.05'
    assert top_level_operands(expr) == ['sum(rate(x{a="b"}[1m])) / sum(rate(x[1m]))']
    assert top_level_operands('a{x=~"b"} > bool on(i) group_left c and d') == ['a{x=~"b"}', "c", "d"]
    assert top_level_operands('sum(x > 1) / y{s="a>b"}') == ['sum(x > 1) / y{s="a>b"}']
    assert top_level_operands('changes(p[15m]) > 2') == ['changes(p[15m])']


def test_otlp_receiver_decodes_exports_and_counts_connections():
    """The receiver itself: protobuf (plain and gzip) and JSON exports, and its connection count."""
    import gzip
    import urllib.request

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    attr = rs.resource.attributes.add()
    attr.key, attr.value.string_value = "service.name", "svc"
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.parent_span_id = bytes(range(16)), bytes(range(8)), bytes(range(1, 9))
    span.name, span.kind = "GET /x/:id", 2
    attr = span.attributes.add()
    attr.key, attr.value.string_value = "http.route", "/x/:id"
    body = req.SerializeToString()
    with OTLPReceiver() as otlp, ConnectionCounter() as counter:
        assert otlp.connections == 0
        for data, headers in ((body, {}), (gzip.compress(body), {"Content-Encoding": "gzip"})):
            post = urllib.request.Request(otlp.traces_endpoint, data=data,
                                          headers={"Content-Type": "application/x-protobuf", **headers})
            with urllib.request.urlopen(post, timeout=5) as resp:
                assert resp.status == 200
        from google.protobuf import json_format

        post = urllib.request.Request(otlp.traces_endpoint, data=json_format.MessageToJson(req).encode(),
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(post, timeout=5) as resp:
            assert resp.status == 200
        spans = otlp.wait_for(lambda s: len(s) == 3 and s)
        assert {(s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.attributes["http.route"], s.service_name)
                for s in spans} == {("000102030405060708090a0b0c0d0e0f", "0001020304050607", "0102030405060708",
                                     "GET /x/:id", "SERVER", "/x/:id", "svc")}
        assert otlp.connections == 3
        socket.create_connection((HOST, counter.port), timeout=2).close()
        deadline = time.monotonic() + 5
        while counter.connections < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert counter.connections == 1


# ------------------------------------------------------------------ every query has data


@pytest.mark.parametrize("name", ["default", "orders", "full"])
def test_every_query_of_the_rules_dashboard_and_analysis_returns_data(request, name, projects, built, prometheus,
                                                                      tmp_path):
    """Real traffic (2xx, 4xx, 5xx, the outbound client, the database and Redis where the
    answers have them) scraped from the admin port by Prometheus with the generated rules
    loaded: every expression the project ships returns data; every rule evaluates without
    error; the error-ratio alert goes pending under the 5xx share this traffic has."""
    expressions_of = need_promql().expressions
    group(request, name)
    project = projects(name)
    prefix, job = prefix_of(project), job_of(project)
    target, args = as_argo_would(analysis_queries(project), job)
    expressions = list(expressions_of(project, analysis_args=args))
    assert expressions, "the project ships no PromQL at all"
    rules = rule_files(project, tmp_path / "rules")
    assert rules, "no Prometheus rules file found under deploy/"
    with Salutations() as upstream, App(built(name), prefix, tmp_path / "app",
                                        app_env(request, name, prefix, tmp_path, upstream)) as app:
        prom = prometheus([scrape_config(job, [f"{HOST}:{app.admin_port}"], labels=target)], rules)
        prom.wait_for_targets(job, count=1)
        with_db = engine_of(name) != "none"
        sent = drive(app, prom, job, with_db)
        assert any(status >= 500 for _, status in sent) and any(400 <= status < 500 for _, status in sent)
        outcome = evaluate(prom, expressions)
        failed = outcome["failed"]
        assert not failed, "queries without data after real traffic:\n" + "\n".join(
            f"- {where}: {expr}\n    {why}" for where, expr, why in failed)

        # Every rule evaluated against this data without error (a many-to-many match, a
        # wrong label in `on(...)` and the like show up only here).
        def evaluated():
            rules_now = [r for g in prom.rules() for r in g["rules"]]
            return rules_now if rules_now and all(r["health"] != "unknown" for r in rules_now) else None

        deadline = time.monotonic() + 15
        while not (loaded := evaluated()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert loaded, "the rules were never evaluated"
        broken = [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"]
        assert not broken, broken

        # The alert on the 5xx share (directly, or through recording rules) goes pending.
        def on_5xx(rule: dict, recorded: set[str]) -> bool:
            return '"5xx"' in rule["query"] or any(re.search(rf"(?<![\w:]){re.escape(n)}(?![\w:])", rule["query"])
                                                    for n in recorded)

        recorded: set[str] = set()
        while True:
            more = {r["name"] for r in loaded if r["type"] == "recording" and on_5xx(r, recorded)} - recorded
            if not more:
                break
            recorded |= more
        errors = [r for r in loaded if r["type"] == "alerting" and on_5xx(r, recorded)]
        assert errors, f"no alert on the 5xx share among {[r['name'] for r in loaded]}"
        share = prom.query(f'sum(rate({M["requests"]}{{job="{job}",status="5xx"}}[1m])) / '
                           f'sum(rate({M["requests"]}{{job="{job}"}}[1m]))')["result"]
        assert share and float(share[0]["value"][1]) > obs.ERROR_RATIO_MAX, share
        prom.wait_for("ALERTS", lambda r: any(a["metric"]["alertname"] in {e["name"] for e in errors} for a in r),
                      timeout=20)
        assert app.stop() == 0, app.output()
    print(f"[obs-e2e] {name}: {len(outcome['data'])} queries with data, "
          f"{len(outcome['conditional'])} conditions false now with every operand present")


@pytest.mark.parametrize("name", ["default", "orders", "full"])
def test_generated_rules_pass_promtool(name, projects, tmp_path):
    rules = rule_files(projects(name), tmp_path)
    assert rules, "no Prometheus rules file found under deploy/"
    checked = promtool("check", "rules", *map(str, rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


# ------------------------------------------------------------------ bounded cardinality


def test_ten_thousand_unknown_paths_add_no_series(request, projects, built, tmp_path):
    """Random unknown paths and unknown methods all land on route="unmatched" and
    method="other": after the first of each kind, no request adds a series."""
    name = "default"
    group(request, name)
    project = projects(name)
    prefix = prefix_of(project)
    families = (M["requests"], M["duration"] + "_bucket")
    methods = ["GET", "POST", "DELETE", "BREW"]  # BREW: no HTTP method at all
    with App(built(name), prefix, tmp_path / "app", data_env(request, name, prefix, tmp_path)) as app:
        for method in methods:  # the first unknown request of each kind
            assert app.request(method, f"/first/{method}")[0] in (404, 405)
        before = app.metrics()
        unmatched = {k for k in family(before, M["requests"]) if labels(k).get("route") == obs.UNMATCHED_ROUTE}
        assert unmatched, f"no route={obs.UNMATCHED_ROUTE!r} series: {sorted(family(before, M['requests']))}"
        assert {labels(k)["method"] for k in unmatched} <= set(obs.HTTP_METHODS) | {"other"}
        assert "other" in {labels(k)["method"] for k in unmatched}, sorted(unmatched)

        total, workers = 10_000, 4
        rng = random.Random(11)
        # Valid request targets (a malformed one is refused by Go's server before any route).
        segment = string.ascii_letters + string.digits + "-_~"
        paths = ["/" + "/".join("".join(rng.choices(segment, k=rng.randint(1, 12))) + rng.choice(["", "", ".json", "%20x"])
                                for _ in range(rng.randint(1, 5))) + rng.choice(["", "/", "?q=1", "?a=b&c=%20"])
                 for _ in range(total)]
        statuses: dict[int, int] = {}
        lock = threading.Lock()

        def worker(k: int):
            conn = http.client.HTTPConnection(HOST, app.port, timeout=15)
            mine: dict[int, int] = {}
            for i in range(k, total, workers):
                conn.request(methods[i % len(methods)], paths[i])
                resp = conn.getresponse()
                resp.read()
                mine[resp.status] = mine.get(resp.status, 0) + 1
                if resp.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, app.port, timeout=15)
            conn.close()
            with lock:
                for s, c in mine.items():
                    statuses[s] = statuses.get(s, 0) + c

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        elapsed = time.monotonic() - started
        assert sum(statuses.values()) == total, statuses
        assert set(statuses) <= {400, 404, 405}, statuses
        after = app.metrics()
        for fam in families:
            new = set(family(after, fam)) - set(family(before, fam))
            assert not new, f"{len(new)} new {fam} series, e.g. {sorted(new)[:5]}"
        counted = sum(v for k, v in family(after, M["requests"]).items() if k in unmatched) - \
            sum(v for k, v in family(before, M["requests"]).items() if k in unmatched)
        assert counted == total, f"{counted} of {total} requests counted under route={obs.UNMATCHED_ROUTE!r}"
        assert app.stop() == 0, app.output()
    print(f"[obs-e2e] {total} unknown requests in {elapsed:.1f} s; "
          f"{len(family(after, M['requests']))} request series, {len(family(after, families[1]))} bucket series")


# ------------------------------------------------------------------ the admin port stays private


def test_nginx_never_serves_the_admin_endpoints(request, projects, built, tmp_path):
    """The generated Nginx (bare-host layout) in front of the service, pprof on: /metrics and
    /debug/pprof/ through it are 404s without metric text, while the admin port itself
    serves both."""
    name = "default"
    group(request, name)
    project = projects(name)
    assert answers_of(project).get("with_nginx", True)
    prefix = prefix_of(project)
    cg_ports = cg_of(project)["upstream_ports"]  # the instances Nginx balances over: all this one
    pub = dt.world_readable_tmpdir("cg-obs-nginx-")
    nginx = None
    try:
        with App(built(name), prefix, tmp_path / "app",
                 app_env(request, name, prefix, tmp_path, PPROF_ENABLED="true")) as app:
            assert app.request("GET", "/livez")[0] == 200
            status, _, body = app.admin(obs.METRICS_PATH)
            assert status == 200 and b"# TYPE " + M["requests"].encode() in body
            assert app.admin(obs.PPROF_PATH)[0] == 200
            http_port, https_port = dt.free_ports(2)
            conf = dt.nginx_prefix(project, pub / "nginx", "nginx.conf", port_map={p: app.port for p in cg_ports},
                                   http_port=http_port, https_port=https_port)
            checked = dt.nginx_test(conf)
            assert checked.returncode == 0, checked.stderr
            nginx = subprocess.Popen(["nginx", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            ctx = ssl.create_default_context(cafile=str(conf.parent / "tls" / "fullchain.pem"))
            deadline = time.monotonic() + 10
            while True:
                try:
                    conn = http.client.HTTPSConnection(HOST, https_port, context=ctx, timeout=10)
                    conn.request("GET", "/livez")
                    live = conn.getresponse()
                    live.read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            assert live.status == 200, "Nginx does not reach the service"
            paths = [obs.METRICS_PATH, obs.METRICS_PATH + "/", obs.METRICS_PATH + "?format=text", obs.PPROF_PATH,
                     obs.PPROF_PATH + "heap", obs.PPROF_PATH + "goroutine?debug=1", "/debug/pprof", "//metrics",
                     "/%6detrics"]
            for path in paths:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                assert resp.status == 404, (path, resp.status, body[:200])
                leaked = [m for m in (b"# TYPE", b"# HELP", b"Types of profiles available", b"goroutine profile:")
                          if m in body]
                assert not leaked, (path, body[:200])
            conn.close()
            # The app's HTTP port itself serves neither.
            for path in (obs.METRICS_PATH, obs.PPROF_PATH):
                status, _, body = app.request("GET", path)
                assert status == 404 and b"# TYPE" not in body, (path, status)
            assert app.stop() == 0, app.output()
    finally:
        if nginx is not None and nginx.poll() is None:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait(30)
        shutil.rmtree(pub, ignore_errors=True)


@pytest.mark.parametrize("name", ["default", "orders", "full"])
@pytest.mark.parametrize("overlay", ["staging", "production"])
def test_ingress_and_httproute_never_reach_the_admin_port(name, overlay, projects):
    """Every backend of the rendered Ingress/HTTPRoute resolves (Service port, targetPort,
    container port) to the HTTP port, never the admin port."""
    project = projects(name)
    answers = answers_of(project)
    built = run(["kustomize", "build", str(project / "deploy" / "k8s" / "overlays" / overlay)], project).stdout
    docs = [d for d in yaml.safe_load_all(built) if d]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    containers = [c for d in docs if d["kind"] in ("Deployment", "Rollout", "StatefulSet")
                  for c in d["spec"]["template"]["spec"]["containers"]]
    named = {p["name"]: p["containerPort"] for c in containers for p in c.get("ports", []) if "name" in p}

    backends = []  # (service, port number or name)
    for d in docs:
        if d["kind"] == "Ingress":
            spec = d["spec"]
            refs = [spec["defaultBackend"]] if "defaultBackend" in spec else []
            refs += [p["backend"] for r in spec.get("rules", []) for p in r.get("http", {}).get("paths", [])]
            for ref in refs:
                port = ref["service"]["port"]
                backends.append((ref["service"]["name"], port.get("number", port.get("name"))))
        elif d["kind"] == "HTTPRoute":
            for rule in d["spec"].get("rules", []):
                for ref in rule.get("backendRefs", []):
                    assert ref.get("kind", "Service") == "Service", ref
                    backends.append((ref["name"], ref["port"]))
    assert backends, "no Ingress or HTTPRoute backend rendered"
    http_port = int(answers.get("http_port", 8080))
    for svc_name, port in backends:
        svc_ports = services[svc_name]["spec"]["ports"]
        (entry,) = [p for p in svc_ports if p.get("port") == port or p.get("name") == port]
        target = entry.get("targetPort", entry["port"])
        container_port = named[target] if isinstance(target, str) else target
        assert obs.ADMIN_PORT not in (entry["port"], container_port), (svc_name, entry)
        assert container_port == http_port, (svc_name, entry, named)


# ------------------------------------------------------------------ pprof


def test_pprof_is_off_by_default_and_on_when_enabled(request, projects, built, tmp_path):
    name = "default"
    group(request, name)
    project = projects(name)
    prefix, binary = prefix_of(project), built(name)
    with App(binary, prefix, tmp_path / "off", data_env(request, name, prefix, tmp_path / "off")) as app:
        assert app.admin(obs.METRICS_PATH)[0] == 200
        for path in (obs.PPROF_PATH, obs.PPROF_PATH + "heap", obs.PPROF_PATH + "profile?seconds=1"):
            status, _, body = app.admin(path)
            assert status == 404, (path, status, body[:200])
        assert app.stop() == 0, app.output()
    with App(binary, prefix, tmp_path / "on",
             app_env(request, name, prefix, tmp_path / "on", PPROF_ENABLED="true")) as app:
        status, _, body = app.admin(obs.PPROF_PATH)
        assert status == 200 and b"heap" in body, body[:300]
        status, _, heap = app.admin(obs.PPROF_PATH + "heap")
        assert status == 200 and heap[:2] == b"\x1f\x8b", heap[:40]  # a gzipped profile.proto
        profile = tmp_path / "heap.pb.gz"
        profile.write_bytes(heap)
        top = run(["go", "tool", "pprof", "-top", str(binary), str(profile)], tmp_path, timeout=120)
        assert "flat%" in top.stdout and "Type: inuse_space" in top.stdout, top.stdout[:1000]
        assert app.request("GET", obs.PPROF_PATH)[0] == 404, "pprof on the service's HTTP port"
        assert app.stop() == 0, app.output()


# ------------------------------------------------------------------ tracing


def ancestors(span, by_id: dict) -> list:
    out = []
    while span.parent_span_id and span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        out.append(span)
    return out


def is_db(span) -> bool:
    system = span.attributes.get("db.system") or span.attributes.get("db.system.name")
    return span.kind == "CLIENT" and system is not None and system != "redis"


def is_redis(span) -> bool:
    system = span.attributes.get("db.system") or span.attributes.get("db.system.name")
    return span.kind == "CLIENT" and system == "redis"


def test_a_request_is_one_trace_through_upstream_database_and_redis(request, projects, built, tmp_path):
    """OTEL_EXPORTER_OTLP_ENDPOINT set: each request's server span is named after its route
    template and carries http.route; the outbound client, GORM and Redis calls are CLIENT
    spans under it in the same trace; the upstream gets the client span's traceparent; the
    access log line has the route and the trace ID."""
    name = "orders"
    assert engine_of(name) == "postgres" and ANSWER_SETS[name].get("redis")
    group(request, name)
    project = projects(name)
    prefix = prefix_of(project)
    with OTLPReceiver() as otlp, Salutations() as upstream:
        env = app_env(request, name, prefix, tmp_path, upstream)
        env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"})
        with App(built(name), prefix, tmp_path / "app", env) as app:
            status, _, raw = app.request("GET", f"{API}/greetings/Ada?language=es", headers={"X-Request-ID": "greet-1"})
            assert status == 200 and json.loads(raw) == {"message": "Hola, Ada!"}
            status, _, raw = app.request("POST", f"{API}/products", {"sku": "tr-1", "name": "Tea", "price_cents": 1},
                                         {**JSON, "X-Request-ID": "create-1"})
            assert status == 201, raw
            pid = json.loads(raw)["id"]
            status, _, _ = app.request("GET", f"{API}/products/{pid}", headers={"X-Request-ID": "read-1"})
            assert status == 200

            def server_span(route: str, method: str = "GET"):
                def find(spans):
                    return next((s for s in spans if s.kind == "SERVER" and s.name == f"{method} {route}"), None)
                return otlp.wait_for(find)

            # The greeting: server span, a CLIENT span for the upstream call under it.
            greet = server_span(GREETING_ROUTE)
            assert greet.attributes.get("http.route") == GREETING_ROUTE, greet.attributes
            assert not greet.parent_span_id, "a request without traceparent starts a trace"
            client = otlp.wait_for(lambda spans: [s for s in spans if s.trace_id == greet.trace_id and s.kind == "CLIENT"])
            by_id = {s.span_id: s for s in otlp.trace(greet.trace_id)}
            for span in client:
                assert greet in ancestors(span, by_id), f"{span.name} is not under the server span"
            (path, headers), = [(p, h) for p, h in upstream.requests if p == "/salutations/es"]
            version, trace_id, parent_id, _ = headers["traceparent"].split("-")
            assert trace_id == greet.trace_id and parent_id in {s.span_id for s in client}, headers["traceparent"]
            line = app.access("greet-1")
            assert line["route"] == GREETING_ROUTE and line["trace_id"] == greet.trace_id, line

            # The product read: GORM's statement and Redis's command as CLIENT spans under it.
            read = server_span(PRODUCT_ROUTE)
            assert read.attributes.get("http.route") == PRODUCT_ROUTE
            spans = otlp.wait_for(lambda s: (t := [x for x in s if x.trace_id == read.trace_id])
                                  and any(map(is_db, t)) and any(map(is_redis, t)) and t)
            by_id = {s.span_id: s for s in spans}
            for span in filter(lambda s: is_db(s) or is_redis(s), spans):
                assert read in ancestors(span, by_id), f"{span.name} is not under the server span"
            line = app.access("read-1")
            assert line["route"] == PRODUCT_ROUTE and line["trace_id"] == read.trace_id, line
            for root, trace in ((greet, otlp.trace(greet.trace_id)), (read, spans)):
                print(f"[obs-e2e] trace of {root.name}: " + ", ".join(
                    f"{s.kind} {s.name!r}" + (f" ({s.attributes.get('db.system') or s.attributes.get('db.system.name')})"
                                              if is_db(s) or is_redis(s) else "") for s in trace))
            create = server_span(f"{API}/products", "POST")
            assert app.access("create-1")["trace_id"] == create.trace_id
            assert len({greet.trace_id, read.trace_id, create.trace_id}) == 3
            assert app.stop() == 0, app.output()
        assert not otlp.errors, otlp.errors


def test_a_traceparent_from_the_client_is_continued(request, projects, built, tmp_path):
    """The trace a caller started goes on: same trace ID, the caller's span as parent.
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT alone (a full URL) turns tracing on too."""
    name = "default"
    group(request, name)
    project = projects(name)
    prefix = prefix_of(project)
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    with OTLPReceiver() as otlp:
        env = app_env(request, name, prefix, tmp_path)
        env.update({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp.traces_endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"})
        with App(built(name), prefix, tmp_path / "app", env) as app:
            status, _, _ = app.request("GET", f"{API}/greetings/Ada", headers={
                "traceparent": f"00-{trace_id}-{parent_id}-01", "X-Request-ID": "continued-1"})
            assert status == 200
            span = otlp.wait_for(lambda spans: next((s for s in spans if s.kind == "SERVER"), None))
            assert (span.trace_id, span.parent_span_id, span.name) == (trace_id, parent_id, f"GET {GREETING_ROUTE}")
            assert app.access("continued-1")["trace_id"] == trace_id
            assert app.stop() == 0, app.output()


@pytest.mark.xdist_group("otlp-default-ports")
def test_without_otel_variables_nothing_is_exported_nor_dialled(request, projects, built, tmp_path):
    """No OTEL_* variable: no connection to the OTLP default ports (4318 HTTP, 4317 gRPC, on
    127.0.0.1 and ::1) during traffic and a clean shutdown, which would flush any exporter;
    the same listeners do get the spans when an endpoint is set (the control), and the log
    lines carry no trace_id."""
    name = "default"
    request.node.add_marker(pytest.mark.xdist_group(f"go-{name}"))
    project = projects(name)
    prefix = prefix_of(project)
    listeners = []
    try:
        try:
            http_default = OTLPReceiver(HOST, 4318)
            listeners.append(http_default)
            listeners.append(ConnectionCounter(HOST, 4317))
            if socket.has_ipv6:
                with contextlib.suppress(OSError):  # no IPv6 loopback here: localhost is 127.0.0.1 only
                    listeners.append(ConnectionCounter("::1", 4318, socket.AF_INET6))
                    listeners.append(ConnectionCounter("::1", 4317, socket.AF_INET6))
        except OSError as exc:
            pytest.fail(f"the OTLP default ports must be free on loopback for this test: {exc}")

        def traffic(app: App) -> None:
            for i in range(20):
                assert app.request("GET", f"{API}/greetings/n{i}", headers={"X-Request-ID": f"r{i}"})[0] == 200
                assert app.request("GET", f"/unknown/{i}")[0] == 404

        # The control: with an endpoint, these listeners see the export.
        env = app_env(request, name, prefix, tmp_path / "on")
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{HOST}:{http_default.port}"
        with App(built(name), prefix, tmp_path / "on", env) as app:
            traffic(app)
            assert app.stop() == 0, app.output()
        http_default.wait_for(lambda spans: len(spans) >= 20)
        for listener in listeners:
            listener.connections = 0

        with App(built(name), prefix, tmp_path / "off", app_env(request, name, prefix, tmp_path / "off")) as app:
            assert not [k for k in app.env if k.startswith("OTEL_")]
            traffic(app)
            assert app.stop() == 0, app.output()
            lines = [r for r in app.logs() if r.get("msg") == "request"]
            assert len(lines) == 40 and not [r for r in lines if "trace_id" in r], lines[:2]
        assert [(getattr(x, "host", "?"), x.port, x.connections) for x in listeners if x.connections] == []
    finally:
        for listener in listeners:
            listener.close()
