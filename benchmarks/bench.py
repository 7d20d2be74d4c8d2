"""The benchmark suite: what the generated service and the template cost, against baselines.

Run it with `scripts/bench` (docs/performance.md says what it measures and how). It
generates the services it measures from the working tree, builds them and the baselines
with the same flags, and measures, alternating each subject with its baseline in the same
run (A B A B ...: the machine is shared, so only ratios from alternated rounds count):

- http:     req/s, p50 and p99 with wrk on loopback, for /livez (the service, the service
            with tracing on, a bare gin.New() hello world, gin.Default(); the service
            generated with framework: echo against a bare echo.New() hello world) and for
            the example API's read, list and write routes (the service against gin.New()
            with the same GORM and SQLite code, no middleware); every server's stdout goes
            to a file;
- startup:  exec to the first /readyz 200, idle resident memory (both services, both bare
            hello worlds); resident memory after load;
- size:     binary and image size against a bare Gin binary and image built the same way
            (and the Echo service's binary against bare Echo's);
- go:       `go test -bench` of the middleware chain in process (ns/op, allocs/op), on Gin
            and on Echo;
- copier:   `copier copy` (defaults, the full answer set) and `copier update` between two
            commits, against a one-file template.

Raw numbers go to benchmarks/results/<date>.json, the summary to docs/performance.md
between its `bench:begin` and `bench:end` markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import http.server
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from answer_sets import ANSWER_SETS  # noqa: E402

BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
DOC = ROOT / "docs" / "performance.md"
TOOLS_BIN = Path(os.environ.get("TOOLS_BIN", Path.home() / ".cache" / "copier-gin" / "bin"))
COPIER = ROOT / ".venv" / "bin" / "copier"

# The goals of issue 13 (docs/performance.md): the service against the baselines.
GOALS = {
    "throughput_vs_gin_new": 0.90,   # at least
    "throughput_vs_gin_default": 1.0,  # at least
    "p99_vs_gin_new": 1.2,  # at most
    "throughput_vs_echo_new": 0.90,  # at least: the service on Echo (framework: echo) against bare Echo
    "copy_vs_one_file": 1.5,  # at most
    "startup_ms": 50,  # at most
    "idle_rss_mb": 15,  # at most
}

ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
    GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid",
    GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
)
GO_ENV = dict(ENV, GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false", CGO_ENABLED="0",
              PATH=f"{TOOLS_BIN}{os.pathsep}{ENV.get('PATH', '')}")
GO_ENV.pop("GIN_MODE", None)

# The Echo service: the defaults but the framework.
ECHO_ANSWERS = {**ANSWER_SETS["default"], "framework": "echo"}
# Bare baselines: a row's ratios are to one of these, not the other way round.
BASELINES = ("gin.New", "gin.New+GORM", "echo.New")
ECHO_MODULE = "github.com/labstack/echo/v5"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def sh(cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: float = 1800) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env or ENV, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(map(str, cmd))} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


# ----------------------------------------------------------------------------- building


def generate(dst: Path, answers: dict, template: Path = ROOT) -> Path:
    """`copier copy` of the template (the working tree, uncommitted changes included, by
    default), committed like a team's."""
    from copier import run_copy

    run_copy(src_path=str(template), dst_path=str(dst), data=answers, defaults=True, unsafe=True, quiet=True)
    sh(["git", "init", "-q", "-b", "main"], dst)
    sh(["git", "add", "-A"], dst)
    sh(["git", "commit", "-q", "-m", "generated"], dst)
    return dst


def build_service(project: Path) -> Path:
    sh(["make", "build", "VERSION=bench", "COMMIT=bench", "DATE=2026-01-01T00:00:00Z"], project, GO_ENV)
    (binary,) = (project / "bin").iterdir()
    return binary


def gotags(project: Path) -> str:
    return re.search(r"(?m)^GOTAGS\s*\?=\s*(.*)$", (project / "Makefile").read_text()).group(1).strip()


def build_baselines(project: Path, work: Path, echo_project: Path | None = None) -> dict[str, Path]:
    """The baselines in a module of their own with the service's go.mod and go.sum (the
    same Gin, GORM and SQLite), built as `make build` builds the service; and, with
    echo_project, bare Echo in its own module (bareecho/go.mod pins Echo), with the Echo
    service's go directive (the same GODEBUG defaults) and checked to pin the same Echo."""
    module = work / "baseline"
    shutil.copytree(BENCH / "baseline", module)
    gomod = (project / "go.mod").read_text()
    (module / "go.mod").write_text(re.sub(r"(?m)^module .*$", "module benchbaseline", gomod, count=1))
    shutil.copy(project / "go.sum", module / "go.sum")
    tags = gotags(project)
    out = {}
    for name in ("bare", "bareproducts"):
        binary = module / "bin" / name
        sh(["go", "build", "-trimpath", "-tags", tags, "-ldflags", "-s -w", "-o", str(binary), f"./{name}"],
           module, GO_ENV)
        out[name] = binary
    if echo_project:
        out["bareecho"] = build_bare_echo(echo_project, module / "bareecho")
    return out


def build_bare_echo(echo_project: Path, module: Path) -> Path:
    ours = re.search(rf"(?m)^\s*(?:require\s+)?{re.escape(ECHO_MODULE)} (v\S+)", (module / "go.mod").read_text()).group(1)
    theirs = re.search(rf"(?m)^\s*{re.escape(ECHO_MODULE)} (v\S+)", (echo_project / "go.mod").read_text()).group(1)
    if ours != theirs:
        raise SystemExit(f"benchmarks/baseline/bareecho pins Echo {ours}, the generated Echo service {theirs}: in "
                         f"benchmarks/baseline/bareecho, set go.mod's {ECHO_MODULE} to {theirs} and run "
                         "`GOFLAGS=-mod=mod go mod tidy`")
    go = re.search(r"(?m)^go (\S+)", (echo_project / "go.mod").read_text()).group(1)
    sh(["go", "mod", "edit", f"-go={go}"], module, GO_ENV)
    binary = module / "bin" / "bareecho"
    sh(["go", "build", "-trimpath", "-tags", gotags(echo_project), "-ldflags", "-s -w", "-o", str(binary), "."],
       module, GO_ENV)
    return binary


