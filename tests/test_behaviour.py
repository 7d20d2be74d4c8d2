"""Full tier: one behaviour suite for every web framework a service can be generated with.

A service generated with `framework: gin` (the default) and one generated with
`framework: echo` from otherwise the same answers (the defaults: SQLite, the example
products resource) must look the same from outside the process: status codes, the JSON
error shape and its codes and field names, headers, the access log, the metrics and the
spans. Each built binary runs on loopback (tests/test_observability_e2e.py's App) and is
driven by TABLE below, one row per request: data, not code. For each framework every
row is checked against its expectations (test_case), and then each response, its access
line and its span are reduced to a framework-neutral record (times, latencies and IDs
masked); test_gin_and_echo_agree requires the records of the two frameworks to be equal
for the whole table, the metrics and the shutdown: the proof that they have not drifted.

Not covered here: a 500. Nothing outside the process can make the example service fail
that way without a route written for the test (a panic, a failing store); the generated
project's Go tests cover it (httpserver's recovery test, respond.Internal). The 5xx row
is the example greeting's 503 when its upstream fails, which carries the same log level
and span status a 500 does.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import signal
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import observability as obs
from conftest import data_env
from otlp import OTLPReceiver, Span
from test_observability_e2e import HOST, App, Salutations, labels, parse_metrics
from test_service_e2e import prefix_of

# The whole module is in the default answer set's xdist group: Gin's binary is that set's
# (conftest `built`, shared with the other tests of the set), and Echo's build and the
# comparison of the two runs stay on the same worker, so each framework's table runs once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("go-default")]

FRAMEWORKS = ["gin", "echo"]
# The answer set (answer_sets.py) each framework's service is generated from: the defaults,
# plus {"framework": "echo"} for Echo. Gin passes nothing, so that it runs where copier.yml
# does not ask `framework` yet.
ANSWER_SET = {"gin": "default", "echo": "default-echo"}

# The settings the run sets (without the service's prefix); each must be in .env.example.
MAX_BODY = 1024  # HTTP_MAX_BODY_BYTES: small, so that a 2 KiB body is over it
TRUSTED = "127.0.0.1/32"  # TRUSTED_PROXIES of the "trusting" instance
SETTINGS = ["HTTP_HOST", "HTTP_PORT", "ADMIN_HOST", "ADMIN_PORT", "HTTP_MAX_BODY_BYTES", "TRUSTED_PROXIES",
            "SALUTATIONS_URL", "DATABASE_URL", "DATABASE_MIGRATE_ON_START"]
BUILD = {"version": "1.2.3-test", "commit": "abc1234", "date": "2026-01-02T03:04:05Z"}  # conftest `built`'s flags

API = "/api/v1"
PRODUCTS = f"{API}/products"
PRODUCT = f"{API}/products/:id"
UNMATCHED = obs.UNMATCHED_ROUTE
OVERSIZED = {"sku": "BIG-1", "name": "x" * (2 * MAX_BODY), "price_cents": 1}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
JSON_TYPE = "application/json"


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Case:
    """One request and what each framework's service must answer and log for it.

    path may name {id}: the id of the product a row with save_id created. body: a dict
    (sent as JSON) or str, with Content-Type: application/json unless headers set one;
    bytes, as they are and without Content-Type; chunked sends it without Content-Length. request_id: the X-Request-ID sent
    ("auto": "beh-<id>"; None: none), kept or replaced by one the service makes.
    route: the route label of the access line and the metrics (UNMATCHED when no route
    matched); the span is named "<method> <route>" with http.route (only the method when
    unmatched). code/fields: the JSON error's code and {field: rule}; allow: the Allow
    header as a set; json: a subset of the JSON body; no body for HEAD and 204."""

    id: str
    method: str
    path: str
    status: int
    route: str
    code: str | None = None
    fields: dict[str, str] | None = None
    allow: frozenset[str] | None = None
    location: str | None = None
    json: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    chunked: bool = False
    request_id: str | None = "auto"
    request_id_kept: bool = True
    instance: str = "main"  # main (no trusted proxy) or trusting (TRUSTED_PROXIES)
    client_ip: str = "127.0.0.1"
    log_method: str | None = None  # the access line's method, when not the request's
    save_id: bool = False


A = frozenset
TABLE: list[Case] = [
    # --- infrastructure endpoints; /readyz and /version answer only callers that reach the service directly
    Case("livez", "GET", "/livez", 200, "/livez", json={"status": "ok"}),
    Case("readyz", "GET", "/readyz", 200, "/readyz", json={"status": "ready"}),
    Case("version", "GET", "/version", 200, "/version", json=BUILD),
    Case("readyz-via-proxy", "GET", "/readyz", 404, "/readyz", "not_found", headers={"X-Forwarded-For": "203.0.113.9"}),
    Case("version-via-proxy", "GET", "/version", 404, "/version", "not_found", headers={"X-Forwarded-For": "203.0.113.9"}),
    Case("version-via-x-real-ip", "GET", "/version", 404, "/version", "not_found", headers={"X-Real-IP": "203.0.113.9"}),
    # --- routing: unknown paths, other methods, OPTIONS and HEAD
    Case("unknown-path", "GET", "/no/such/path", 404, UNMATCHED, "not_found"),
    Case("unknown-api-path", "GET", f"{API}/nothing/here", 404, UNMATCHED, "not_found"),
    Case("wrong-method", "PUT", "/livez", 405, UNMATCHED, "method_not_allowed", allow=A({"GET", "HEAD", "OPTIONS"})),
    Case("wrong-method-collection", "DELETE", PRODUCTS, 405, UNMATCHED, "method_not_allowed",
         allow=A({"GET", "POST", "HEAD", "OPTIONS"})),
    Case("wrong-method-post-only", "GET", f"{API}/greetings", 405, UNMATCHED, "method_not_allowed",
         allow=A({"POST", "OPTIONS"})),
    Case("options-livez", "OPTIONS", "/livez", 204, UNMATCHED, allow=A({"GET", "HEAD", "OPTIONS"})),
    Case("options-item", "OPTIONS", f"{PRODUCTS}/1", 204, UNMATCHED, allow=A({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})),
    Case("head-livez", "HEAD", "/livez", 200, "/livez"),
    Case("head-version", "HEAD", "/version", 200, "/version"),
    Case("head-post-only", "HEAD", f"{API}/greetings", 405, UNMATCHED, allow=A({"POST", "OPTIONS"})),
    # --- request bodies: size, type, syntax, shape, validation (names are the JSON ones)
    Case("too-large-content-length", "POST", PRODUCTS, 413, PRODUCTS, "body_too_large", body=OVERSIZED),
    Case("too-large-chunked", "POST", PRODUCTS, 413, PRODUCTS, "body_too_large", body=OVERSIZED, chunked=True),
    Case("not-json", "POST", PRODUCTS, 415, PRODUCTS, "unsupported_media_type",
         headers={"Content-Type": "text/plain"}, body='{"sku":"A-1","name":"Tea","price_cents":1}'),
    Case("no-content-type", "POST", PRODUCTS, 415, PRODUCTS, "unsupported_media_type",
         body=b'{"sku":"A-1","name":"Tea","price_cents":1}'),
    Case("malformed-json", "POST", PRODUCTS, 400, PRODUCTS, "malformed_request", body='{"sku": '),
    Case("empty-body", "POST", PRODUCTS, 400, PRODUCTS, "malformed_request", body=""),
    Case("trailing-data", "POST", PRODUCTS, 400, PRODUCTS, "malformed_request",
         body='{"sku":"A-1","name":"Tea","price_cents":1} {}'),
    Case("unknown-field", "POST", PRODUCTS, 400, PRODUCTS, "malformed_request", {"colour": "unknown"},
         body={"sku": "A-1", "name": "Tea", "price_cents": 1, "colour": "green"}),
    Case("wrong-type", "POST", PRODUCTS, 400, PRODUCTS, "malformed_request", {"price_cents": "type"},
         body={"sku": "A-1", "name": "Tea", "price_cents": "250"}),
    Case("invalid-fields", "POST", PRODUCTS, 422, PRODUCTS, "validation_failed",
         {"sku": "required", "price_cents": "min"}, body={"name": "Tea", "price_cents": -1}),
    Case("invalid-sku-rule", "POST", PRODUCTS, 422, PRODUCTS, "validation_failed", {"sku": "sku"},
         body={"sku": "no spaces!", "name": "Tea", "price_cents": 1}),
    # --- the products resource
    Case("create", "POST", PRODUCTS, 201, PRODUCTS, location=f"{PRODUCTS}/{{id}}", save_id=True,
         json={"sku": "TEA-1", "name": "Tea", "price_cents": 250}, body={"sku": "tea-1", "name": "Tea", "price_cents": 250}),
    Case("create-duplicate", "POST", PRODUCTS, 409, PRODUCTS, "conflict",
         body={"sku": "TEA-1", "name": "Other", "price_cents": 1}),
    Case("get", "GET", f"{PRODUCTS}/{{id}}", 200, PRODUCT, json={"sku": "TEA-1", "price_cents": 250}),
    Case("list", "GET", f"{PRODUCTS}?limit=5", 200, PRODUCTS, json={"page": 1, "limit": 5, "total": 1}),
    Case("list-limit-out-of-range", "GET", f"{PRODUCTS}?limit=0", 400, PRODUCTS, "invalid_query", {"limit": "range"}),
    Case("list-page-not-a-number", "GET", f"{PRODUCTS}?page=abc", 400, PRODUCTS, "invalid_query", {"page": "range"}),
    Case("update", "PUT", f"{PRODUCTS}/{{id}}", 200, PRODUCT, json={"sku": "TEA-1", "name": "Green tea", "price_cents": 300},
         body={"sku": "TEA-1", "name": "Green tea", "price_cents": 300}),
    Case("update-invalid", "PUT", f"{PRODUCTS}/{{id}}", 422, PRODUCT, "validation_failed", {"name": "required"},
         body={"sku": "TEA-1", "price_cents": 300}),
    Case("head-item", "HEAD", f"{PRODUCTS}/{{id}}", 200, PRODUCT),
    Case("delete", "DELETE", f"{PRODUCTS}/{{id}}", 204, PRODUCT),
    Case("get-deleted", "GET", f"{PRODUCTS}/{{id}}", 404, PRODUCT, "not_found"),
    Case("get-missing", "GET", f"{PRODUCTS}/999999", 404, PRODUCT, "not_found"),
    Case("get-non-numeric", "GET", f"{PRODUCTS}/abc", 404, PRODUCT, "not_found"),
    Case("delete-missing", "DELETE", f"{PRODUCTS}/999999", 404, PRODUCT, "not_found"),
    # --- the example greeting: 200, and a 5xx (its upstream fails: 503, level ERROR, span status ERROR)
    Case("greeting", "POST", f"{API}/greetings", 200, f"{API}/greetings", json={"message": "Bonjour, Ada!"},
         body={"name": "Ada", "language": "fr"}),
    Case("upstream-fails", "GET", f"{API}/greetings/Ada?language=xx", 503, f"{API}/greetings/:name",
         "upstream_unavailable"),
    # --- request IDs: a well-formed one is kept, anything else replaced by 32 hex digits
    Case("request-id-kept", "GET", "/no/such/id", 404, UNMATCHED, "not_found", request_id="client.id_1:2-3"),
    Case("request-id-invalid", "GET", "/no/such/id", 404, UNMATCHED, "not_found", request_id="not valid!",
         request_id_kept=False),
    Case("request-id-too-long", "GET", "/livez", 200, "/livez", request_id="a" * 129, request_id_kept=False),
    Case("request-id-absent", "GET", "/no/such/id", 404, UNMATCHED, "not_found", request_id=None, request_id_kept=False),
    # --- client IP: X-Forwarded-For counts only from a trusted proxy
    Case("xff-untrusted", "GET", "/livez", 200, "/livez", headers={"X-Forwarded-For": "203.0.113.7"}),
    Case("xff-trusted", "GET", "/livez", 200, "/livez", headers={"X-Forwarded-For": "203.0.113.7"},
         instance="trusting", client_ip="203.0.113.7"),
    Case("xff-trusted-chain", "GET", "/livez", 200, "/livez", headers={"X-Forwarded-For": "198.51.100.2, 127.0.0.1"},
         instance="trusting", client_ip="198.51.100.2"),
    Case("no-xff-trusting", "GET", "/livez", 200, "/livez", instance="trusting"),
]
assert len({c.id for c in TABLE}) == len(TABLE), "case ids must be unique"


# ------------------------------------------------------------------ running the table


@dataclass
class Observed:
    """What one case got: the response, its access lines and server spans."""

    case: Case
    path: str  # as sent, {id} filled in
    trace_id: str  # of the traceparent sent
    parent_id: str
    sent_request_id: str | None
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    access: list[dict] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    @property
    def request_id(self) -> str:
        return self.headers.get("x-request-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Run:
    fw: str
    observed: list[Observed]
    saved_id: str
    metrics: dict[str, float]  # the main instance's, after the table
    main_access: list[dict]  # its access lines for the table's requests
    shutdown: dict
    metric_names_in_source: bool


def send(app: App, case: Case, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    body = case.body
    headers = dict(headers)
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
        headers.setdefault("Content-Type", JSON_TYPE)
    if case.chunked:
        body = iter([body[i:i + 512] for i in range(0, len(body), 512)])  # http.client sends it chunked
    conn = http.client.HTTPConnection(HOST, app.port, timeout=15)
    try:
        conn.request(case.method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def sigterm_during_a_slow_request(app: App) -> dict:
    """A create whose body is still arriving when SIGTERM comes: the process stays up and
    stops accepting, the request is answered, then it exits by itself."""
    body = json.dumps({"sku": "SLOW-1", "name": "Slow", "price_cents": 1}).encode()
    sock = socket.create_connection((HOST, app.port), timeout=15)
    try:
        sock.sendall(f"POST {PRODUCTS} HTTP/1.1\r\nHost: test\r\nContent-Type: {JSON_TYPE}\r\n"
                     f"Content-Length: {len(body)}\r\nX-Request-ID: beh-slow\r\nUser-Agent: behaviour/slow\r\n"
                     f"Connection: close\r\n\r\n".encode() + body[:10])
        time.sleep(0.3)
        app.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        alive = app.proc.poll() is None
        try:
            socket.create_connection((HOST, app.port), timeout=1).close()
            refused = False
        except OSError:
            refused = True
        sock.sendall(body[10:])
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    finally:
        sock.close()
    try:
        code = app.proc.wait(20)
    except Exception:  # noqa: BLE001 - reported as the exit code
        code = None
    status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else 0
    return {"alive_after_sigterm": alive, "new_connections_refused": refused, "status": status, "exit_code": code}


def run_table(fw: str, binary: Path, project: Path, request, workdir: Path) -> Run:
    prefix = prefix_of(project)
    documented = (project / ".env.example").read_text()
    missing = [s for s in SETTINGS if f"{prefix}_{s}=" not in documented]
    assert not missing, f"{fw}: .env.example lacks {missing} (renamed? update SETTINGS)"
    metrics_src = "\n".join(p.read_text() for p in (project / "internal" / "metrics").glob("*.go"))
    names_in_source = all(f'"{obs.METRICS[k]}"' in metrics_src for k in ("requests", "duration"))
    name = ANSWER_SET[fw]
    observed = [Observed(c, c.path, secrets.token_hex(16), secrets.token_hex(8),
                         f"beh-{c.id}" if c.request_id == "auto" else c.request_id) for c in TABLE]
    with OTLPReceiver() as otlp, Salutations() as upstream:
        apps: dict[str, App] = {}
        try:
            for instance, extra in (("main", {}), ("trusting", {"TRUSTED_PROXIES": TRUSTED})):
                env = data_env(request, name, prefix, workdir / instance)
                env.update({f"{prefix}_{k}": v for k, v in {
                    "HTTP_MAX_BODY_BYTES": str(MAX_BODY), "SALUTATIONS_URL": upstream.url, **extra}.items()})
                env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"})
                apps[instance] = App(binary, prefix, workdir / instance, env)
            saved_id = ""
            for o in observed:
                o.path = o.case.path.replace("{id}", saved_id)
                headers = {"User-Agent": f"behaviour/{o.case.id}", "traceparent": f"00-{o.trace_id}-{o.parent_id}-01",
                           **o.case.headers}
                if o.sent_request_id is not None:
                    headers["X-Request-ID"] = o.sent_request_id
                o.status, o.headers, o.body = send(apps[o.case.instance], o.case, o.path, headers)
                if o.case.save_id:
                    assert o.status == 201, (fw, o.case.id, o.status, o.body[:300])
                    saved_id = str(o.json()["id"])
            status, _, text = apps["main"].admin(obs.METRICS_PATH)
            assert status == 200, (fw, status, text[:300])
            metrics = parse_metrics(text.decode())
            shutdown = sigterm_during_a_slow_request(apps["main"])
            assert apps["trusting"].stop() == 0, apps["trusting"].output()
            logs = {instance: app.logs() for instance, app in apps.items()}
        finally:
            for app in apps.values():
                app.kill()
        # Every case's server span (a clean shutdown flushes them).
        wanted = {o.trace_id for o in observed}
        otlp.wait_for(lambda spans: wanted <= {s.trace_id for s in spans if s.kind == "SERVER"})
        spans = otlp.spans
        assert not otlp.errors, otlp.errors
    access = {instance: [r for r in lines if r.get("msg") == "request"] for instance, lines in logs.items()}
    for o in observed:
        o.access = [r for r in access[o.case.instance] if r.get("request_id") == o.request_id]
        o.spans = [s for s in spans if s.trace_id == o.trace_id and s.kind == "SERVER"]
    main_lines = logs["main"]
    messages = [r.get("msg") for r in main_lines]
    slow = [r for r in access["main"] if r.get("request_id") == "beh-slow"]
    shutdown.update({
        "slow_request_logged": [(r["status"], r["route"]) for r in slow],
        "logged_in_order": bool(slow) and "shutting down" in messages and "stopped" in messages
        and messages.index("shutting down") < main_lines.index(slow[0]) < messages.index("stopped"),
        "access_lines": len(access["main"]),
        "requests_sent": sum(o.case.instance == "main" for o in observed) + 1,
    })
    return Run(fw, observed, saved_id, metrics, [r for r in access["main"] if r.get("request_id") != "beh-slow"],
               shutdown, names_in_source)


@pytest.fixture(scope="module")
def runs(request, projects, built, tmp_path_factory):
    """The table's run of each framework, made once per module: get(fw)."""
    made: dict[str, Run] = {}

    def get(fw: str) -> Run:
        if fw not in made:
            name = ANSWER_SET[fw]
            binary = built(name)
            made[fw] = run_table(fw, binary, projects(name), request, tmp_path_factory.mktemp(f"behaviour-{fw}"))
        return made[fw]

    return get


