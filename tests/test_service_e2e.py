"""Full tier: the built binary of generated projects, run for real on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import data_env, free_port, read_response

SETS = ["default", "orders", "default-echo"]


class Service:
    """The generated binary running on a free loopback port, its stdout captured."""

    def __init__(self, binary: Path, prefix: str, extra_env: dict | None = None, cwd: Path | None = None):
        self.port = free_port()
        self.admin_port = free_port()
        self.prefix = prefix
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
        env.update({f"{prefix}_HTTP_HOST": "127.0.0.1", f"{prefix}_HTTP_PORT": str(self.port),
                    f"{prefix}_ADMIN_HOST": "127.0.0.1", f"{prefix}_ADMIN_PORT": str(self.admin_port)})
        env.update(extra_env or {})
        self.env = env
        # Its own working directory: an SQLite default (a relative file) lands there.
        self.cwd = cwd or Path(tempfile.mkdtemp(prefix="service-"))
        self.proc = subprocess.Popen([str(binary)], env=env, cwd=self.cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"service exited: {self.proc.communicate()}")
                time.sleep(0.05)
        raise AssertionError("service did not listen within 10 s")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


def prefix_of(project: Path) -> str:
    service = yaml.safe_load((project / ".copier-answers.yml").read_text())["service_name"]
    return service.upper().replace("-", "_")


@pytest.fixture(params=SETS)
def service(request, projects, built, tmp_path):
    request.node.add_marker(pytest.mark.xdist_group(f"go-{request.param}"))
    prefix = prefix_of(projects(request.param))
    svc = Service(built(request.param), prefix, data_env(request, request.param, prefix, tmp_path), cwd=tmp_path)
    yield svc
    if svc.proc.poll() is None:
        svc.proc.kill()
        svc.proc.communicate()


@pytest.mark.slow
def test_endpoints_and_errors(service):
    status, headers, body = service.request("GET", "/livez")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert headers.get("X-Request-ID")

    status, _, body = service.request("GET", "/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"

    status, _, body = service.request("GET", "/version")
    info = json.loads(body)
    assert status == 200
    assert (info["version"], info["commit"], info["date"]) == ("1.2.3-test", "abc1234", "2026-01-02T03:04:05Z")

    status, headers, body = service.request("GET", "/no/such/path", headers={"X-Request-ID": "trace-42"})
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"] == {"code": "not_found", "message": "no route for GET /no/such/path", "request_id": "trace-42"}

    status, _, body = service.request("POST", "/api/v1/greetings", b'{"name": ', {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["error"]["code"] == "malformed_request"

    status, _, body = service.request("POST", "/api/v1/greetings", b'{"name": "Ada"}', {"Content-Type": "application/json"})
    assert status == 200 and json.loads(body) == {"message": "Hello, Ada!"}

    # A body over the limit is refused from its Content-Length, before it is sent.
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/greetings HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2097152\r\n\r\n" + b"x" * 1024)
        raw = sock.recv(65536)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), raw[:200]
    assert json.loads(body)["error"]["code"] == "body_too_large"

    status, _, body = service.request("PUT", "/livez")
    assert status == 405 and json.loads(body)["error"]["code"] == "method_not_allowed"

    code, out, err = service.stop()
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]  # every line is one JSON object
    access = [line for line in lines if line["msg"] == "request"]
    assert len(access) == 8
    for line in access:
        assert {"time", "level", "msg", "request_id", "method", "path", "status", "latency_ms", "client_ip"} <= set(line)
        assert line["client_ip"] == "127.0.0.1"
    assert [line["status"] for line in access] == [200, 200, 200, 404, 400, 200, 413, 405]
    assert access[3]["request_id"] == "trace-42"


@pytest.mark.slow
def test_sigterm_lets_an_in_flight_request_finish(service):
    """A request whose body is still arriving when SIGTERM comes is answered, then the process exits 0."""
    body = b'{"name": "Grace", "language": "fr"}'
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    sock.sendall(
        b"POST /api/v1/greetings HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body[:10]
    )
    time.sleep(0.3)
    service.proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert service.proc.poll() is None, "the service exited with a request in flight"
    # The listener is closed: new connections are refused while the old one is served.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", service.port), timeout=1).close()
    sock.sendall(body[10:])
    response = b""
    while chunk := sock.recv(65536):
        response += chunk
    sock.close()
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert b"Bonjour, Grace!" in response
    # It exits by itself once the request is answered (a second signal would end it at once).
    service.proc.wait(timeout=15)
    code, out, err = service.stop()
    assert code == 0, err
    messages = [json.loads(line)["msg"] for line in out.splitlines()]
    assert messages.index("shutting down") < messages.index("request") < messages.index("stopped")


@pytest.mark.slow
@pytest.mark.parametrize(
    "setting,value",
    [("HTTP_PORT", "eighty"), ("SHUTDOWN_TIMEOUT", "-1s"), ("TRUSTED_PROXIES", "nginx"), ("LOG_LEVEL", "loud")],
)
def test_bad_setting_exits_at_start_naming_it(projects, built, setting, value, tmp_path):
    prefix = prefix_of(projects("default"))
    env = dict(os.environ, **{f"{prefix}_{setting}": value, f"{prefix}_HTTP_PORT": os.environ.get("X", "0")})
    if setting != "HTTP_PORT":
        env[f"{prefix}_HTTP_PORT"] = str(free_port())
    else:
        env[f"{prefix}_HTTP_PORT"] = value
    proc = subprocess.run([str(built("default"))], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=10)
    assert proc.returncode != 0
    assert f"{prefix}_{setting}" in proc.stderr, proc.stderr
    assert proc.stdout == ""


@pytest.mark.slow
def test_healthcheck_subcommand(service, built):
    binary = service.proc.args[0]
    ok = subprocess.run([binary, "healthcheck"], env=service.env, capture_output=True, text=True, timeout=10)
    assert ok.returncode == 0, ok.stderr
    service.stop()
    down = subprocess.run([binary, "healthcheck"], env=service.env, capture_output=True, text=True, timeout=10)
    assert down.returncode == 1 and "healthcheck" in down.stderr


@pytest.mark.slow
def test_a_body_that_never_ends_is_a_408(projects, built):
    """A chunked body that stalls: once the read timeout passes, a JSON 408, not a 400."""
    prefix = prefix_of(projects("default"))
    svc = Service(built("default"), prefix, {f"{prefix}_HTTP_READ_TIMEOUT": "1s"})
    try:
        with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as sock:
            sock.sendall(b"POST /api/v1/greetings HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"nam\r\n")
            started = time.monotonic()
            raw = read_response(sock)
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), raw[:300]
        assert json.loads(body)["error"]["code"] == "request_timeout"
        assert time.monotonic() - started < 5
    finally:
        svc.stop()


@pytest.mark.slow
def test_a_second_signal_during_the_drain_ends_the_process_at_once(projects, built):
    """SIGINT starts the drain; a second SIGINT (Ctrl-C again) does not wait for it."""
    prefix = prefix_of(projects("default"))
    svc = Service(built("default"), prefix, {f"{prefix}_SHUTDOWN_TIMEOUT": "60s"})
    sock = socket.create_connection(("127.0.0.1", svc.port), timeout=10)
    try:
        # A request whose body never completes keeps the drain busy.
        sock.sendall(b"POST /api/v1/greetings HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        time.sleep(0.3)
        svc.proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert svc.proc.poll() is None, "the first signal must drain, not exit"
        started = time.monotonic()
        svc.proc.send_signal(signal.SIGINT)
        svc.proc.wait(timeout=5)
        assert time.monotonic() - started < 2
        assert svc.proc.returncode == -signal.SIGINT
    finally:
        sock.close()
        if svc.proc.poll() is None:
            svc.proc.kill()
        svc.proc.communicate()