# ----------------------------------------------------------------------------- servers


SERVERS: list["Server"] = []  # every subject, so that none outlives the run


class Server:
    """One subject: a binary, its environment, a port; started fresh for each round."""

    def __init__(self, name: str, binary: Path, env: dict[str, str], port: int, workdir: Path,
                 prepare=None):
        self.name, self.binary, self.env, self.port, self.workdir = name, binary, env, port, workdir
        self.prepare = prepare  # called before each start (a fresh database)
        self.proc: subprocess.Popen | None = None
        self.runs = 0
        SERVERS.append(self)

    def start(self) -> float:
        """Start it; return the seconds from exec to the first /readyz 200."""
        if self.prepare:
            self.prepare(self)
        self.runs += 1
        self.stdout = self.workdir / f"{self.name}.{self.runs}.stdout"
        with open(self.stdout, "wb") as out:
            started = time.perf_counter()
            self.proc = subprocess.Popen([str(self.binary)], env=self.env, cwd=self.workdir, stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = started + 30
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited {self.proc.returncode}:\n{self.stdout.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    took = time.perf_counter() - started
                    conn.close()
                    return took
                conn.close()
            except OSError:
                pass
            time.sleep(0.0005)
        raise SystemExit(f"{self.name} not ready within 30 s:\n{self.stdout.read_text()[-3000:]}")

    def cpu_s(self) -> float:
        """User and system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kb(self) -> dict[str, int]:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return {k: int(re.search(rf"^{k}:\s+(\d+) kB", status, re.M).group(1))
                for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def access_lines(self) -> int:
        """Lines of its stdout that are access lines (the JSON service's or Gin's)."""
        with open(self.stdout, "rb") as f:
            return sum(1 for line in f if b'"msg":"request"' in line or line.startswith(b"[GIN]"))


WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
# Route scripts: reads pick one of the seeded products; writes create unique SKUs.
WRK_ROUTES = {
    "livez": ("GET /livez", ""),
    "read": ("GET /api/v1/products/{id}", """
request = function()
  return wrk.format("GET", "/api/v1/products/" .. math.random(1, SEEDED))
end
"""),
    "list": ("GET /api/v1/products", """
request = function()
  return wrk.format("GET", "/api/v1/products")
end
"""),
    "write": ("POST /api/v1/products", """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
local run = "X"
init = function(args) run = args[1] end
request = function()
  n = n + 1
  local body = string.format('{"sku":"B%s-%d-%d","name":"Bench","price_cents":100}', run, tid, n)
  return wrk.format("POST", "/api/v1/products", {["Content-Type"] = "application/json"}, body)
end
"""),
}
SEEDED = 100
# /livez rows that take the service's costs apart: without the access log (LOG_LEVEL=warn
# drops the 2xx lines), without metrics (no admin listener), each line written at once.
DEFAULT_VARIANTS = "no-access-log:LOG_LEVEL=warn;no-metrics:ADMIN_PORT=0;unbatched-log:LOG_FLUSH_INTERVAL=0"


def wrk(port: int, route: str, seconds: float, threads: int, connections: int, work: Path, run_id: str) -> dict:
    script = work / f"wrk-{route}.lua"
    script.write_text(WRK_ROUTES[route][1].replace("SEEDED", str(SEEDED)) + WRK_REPORT)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
           f"http://127.0.0.1:{port}{'/livez' if route == 'livez' else ''}", "--", run_id]
    out = sh(cmd, timeout=seconds + 60)
    report = json.loads(out.split("BENCH ", 1)[1].splitlines()[0])
    report["rps"] = report["requests"] / (report["duration_us"] / 1e6)
    return report


def seed(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(SEEDED):
        conn.request("POST", "/api/v1/products", json.dumps({"sku": f"SEED-{i}", "name": f"Seed {i}", "price_cents": i}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 201, resp.status
    conn.close()


class TraceSink(http.server.ThreadingHTTPServer):
    """A local OTLP/HTTP endpoint that accepts POST /v1/traces and discards the spans."""

    daemon_threads = True

    def __init__(self):
        sink = self
        self.exports = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.exports += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def http_rounds(groups: list[tuple[str, list[Server]]], args, work: Path, rows: list[dict]) -> list[dict]:
    """For each route, every round starts each server fresh, in an order rotated per round,
    warms it up, measures it, reads its memory, stops it; each measurement is appended to
    rows as soon as it is made."""
    for route, servers in groups:
        for rnd in range(args.rounds):
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for server in order:
                server.start()
                if route in ("read", "list"):
                    seed(server.port)
                run_id = re.sub(r"[^A-Za-z0-9]", "", server.name) + str(rnd)  # part of SKUs: [A-Z0-9-]
                wrk(server.port, route, args.warmup, args.threads, args.connections, work, run_id + "w")
                cpu = server.cpu_s()
                report = wrk(server.port, route, args.duration, args.threads, args.connections, work, run_id)
                report["cpu_us_per_request"] = (server.cpu_s() - cpu) * 1e6 / max(report["requests"], 1)
                mem = server.rss_kb()
                code = server.stop()
                report.update(route=route, server=server.name, round=rnd, exit_code=code,
                              rss_after_load_kb=mem["VmRSS"], peak_rss_kb=mem["VmHWM"],
                              rss_anon_after_load_kb=mem["RssAnon"],
                              access_lines=server.access_lines(), load1=os.getloadavg()[0])
                rows.append(report)
                log(f"{route:5} round {rnd + 1}/{args.rounds} {server.name:16} {report['rps']:9.0f} req/s "
                    f"p50 {report['p50_us'] / 1000:6.2f} ms p99 {report['p99_us'] / 1000:6.2f} ms "
                    f"cpu {report['cpu_us_per_request']:5.1f} us/req"
                    + (f" non-2xx {report['non2xx']}" if report["non2xx"] else ""))
    return rows


def startup_rounds(servers: list[Server], rounds: int) -> list[dict]:
    rows = []
    for rnd in range(rounds):
        for server in servers if rnd % 2 == 0 else servers[::-1]:
            took = server.start()
            time.sleep(1)  # idle: whatever the start left running has settled
            mem = server.rss_kb()
            server.stop()
            rows.append({"server": server.name, "round": rnd, "ready_ms": took * 1000, "idle_rss_kb": mem["VmRSS"],
                         "idle_rss_anon_kb": mem["RssAnon"], "idle_rss_file_kb": mem["RssFile"]})
    return rows


# ----------------------------------------------------------------------------- sizes


def image_sizes(project: Path, baseline: Path, work: Path) -> dict:
    """Build the service's image from its Dockerfile and a bare Gin image the same way (the
    same build stage and runtime base), with podman and the test suite's local stand-ins
    for the base images (tests/containers.py): no registry is reachable here."""
    if shutil.which("podman") is None or os.geteuid() != 0:
        return {"skipped": "podman is not installed or this is not root (docs/containers.md)"}
    import containers  # tests/containers.py

    standins = containers.ensure_standins()
    service_tag, bare_tag = "localhost/copier-gin-bench-service:latest", "localhost/copier-gin-bench-bare:latest"
    containers.build_image(project, service_tag, standins, {"VERSION": "bench"})
    dockerfile = (project / "Dockerfile").read_text()
    refs = [f.ref for f in containers.parse_from_lines(dockerfile)]
    tags = gotags(project)
    context = work / "bare-image"
    shutil.copytree(baseline, context, ignore=shutil.ignore_patterns("bin"))
    (context / "Dockerfile").write_text(f"""\
FROM --platform=$BUILDPLATFORM {refs[0]} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \\
    GOOS=${{TARGETOS}} GOARCH=${{TARGETARCH}} go build -trimpath -tags {tags} -ldflags "-s -w" -o /out/bare ./bare
FROM {refs[-1]}
COPY --from=build /out/bare /bare
USER 65532:65532
ENTRYPOINT ["/bare"]
""")
    containers.build_image(context, bare_tag, standins, {})
    size = lambda tag: int(containers.podman("image", "inspect", tag, "--format", "{{.Size}}").stdout.strip())  # noqa: E731
    runtime = standins.images["runtime"]
    out = {"service_bytes": size(service_tag), "bare_bytes": size(bare_tag), "runtime_base_bytes": size(runtime),
           "note": "runtime base: the local distroless static nonroot stand-in (tests/containers.py)"}
    for tag in (service_tag, bare_tag):
        containers.podman("rmi", tag, check=False)
    return out


# ----------------------------------------------------------------------------- go test -bench


def go_bench(project: Path, count: int, source: str = "chain_bench_test.go") -> dict:
    module = re.search(r"(?m)^module (\S+)", (project / "go.mod").read_text()).group(1)
    # The framework's file and the part every framework shares.
    copies = {project / "internal" / "httpserver" / f"benchsuite{i}_test.go": BENCH / "go" / name
              for i, name in enumerate((source, "chain_common_test.go"))}
    for dst, src in copies.items():
        dst.write_text(src.read_text().replace("MODULE", module))
    tags = gotags(project)
    out = sh(["go", "test", "-tags", tags, "-run", "^$", "-bench", "^BenchmarkChain$", "-benchmem",
              "-count", str(count), "./internal/httpserver"], project, GO_ENV, timeout=1800)
    for dst in copies:
        dst.unlink()
    rows: dict[str, dict[str, list[float]]] = {}
    for m in re.finditer(r"^BenchmarkChain/engine=(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op",
                         out, re.M):
        r = rows.setdefault(m.group(1), {"ns_op": [], "b_op": [], "allocs_op": []})
        r["ns_op"].append(float(m.group(2)))
        r["b_op"].append(float(m.group(3)))
        r["allocs_op"].append(float(m.group(4)))
    result = {"raw": out, "engines": rows}
    benchstat = shutil.which("benchstat", path=f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if benchstat:
        raw = project / "bench.txt"
        raw.write_text(out)
        result["benchstat"] = sh([benchstat, "-col", "/engine", str(raw)], project)
    return result


# ----------------------------------------------------------------------------- copier


ONE_FILE_COPIER_YML = """\
_subdirectory: template
project_name:
  type: str
  default: One File
"""


def export_ref(ref: str, dst: Path) -> Path:
    """The template as it was at commit ref, in dst (git archive: the repository is untouched)."""
    dst.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    return dst


def working_tree(dst: Path) -> Path:
    """The working tree's files (uncommitted changes included) in dst."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if ".egg-info/" in rel or not src.is_file() or rel.startswith("benchmarks/results/"):
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst / rel)
    return dst