@pytest.fixture(scope="module", params=FRAMEWORKS)
def run(request, runs) -> Run:
    return runs(request.param)


# ------------------------------------------------------------------ the checks of one framework


def subset(expected: Any, got: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(got, dict) and all(k in got and subset(v, got[k]) for k, v in expected.items())
    return expected == got


def expected_span_name(o: Observed) -> str:
    method = o.case.log_method or o.case.method
    return method if o.case.route == UNMATCHED else f"{method} {o.case.route}"


@pytest.mark.parametrize("case", TABLE, ids=[c.id for c in TABLE])
def test_case(run: Run, case: Case):
    o = next(x for x in run.observed if x.case is case)
    where = f"{run.fw} {case.method} {o.path}: {o.status} {dict(o.headers)} {o.body[:400]!r}"
    assert o.status == case.status, where

    # X-Request-ID: the one sent, or one the service made (32 hex digits).
    if case.request_id_kept:
        assert o.request_id == o.sent_request_id, where
    else:
        assert HEX32.match(o.request_id) and o.request_id != o.sent_request_id, where

    # Headers.
    ctype = o.headers.get("content-type", "")
    if case.status == 204:
        assert ctype == "", where
    else:
        assert ctype.split(";")[0].strip() == JSON_TYPE, where
    if case.allow is None:
        assert "allow" not in o.headers, where
    else:
        assert {m.strip() for m in o.headers.get("allow", "").split(",")} == case.allow, where
    if case.location is None:
        assert "location" not in o.headers, where
    else:
        assert o.headers.get("location") == case.location.replace("{id}", run.saved_id), where

    # Body: none for HEAD and 204; else JSON, the error shape for 4xx and 5xx.
    if case.method == "HEAD" or case.status == 204:
        assert o.body == b"", where
    else:
        payload = o.json()
        if case.status >= 400:
            assert set(payload) == {"error"}, where
            error = payload["error"]
            assert set(error) <= {"code", "message", "request_id", "fields"}, where
            assert error["code"] == case.code and isinstance(error["message"], str) and error["message"], where
            assert error["request_id"] == o.request_id, where
            if case.fields is None:
                assert "fields" not in error, where
            else:
                assert {f["field"]: f["rule"] for f in error["fields"]} == case.fields, where
                assert all(set(f) == {"field", "rule"} for f in error["fields"]), where
        else:
            assert case.code is None
            assert case.json is None or subset(case.json, payload), where

    # One access line, with the response's request ID.
    assert len(o.access) == 1, f"{where}\naccess lines: {o.access}"
    line = o.access[0]
    level = "ERROR" if case.status >= 500 else "WARN" if case.status >= 400 else "INFO"
    # bytes: the body's length as the response states it; a HEAD response has no body,
    # whatever its GET route wrote (its Content-Length is the GET's).
    size = 0 if case.method == "HEAD" else int(o.headers.get("content-length", len(o.body)))
    want = {"msg": "request", "level": level, "method": case.log_method or case.method, "route": case.route,
            "path": o.path.split("?")[0], "status": case.status, "client_ip": case.client_ip,
            "request_id": o.request_id, "bytes": size, "user_agent": f"behaviour/{case.id}", "trace_id": o.trace_id}
    assert {k: line.get(k) for k in want} == want, f"{where}\naccess line: {line}"
    assert isinstance(line.get("latency_ms"), (int, float)) and line["latency_ms"] >= 0, line
    assert isinstance(line.get("time"), str) and line["time"], line

    # One server span, continuing the traceparent sent, named after the route template.
    assert len(o.spans) == 1, f"{where}\nspans: {[(s.name, s.kind) for s in o.spans]}"
    span = o.spans[0]
    assert span.parent_span_id == o.parent_id, where
    assert span.name == expected_span_name(o), (where, span.name)
    assert span.attributes.get("http.route") == (None if case.route == UNMATCHED else case.route), span.attributes
    assert span.attributes.get("http.response.status_code") == case.status, span.attributes
    assert span.status_code == ("ERROR" if case.status >= 500 else "UNSET"), (span.name, span.status_code)


def metric_families(series: dict[str, float]) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """{metric: [(sample name, labels, value)]} of the HTTP counter and histogram."""
    out: dict[str, list] = {}
    for key in ("requests", "duration"):
        name = obs.METRICS[key]
        suffixes = ("",) if key == "requests" else ("_bucket", "_sum", "_count")
        out[name] = [(sid.partition("{")[0], labels(sid), value) for sid, value in series.items()
                     if sid.partition("{")[0] in {name + s for s in suffixes}]
    return out


def test_metrics_name_route_templates_never_paths(run: Run):
    """The admin listener's HTTP metrics: exactly the label names of the contract, route
    labels that are the table's route templates (never a raw path), and counts that agree
    with the access log."""
    assert run.metric_names_in_source, f"{run.fw}: internal/metrics does not name {obs.METRICS}"
    families = metric_families(run.metrics)
    requests, duration = families[obs.METRICS["requests"]], families[obs.METRICS["duration"]]
    assert requests and duration, f"{run.fw}: no HTTP metrics in {sorted(run.metrics)[:20]}"
    assert {frozenset(lb) for _, lb, _ in requests} == {frozenset({"method", "route", "status"})}
    for sample, lb, _ in duration:
        names = {"method", "route", "le"} if sample.endswith("_bucket") else {"method", "route"}
        assert set(lb) == names, (sample, lb)
    routes = {lb["route"] for _, lb, _ in requests + duration}
    main_routes = {c.route for c in TABLE if c.instance == "main"}
    assert routes == main_routes, (routes ^ main_routes)
    raw = [r for r in routes if r != UNMATCHED and not r.startswith("/")] + [
        r for r in routes if re.search(r"/\d+(/|$)|/abc$|/no/such", r)]
    assert not raw, f"raw paths as route labels: {raw}"
    # The counter agrees with the access lines, request for request.
    logged = Counter((r["method"], r["route"], f"{r['status'] // 100}xx") for r in run.main_access)
    counted = Counter({(lb["method"], lb["route"], lb["status"]): int(v) for _, lb, v in requests})
    assert counted == logged


def test_sigterm_lets_the_slow_request_finish_and_logs_every_request(run: Run):
    s = run.shutdown
    assert s["alive_after_sigterm"] and s["new_connections_refused"], s
    assert s["status"] == 201 and s["exit_code"] == 0, s
    assert s["slow_request_logged"] == [(201, PRODUCTS)] and s["logged_in_order"], s
    assert s["access_lines"] == s["requests_sent"], s


# ------------------------------------------------------------------ the records, and the no-drift proof


def mask_json(value: Any, o: Observed, saved_id: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("created_at", "updated_at"):
                out[k] = "<time>"
            elif k == "request_id":
                out[k] = "<response's>" if v == o.request_id else v
            elif k == "fields" and isinstance(v, list):
                out[k] = sorted([f.get("field"), f.get("rule")] for f in v)
            elif k == "id" and str(v) == saved_id:
                out[k] = "{id}"
            else:
                out[k] = mask_json(v, o, saved_id)
        return out
    if isinstance(value, list):
        return [mask_json(v, o, saved_id) for v in value]
    return value


def record(o: Observed, saved_id: str) -> dict:
    """o without what may differ between two correct runs: times, latencies, IDs."""
    if o.request_id == o.sent_request_id:
        rid = "kept"
    else:
        rid = "generated" if HEX32.match(o.request_id) else f"other: {o.request_id}"
    headers = {
        "names": sorted(set(o.headers) - {"date"}),
        "content-type": o.headers.get("content-type"),
        "allow": sorted(m.strip() for m in o.headers["allow"].split(",")) if "allow" in o.headers else None,
        "location": location(o, saved_id),
        # The body's length varies with the times in it (RFC 3339 cuts trailing zeros), and a
        # HEAD's states its GET's: whether it is there and agrees with the body (the GET rows
        # compare the bodies byte for byte).
        "content-length": content_length(o),
        "x-request-id": rid,
    }
    try:
        body: Any = mask_json(o.json(), o, saved_id) if o.body else None
    except ValueError:
        body = None
    # The body byte for byte (key order, escaping, a trailing newline), its varying parts masked.
    raw = o.body.decode(errors="replace")
    if o.request_id:
        raw = raw.replace(f'"{o.request_id}"', '"<request id>"')
    raw = re.sub(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"', '"<time>"', raw)
    lines = []
    for line in o.access:
        masked = {}
        for k, v in line.items():
            if k == "time":
                v = "<time>"
            elif k == "latency_ms":
                v = "<ms>" if isinstance(v, (int, float)) and v >= 0 else v
            elif k == "request_id":
                v = "<response's>" if v == o.request_id else v
            elif k == "trace_id":
                v = "<sent>" if v == o.trace_id else v
            elif k == "path":
                v = "<sent>" if v == o.path.split("?")[0] else v
            elif k == "bytes":
                v = "=content-length" if str(v) == o.headers.get("content-length", str(len(o.body))) else v
            masked[k] = v
        lines.append(masked)
    spans = [{
        "name": s.name, "kind": s.kind, "status": s.status_code, "parent": "<sent>" if s.parent_span_id == o.parent_id else "?",
        "attributes": {k: s.attributes.get(k) for k in ("http.request.method", "http.route", "http.response.status_code",
                                                         "client.address")},
        "url.path": "<sent>" if s.attributes.get("url.path") == o.path.split("?")[0] else s.attributes.get("url.path"),
    } for s in o.spans]
    return {"case": o.case.id, "status": o.status, "headers": headers, "body": body, "raw body": raw, "access": lines,
            "spans": spans}


def content_length(o: Observed) -> str | None:
    value = o.headers.get("content-length")
    if value is None:
        return None
    if o.body:
        return "=body" if value == str(len(o.body)) else value
    return "<n>" if o.case.method == "HEAD" and value.isdigit() else value


def location(o: Observed, saved_id: str) -> str | None:
    value = o.headers.get("location")
    if value is not None and o.case.location and value == o.case.location.replace("{id}", saved_id):
        return o.case.location
    return value


def metrics_record(run: Run) -> dict:
    families = metric_families(run.metrics)
    out = {}
    for name, samples in families.items():
        out[name] = sorted(
            (sample, sorted(lb.items()), value if sample.endswith(("_total", "_count")) or sample == name else "<value>")
            for sample, lb, value in samples if not sample.endswith("_bucket"))
        out[name + " buckets"] = sorted({(tuple(sorted(set(lb) - {"le"})), lb["le"]) for s, lb, _ in samples
                                         if s.endswith("_bucket")})
    return out


def test_gin_and_echo_agree(runs):
    """The no-drift proof: the records of the whole table (responses, access lines, spans),
    the metrics and the shutdown are equal for Gin and Echo."""
    gin = runs("gin")
    echo = runs("echo")
    differing = []
    for g, e in zip(gin.observed, echo.observed):
        rg, re_ = record(g, gin.saved_id), record(e, echo.saved_id)
        if rg != re_:
            differing.append(f"--- {g.case.id}\n  gin:  {json.dumps(rg, sort_keys=True)}\n"
                             f"  echo: {json.dumps(re_, sort_keys=True)}")
    assert not differing, f"{len(differing)} of {len(TABLE)} cases differ:\n" + "\n".join(differing)
    assert metrics_record(gin) == metrics_record(echo)
    assert gin.shutdown == echo.shutdown
