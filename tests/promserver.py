"""A real Prometheus for the tests, from Debian's package, no containers.

Each instance runs `prometheus` (scripts/bootstrap.d/75-prometheus.sh) in its own temporary
directory (config and TSDB), listening on 127.0.0.1 only on a free port, with the lifecycle
API on so that the scrape configuration and rule files can be changed without a restart. The
process lifecycle (directory, port retries, readiness polling, stop/start, close, dying with
the test process) is tests/dbservers.py's.

    with PrometheusServer([scrape_config("svc", ["127.0.0.1:9464"])], rule_files=[rules]) as prom:
        prom.wait_for_targets("svc")                    # every target of job svc is up
        prom.wait_for('http_server_requests_total')     # a non-empty result
        prom.query('sum(rate(x[1m]))')                  # {"resultType": ..., "result": [...]}
        prom.query_range(expr, start, end, step)
        prom.series('{job="svc"}'); prom.targets(); prom.rules(); prom.alerts()
        prom.configure(scrape_configs=..., rule_files=...)   # rewrite the config, reload
    # closed: stopped and its directory removed

Pytest fixture (this module is a plugin: ``pytest_plugins = ["promserver"]``):

- ``prometheus`` (function): a factory ``prometheus(scrape_configs, rule_files=(), **kw)``
  that starts a PrometheusServer and closes it after the test; a missing binary fails the
  test (never a skip), saying to run scripts/bootstrap.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
import yaml

from dbservers import HOST, ServerError, _Server, _tail, which

BOOTSTRAP_HINT = "run scripts/bootstrap (scripts/bootstrap.d/75-prometheus.sh installs prometheus and promtool)"
INTERVAL = "1s"  # scrape and rule evaluation: a test sees data within seconds


class PrometheusError(ServerError):
    """The HTTP API answered an error (a bad query, a failed reload, ...) or did not answer."""


def scrape_config(job: str, targets: Iterable[str], *, labels: dict[str, str] | None = None,
                  metrics_path: str = "/metrics", relabel_configs: list[dict] | None = None,
                  interval: str = INTERVAL) -> dict:
    """One scrape job: static targets ("host:port"), optional fixed labels on every target
    (as a Kubernetes service discovery's relabeling would add them) and relabel_configs."""
    static: dict[str, Any] = {"targets": list(targets)}
    if labels:
        static["labels"] = dict(labels)
    job_config: dict[str, Any] = {
        "job_name": job,
        "metrics_path": metrics_path,
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "static_configs": [static],
    }
    if relabel_configs:
        job_config["relabel_configs"] = relabel_configs
    return job_config


class PrometheusServer(_Server):
    """prometheus on a free loopback port; `url` is its HTTP API's base."""

    kind = "prometheus"

    def __init__(self, scrape_configs: Iterable[dict] = (), rule_files: Iterable[Path | str] = (), *,
                 interval: str = INTERVAL, port: int | None = None, extra_args: tuple[str, ...] = ()):
        super().__init__("prometheus", port=port, extra_args=extra_args)
        self.interval = interval
        self.scrape_configs = list(scrape_configs)
        self.rule_files = [Path(p) for p in rule_files]

    # --- _Server
    @classmethod
    def binaries(cls) -> dict[str, str | None]:
        return {"prometheus": which("prometheus"), "promtool": which("promtool")}

    @classmethod
    def require(cls) -> None:
        missing = cls.missing()
        if missing:
            pytest.fail(f"PrometheusServer needs {', '.join(missing)}, not found: {BOOTSTRAP_HINT}", pytrace=False)

    @classmethod
    def version(cls) -> str:
        proc = subprocess.run([cls.binaries()["prometheus"], "--version"], capture_output=True, text=True)
        return (proc.stdout + proc.stderr).splitlines()[0]

    @property
    def config_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "prometheus.yml"

    def _write_config(self) -> None:
        assert self.dir is not None
        rules = []
        for i, path in enumerate(self.rule_files):
            # A copy of each file in the server's directory: the test may remove its project first.
            copy = self.dir / "rules" / f"{i:02d}-{path.name}"
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, copy)
            rules.append(str(copy))
        config = {
            "global": {"scrape_interval": self.interval, "scrape_timeout": self.interval,
                       "evaluation_interval": self.interval},
            "rule_files": rules,
            "scrape_configs": self.scrape_configs,
        }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def _initialize(self) -> None:
        assert self.dir is not None
        (self.dir / "data").mkdir()
        self._write_config()
        self._check_config()

    def _check_config(self) -> None:
        proc = subprocess.run([self.binaries()["promtool"], "check", "config", str(self.config_path)],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise PrometheusError(f"promtool check config {self.config_path} failed:\n{proc.stdout}{proc.stderr}\n"
                                  f"--- config\n{self.config_path.read_text()}")

    def _command(self) -> list[str]:
        assert self.dir is not None
        return [
            self.binaries()["prometheus"],
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address={HOST}:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=info",
            *self.extra_args,
        ]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> PrometheusServer:
        missing = self.missing()
        if missing:
            raise ServerError(f"PrometheusServer needs {', '.join(missing)}: {BOOTSTRAP_HINT}")
        super().start()
        return self

    # --- configuration
    def configure(self, scrape_configs: Iterable[dict] | None = None,
                  rule_files: Iterable[Path | str] | None = None) -> None:
        """Replace the scrape jobs and/or the rule files, and reload (the data is kept)."""
        if scrape_configs is not None:
            self.scrape_configs = list(scrape_configs)
        if rule_files is not None:
            self.rule_files = [Path(p) for p in rule_files]
        self._write_config()
        self._check_config()
        req = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                resp.read()
        except urllib.error.HTTPError as err:
            raise PrometheusError(f"reload failed ({err.code}): {err.read().decode(errors='replace')}") from None

    # --- HTTP API
    def api(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None) -> Any:
        """GET /api/v1/<path>; the `data` of a success, else PrometheusError with the error."""
        query = urllib.parse.urlencode(params or {}, doseq=True)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            raw = err.read().decode(errors="replace")
            try:
                body = json.loads(raw)
            except ValueError:
                raise PrometheusError(f"GET {url}: {err.code} {raw[:500]}") from None
        except OSError as err:
            raise PrometheusError(f"GET {url}: {err}; log {self.log_path}:\n{_tail(self.log_path)}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> dict:
        """An instant query: {"resultType": "vector"|"matrix"|"scalar"|"string", "result": ...}."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", params)

    def query_range(self, expr: str, start: float, end: float, step: float | str = 1) -> dict:
        return self.api("query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": step})

    def series(self, *match: str, start: float | None = None, end: float | None = None) -> list[dict]:
        """The label sets of the series matching any selector (over the whole TSDB by default)."""
        params: list[tuple[str, Any]] = [("match[]", m) for m in match]
        if start is not None:
            params.append(("start", f"{start:.3f}"))
        if end is not None:
            params.append(("end", f"{end:.3f}"))
        return self.api("series", params)

    def targets(self, state: str = "active") -> list[dict]:
        data = self.api("targets", {"state": state})
        return data.get("activeTargets" if state == "active" else "droppedTargets", [])

    def rules(self, type: str | None = None) -> list[dict]:  # noqa: A002 - the API's parameter
        """The rule groups loaded, each with its rules' health and lastError."""
        return self.api("rules", {"type": type} if type else {})["groups"]

    def alerts(self) -> list[dict]:
        return self.api("alerts")["alerts"]

    # --- waiting
    def wait_for(self, expr: str, predicate: Callable[[list], Any] | None = None, timeout: float = 30,
                 interval: float = 0.25) -> list:
        """Poll an instant query until predicate(result) is true (default: a non-empty result);
        return the result. Fails with the last result and the server's log tail."""
        predicate = predicate or bool
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.query(expr)["result"]
                if predicate(last):
                    return last
            except PrometheusError as err:
                last = err
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus: {expr!r} not as expected within {timeout} s; last: {last!r}")
            time.sleep(interval)

    def wait_for_targets(self, job: str, count: int | None = None, timeout: float = 30) -> list[dict]:
        """Wait until every active target of job (at least `count` of them) has been scraped
        successfully; return them."""
        deadline = time.monotonic() + timeout
        while True:
            targets = [t for t in self.targets() if t["labels"].get("job") == job]
            if targets and (count is None or len(targets) >= count) and all(t["health"] == "up" for t in targets):
                return targets
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus: targets of job {job!r} not all up within {timeout} s: "
                                     + json.dumps([{k: t.get(k) for k in ("scrapeUrl", "health", "lastError")}
                                                   for t in targets]))
            time.sleep(0.25)


def promtool(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run promtool; the completed process (the caller asserts on returncode and output)."""
    PrometheusServer.require()
    return subprocess.run([PrometheusServer.binaries()["promtool"], *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# ----------------------------------------------------------------------------- pytest fixture


@pytest.fixture
def prometheus():
    """prometheus(scrape_configs, rule_files=(), **kw) -> a started PrometheusServer, closed after the test."""
    started: list[PrometheusServer] = []

    def start(scrape_configs: Iterable[dict] = (), rule_files: Iterable[Path | str] = (), **kwargs) -> PrometheusServer:
        PrometheusServer.require()
        server = PrometheusServer(scrape_configs, rule_files, **kwargs)
        started.append(server)
        try:
            server.start()
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        return server

    yield start
    for server in started:
        server.close()