def copier_templates(work: Path, before: Path | None = None) -> dict[str, Path]:
    """The working tree (and the template at --before) as git repositories tagged 0.1.0,
    with a one-line change tagged 0.1.1 (as scripts/bench-copier makes it), and a one-file
    template tagged the same way."""
    repo = working_tree(work / "template")
    out = {"template": repo}
    if before:
        out["before"] = work / "template-before"
        shutil.copytree(before, out["before"])
    one = work / "one-file"
    (one / "template").mkdir(parents=True)
    (one / "copier.yml").write_text(ONE_FILE_COPIER_YML)
    (one / "template" / "README.md.jinja").write_text("# {{ project_name }}\n")
    (one / "template" / "{{_copier_conf.answers_file}}.jinja").write_text(
        "# Changes here will be overwritten by Copier\n{{ _copier_answers|to_nice_yaml -}}\n")
    out["one-file"] = one
    for path in out.values():
        changed = one / "template" / "README.md.jinja"
        if path != one:  # a generated file that is the same for every answer set
            changed = next(p for p in (path / "template/docs/updating.md.jinja", path / "template/docs/updating.md")
                           if p.exists())
        sh(["git", "init", "-q", "-b", "main"], path)
        sh(["git", "add", "-A"], path)
        sh(["git", "commit", "-q", "-m", "0.1.0"], path)
        sh(["git", "tag", "-a", "0.1.0", "-m", "0.1.0"], path)
        with changed.open("a") as fh:
            fh.write("\nA line added by the benchmark's 0.1.1.\n")
        sh(["git", "add", "-A"], path)
        sh(["git", "commit", "-q", "-m", "0.1.1"], path)
        sh(["git", "tag", "-a", "0.1.1", "-m", "0.1.1"], path)
    return out


