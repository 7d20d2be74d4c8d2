"""One-host deployment end to end (issue 4), no containers.

The generated service is built (`make build`), the generated supervisord program runs
its instances, and the generated Nginx config (bare-host layout) runs in front of them,
all on loopback. Only host-specific locations are rewritten (see deploy_tools): paths
into a temp dir, the instances' ports and Nginx's 80/443 to free high loopback ports,
and the program's `user=` from the service's system user (absent here) to `nobody`, so
the instances still run unprivileged although the tests run as root.

Scenarios: HTTP redirects and HTTPS (HTTP/1.1 and HTTP/2) through Nginx reach every
instance; the client IP the service logs is the real client's and a spoofed
X-Forwarded-For is not believed; SIGKILL of one instance under steady load fails no
request and supervisord restarts it; the service's real log lines are what Filebeat's
config reads; SIGTERM to supervisord under load lets in-flight requests finish.
The load is bounded in count and time and goes to loopback only.
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.client
import collections
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import deploy_tools as dt
from answer_sets import ANSWER_SETS
from conftest import ROOT, TOOLS_BIN, read_response
from test_deploy_data import data_secret_env

sys.path.insert(0, str(ROOT / "extensions"))
import settings  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("deploy-e2e")]

NAME = "full"  # 4 instances, Filebeat on, a long shutdown timeout, a high port
VENV_BIN = Path(sys.executable).parent
API = "/api/v1/greetings/"


def answers_cg() -> dict:
    answers = {"owner": "acme", "instances": 2}
    # copier.yml's defaults of the data answers (derive() alone would take none for a missing one).
    answers.update({k: dt.load_yaml(ROOT / "copier.yml")[k]["default"] for k in ("database", "redis")})
    answers.update(ANSWER_SETS[NAME])
    return settings.derive(answers)


# ------------------------------------------------------------------ the stack
@dataclass
class Stack:
    cg: dict
    project: Path
    pub: Path
    ports: list[int]
    http_port: int
    https_port: int
    supervisord: subprocess.Popen
    nginx: subprocess.Popen
    sock: Path
    ca: Path
    log_dir: Path
    static_dir: Path
    admin_ports: list[int] = field(default_factory=list)
    reports: dict = field(default_factory=dict)

    def process_name(self, port: int) -> str:
        program = self.cg["host"]["program"]
        return f"{program}:{program}-{port}"

    def info(self, port: int) -> dict:
        # A new proxy per call: one whose request failed (socket not there yet) stays broken.
        from supervisor.xmlrpc import SupervisorTransport

        rpc = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, f"unix://{self.sock}"))
        return rpc.supervisor.getProcessInfo(self.process_name(port))

    def https(self, source: str | None = None) -> http.client.HTTPSConnection:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        return http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=ctx, timeout=10,
            source_address=(source, 0) if source else None,
        )

    def instance_lines(self, port: int) -> list[dict]:
        """Every JSON line the instance on `port` wrote, rotated files first."""
        base = self.log_dir / f"{self.cg['service']}-{port}.log"
        files = sorted(base.parent.glob(base.name + ".*"), key=lambda p: -int(p.suffix[1:])) + [base]
        out = []
        for path in files:
            if path.exists():
                out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return out

    def request_lines(self) -> dict[int, list[dict]]:
        return {p: [r for r in self.instance_lines(p) if r.get("msg") == "request"] for p in self.ports}


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - still starting
            last = exc
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def rewrite_program(src: Path, dst: Path, cg: dict, binary: Path, pub: Path, ports: list[int], admin_ports: list[int],
                    log_dir: Path) -> None:
    text = src.read_text()
    # Each instance's program, HTTP port, admin port and log files, moved to the free ports
    # (the program and log names carry the HTTP port).
    for instance, port, admin in zip(cg["host"]["instances"], ports, admin_ports):
        for old, new in (
            (f"[program:{instance['program']}]\n", f"[program:{cg['host']['program']}-{port}]\n"),
            (f"{cg['env']['HTTP_PORT']}=\"{instance['http_port']}\"", f"{cg['env']['HTTP_PORT']}=\"{port}\""),
            (f"{cg['env']['ADMIN_PORT']}=\"{instance['admin_port']}\"", f"{cg['env']['ADMIN_PORT']}=\"{admin}\""),
            (f"={instance['stdout_log']}\n", f"={cg['host']['log_dir']}/{cg['service']}-{port}.log\n"),
            (f"={instance['stderr_log']}\n", f"={cg['host']['log_dir']}/{cg['service']}-{port}.stderr.log\n"),
        ):
            assert text.count(old) == 1, f"{old!r} not once in the generated {src.name}"
            text = text.replace(old, new)
    group = f"programs={','.join(i['program'] for i in cg['host']['instances'])}\n"
    assert group in text, f"{group!r} not in the generated {src.name}"
    moved = ",".join(f"{cg['host']['program']}-{p}" for p in ports)
    text = text.replace(group, f"programs={moved}\n")
    replacements = [
        (f"command={cg['host']['bin_path']} ", f"command={binary} "),
        # The env files (/etc/<service>/...) as installed next to the binary, readable by the instances.
        (f" -env-file {cg['host']['env_file']} ", f" -env-file {pub}/etc/{Path(cg['host']['env_file']).name} "),
        (f" -env-file {cg['host']['secrets_env_file']}\n", f" -env-file {pub}/etc/{Path(cg['host']['secrets_env_file']).name}\n"),
        (f"directory={cg['host']['install_dir']}\n", f"directory={pub}\n"),
        (f"user={cg['host']['user']}\n", "user=nobody\n"),
        (cg["host"]["log_dir"] + "/", f"{log_dir}/"),
        # Small files so that supervisord rotates them during the run: the rotated names
        # are checked against Filebeat's paths.
        (f"stdout_logfile_maxbytes={cg['host']['log_max_bytes']}\n", "stdout_logfile_maxbytes=64KB\n"),
    ]
    for old, new in replacements:
        assert old in text, f"{old!r} not in the generated {src.name}"
        text = text.replace(old, new)
    dst.write_text(text)


@contextlib.contextmanager
def running_stack(project: Path, binary: Path, request, bin_dir: str = "bin"):
    """Start supervisord (the generated program) and Nginx (bare-host layout) on loopback,
    after the deployment docs' data steps: the URLs in the host's secrets file (this machine's
    test servers; for SQLite a file in a directory the service's user owns), then
    `migrate up` as that user with the program's env files. The binary is installed in
    `bin_dir` under the stack's root (the host's layout for the deploy tests)."""
    cg = answers_cg()
    pub = dt.world_readable_tmpdir("cg-deploy-e2e-")
    procs: list[subprocess.Popen] = []
    try:
        (pub / bin_dir).mkdir(parents=True)
        installed = pub / bin_dir / binary.name
        shutil.copy2(binary, installed)
        installed.chmod(0o755)
        log_dir = pub / "log"
        log_dir.mkdir()
        static_dir = pub / "static"
        static_dir.mkdir()
        (static_dir / "app.css").write_text("body { color: #123456; }\n" * 100)
        # The team's env file installed as the deployment docs say, and an (empty) secrets file.
        (pub / "etc").mkdir()
        shutil.copy(project / "deploy" / "supervisord" / f"{cg['service']}.env", pub / "etc" / Path(cg["host"]["env_file"]).name)
        data_dir = pub / "data"
        data_dir.mkdir()
        nobody = pwd.getpwnam("nobody")
        os.chown(data_dir, nobody.pw_uid, nobody.pw_gid)
        secrets = data_secret_env(request, cg, data_dir)
        (pub / "etc" / Path(cg["host"]["secrets_env_file"]).name).write_text(
            "# host-only secrets\n" + "".join(f"{k}={v}\n" for k, v in secrets.items()))
        if cg["db"]["enabled"]:
            # The docs' step before `supervisorctl update`: the binary, the program's env files.
            argv = cg["data_deploy"]["host_migrate_command"].split()
            argv[0] = str(installed)
            argv = [str(pub / "etc" / Path(a).name) if a.startswith("/etc/") else a for a in argv]
            proc = subprocess.run(argv, user="nobody", capture_output=True, text=True, timeout=120,
                                  env={"PATH": os.environ.get("PATH", "")})
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert "migrations applied" in proc.stdout or "no migrations to apply" in proc.stdout.lower(), proc.stdout
        ports = dt.free_ports(cg["instances"])
        admin_ports = dt.free_ports(cg["instances"])
        while set(admin_ports) & set(ports):
            admin_ports = dt.free_ports(cg["instances"])
        port_map = dict(zip(cg["upstream_ports"], ports))

        # supervisord: a minimal main config (as /etc/supervisor/supervisord.conf) including the program.
        sup = pub / "supervisor"
        sup.mkdir()
        program = sup / f"{cg['service']}.conf"
        rewrite_program(project / "deploy" / "supervisord" / program.name, program, cg, installed, pub, ports,
                        admin_ports, log_dir)
        main = sup / "supervisord.conf"
        sock = sup / "supervisor.sock"
        main.write_text(
            "[supervisord]\n"
            f"logfile={sup}/supervisord.log\npidfile={sup}/supervisord.pid\nchildlogdir={sup}\nnodaemon=true\n"
            f"[unix_http_server]\nfile={sock}\nchmod=0700\n"
            "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            f"[supervisorctl]\nserverurl=unix://{sock}\n"
            f"[include]\nfiles = {program}\n"
        )
        supervisord = subprocess.Popen(
            [str(VENV_BIN / "supervisord"), "-c", str(main)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        procs.append(supervisord)

        # nginx, bare-host layout, in front.
        http_port, https_port = dt.free_ports(2)
        conf = dt.nginx_prefix(
            project, pub / "nginx", "nginx.conf", port_map=port_map,
            http_port=http_port, https_port=https_port, static_dir=static_dir,
        )
        assert dt.nginx_test(conf).returncode == 0
        nginx = subprocess.Popen(
            ["nginx", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        procs.append(nginx)
        st = Stack(cg, project, pub, ports, http_port, https_port, supervisord, nginx, sock,
                   conf.parent / "tls" / "fullchain.pem", log_dir, static_dir, admin_ports)

        def all_running():
            return all(st.info(p)["statename"] == "RUNNING" for p in ports)

        wait_for(all_running, 30, "every instance RUNNING under supervisord")

        def nginx_up():
            with socket.create_connection(("127.0.0.1", https_port), timeout=1):
                return True

        wait_for(nginx_up, 10, "nginx listening")
        yield st
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        shutil.rmtree(pub, ignore_errors=True)


def _report(st: Stack) -> None:
    for key, value in st.reports.items():
        print(f"[deploy-e2e] {key}: {value}")


@pytest.fixture(scope="module")
def stack(projects, built, request):
    with running_stack(projects(NAME), built(NAME), request) as st:
        yield st
        _report(st)


@pytest.fixture
def own_stack(projects, built, request):
    """A stack of its own, for the test that stops it."""
    with running_stack(projects(NAME), built(NAME), request) as st:
        yield st
        _report(st)


# ------------------------------------------------------------------ bounded load
@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    failed: list = field(default_factory=list)
    records: list = field(default_factory=list)  # (start, end, status or error, request id); monotonic


def steady_load(st: Stack, total: int, rate: float, workers: int, max_s: float, tag: str,
                stop: threading.Event | None = None) -> LoadResult:
    """`total` GETs through Nginx over HTTPS at `rate`/s from `workers` keep-alive
    connections, never longer than `max_s` seconds (or until `stop` is set)."""
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(total))
    t0 = time.monotonic()

    def worker():
        conn = st.https()
        while True:
            with lock:
                i = next(counter, None)
            if i is None or (stop is not None and stop.is_set()):
                break
            due = t0 + i / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            if time.monotonic() - t0 > max_s:
                break
            rid = f"{tag}-{i}"
            start = time.monotonic()
            try:
                conn.request("GET", f"{API}{tag}{i}", headers={"X-Request-ID": rid})
                resp = conn.getresponse()
                resp.read()
                outcome = resp.status
            except Exception as exc:  # noqa: BLE001 - a failure of the request, counted
                outcome = repr(exc)
                conn.close()
                conn = st.https()
            end = time.monotonic()
            with lock:
                result.sent += 1
                result.records.append((start, end, outcome, rid))
                if outcome == 200:
                    result.ok += 1
                else:
                    result.failed.append((rid, outcome))
        conn.close()

    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(worker) for _ in range(workers)]:
            f.result()
    return result


# ------------------------------------------------------------------ scenarios
def test_http_redirects_to_https(stack):
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=5)
    # The Location's host is the configured name, whatever Host the client sent.
    conn.request("POST", "/api/v1/greetings?x=1", body=b"{}", headers={"Host": "attacker.example"})
    resp = conn.getresponse()
    assert resp.status == 308
    assert resp.getheader("Location") == f"https://{stack.cg['nginx']['server_name']}/api/v1/greetings?x=1"
    assert resp.getheader("Server") == "nginx", "server_tokens off: no version"


def test_https_proxies_to_the_app(stack):
    conn = stack.https()
    rid = f"e2e-{uuid.uuid4().hex}"
    conn.request("GET", f"{API}Ada", headers={"X-Request-ID": rid})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 200 and body == {"message": "Hello, Ada!"}
    assert resp.getheader("X-Request-ID") == rid
    assert resp.getheader("Strict-Transport-Security") == "max-age=63072000"
    assert resp.getheader("X-Content-Type-Options") == "nosniff"
    assert resp.getheader("Server") == "nginx"
    # The internal endpoints are not served to the internet (the instances answer them
    # directly: see test_instances_answer_the_internal_endpoints_directly); /livez is.
    for path in (stack.cg["version_path"], stack.cg["readiness_path"]):
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == 404 and json.loads(resp.read())["error"]["code"] == "not_found", path
    conn.request("GET", stack.cg["liveness_path"])
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}
    # POST with a JSON body goes through too (Nginx buffers it, the app binds it).
    conn.request("POST", "/api/v1/greetings", body=json.dumps({"name": "Ada", "language": "fr"}),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read()) == {"message": "Bonjour, Ada!"}
    # The app's JSON errors pass through untouched.
    conn.request("GET", "/no/such/route")
    resp = conn.getresponse()
    assert resp.status == 404 and json.loads(resp.read())["error"]["code"] == "not_found"
    # A body over client_max_body_size is refused by Nginx before the app.
    conn.request("POST", "/api/v1/greetings", body=b"x" * (stack.cg["max_body_bytes"] + 1),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 413 and resp.getheader("Content-Type") == "application/json"
    # Nginx's own errors are JSON in the app's shape, with the request ID it passes on.
    assert body["error"]["code"] == "body_too_large"
    assert body["error"]["request_id"] == resp.getheader("X-Request-ID")
    assert re.fullmatch(r"[0-9a-f]{32}", body["error"]["request_id"])
    assert resp.getheader("Strict-Transport-Security") == "max-age=63072000"


def test_http2_and_tls_versions(stack):
    url = f"https://127.0.0.1:{stack.https_port}{stack.cg['liveness_path']}"
    out = subprocess.run(
        ["curl", "-sS", "--cacert", str(stack.ca), "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url],
        capture_output=True, text=True, timeout=20, check=True,
    ).stdout
    assert out == "2 200"
    old_tls = subprocess.run(
        ["curl", "-sS", "--cacert", str(stack.ca), "--tls-max", "1.1", "-o", "/dev/null", url],
        capture_output=True, text=True, timeout=20,
    )
    assert old_tls.returncode != 0, "TLS 1.1 must be refused"


def test_static_files_cached_and_gzipped(stack):
    conn = stack.https()
    conn.request("GET", f"{stack.cg['nginx']['static_prefix']}app.css", headers={"Accept-Encoding": "gzip"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200
    assert resp.getheader("Cache-Control") == "no-cache", "not fingerprinted: revalidated (test_assets.py)"
    assert resp.getheader("Content-Encoding") == "gzip"
    assert resp.getheader("X-Content-Type-Options") == "nosniff", "security headers on static files too"


def test_requests_reach_every_instance(stack):
    tag = f"spread{uuid.uuid4().hex[:6]}"
    result = steady_load(stack, total=120, rate=200, workers=4, max_s=10, tag=tag)
    assert result.ok == result.sent == 120, result.failed[:5]

    def per_instance():
        return {p: sum(1 for r in lines if str(r.get("request_id", "")).startswith(tag))
                for p, lines in stack.request_lines().items()}

    # Each line is written before its response leaves unless another request is in flight on
    # that instance (one of an earlier test's, still running): then within LOG_FLUSH_INTERVAL.
    flush = float(stack.cg["config_defaults"]["LOG_FLUSH_INTERVAL"].removesuffix("ms")) / 1000
    wait_for(lambda: sum(per_instance().values()) >= 120, flush + 2, "an access line for every request")
    seen = per_instance()
    stack.reports["requests per instance (120 sent)"] = seen
    assert all(n > 0 for n in seen.values()), seen
    assert sum(seen.values()) == 120


def _logged(stack, rid: str) -> dict:
    def find():
        for lines in stack.request_lines().values():
            for r in lines:
                if r.get("request_id") == rid:
                    return r
        return None

    return wait_for(find, 5, f"the access line of {rid}")


def test_client_ip_is_the_real_client_and_spoofing_fails(stack):
    spoof = "203.0.113.77"
    for source in ("127.0.0.1", "127.0.0.5"):
        conn = stack.https(source=source)
        rid = f"ip-{uuid.uuid4().hex}"
        conn.request("GET", f"{API}ip", headers={"X-Request-ID": rid, "X-Forwarded-For": spoof, "X-Real-IP": spoof})
        assert conn.getresponse().status == 200
        line = _logged(stack, rid)
        assert line["client_ip"] == source, line
    # Control: the app does believe X-Forwarded-For from its trusted proxy (127.0.0.1), so
    # it is Nginx replacing the header that keeps a spoofed value out.
    rid = f"ip-{uuid.uuid4().hex}"
    conn = http.client.HTTPConnection("127.0.0.1", stack.ports[0], timeout=5)
    conn.request("GET", f"{API}ip", headers={"X-Request-ID": rid, "X-Forwarded-For": spoof})
    assert conn.getresponse().status == 200
    assert _logged(stack, rid)["client_ip"] == spoof
    # And the instances listen on loopback only.
    for port in stack.ports:
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert f"127.0.0.1:{port}" in out and f"0.0.0.0:{port}" not in out and f"*:{port}" not in out


def test_instances_run_unprivileged(stack):
    nobody = pwd.getpwnam("nobody").pw_uid
    for port in stack.ports:
        pid = stack.info(port)["pid"]
        uid_line = next(l for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("Uid:"))
        assert set(uid_line.split()[1:]) == {str(nobody)}


def test_kill_one_instance_under_load(stack):
    victim = stack.ports[0]
    before = stack.info(victim)
    assert before["statename"] == "RUNNING"
    tag = f"kill{uuid.uuid4().hex[:6]}"
    total, rate, workers = 1500, 150.0, 8
    result_box = {}
    loader = threading.Thread(
        target=lambda: result_box.setdefault("r", steady_load(stack, total, rate, workers, 20, tag))
    )
    loader.start()
    time.sleep(2)
    # Freeze it first for a moment so that requests are certainly in flight on it when it
    # dies (supervisord respawns a killed process within milliseconds: a bare SIGKILL
    # mostly finds it idle and proves little about failover).
    os.kill(before["pid"], signal.SIGSTOP)
    time.sleep(0.5)
    os.kill(before["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    # supervisord respawns it at once; RUNNING once it has stayed up startsecs.
    after = wait_for(lambda: (i := stack.info(victim))["statename"] == "RUNNING" and i["pid"] != before["pid"] and i,
                     30, "supervisord to restart the killed instance", interval=0.05)
    restarted_in = time.monotonic() - killed_at
    loader.join(timeout=40)
    assert not loader.is_alive()
    result = result_box["r"]
    log = (stack.pub / "supervisor" / "supervisord.log").read_text()
    name = stack.process_name(victim).split(":")[1]
    assert re.search(rf"exited: {re.escape(name)} \(terminated by SIGKILL", log)
    stack.reports["kill test"] = (
        f"load {total} GETs at {rate:.0f}/s from {workers} HTTPS keep-alive clients; sent {result.sent}, "
        f"ok {result.ok}, failed {len(result.failed)}; instance {victim} SIGKILLed (pid {before['pid']}) "
        f"and restarted by supervisord as pid {after['pid']} (RUNNING {restarted_in:.1f}s after the kill)"
    )
    # Bounded in time: on a loaded machine fewer may go out, but the kill must fall
    # inside a steady stream of requests.
    assert result.sent >= total // 2, f"only {result.sent} of {total} sent within the time bound"
    assert sum(1 for r in result.records if r[0] > killed_at + 1) > 100, "load went on after the kill"
    assert not result.failed, result.failed[:10]
    # Nginx's JSON access log shows the failover: requests that went to the dying
    # instance first and were answered by another.
    access = stack.pub / "nginx" / "logs" / Path(stack.cg["nginx"]["access_log"]).name
    lines = [json.loads(l) for l in access.read_text().splitlines() if l.strip()]
    mine = [l for l in lines if l["request_id"].startswith(tag)]
    retried = [l for l in mine if l["upstream_addr"].startswith(f"127.0.0.1:{victim}, ")]
    stack.reports["kill test failover"] = (
        f"{len(mine)} access lines, {len(retried)} retried from the killed instance onto another "
        f"(statuses {sorted({l['status'] for l in retried})}, upstream statuses e.g. "
        f"{retried[0]['upstream_status'] if retried else None})"
    )
    assert len(mine) == result.sent
    assert retried and all(l["status"] == 200 for l in retried), "no request exercised the failover"
    # The restarted instance takes traffic again (Nginx retries it after fail_timeout).
    back = f"back{uuid.uuid4().hex[:6]}"
    deadline = time.monotonic() + stack.cg["nginx"]["fail_timeout_s"] + 10
    while not _served_by(stack, victim, back) and time.monotonic() < deadline:
        assert not steady_load(stack, 40, 100, 2, 5, back).failed
    assert _served_by(stack, victim, back), "the restarted instance got no request"


def _served_by(stack, port: int, tag: str) -> int:
    return sum(1 for r in stack.request_lines()[port] if str(r.get("request_id", "")).startswith(tag))

def _timed_requests(stack: Stack, method: str, tag: str, rate: float, workers: int, until: float,
                    records: list, lock: threading.Lock) -> None:
    """Requests of one method at `rate`/s over `workers` keep-alive HTTPS connections until
    the monotonic time `until`; each record is (start, end, status or error, id, body)."""
    count = iter(range(10**6))
    t0 = time.monotonic()
    ctx = ssl.create_default_context(cafile=str(stack.ca))

    def connect():
        return http.client.HTTPSConnection("127.0.0.1", stack.https_port, context=ctx, timeout=60)

    def worker():
        conn = connect()
        while True:
            with lock:
                i = next(count)
            due = t0 + i / rate
            if due >= until:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            rid = f"{tag}-{i}"
            start = time.monotonic()
            try:
                if method == "GET":
                    conn.request("GET", f"{API}{tag}{i}", headers={"X-Request-ID": rid})
                else:
                    conn.request("POST", API.rstrip("/"), body=json.dumps({"name": f"{tag}{i}"}),
                                 headers={"X-Request-ID": rid, "Content-Type": "application/json"})
                resp = conn.getresponse()
                body = resp.read()
                outcome = resp.status
            except Exception as exc:  # noqa: BLE001 - a failure of the request, recorded
                outcome, body = repr(exc), b""
                conn.close()
                conn = connect()
            with lock:
                records.append((start, time.monotonic(), outcome, rid, body))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_a_frozen_instance_costs_a_get_one_try_and_gets_no_new_posts(own_stack):
    """An instance that accepts connections but never answers (SIGSTOP: frozen, swapping,
    stuck), under bounded load. GETs that reach it are tried again on another instance
    after Nginx's shorter read timeout for idempotent requests, so none fails and none
    waits much longer than that. While it holds that hung GET, least_conn (its counts
    shared by every Nginx worker through the upstream's zone) keeps new requests off it,
    so POSTs, which are never resent, are not sent to it and answer at once.

    The POSTs run while the first GET that reached the frozen instance is surely still
    hanging (from 2 s after the freeze to 1 s before the idempotent read timeout): once
    that GET has timed out the instance holds nothing, counts one failure of max_fails, and
    may be sent one request more (a POST then waits for the thaw): that is Nginx's passive
    health checking, not what this test is about."""
    stack = own_stack
    nginx = stack.cg["nginx"]
    idem, full = nginx["idempotent_read_timeout_s"], nginx["read_timeout_s"]
    victim, others = stack.ports[0], stack.ports[1:]
    pid = stack.info(victim)["pid"]
    tag = f"frz{uuid.uuid4().hex[:6]}"
    gets, posts, lock = [], [], threading.Lock()
    start = time.monotonic()
    frozen_at, thawed_at = start + 2, start + 2 + idem + 6
    posts_from, posts_until = frozen_at + 2, frozen_at + idem - 1
    getter = threading.Thread(target=_timed_requests, args=(stack, "GET", tag + "g", 20.0, 4, thawed_at, gets, lock))
    poster = threading.Thread(target=_timed_requests, args=(stack, "POST", tag + "p", 5.0, 2, posts_until, posts, lock))
    getter.start()
    stopped = command = "?"
    try:
        time.sleep(max(0.0, frozen_at - time.monotonic()))
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.2)
        # What was stopped: its state (T) and its command, for the report if the test fails.
        stopped = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")[:200]
        time.sleep(max(0.0, posts_from - time.monotonic()))
        poster.start()
        time.sleep(max(0.0, thawed_at - time.monotonic()))
    finally:
        os.kill(pid, signal.SIGCONT)
    for t in (getter, poster):
        t.join(timeout=full + 30)
        assert not t.is_alive()

    failed = [(r[3], r[2], r[4][:200]) for r in gets if r[2] != 200]
    slowest = max(r[1] - r[0] for r in gets)
    access = stack.pub / "nginx" / "logs" / Path(nginx["access_log"]).name
    lines = {l["request_id"]: l for l in (json.loads(x) for x in access.read_text().splitlines() if x.strip())
             if l["request_id"].startswith(tag)}
    retried = [l for l in lines.values() if l["upstream_addr"].startswith(f"127.0.0.1:{victim}, ")]
    slow_posts = [(r[3], round(r[1] - r[0], 1), r[2], lines.get(r[3], {}).get("upstream_addr")) for r in posts
                  if r[1] - r[0] > 2]
    stack.reports["frozen instance"] = (
        f"{len(gets)} GETs at 20/s while instance {victim} was stopped for {thawed_at - frozen_at:.0f}s, "
        f"{len(posts)} POSTs at 5/s from 2s after the freeze for {posts_until - posts_from:.0f}s: "
        f"{len(failed)} GETs failed, slowest GET {slowest:.1f}s (idempotent read timeout {idem}s), "
        f"{len(retried)} retried from it onto {others}; POSTs slower than 2s: {len(slow_posts)}; "
        f"requests per upstream: {dict(collections.Counter(l['upstream_addr'] for l in lines.values()))}; "
        f"stopped pid {pid} (state {stopped}, {command})"
    )
    assert len(gets) > 200 and len(posts) > 20, "the load did not run"
    assert not failed, failed[:5]
    assert retried, f"no GET reached the frozen instance: the test proved nothing ({stack.reports['frozen instance']})"
    assert all(l["status"] == 200 for l in retried)
    assert slowest < idem + 5, slowest
    # POSTs: never resent (one upstream each), and, the instance holding a hung GET, sent to
    # the others and answered at once.
    assert all(r[2] == 200 for r in posts), [(r[3], r[2]) for r in posts if r[2] != 200][:5]
    assert all(", " not in lines[r[3]]["upstream_addr"] for r in posts if r[3] in lines)
    assert not slow_posts, slow_posts
    # Thawed, it answers again once fail_timeout has passed.
    back = f"thaw{uuid.uuid4().hex[:6]}"
    deadline = time.monotonic() + nginx["fail_timeout_s"] + 10
    while not _served_by(stack, victim, back) and time.monotonic() < deadline:
        assert not steady_load(stack, 40, 100, 2, 5, back).failed
    assert _served_by(stack, victim, back), "the thawed instance got no request"



def test_service_log_lines_are_what_filebeat_reads(stack):
    """The instances' real output: one JSON object per line with the fields the Filebeat
    config and dashboards rely on, in files (rotated ones included) Filebeat's paths match."""
    config = dt.load_yaml(stack.project / "deploy" / "filebeat" / "filebeat.yml")
    host_input = next(i for i in config["filebeat.inputs"] if i["id"] == stack.cg["filebeat"]["input_id"])
    patterns = host_input["paths"]
    ndjson = next(p["ndjson"] for p in host_input["parsers"] if "ndjson" in p)
    def rotated():
        return [p for p in stack.log_dir.iterdir() if re.search(r"\.log\.\d+$", p.name)]

    # The earlier load usually made supervisord rotate (64KB files here); if this stack is
    # fresh, bounded extra load does.
    for _ in range(3):
        if rotated():
            break
        steady_load(stack, 1500, 300, 8, 15, f"rot{uuid.uuid4().hex[:6]}")
    assert rotated(), "supervisord rotated a log during the run"
    files = sorted(p for p in stack.log_dir.iterdir() if ".stderr." not in p.name)
    renames = next(p["rename"] for p in config["processors"] if "rename" in p)["fields"]
    ecs = dt.ecs_schema()
    checked = raw_conflicts = 0
    for path in files:
        # The same file at its real location, as the generated config names it.
        real = f"{stack.cg['host']['log_dir']}/{path.name}"
        real = re.sub(r"-(\d+)\.log", lambda m: f"-{stack.cg['upstream_ports'][stack.ports.index(int(m.group(1)))]}.log", real)
        assert any(fnmatch.fnmatch(real, pat) for pat in patterns), f"Filebeat does not read {real}"
        lines = path.read_text().splitlines()
        assert lines
        for line in lines:
            record = json.loads(line)
            assert isinstance(record, dict)
            # As Filebeat ships it: decoded at the root, the ECS renames applied, the
            # service named. Nothing may clash with the Elastic Common Schema.
            event = dt.apply_renames(record, renames)
            event["service"] = {"name": stack.cg["service"]}
            conflicts = dt.ecs_conflicts(event, ecs)
            assert not conflicts, (conflicts, record)
            checked += 1
            raw_conflicts += bool(dt.ecs_conflicts(record, ecs))
            assert {"time", "level", ndjson["message_key"]} <= set(record), record
            if record["msg"] == "request":
                assert {"request_id", "method", "path", "status", "latency_ms", "client_ip", "bytes",
                        "user_agent"} <= set(record), record
    # The request lines, as the service writes them, do clash (user_agent): the renames are
    # what makes them fit.
    assert checked > 100 and raw_conflicts > 0, (checked, raw_conflicts)
    for path in stack.log_dir.iterdir():
        if ".stderr." in path.name:
            assert not any(fnmatch.fnmatch(f"{stack.cg['host']['log_dir']}/{path.name}", p) for p in patterns)


def test_filebeat_ships_the_real_log_lines_with_ecs_names(stack, tmp_path):
    """Filebeat itself (7.17, scripts/bootstrap.d/79-filebeat.sh) runs the generated
    config's host input, ndjson parser and processors over a copy of the instances' real
    log files, its output a file instead of the network: every line is an event, each
    request line with the ECS names (user_agent.original, http.request.method, ...), none
    with a key the renames should have moved, the service named, nothing that clashes
    with ECS (Filebeat's own fields included)."""
    config = dt.load_yaml(stack.project / "deploy" / "filebeat" / "filebeat.yml")
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = 0
    for path in stack.log_dir.iterdir():
        if ".stderr." not in path.name:
            shutil.copy(path, logs / path.name)
            lines += len(path.read_text().splitlines())
    # The generated inputs, pointed at the copies; the output a file; nothing else changed.
    host_input = next(i for i in config["filebeat.inputs"] if i["id"] == stack.cg["filebeat"]["input_id"])
    host_input["paths"] = [str(logs / "*")]
    out = tmp_path / "out"
    for key in [k for k in config if k.startswith("output.")]:
        del config[key]
    config["output.file"] = {"path": str(out), "filename": "events", "rotate_every_kb": 1024 * 1024}
    (tmp_path / "filebeat.yml").write_text(json.dumps(config))  # JSON is YAML
    events: list[dict] = []
    filebeat = subprocess.Popen(
        [str(TOOLS_BIN / "filebeat"), "-c", str(tmp_path / "filebeat.yml"), "--strict.perms=false",
         "--path.home", str(tmp_path), "--path.data", str(tmp_path / "data"), "--path.logs", str(tmp_path)],
        env={"PATH": "/usr/bin:/bin", "FILEBEAT_PATH_DATA": str(tmp_path / "data")},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(events) < lines and filebeat.poll() is None:
            time.sleep(1)
            events = [json.loads(line) for f in sorted(out.glob("events*")) for line in f.read_text().splitlines()]
    finally:
        filebeat.terminate()
        _, err = filebeat.communicate(timeout=30)
    assert len(events) == lines and lines > 100, (len(events), lines, err[-3000:])
    ecs = dt.ecs_schema()
    renames = stack.cg["filebeat"]["ecs_renames"]
    requests = 0
    for event in events:
        assert not dt.ecs_conflicts(event, ecs), (dt.ecs_conflicts(event, ecs), event)
        assert event["service"]["name"] == stack.cg["service"] and "msg" in event, event
        # Each renamed key is gone, or now the object its ECS name lives in (user_agent, error).
        assert all(src not in event or isinstance(event[src], dict) for src, _ in renames), event
        if event["msg"] == "request":
            requests += 1
            assert isinstance(event["user_agent"]["original"], str), event
            assert event["http"]["request"]["method"] in ("GET", "HEAD", "POST", "OPTIONS"), event
            assert isinstance(event["http"]["response"]["status_code"], int), event
            assert event["url"]["path"].startswith("/") and event["client"]["ip"], event
    assert requests > 100, requests


def test_sigterm_to_supervisord_lets_in_flight_requests_finish(own_stack):
    stack = own_stack
    """Stops its own stack. A request whose body is still arriving when supervisord gets
    SIGTERM finishes with the app's answer; GETs started before the signal all succeed;
    every instance exits 0 (drained in time, not killed)."""
    port = stack.ports[1]
    body = json.dumps({"name": "drain", "language": "de"}).encode()
    slow = socket.create_connection(("127.0.0.1", port), timeout=20)
    slow.sendall(
        f"POST /api/v1/greetings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5]
    )
    stop = threading.Event()
    box = {}
    tag = f"term{uuid.uuid4().hex[:6]}"
    loader = threading.Thread(target=lambda: box.setdefault("r", steady_load(stack, 600, 100, 4, 12, tag, stop)))
    loader.start()
    time.sleep(1.5)
    sigterm_at = time.monotonic()
    stack.supervisord.send_signal(signal.SIGTERM)

    # The instance stops accepting connections while our request is still open...
    def refused():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return False
        except ConnectionRefusedError:
            return True

    wait_for(refused, 10, f"instance {port} to close its listener")
    # ...and still answers the request already in flight.
    time.sleep(0.5)
    slow.sendall(body[5:])
    response = read_response(slow)
    slow.close()
    status_line = response.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 200 OK", response[:300]
    assert json.loads(response.split(b"\r\n\r\n", 1)[1]) == {"message": "Hallo, drain!"}

    stop.set()
    loader.join(timeout=30)
    result = box["r"]
    code = stack.supervisord.wait(timeout=stack.cg["stop_grace_s"] + 15)
    stopped_in = time.monotonic() - sigterm_at
    # Every request an instance received (it logged it) was answered: none was cut off.
    received = {r["request_id"] for lines in stack.request_lines().values() for r in lines
                if str(r.get("request_id", "")).startswith(tag)}
    cut_off = [r for r in result.records if r[3] in received and r[2] != 200]
    in_flight = [r for r in result.records if r[0] < sigterm_at < r[1]]
    # Requests done well before the signal were all fine (after it, with every listener
    # closed, Nginx has nowhere to send new ones).
    early_failed = [r for r in result.records if r[1] < sigterm_at - 0.1 and r[2] != 200]
    after = [r for r in result.records if r[0] >= sigterm_at]
    stack.reports["sigterm test"] = (
        f"load 100 GETs/s from 4 HTTPS keep-alive clients: {result.sent} sent, {len(received)} reached an "
        f"instance, {len(cut_off)} of those failed; {len(in_flight)} in flight at SIGTERM "
        f"({sum(1 for r in in_flight if r[2] == 200)} answered 200); {len(after)} sent after SIGTERM "
        f"({sum(1 for r in after if r[2] != 200)} refused, as expected); the slow in-flight POST answered 200; "
        f"supervisord exited {code} after {stopped_in:.1f}s"
    )
    assert not cut_off, cut_off[:10]
    assert not early_failed, early_failed[:10]
    assert code == 0
    log = (stack.pub / "supervisor" / "supervisord.log").read_text()
    for p in stack.ports:
        name = stack.process_name(p).split(":")[1]
        assert re.search(rf"stopped: {re.escape(name)} \(exit status 0\)", log), log[-2000:]
    assert "SIGKILL" not in log.split("received SIGTERM")[-1]


@pytest.mark.slow
@pytest.mark.parametrize("sent", ["bad id<script>", "x" * 129, ""])
def test_one_request_id_in_both_logs_when_the_client_sends_none_or_an_invalid_one(stack, sent):
    """Nginx replaces a missing or invalid X-Request-ID by its own and passes it on: the
    app keeps it, so Nginx's access log, the app's log and the response agree."""
    conn = stack.https()
    marker = uuid.uuid4().hex
    headers = {"X-Request-ID": sent} if sent else {}
    conn.request("GET", f"/no/such/{marker}", headers=headers)
    resp = conn.getresponse()
    resp.read()
    echoed = resp.getheader("X-Request-ID")
    assert re.fullmatch(r"[0-9a-f]{32}", echoed), echoed
    access = stack.pub / "nginx" / "logs" / Path(stack.cg["nginx"]["access_log"]).name

    def logged():
        nginx = [json.loads(l) for l in access.read_text().splitlines() if marker in l]
        app = [r for lines in stack.request_lines().values() for r in lines if marker in str(r.get("path", ""))]
        return (nginx, app) if nginx and app else None

    nginx, app = wait_for(logged, 10, "both log lines")
    assert nginx[0]["request_id"] == app[0]["request_id"] == echoed


@pytest.mark.slow
def test_instances_answer_the_internal_endpoints_directly(stack):
    """What Nginx hides, a probe or an operator on the host still reaches on the instance."""
    port = stack.ports[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{stack.cg['version_path']}", timeout=5) as resp:
        assert json.loads(resp.read())["version"] == "1.2.3-test"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{stack.cg['readiness_path']}", timeout=5) as resp:
        assert json.loads(resp.read())["status"] == "ready"


@pytest.mark.slow
def test_every_instance_serves_its_metrics_on_its_own_admin_port(stack):
    """Each supervisord program gives its instance an admin port of its own (numprocs could
    not): every instance answers /metrics there, on loopback, and Nginx never routes to it."""
    obs = stack.cg["obs"]
    assert len(set(stack.admin_ports)) == len(stack.ports)
    for admin in stack.admin_ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}{obs['metrics_path']}", timeout=5) as resp:
            assert resp.status == 200
            text = resp.read().decode()
        assert f"{obs['metrics']['build_info']}{{" in text and 'version="1.2.3-test"' in text
        assert re.search(r"^process_start_time_seconds \S+$", text, re.M), "the process collector is registered"
    conn = stack.https()
    conn.request("GET", obs["metrics_path"])
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 404, "the metrics are not served through Nginx"


@pytest.mark.slow
def test_head_and_options_through_nginx(stack):
    """HEAD is answered like GET without a body, OPTIONS lists the methods: through Nginx too."""
    conn = stack.https()
    conn.request("HEAD", f"{API}Ada")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == b""
    assert resp.getheader("Content-Type", "").startswith("application/json")
    conn.request("OPTIONS", "/api/v1/greetings")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 204 and resp.getheader("Allow") == "POST, OPTIONS"
    conn.request("DELETE", f"{API}Ada")
    resp = conn.getresponse()
    assert resp.status == 405 and json.loads(resp.read())["error"]["code"] == "method_not_allowed"
    assert resp.getheader("Allow") == "GET, HEAD, OPTIONS"


@pytest.mark.slow
def test_nginx_answers_json_when_no_instance_is_reachable(projects):
    """The generated Nginx in front of instances that are all down: a JSON 502 with the
    request ID (the client's when valid), and the security headers; and the errors it
    answers before asking any instance (400, 408, 414, 431) in the same JSON shape."""
    project = projects(NAME)
    cg = answers_cg()
    dead = dt.free_ports(len(cg["upstream_ports"]))
    pub = dt.world_readable_tmpdir("cg-deploy-502-")
    http_port, https_port = dt.free_ports(2)
    conf = dt.nginx_prefix(project, pub / "nginx", "nginx.conf", port_map=dict(zip(cg["upstream_ports"], dead)),
                           http_port=http_port, https_port=https_port)
    nginx = subprocess.Popen(["nginx", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        ctx = ssl.create_default_context(cafile=str(conf.parent / "tls" / "fullchain.pem"))

        def send(method: str, path: str, body: bytes | None = None):
            conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=ctx, timeout=10)
            conn.request(method, path, body=body, headers={"X-Request-ID": "client-502",
                                                           "Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()

        wait_for(lambda: send("GET", f"{API}Ada"), 10, "nginx to answer")
        # GET goes through the idempotent location, POST through the other: both JSON.
        for method, path, body in (("GET", f"{API}Ada", None), ("POST", API.rstrip("/"), b'{"name":"Ada"}')):
            status, headers, text = send(method, path, body)
            assert status == 502 and headers["Content-Type"] == "application/json", (method, status, headers, text)
            assert json.loads(text)["error"] == {
                "code": "bad_gateway", "message": "the service is unavailable; try again later",
                "request_id": "client-502",
            }
            assert headers["X-Request-ID"] == "client-502"
            assert headers["Strict-Transport-Security"] == "max-age=63072000"

        def send_raw(request: bytes, wait: float = 10) -> bytes:
            with socket.create_connection(("127.0.0.1", https_port), timeout=wait) as sock, \
                    ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.sendall(request)
                data = b""
                with contextlib.suppress(ssl.SSLEOFError):  # Nginx may close without TLS close_notify
                    while chunk := tls.recv(65536):
                        data += chunk
            return data

        def raw(request: bytes) -> tuple[int, dict, dict]:
            """Sends bytes http.client would refuse to; the status, headers, JSON body."""
            head, _, body = send_raw(request).partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            fields = dict(line.split(": ", 1) for line in lines[1:])
            return int(lines[0].split()[1]), fields, json.loads(body)

        # The errors Nginx meets before any instance is asked: JSON too, with a request ID.
        long_line = b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        long_header = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 10_000 + b"\r\nConnection: close\r\n\r\n"
        two_hosts = b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: other\r\nConnection: close\r\n\r\n"
        for name, request, status, code in (
            ("request line", long_line, 414, "uri_too_long"),
            ("header", long_header, 431, "headers_too_large"),
            ("malformed", two_hosts, 400, "malformed_request"),
        ):
            got, headers, body = raw(request)
            assert (got, headers.get("Content-Type"), body["error"]["code"]) == (status, "application/json", code), \
                (name, got, headers, body)
            assert re.fullmatch(r"[0-9a-f]{32}", body["error"]["request_id"]), (name, body)
            assert headers["X-Request-ID"] == body["error"]["request_id"], (name, headers)
            assert headers["X-Content-Type-Options"] == "nosniff", (name, headers)
        # A body announced and never sent: after client_body_timeout (the app's read timeout)
        # Nginx closes the connection; it sends no page at all, HTML or JSON.
        start = time.monotonic()
        assert send_raw(b"POST /api/v1/greetings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 100\r\n\r\n{", wait=cg["read_timeout_s"] + 10) == b""
        assert cg["read_timeout_s"] - 1 < time.monotonic() - start < cg["read_timeout_s"] + 5
    finally:
        nginx.terminate()
        nginx.communicate(timeout=30)
        shutil.rmtree(pub, ignore_errors=True)