def copier_rounds(work: Path, rounds: int, before: Path | None = None) -> list[dict]:
    templates = copier_templates(work, before)
    q = shlex.quote
    data = {}
    for name in ("default", "full"):
        data[name] = work / f"{name}.yml"
        data[name].write_text(json.dumps(ANSWER_SETS[name]))  # JSON is YAML

    def copy_cmd(template: Path, dst: Path, answers: Path | None) -> str:
        extra = f"--data-file {q(str(answers))} " if answers else ""
        return f"{q(str(COPIER))} copy --trust --defaults --quiet --vcs-ref 0.1.0 {extra}{q(str(template))} {q(str(dst))}"

    cases = {
        "copy one-file": (copy_cmd(templates["one-file"], work / "c-one", None), f"rm -rf {q(str(work / 'c-one'))}"),
        "copy default": (copy_cmd(templates["template"], work / "c-default", data["default"]),
                         f"rm -rf {q(str(work / 'c-default'))}"),
        "copy full": (copy_cmd(templates["template"], work / "c-full", data["full"]), f"rm -rf {q(str(work / 'c-full'))}"),
    }
    if "before" in templates:
        cases["copy full (before)"] = (copy_cmd(templates["before"], work / "c-before", data["full"]),
                                       f"rm -rf {q(str(work / 'c-before'))}")
    for name, template, answers in (("one-file", templates["one-file"], None), ("full", templates["template"], data["full"])):
        project = work / f"u-{name}"
        subprocess.run(copy_cmd(template, project, answers), shell=True, env=ENV, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sh(["git", "init", "-q", "-b", "main"], project)
        sh(["git", "add", "-A"], project)
        sh(["git", "commit", "-q", "-m", "generated"], project)
        cases[f"update {name}"] = (
            f"cd {q(str(project))} && {q(str(COPIER))} update --trust --defaults --quiet --conflict inline --vcs-ref 0.1.1",
            f"cd {q(str(project))} && git reset -q --hard && git clean -qfdx",
        )
    rows = []
    for rnd in range(rounds):
        for name, (cmd, prep) in cases.items():
            subprocess.run(prep, shell=True, env=ENV, check=True, stdout=subprocess.DEVNULL)
            start = time.perf_counter()
            proc = subprocess.run(cmd, shell=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            took = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"{cmd} exited {proc.returncode}: {proc.stderr[-2000:]}")
            rows.append({"case": name, "round": rnd, "seconds": took})
        log(f"copier round {rnd + 1}/{rounds}: " + ", ".join(f"{r['case']} {r['seconds']:.2f}s" for r in rows[-len(cases):]))
    # The updates really took the change: a benchmark of a no-op would be meaningless.
    assert "A line added by the benchmark's 0.1.1." in (work / "u-full" / "docs" / "updating.md").read_text()
    assert "A line added by the benchmark's 0.1.1." in (work / "u-one-file" / "README.md").read_text()
    return rows


# ----------------------------------------------------------------------------- report


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) // 1024
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "kernel": platform.release(),
            "os": platform.freedesktop_os_release().get("PRETTY_NAME", "") if hasattr(platform, "freedesktop_os_release") else ""}


def versions(project: Path, echo_project: Path | None = None) -> dict:
    def first_line(cmd: list[str]) -> str:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            return (proc.stdout or proc.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "absent"

    gomod = (project / "go.mod").read_text()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    out = {
        "template_commit": commit + ("+changes" if dirty else ""),
        "go": first_line(["go", "version"]),
        "gin": re.search(r"github.com/gin-gonic/gin (v\S+)", gomod).group(1),
        "gorm": re.search(r"gorm.io/gorm (v\S+)", gomod).group(1),
        "wrk": first_line(["wrk", "-v"]),
        "hyperfine": first_line(["hyperfine", "--version"]),
        "copier": first_line([str(COPIER), "--version"]),
        "python": platform.python_version(),
    }
    if echo_project:
        out["echo"] = re.search(rf"{re.escape(ECHO_MODULE)} (v\S+)", (echo_project / "go.mod").read_text()).group(1)
    return out


def baseline_of(server: str, servers) -> str | None:
    """The bare baseline a row's ratios are to: bare Echo for the Echo service's rows, bare
    Gin (gin.New, or gin.New+GORM on the example API's routes) for the others; None for a
    baseline itself or when the route has no baseline."""
    if server in BASELINES:
        return None
    candidates = ("echo.New",) if "(echo)" in server else ("gin.New", "gin.New+GORM")
    return next((b for b in candidates if b in servers), None)


def summarize(results: dict) -> dict:
    s: dict = {"http": {}, "goals": {}}
    by: dict[tuple[str, str], list[dict]] = {}
    for row in results.get("http", []):
        by.setdefault((row["route"], row["server"]), []).append(row)
    for (route, server), rows in by.items():
        s["http"].setdefault(route, {})[server] = {
            "rps": median([r["rps"] for r in rows]),
            "p50_ms": median([r["p50_us"] / 1000 for r in rows]),
            "p99_ms": median([r["p99_us"] / 1000 for r in rows]),
            "rss_after_load_mb": median([r["rss_after_load_kb"] / 1024 for r in rows]),
            "rss_anon_after_load_mb": median([r["rss_anon_after_load_kb"] / 1024 for r in rows]),
            "cpu_us_per_request": median([r["cpu_us_per_request"] for r in rows]),
            "non2xx": sum(r["non2xx"] for r in rows),
            "errors": sum(r["errors"] for r in rows),
            "rounds": len(rows),
        }

    def paired_ratios(route: str, a: str, b: str, key: str) -> list[float]:
        rows_a = {r["round"]: r for r in by.get((route, a), [])}
        rows_b = {r["round"]: r for r in by.get((route, b), [])}
        return [rows_a[k][key] / rows_b[k][key] for k in sorted(rows_a) if k in rows_b and rows_b[k][key]]

    s["ratios"] = {}
    for route, servers in s["http"].items():
        for server in servers:
            base = baseline_of(server, servers)
            if not base:
                continue
            for key, label in (("rps", "rps"), ("p99_us", "p99")):
                pr = paired_ratios(route, server, base, key)
                med = servers[server]["rps" if key == "rps" else "p99_ms"] / servers[base]["rps" if key == "rps" else "p99_ms"]
                s["ratios"][f"{route} {server} / {base} {label}"] = {
                    "ratio_of_medians": med, "paired_min": min(pr) if pr else None, "paired_max": max(pr) if pr else None}
        # Other pairs worth a ratio: the service against gin.Default(); the two frameworks,
        # bare against bare and service against service.
        for a, b in (("service", "gin.Default"), ("echo.New", "gin.New"), ("service (echo)", "service")):
            if a in servers and b in servers:
                pr = paired_ratios(route, a, b, "rps")
                s["ratios"][f"{route} {a} / {b} rps"] = {
                    "ratio_of_medians": servers[a]["rps"] / servers[b]["rps"],
                    "paired_min": min(pr) if pr else None, "paired_max": max(pr) if pr else None}
    st: dict[str, list[dict]] = {}
    for row in results.get("startup", []):
        st.setdefault(row["server"], []).append(row)
    s["startup"] = {k: {"ready_ms": median([r["ready_ms"] for r in v]), "ready_ms_max": max(r["ready_ms"] for r in v),
                        "idle_rss_mb": median([r["idle_rss_kb"] / 1024 for r in v]),
                        "idle_rss_anon_mb": median([r["idle_rss_anon_kb"] / 1024 for r in v]),
                        "idle_rss_file_mb": median([r["idle_rss_file_kb"] / 1024 for r in v]), "rounds": len(v)}
                    for k, v in st.items()}
    cp: dict[str, list[float]] = {}
    for row in results.get("copier", []):
        cp.setdefault(row["case"], []).append(row["seconds"])
    s["copier"] = {k: {"median_s": median(v), "min_s": min(v), "max_s": max(v), "runs": len(v)} for k, v in cp.items()}
    go = results.get("go", {}).get("engines", {})
    s["go"] = {k: {m: median(v[m]) for m in ("ns_op", "b_op", "allocs_op")} for k, v in go.items()}
    # The Echo service's chain (go_echo): its engine "service" is "service (echo)" here.
    for k, v in results.get("go_echo", {}).get("engines", {}).items():
        s["go"]["service (echo)" if k == "service" else k] = {m: median(v[m]) for m in ("ns_op", "b_op", "allocs_op")}

    g = s["goals"]
    livez = s["http"].get("livez", {})
    if {"service", "gin.New"} <= set(livez):
        g["throughput_vs_gin_new"] = livez["service"]["rps"] / livez["gin.New"]["rps"]
        g["p99_vs_gin_new"] = livez["service"]["p99_ms"] / livez["gin.New"]["p99_ms"]
    if {"service", "gin.Default"} <= set(livez):
        g["throughput_vs_gin_default"] = livez["service"]["rps"] / livez["gin.Default"]["rps"]
    if {"service (echo)", "echo.New"} <= set(livez):
        g["throughput_vs_echo_new"] = livez["service (echo)"]["rps"] / livez["echo.New"]["rps"]
    if {"copy full", "copy one-file"} <= set(s["copier"]):
        g["copy_vs_one_file"] = s["copier"]["copy full"]["median_s"] / s["copier"]["copy one-file"]["median_s"]
    if "service" in s["startup"]:
        g["startup_ms"] = s["startup"]["service"]["ready_ms"]
        g["idle_rss_mb"] = s["startup"]["service"]["idle_rss_mb"]
    return s


def verdict(goal: str, value: float) -> str:
    limit = GOALS[goal]
    ok = value >= limit if goal.startswith("throughput") else value <= limit
    return "met" if ok else "missed"


def render(results: dict) -> str:
    s = results["summary"]
    a = results["args"]
    lines = [
        f"Run of {results['date']} ([`benchmarks/results/{results['file']}`](../benchmarks/results/{results['file']})), "
        f"template `{results['versions']['template_commit']}`: `{results['command']}`.",
        "",
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
        f"{results['machine']['memory_mb']} MB, Linux {results['machine']['kernel']} ({results['machine']['os']}); "
        f"load average {results['load_before'][0]:.1f} before, {results['load_after'][0]:.1f} after"
        + (f", {min(r['load1'] for r in results['http']):.1f} to {max(r['load1'] for r in results['http']):.1f} "
           "during the HTTP rounds" if results.get("http") else "")
        + " (shared with other jobs). "
        f"{results['versions']['go']}; Gin {results['versions']['gin']}, "
        + (f"Echo {results['versions']['echo']}, " if "echo" in results["versions"] else "")
        + f"GORM {results['versions']['gorm']}; "
        f"{results['versions']['wrk']}; copier {results['versions']['copier'].split()[-1]}.",
        "",
    ]
    if s["goals"]:
        lines += ["| goal | target | measured | |", "|---|---|---|---|"]
        labels = {
            "throughput_vs_gin_new": ("`/livez` req/s vs bare `gin.New()`", "≥ 0.90×", "{:.2f}×"),
            "throughput_vs_gin_default": ("`/livez` req/s vs `gin.Default()`", "≥ 1.0×", "{:.2f}×"),
            "p99_vs_gin_new": ("`/livez` p99 vs bare `gin.New()`", "≤ 1.2×", "{:.2f}×"),
            "throughput_vs_echo_new": ("`/livez` req/s, the Echo service vs bare `echo.New()`", "≥ 0.90×", "{:.2f}×"),
            "copy_vs_one_file": ("`copier copy` (full answers) vs a one-file template", "≤ 1.5×", "{:.2f}×"),
            "startup_ms": ("exec to `/readyz` 200", "≤ 50 ms", "{:.0f} ms"),
            "idle_rss_mb": ("resident memory, idle", "≤ 15 MB", "{:.1f} MB"),
        }
        for goal, value in s["goals"].items():
            label, target, fmt = labels[goal]
            lines.append(f"| {label} | {target} | {fmt.format(value)} | {verdict(goal, value)} |")
        lines.append("")
    if s["http"]:
        lines += [
            f"HTTP on loopback: `wrk -t{a['threads']} -c{a['connections']} -d{a['duration']}s` after a {a['warmup']} s "
            f"warm-up, {a['rounds']} rounds, each server started fresh per round in an order rotated per round; "
            "medians over the rounds; the ratio is to the route's bare baseline, with the range of the per-round "
            "(adjacent) ratios"
            + ("; the Echo service's (framework: echo) is to bare `echo.New()`." if "echo.New" in s["http"].get("livez", {})
               else "."),
            "",
            "| route | server | req/s | ratio (rounds) | p50 ms | p99 ms | p99 ratio | CPU µs/request | RSS after load (anonymous) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for route, servers in s["http"].items():
            for server, v in servers.items():
                base = baseline_of(server, servers)
                key = f"{route} {server} / {base} rps" if base else None
                r = s["ratios"].get(key) if key else None
                p99 = s["ratios"].get(key[:-4] + " p99") if key else None
                ratio = f"{r['ratio_of_medians']:.2f}× ({r['paired_min']:.2f}–{r['paired_max']:.2f})" if r else "1"
                p99r = f"{p99['ratio_of_medians']:.2f}×" if p99 else "1"
                note = f" ({v['non2xx']} non-2xx)" if v["non2xx"] else ""
                lines.append(f"| {WRK_ROUTES[route][0]} | {server} | {v['rps']:,.0f}{note} | {ratio} | {v['p50_ms']:.2f} | "
                             f"{v['p99_ms']:.2f} | {p99r} | {v['cpu_us_per_request']:.1f} | "
                             f"{v['rss_after_load_mb']:.1f} MB ({v['rss_anon_after_load_mb']:.1f} MB) |")
        pairs = (("livez service / gin.Default rps", "the service against `gin.Default()`"),
                 ("livez echo.New / gin.New rps", "bare `echo.New()` against bare `gin.New()`"),
                 ("livez service (echo) / service rps", "the Echo service against the Gin service"))
        said = [f"{what}: {r['ratio_of_medians']:.2f}× ({r['paired_min']:.2f}–{r['paired_max']:.2f} per round)"
                for key, what in pairs if (r := s["ratios"].get(key)) and r["paired_min"] is not None]
        if said:
            lines.append("")
            lines.append(f"`/livez`, {'; '.join(said)}.")
        lines.append("")
    if s["startup"]:
        lines += [f"Startup, {a['startup_rounds']} rounds alternating (the database migrated beforehand, as a "
                  "deployment does), and resident memory 1 s after `/readyz` answered:", "",
                  "| server | exec to `/readyz` 200 (median, max) | resident memory idle | of which anonymous | of which the binary's pages |",
                  "|---|---|---|---|---|"]
        for server, v in s["startup"].items():
            lines.append(f"| {server} | {v['ready_ms']:.1f} ms, {v['ready_ms_max']:.1f} ms | {v['idle_rss_mb']:.1f} MB | "
                         f"{v['idle_rss_anon_mb']:.1f} MB | {v['idle_rss_file_mb']:.1f} MB |")
        lines.append("")
    sizes = results.get("sizes", {})
    if sizes:
        b = sizes["binary"]
        lines.append(f"Binary (`-trimpath -ldflags \"-s -w\"`, tags {sizes['tags']}): the service "
                     f"{b['service'] / 2**20:.1f} MiB, bare Gin {b['bare'] / 2**20:.1f} MiB "
                     f"({b['service'] / b['bare']:.1f}×)"
                     + (f"; the Echo service {b['service_echo'] / 2**20:.1f} MiB, bare Echo {b['bare_echo'] / 2**20:.1f} MiB "
                        f"({b['service_echo'] / b['bare_echo']:.1f}×)." if "service_echo" in b else "."))
        img = sizes.get("image", {})
        if "service_bytes" in img:
            lines.append(f"Image: the service {img['service_bytes'] / 1e6:.1f} MB, bare Gin built the same way "
                         f"{img['bare_bytes'] / 1e6:.1f} MB, of which the runtime base {img['runtime_base_bytes'] / 1e6:.1f} MB "
                         f"({img['note']}).")
        elif img:
            lines.append(f"Image: not measured ({img.get('skipped')}).")
        lines.append("")
    if s["go"]:
        lines += ["In process, `go test -bench` of `GET /livez` through the handler, no network "
                  f"(`-count {a['go_count']}`, medians; ns/op is wall time per request with 2 goroutines per core):", "",
                  "| engine | ns/op | B/op | allocs/op |", "|---|---|---|---|"]
        for engine, v in s["go"].items():
            lines.append(f"| {engine} | {v['ns_op']:,.0f} | {v['b_op']:,.0f} | {v['allocs_op']:.0f} |")
        lines.append("")
    if s["copier"]:
        lines += [f"Copier, {a['copier_rounds']} rounds alternating the cases, whole commands timed:", "",
                  "| case | median | min – max | vs one-file |", "|---|---|---|---|"]
        for case, v in s["copier"].items():
            base = s["copier"].get("copy one-file" if case.startswith("copy") else "update one-file")
            rel = f"{v['median_s'] / base['median_s']:.2f}×" if base else ""
            lines.append(f"| `copier {case}` | {v['median_s']:.2f} s | {v['min_s']:.2f} – {v['max_s']:.2f} s | {rel} |")
        lines.append("")
    return "\n".join(lines)


def write_doc(summary_md: str) -> None:
    text = DOC.read_text() if DOC.exists() else "<!-- bench:begin -->\n<!-- bench:end -->\n"
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    DOC.write_text(f"{head}{begin}\n{summary_md}\n{end}{tail}")


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="http,startup,size,go,copier",
                        help="comma-separated parts to run (http, startup, size, go, copier)")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds per route (default 5)")
    parser.add_argument("--duration", type=int, default=5, help="seconds measured per wrk run (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of wrk warm-up before each (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--routes", default="livez,read,list,write", help="HTTP routes (livez, read, list, write)")
    parser.add_argument("--no-tracing", action="store_true", help="skip the /livez row with tracing on")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help="more /livez rows of the service with other settings: 'NAME:KEY=VALUE,...;...' "
                             "(KEY without the prefix); '' for none")
    parser.add_argument("--startup-rounds", type=int, default=15)
    parser.add_argument("--go-count", type=int, default=6, help="go test -bench -count (default 6)")
    parser.add_argument("--copier-rounds", type=int, default=5)
    parser.add_argument("--no-image", action="store_true", help="skip the image build")
    parser.add_argument("--no-echo", action="store_true",
                        help="skip the Echo service (framework: echo) and bare Echo: their /livez, startup, "
                             "size and go rows")
    parser.add_argument("--before", metavar="REF",
                        help="also measure the template at this commit, alternated with the rest: "
                             "a /livez row, a startup row and a copier copy row, marked (before)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 round of 1 s per route, 3 startups, no image, -count 1, 1 copier round")
    parser.add_argument("--no-write", action="store_true", help="print the summary; write no result file nor the doc")
    parser.add_argument("--json", metavar="PATH", type=Path,
                        help="also write the results (summary included) to PATH, even with --quick or --no-write "
                             "(a smoke run's numbers, kept out of benchmarks/results/)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (servers' stdout and all)")
    parser.add_argument("--render", metavar="RESULTS_JSON", type=Path,
                        help="measure nothing: rewrite docs/performance.md's summary from a results file")
    args = parser.parse_args()
    if args.render:
        results = json.loads(args.render.read_text())
        results["summary"] = summarize(results)
        write_doc(render(results))
        log(f"wrote the summary of {args.render} in {DOC}")
        return 0
    if args.quick:
        args.rounds, args.duration, args.warmup, args.startup_rounds = 1, 1, 1, 3
        args.go_count, args.copier_rounds, args.no_image, args.no_write = 1, 1, True, True
    parts = set(args.only.split(","))
    routes = [r for r in args.routes.split(",") if r]

    for tool in ("wrk", "git", "make", "go"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: run scripts/bootstrap (scripts/bench does)")
    started = dt.datetime.now(dt.timezone.utc)
    work = Path(tempfile.mkdtemp(prefix="copier-gin-bench."))
    results: dict = {
        "date": started.strftime("%Y-%m-%d"), "started": started.isoformat(timespec="seconds"),
        "command": "scripts/bench " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine(), "load_before": list(os.getloadavg()),
    }
    try:
        log(f"generating and building the default service and the baselines in {work}")
        project = generate(work / "service", ANSWER_SETS["default"])
        binary = build_service(project)
        echo_project = echo_binary = None
        if not args.no_echo and parts & {"http", "startup", "size", "go"}:
            log("generating and building the service on Echo (framework: echo)")
            echo_project = generate(work / "service-echo", ECHO_ANSWERS)
            echo_binary = build_service(echo_project)
        before_src = before_binary = None
        if args.before:
            before_src = export_ref(args.before, work / "before-src")
            if parts & {"http", "startup"}:
                log(f"generating and building the service of {args.before} (--before)")
                before_binary = build_service(generate(work / "service-before", ANSWER_SETS["default"], before_src))
        baselines = build_baselines(project, work, echo_project)
        results["versions"] = versions(project, echo_project)
        prefix = re.search(r'(?m)^const Prefix = "(\w+)_"', (project / "internal/config/config.go").read_text()).group(1)
        if echo_project:  # the same answers but the framework: the same settings
            assert prefix == re.search(r'(?m)^const Prefix = "(\w+)_"',
                                       (echo_project / "internal/config/config.go").read_text()).group(1)
        run_dir = work / "run"
        run_dir.mkdir()
        base_env = {k: v for k, v in ENV.items() if not k.startswith((prefix + "_", "OTEL_", "GIN_MODE"))}

        def service(name: str, extra: dict[str, str] | None = None, binary: Path = binary) -> Server:
            port = free_port()
            db = run_dir / f"{name}.db"
            env = dict(base_env, **{f"{prefix}_HTTP_HOST": "127.0.0.1", f"{prefix}_HTTP_PORT": str(port),
                                    f"{prefix}_ADMIN_HOST": "127.0.0.1", f"{prefix}_ADMIN_PORT": str(free_port()),
                                    f"{prefix}_DATABASE_URL": f"file:{db}",
                                    f"{prefix}_DATABASE_MIGRATE_ON_START": "true"})
            env.update(extra or {})
            return Server(name, binary, env, port, run_dir, prepare=lambda s: fresh_db(db))

        def bare(name: str, kind: str) -> Server:
            port = free_port()
            db = run_dir / f"{name}.db"
            env = dict(base_env, BENCH_ADDR=f"127.0.0.1:{port}", BENCH_DB=str(db),
                       BENCH_GIN="default" if kind == "default" else "new")
            binary_ = baselines["bareproducts" if kind == "products" else "bareecho" if kind == "echo" else "bare"]
            return Server(name, binary_, env, port, run_dir, prepare=lambda s: fresh_db(db))

        def fresh_db(db: Path) -> None:
            for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                p.unlink(missing_ok=True)

        def part(name: str, run) -> None:
            """Run one part; a failure is recorded and the other parts still run."""
            if name not in parts:
                return
            try:
                run()
            except (Exception, SystemExit) as exc:  # noqa: BLE001 (reported in the results)
                log(f"{name} failed: {exc}")
                results.setdefault("errors", {})[name] = str(exc)[-3000:]

        def run_http() -> None:
            groups = []
            sink = None
            for route in routes:
                if route == "livez":
                    servers = [service("service"), bare("gin.New", "new"), bare("gin.Default", "default")]
                    if echo_binary:  # adjacent, so that rotating the order keeps them mostly next to each other
                        servers += [service("service (echo)", binary=echo_binary), bare("echo.New", "echo")]
                    for spec in filter(None, args.variants.split(";")):
                        name, _, settings = spec.partition(":")
                        extra = dict(kv.split("=", 1) for kv in settings.split(",") if kv)
                        servers.append(service(f"service {name}", {f"{prefix}_{k}": v for k, v in extra.items()}))
                    if before_binary:
                        servers.append(service("service (before)", binary=before_binary))
                    if not args.no_tracing:
                        sink = TraceSink()
                        servers.insert(1, service("service+tracing", {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint}))
                else:
                    servers = [service("service"), bare("gin.New+GORM", "products")]
                groups.append((route, servers))
            results["http"] = []
            http_rounds(groups, args, work, results["http"])
            if sink:
                results["trace_exports"] = sink.exports
                sink.shutdown()

        def migrated(name: str, exe: Path) -> Server:
            """The service with its database migrated beforehand, as a deployment does (migrate
            up once per release)."""
            starting = service(name, {f"{prefix}_DATABASE_MIGRATE_ON_START": "false"}, binary=exe)
            fresh_db(run_dir / f"{name}.db")
            sh([str(exe), "migrate", "up"], run_dir, starting.env)
            starting.prepare = None
            return starting

        def run_startup() -> None:
            log("startup and idle memory")
            starting = migrated("service", binary)
            subjects = [starting, bare("gin.New", "new")]
            if echo_binary:
                subjects += [migrated("service (echo)", echo_binary), bare("echo.New", "echo")]
            if before_binary:
                subjects.insert(1, service("service (before)", {
                    f"{prefix}_DATABASE_MIGRATE_ON_START": "false",
                    f"{prefix}_DATABASE_URL": starting.env[f"{prefix}_DATABASE_URL"]}, binary=before_binary))
                subjects[1].prepare = None
            results["startup"] = startup_rounds(subjects, args.startup_rounds)

        def run_size() -> None:
            tags = gotags(project)
            results["sizes"] = {"tags": tags, "binary": {"service": binary.stat().st_size,
                                                          "bare": baselines["bare"].stat().st_size}}
            if echo_binary:  # the binaries only: an Echo image would add only the same runtime base
                results["sizes"]["binary"].update(service_echo=echo_binary.stat().st_size,
                                                  bare_echo=baselines["bareecho"].stat().st_size)
            if not args.no_image:
                log("building the images (podman)")
                results["sizes"]["image"] = image_sizes(project, work / "baseline", work)

        def run_go() -> None:
            log(f"go test -bench, -count {args.go_count}")
            results["go"] = go_bench(project, args.go_count)
            if echo_project:
                results["go_echo"] = go_bench(echo_project, args.go_count, "chain_echo_bench_test.go")

        def run_copier() -> None:
            log("copier copy and update")
            results["copier"] = copier_rounds(work / "copier", args.copier_rounds, before_src)

        for name, run in (("http", run_http), ("startup", run_startup), ("size", run_size), ("go", run_go),
                          ("copier", run_copier)):
            part(name, run)
    finally:
        for server in SERVERS:
            if server.proc and server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = list(os.getloadavg())
    results["summary"] = summarize(results)
    results["file"] = f"{results['date']}.json"
    summary_md = render(results)
    print(summary_md)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        log(f"wrote {args.json}")
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / results["file"]).write_text(json.dumps(results, indent=1) + "\n")
        log(f"wrote {RESULTS / results['file']}")
        if not results.get("errors"):  # a partial run leaves the last summary alone
            write_doc(summary_md)
            log(f"wrote the summary in {DOC}")
    if results.get("errors"):
        log(f"failed parts: {', '.join(results['errors'])}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
