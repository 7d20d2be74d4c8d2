"""Build the generated Dockerfile, unmodified, with podman and run the image.

The external base images are mapped onto local stand-ins (tests/containers.py), built
once per machine. Figures (image sizes, build times) are printed by the tests (see them
with `-rP`) and written to container-metrics.json in pytest's base temp directory.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import containers
from conftest import free_port
from settings import derive

# default-echo: the same image and compose stack around the Echo service.
ANSWER_SETS_UNDER_TEST = ["default", "orders", "default-echo"]
BUILD_ARGS = {"VERSION": "1.2.3-ctr", "COMMIT": "c0ffee1", "DATE": "2026-01-02T03:04:05Z"}
STACK_NET = {"BACKEND_NET": "10.213.7"}
# What the image may add to the binary it carries (uncompressed layers, MB = 10^6): the
# runtime base, CA certificates, time zones, the user database.
IMAGE_OVERHEAD_MAX = 3 * 1000 * 1000

pytestmark = [pytest.mark.container, pytest.mark.xdist_group("podman")]


@pytest.fixture(scope="session")
def metrics(tmp_path_factory, pytestconfig):
    """Figures the lead reports: written to JSON and shown at the end of the session."""
    data: dict = {}
    yield data
    path = tmp_path_factory.getbasetemp() / "container-metrics.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    capman = pytestconfig.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            print(f"\ncontainer metrics ({path}):\n{json.dumps(data, indent=2, sort_keys=True)}")


@pytest.fixture(scope="session")
def standins(metrics):
    found = containers.ensure_standins()
    metrics["standins_built_s"] = {k: round(v, 1) for k, v in found.built.items()}
    metrics["standin_sizes_bytes"] = {k: containers.image_inspect(ref)["Size"] for k, ref in found.images.items()}
    return found


@dataclass
class Built:
    name: str
    project: Path
    tag: str
    cg: dict
    answers: dict


def _answers(project: Path) -> dict:
    import yaml

    return yaml.safe_load((project / ".copier-answers.yml").read_text())


@pytest.fixture(scope="session")
def images(projects, standins, metrics, tmp_path_factory):
    """Build each answer set's image once per session: cold, then warm (source edit), then no-op."""
    cache: dict[str, Built] = {}
    tags: list[str] = []

    def dangling() -> set[str]:
        # Housekeeping only: podman can fail to list while another process removes images;
        # then nothing is cleaned this time.
        proc = containers.podman("images", "-q", "--no-trunc", "--filter", "dangling=true", check=False)
        return set(proc.stdout.split()) if proc.returncode == 0 else set()

    before = dangling()

    def build(name: str) -> Built:
        if name in cache:
            return cache[name]
        # A private copy: the warm build edits a source file, the shared project stays as generated.
        project = tmp_path_factory.mktemp(f"ctx-{name}") / "project"
        shutil.copytree(projects(name), project)
        answers = _answers(project)
        cg = derive(answers)
        tag = f"localhost/copier-gin-test-{name}:latest"
        old = containers.podman("image", "inspect", tag, "--format", "{{.Id}}", check=False).stdout.strip()
        cache_mounts = any(Path("/var/tmp").glob("buildah-cache*/*"))
        cold = containers.build_image(project, tag, standins, BUILD_ARGS, no_cache=True)
        # Warm: a code change reuses the module layer and the build cache mount.
        main = project / cg["cmd_dir"] / "main.go"
        main.write_text(main.read_text() + "\n// warm build\n")
        warm = containers.build_image(project, tag, standins, BUILD_ARGS)
        noop = containers.build_image(project, tag, standins, BUILD_ARGS)
        new = containers.podman("image", "inspect", tag, "--format", "{{.Id}}").stdout.strip()
        if old and old != new:
            containers.podman("rmi", old, check=False)
        tags.append(tag)
        size = containers.image_inspect(tag)["Size"]
        # What a registry stores and a host downloads: the layers, gzip-compressed.
        saved = subprocess.run(f"podman save --format docker-archive {tag} | gzip -6 | wc -c",
                               shell=True, capture_output=True, text=True, check=True).stdout
        metrics.setdefault("images", {})[name] = {
            "layers_bytes": layers_size(tag),
            "size_bytes": size,
            "size_mb": round(size / 1e6, 2),
            "gzip_mb": round(int(saved) / 1e6, 2),
            "build_cold_no_layer_cache_s": round(cold, 1),
            "cache_mounts_already_present": cache_mounts,
            "build_warm_after_source_edit_s": round(warm, 1),
            "build_noop_s": round(noop, 1),
        }
        cache[name] = Built(name, project, tag, cg, answers)
        return cache[name]

    yield build
    # Intermediate images this session's builds left (every run rebuilds without the
    # layer cache, so they would only pile up); images that were there before are kept.
    left = sorted(dangling() - before)
    if left:
        containers.podman("rmi", *left, check=False)


@pytest.fixture(params=ANSWER_SETS_UNDER_TEST)
def image(request, images) -> Built:
    return images(request.param)


# A database server and a Redis nobody listens on: an image with a server database must
# start without it and say so in its readiness (the real servers: tests/test_data_e2e.py).
UNREACHABLE = {"postgres": "postgres://app:app@127.0.0.1:1/app?sslmode=disable", "mysql": "mysql://app:app@127.0.0.1:1/app",
               "redis": "redis://127.0.0.1:1/0"}


def _data_args(built: Built) -> list[str]:
    dd, args = built.cg["data_deploy"], []
    if dd["db"]["server"]:
        args += ["-e", f"{dd['db']['url_var']}={UNREACHABLE[built.cg['db']['engine']]}"]
    if built.cg["redis"]["enabled"]:
        args += ["-e", f"{dd['redis']['url_var']}={UNREACHABLE['redis']}"]
    return args


def _ready_expected(built: Built) -> bool:
    """Whether the image can be ready on its own (no server it needs is unreachable)."""
    return not built.cg["data_deploy"]["db"]["server"] and not built.cg["redis"]["enabled"]


def _run(built: Built, *extra: str):
    port = free_port()
    ctx = containers.container(built.tag, "-p", f"127.0.0.1:{port}:{built.cg['http_port']}", *_data_args(built), *extra)
    return ctx, port


def test_dockerfile_from_lines_map_onto_standins(image: Built, standins):
    """Every external FROM is parsed from the file and has a stand-in; scratch needs none."""
    text = (image.project / "Dockerfile").read_text()
    froms = [f.ref for f in containers.parse_from_lines(text)]
    refs = containers.external_refs(text)
    assert refs, froms
    kinds = {containers.standin_kind(ref) for ref in refs}
    assert "builder" in kinds
    if image.answers["runtime_image"] == "scratch":
        assert froms[-1] == "scratch"
        assert kinds == {"builder"}
    else:
        assert kinds == {"builder", "runtime"}
    for ref in refs:  # what the build maps is exactly what the file says
        assert re.search(rf"^FROM\s+(--\S+\s+)*{re.escape(ref)}(\s|$)", text, re.M), ref


def test_image_config(image: Built):
    info = containers.image_inspect(image.tag)
    config = info["Config"]
    binary = f"/{image.cg['binary']}"
    assert config["User"] == f"{image.cg['uid']}:{image.cg['gid']}"
    assert config["Entrypoint"] == [binary]
    assert f"{image.cg['http_port']}/tcp" in config.get("ExposedPorts", {})
    # podman shows a Docker-format image's HEALTHCHECK at the top level of inspect's output.
    health = info.get("Healthcheck") or config.get("Healthcheck")
    assert health and health["Test"] == ["CMD", binary, "healthcheck"], info
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == BUILD_ARGS["VERSION"]
    assert labels["org.opencontainers.image.revision"] == BUILD_ARGS["COMMIT"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env[image.cg["env"]["HTTP_PORT"]] == str(image.cg["http_port"])


def test_runtime_filesystem_has_no_shell_and_a_static_binary(image: Built, tmp_path):
    root = containers.image_files(image.tag, tmp_path / "rootfs")
    binary = root / image.cg["binary"]
    assert binary.is_file()
    # No shell, no busybox, no package manager: the only executable is the service.
    for shell in ("bin/sh", "bin/bash", "bin/ash", "usr/bin/sh", "bin/busybox", "usr/bin/env"):
        assert not (root / shell).exists(), shell
    executables = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as fh:
                if fh.read(4) == b"\x7fELF" or os.access(path, os.X_OK):
                    executables.append(str(path.relative_to(root)))
    assert executables == [image.cg["binary"]]
    assert not list(root.rglob("busybox"))
    # Static: no program interpreter, no dynamic section (readelf), and file(1) agrees.
    headers = subprocess.run(["readelf", "-lW", str(binary)], capture_output=True, text=True, check=True).stdout
    assert "INTERP" not in headers and "LOAD" in headers
    dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
    assert "There is no dynamic section" in dynamic
    kind = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True, check=True).stdout
    assert "statically linked" in kind and "ELF 64-bit" in kind, kind
    # What the user database, TLS and time zones need is there (scratch copies them in).
    passwd = (root / "etc/passwd").read_text()
    assert re.search(rf"^\w+:x:{image.cg['uid']}:{image.cg['gid']}:", passwd, re.M), passwd
    assert re.search(rf"^\w+:x:{image.cg['gid']}:", (root / "etc/group").read_text(), re.M)
    assert (root / "etc/ssl/certs/ca-certificates.crt").stat().st_size > 10_000
    if image.cg["images"]["runtime"] == "scratch":
        # No zoneinfo in scratch: the binary embeds the time zone database instead.
        info = subprocess.run(["go", "version", "-m", str(binary)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"-tags=\S*timetzdata", info), info
    else:
        assert (root / "usr/share/zoneinfo/Europe/Berlin").is_file()


def test_serves_as_uid_65532_and_reports_build_args(image: Built, metrics):
    ctx, port = _run(image)
    with ctx as cid:
        status, body = containers.wait_http(f"http://127.0.0.1:{port}{image.cg['liveness_path']}")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        status, body = containers.wait_http(f"http://127.0.0.1:{port}{image.cg['readiness_path']}")
        if _ready_expected(image):
            assert status == 200 and json.loads(body)["status"] == "ready", body
        else:
            # Its database or Redis is unreachable: running, live, not ready, and saying which.
            checks = json.loads(body)["checks"]
            assert status == 503 and "failing" in checks.values(), body
            assert {k for k, v in checks.items() if v == "failing"} <= {"database", "redis"}, body
        status, body = containers.wait_http(f"http://127.0.0.1:{port}{image.cg['version_path']}")
        version = json.loads(body)
        assert status == 200
        assert (version["version"], version["commit"], version["date"]) == (
            BUILD_ARGS["VERSION"], BUILD_ARGS["COMMIT"], BUILD_ARGS["DATE"])
        assert version["go"].startswith("go1."), version
        # The builder stand-in carries this machine's toolchain, whatever go_version says.
        metrics["images"][image.name]["built_with"] = version["go"]
        # The process itself, seen from the host: every uid and gid is 65532, no capabilities.
        pid = containers.podman("inspect", cid, "--format", "{{.State.Pid}}").stdout.strip()
        status_text = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status_text.splitlines() if ":" in line)
        assert fields["Uid"].split() == [str(image.cg["uid"])] * 4, fields["Uid"]
        assert fields["Gid"].split() == [str(image.cg["gid"])] * 4, fields["Gid"]
        assert int(fields["CapEff"].strip(), 16) == 0
        assert Path(f"/proc/{pid}/exe").resolve().name == image.cg["binary"]


def test_healthcheck_runs_inside_the_container(image: Built):
    ctx, port = _run(image)
    with ctx as cid:
        containers.wait_http(f"http://127.0.0.1:{port}{image.cg['liveness_path']}")
        # No systemd here to schedule it: run the image's HEALTHCHECK command on demand.
        proc = containers.podman("healthcheck", "run", cid, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        health = json.loads(containers.podman("inspect", cid, "--format", "{{json .State.Health}}").stdout)
        assert health["Status"] == "healthy", health
        assert health["Log"][-1]["ExitCode"] == 0


def test_sigterm_stops_cleanly_within_the_grace_period(image: Built, metrics):
    grace = image.cg["stop_grace_s"]
    ctx, port = _run(image)
    with ctx as cid:
        containers.wait_http(f"http://127.0.0.1:{port}{image.cg['readiness_path']}")
        start = time.monotonic()
        containers.podman("stop", "-t", str(grace), cid, timeout=grace + 30)
        took = time.monotonic() - start
        state = json.loads(containers.podman("inspect", cid, "--format", "{{json .State}}").stdout)
        assert state["ExitCode"] == 0, state  # 137 would mean SIGKILL after the grace period
        assert took < image.cg["shutdown_timeout_s"], took
        out = containers.podman("logs", cid)
        logs = out.stdout + out.stderr
        lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
        assert lines and all({"time", "level", "msg"} <= set(line) for line in lines), logs[-2000:]
        metrics.setdefault("stop_s", {})[image.name] = round(took, 2)


def layers_size(tag: str) -> int:
    """The image's size as registries and `docker image ls` count it: its uncompressed layer tars.

    podman's own "Size" also counts its storage overhead, which grows with the number of
    files: the stand-in base's 1,300 small zoneinfo files weigh 3.8 MB there, 2.5 MB as a layer.
    """
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "image.tar"
        containers.podman("save", "--format", "docker-archive", "-o", str(archive), tag)
        with tarfile.open(archive) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
            return sum(tar.getmember(layer).size for layer in manifest[0]["Layers"])


# The real runtime bases' sizes as `docker images` lists them, since they cannot be pulled
# here: gcr.io/distroless/static:nonroot is 2.43 MB (a size comparison quoted in
# keptn/lifecycle-toolkit issue 1087); scratch is empty. The stand-in for distroless holds
# the same kind of files (CA bundle, this machine's full zoneinfo) and weighs more.
REAL_BASE_BYTES = {"scratch": 0, "distroless": 2_430_000}


def test_image_adds_little_to_its_binary(image: Built, standins, metrics, tmp_path):
    """The image is the binary plus at most IMAGE_OVERHEAD_MAX: what the Dockerfile
    controls. The binary itself grows with the answers (database drivers, ...); its size
    per answer set is recorded in the metrics and in the benchmark results."""
    figures = metrics["images"][image.name]
    binary_bytes = (containers.image_files(image.tag, tmp_path / "rootfs") / image.cg["binary"]).stat().st_size
    runtime = "scratch" if image.cg["images"]["runtime"] == "scratch" else "distroless"
    base = 0 if runtime == "scratch" else layers_size(standins.images["runtime"])
    ours = figures["layers_bytes"] - base
    on_real_base = ours + REAL_BASE_BYTES[runtime]
    figures.update({"own_layers_mb": round(ours / 1e6, 2), "on_real_base_mb": round(on_real_base / 1e6, 2),
                    "binary_mb": round(binary_bytes / 1e6, 2)})
    print(f"{image.name}: {figures['layers_bytes'] / 1e6:.2f} MB on the stand-in base, own layers {ours / 1e6:.2f} MB, "
          f"{on_real_base / 1e6:.2f} MB on the real {runtime} base, binary {binary_bytes / 1e6:.2f} MB; "
          f"builds {json.dumps(figures)}")
    assert ours >= binary_bytes, "the image's own layers must hold the binary"
    assert on_real_base - binary_bytes <= IMAGE_OVERHEAD_MAX, (
        f"{image.name} image would be {on_real_base / 1e6:.2f} MB for a {binary_bytes / 1e6:.2f} MB binary: "
        f"more than {IMAGE_OVERHEAD_MAX / 1e6:.0f} MB around it")


# ----------------------------------------------------------------------------- compose stack

COMPOSE_ANSWER_SETS = ["default", "default-echo"]
# The generated compose file pins the backend subnet (the app trusts Nginx's fixed
# address): one stack at a time on this machine.
COMPOSE_LOCK = containers.LOCK.with_name("copier-gin-compose.lock")
LOAD_SECONDS_MAX = 20
LOAD_REQUESTS_MAX = 20000
# The runner installed in the same environment as pytest (scripts/bootstrap's .venv).
PODMAN_COMPOSE = str(Path(sys.executable).with_name("podman-compose"))


def _podman_compose(project: Path, name: str, files: list[Path], env: dict, *args: str, timeout: float = 300):
    cmd = [PODMAN_COMPOSE, "-p", name]
    for f in files:
        cmd += ["-f", str(f)]
    cmd += list(args)
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{shlex.join(cmd)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _service_containers(name: str, service: str) -> list[str]:
    return sorted(containers.podman(
        "ps", "-a", "--filter", f"label=com.docker.compose.project={name}",
        "--filter", f"label=com.docker.compose.service={service}", "--format", "{{.Names}}").stdout.split())


def _tls_paths(cfg_service: dict) -> dict[str, Path]:
    """Host paths where the Nginx service reads its certificate and key: the
    ssl_certificate(_key) directives of the mounted config, resolved like Nginx does
    (relative to the main config's folder) and mapped through the bind mounts."""
    command = cfg_service.get("command") or []
    main = command[command.index("-c") + 1] if "-c" in command else "/etc/nginx/nginx.conf"
    prefix = Path(main).parent
    binds = [v for v in cfg_service.get("volumes", []) if v["type"] == "bind"]
    found: dict[str, Path] = {}
    for vol in binds:
        src = Path(vol["source"])
        for conf in ([src] if src.is_file() else sorted(src.rglob("*.conf")) if src.is_dir() else []):
            for key, value in re.findall(r"^\s*(ssl_certificate(?:_key)?)\s+(\S+);", conf.read_text(), re.M):
                target = value if value.startswith("/") else str(prefix / value)
                for mount in binds:
                    mt = mount["target"].rstrip("/")
                    if target == mt or target.startswith(mt + "/"):
                        found[key] = Path(mount["source"]) / Path(target).relative_to(mt)
    assert set(found) == {"ssl_certificate", "ssl_certificate_key"}, found
    return found


def _start_order(services: dict, names: list[str]) -> list[str]:
    order: list[str] = []

    def visit(n: str) -> None:
        if n in order:
            return
        for dep in (services[n].get("depends_on") or {}):
            if dep in names:
                visit(dep)
        order.append(n)

    for n in names:
        visit(n)
    return order


def _wait_healthy(container_name: str, health: dict) -> float:
    """Run the container's healthcheck as podman's timer would (there is no systemd here
    to schedule it) until it reports healthy; returns seconds waited."""
    start = time.monotonic()
    interval = min(containers.duration_s(health.get("interval"), 30), 1.0)  # probe faster, same check
    limit = containers.duration_s(health.get("start_period"), 0) + \
        containers.duration_s(health.get("interval"), 30) * int(health.get("retries", 3)) + 10
    while time.monotonic() - start < limit:
        proc = containers.podman("healthcheck", "run", container_name, check=False)
        if proc.returncode == 0:
            return time.monotonic() - start
        time.sleep(interval)
    pytest.fail(f"{container_name} not healthy within {limit}s: {proc.stdout}{proc.stderr}")


@dataclass
class Stack:
    name: str
    project: Path
    files: list[Path]
    env: dict
    cfg: dict
    https_port: int
    http_port: int
    cafile: Path
    app_service: str
    app_containers: list[str]
    nginx_ip: str | None
    gaps: list[str]


@pytest.fixture(scope="module", params=COMPOSE_ANSWER_SETS)
def stack(request, projects, standins, metrics, tmp_path_factory):
    COMPOSE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    lock = open(COMPOSE_LOCK, "w")
    import fcntl

    fcntl.flock(lock, fcntl.LOCK_EX)
    name = f"cgtest{os.getpid()}"
    tags: list[str] = []
    try:
        yield _stack_up(name, request.param, projects, standins, metrics, tmp_path_factory, tags)
    finally:
        containers.remove_project(name)
        for tag in tags:
            containers.podman("untag", tag, tag, check=False)
        left = containers.project_resources(name)
        lock.close()
        assert not any(left.values()), f"compose project {name} left {left}"


def _wait_completed(container_name: str, timeout: float = 120) -> None:
    """Wait for a one-shot container (migrate) to exit; fail unless it exited 0."""
    deadline = time.monotonic() + timeout
    while True:
        state = json.loads(containers.podman("inspect", container_name, "--format", "{{json .State}}").stdout)
        if state["Status"] in ("exited", "stopped"):
            assert state["ExitCode"] == 0, f"{container_name} exited {state['ExitCode']}: " \
                + containers.podman("logs", container_name, check=False).stdout[-3000:]
            return
        assert time.monotonic() < deadline, f"{container_name} still {state['Status']} after {timeout} s"
        time.sleep(0.5)


def _stack_up(name, answer_set, projects, standins, metrics, tmp_path_factory, tags) -> Stack:
    started = time.monotonic()
    base = tmp_path_factory.mktemp("stack")
    project = base / "project"
    shutil.copytree(projects(answer_set), project)
    # The backend network as a host moves it off the name-derived default (docs/deployment.md):
    # Nginx's address and the one proxy the app trusts must follow (checked below and by the
    # client addresses the app logs).
    env = dict(os.environ, **BUILD_ARGS, **STACK_NET)
    compose_file = project / "compose.yaml"
    cfg = containers.compose_config(project, [compose_file], env)
    services = cfg["services"]
    gaps: list[str] = []

    # Images: what `compose build` would build, built like the image tests do (stand-ins
    # for the external FROMs), tagged with the file's own image names.
    runnable: list[str] = []
    standin_images: dict[str, str] = {}
    # A service that runs an image another service builds (the one-shot migrate runs the
    # app's image) runs that build.
    built_here = {desc["image"] for desc in services.values() if "build" in desc}
    for svc, desc in services.items():
        if "build" not in desc and desc.get("image") in built_here:
            runnable.append(svc)
            continue
        if "build" in desc:
            build = desc["build"]
            containers.build_image(Path(build["context"]), desc["image"], standins, build.get("args") or {},
                                   dockerfile=build.get("dockerfile", "Dockerfile"))
            tags.append(desc["image"])
            runnable.append(svc)
            continue
        try:
            standin_images[svc] = standins.images[containers.standin_kind(desc["image"])]
            runnable.append(svc)
        except AssertionError:
            gaps.append(f"service {svc} not started: no stand-in for {desc['image']} on this machine")
    app = next(s for s in runnable if "build" in services[s])
    nginx = next(s for s, ref in standin_images.items() if ref == standins.nginx)

    # Test certificate where the Nginx config reads it (self-signed for localhost/127.0.0.1).
    tls = _tls_paths(services[nginx])
    for path in tls.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(tls["ssl_certificate_key"]), "-out", str(tls["ssl_certificate"])],
                   check=True, capture_output=True, timeout=60)

    # Override file (like `-f compose.override.yaml`): stand-in images, and every published
    # port on a free loopback port instead of the host's public 80/443.
    published: dict[tuple[str, int], int] = {}
    lines = ["services:"]
    for svc in runnable:
        entry = []
        if svc in standin_images:
            entry.append(f"    image: {json.dumps(standin_images[svc])}")
        ports = services[svc].get("ports") or []
        if ports:
            mapped = []
            for port in ports:
                host = free_port()
                published[(svc, int(port["target"]))] = host
                mapped.append(f"127.0.0.1:{host}:{port['target']}/{port.get('protocol', 'tcp')}")
            entry.append(f"    ports: !override {json.dumps(mapped)}")
        if entry:
            lines += [f"  {svc}:", *entry]
    override = base / "compose.test-override.yaml"
    override.write_text("\n".join(lines) + "\n")
    files = [compose_file, override]
    merged = containers.compose_config(project, files, env)
    for svc in runnable:
        for port in merged["services"][svc].get("ports") or []:
            assert port.get("host_ip") == "127.0.0.1", port

    # What the runner does with the file alone (a plain `up -d`), then start over.
    replicas = {svc: int((services[svc].get("deploy") or {}).get("replicas") or 1) for svc in runnable}
    proc = _podman_compose(project, name, files, env, "up", "-d", "--no-build", *runnable)
    warnings = {line.split(":", 2)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("WARNING")}
    for svc in runnable:
        made = len(_service_containers(name, svc))
        if made != replicas[svc]:
            gaps.append(f"podman-compose created {made} {svc} container(s) for deploy.replicas: "
                        f"{replicas[svc]} (it reads replicas only with an explicit deploy.mode: replicated); "
                        f"the test passes --scale {svc}={replicas[svc]}")
    containers.remove_project(name)

    # Start in depends_on order; wait for service_healthy conditions ourselves.
    for svc in _start_order(services, runnable):
        for dep, cond in (services[svc].get("depends_on") or {}).items():
            if cond.get("condition") == "service_healthy" and dep in runnable:
                for cname in _service_containers(name, dep):
                    _wait_healthy(cname, services[dep]["healthcheck"])
            if cond.get("condition") == "service_completed_successfully" and dep in runnable:
                for cname in _service_containers(name, dep):
                    _wait_completed(cname)
        args = ["up", "-d", "--no-build", "--no-deps"]
        if replicas[svc] > 1:
            args += ["--scale", f"{svc}={replicas[svc]}"]
        _podman_compose(project, name, files, env, *args, svc)
        assert len(_service_containers(name, svc)) == replicas[svc]
    if any("condition check" in w for w in warnings):
        gaps.append("podman-compose ignores depends_on condition service_healthy with podman < 4.6 "
                    f"({'; '.join(sorted(w for w in warnings if 'condition check' in w))}); the test runs the "
                    "healthchecks (no systemd here to schedule them) and starts "
                    f"{nginx} after every {app} replica was healthy")

    # Settings the runner should have carried onto the containers.
    app_containers = _service_containers(name, app)
    want_stop = containers.duration_s(services[app].get("stop_grace_period"), 10)
    for cname in app_containers:
        got = json.loads(containers.podman("inspect", cname, "--format", "json").stdout)[0]
        if got["Config"].get("StopTimeout") != int(want_stop):
            gaps.append(f"podman-compose does not apply stop_grace_period ({app}: {want_stop:.0f}s) to the "
                        f"containers (StopTimeout {got['Config'].get('StopTimeout')}s, used by a plain podman "
                        f"stop); only its own `down` uses it. The test stops with podman stop -t {want_stop:.0f}")
        assert got["Config"]["User"] == services[app]["user"]
        assert got["HostConfig"]["ReadonlyRootfs"] is bool(services[app].get("read_only"))
        assert got["Config"]["Healthcheck"]["Test"] == services[app]["healthcheck"]["test"]
        for label, value in (services[app].get("labels") or {}).items():
            assert got["Config"]["Labels"].get(label) == value, label
    nginx_ip = None
    for net in (services[nginx].get("networks") or {}).values():
        if net and net.get("ipv4_address"):
            nginx_ip = net["ipv4_address"]
    if nginx_ip:
        assert nginx_ip == STACK_NET["BACKEND_NET"] + ".10", nginx_ip
        nets = json.loads(containers.podman("inspect", _service_containers(name, nginx)[0], "--format",
                                            "{{json .NetworkSettings.Networks}}").stdout)
        assert nginx_ip in {n["IPAddress"] for n in nets.values()}, nets

    https_port = published[(nginx, 443)]
    cafile = tls["ssl_certificate"]
    ctx = ssl.create_default_context(cafile=str(cafile))
    # /livez: Nginx does not pass the internal /readyz and /version on (the app answers 404).
    status, body = containers.wait_http(f"https://127.0.0.1:{https_port}/livez", timeout=60, context=ctx)
    assert status == 200, body
    metrics["compose"] = {"runner": "podman-compose " + _runner_version(), "gaps": sorted(set(gaps)),
                          "stack_up_s": round(time.monotonic() - started, 1)}
    return Stack(name, project, files, env, cfg, https_port, published.get((nginx, 80), 0), cafile,
                 app, app_containers, nginx_ip, gaps)


def _runner_version() -> str:
    out = subprocess.run([PODMAN_COMPOSE, "version"], capture_output=True, text=True).stdout
    m = re.search(r"podman-compose version\s+(\S+)", out)
    return m.group(1) if m else out.strip()[:40]


def _https(stack: Stack):
    ctx = ssl.create_default_context(cafile=str(stack.cafile))
    return http.client.HTTPSConnection("127.0.0.1", stack.https_port, context=ctx, timeout=10)


def _access_log(container_name: str) -> dict[str, dict]:
    """The app's access log lines by request id."""
    proc = containers.podman("logs", container_name)
    lines = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("msg") == "request":
                lines[entry.get("request_id")] = entry
    return lines


def _request_ids_served(container_name: str) -> set[str]:
    return set(_access_log(container_name))


def test_compose_stack_serves_https_from_both_replicas(stack: Stack, metrics):
    assert len(stack.app_containers) >= 2
    sent = []
    conn = _https(stack)
    for i in range(40):
        rid = f"ctr-spread-{i}"
        conn.request("GET", f"/api/v1/greetings/Ada{i}", headers={"X-Request-ID": rid})
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
        assert resp.getheader("X-Request-ID") == rid
        assert json.loads(body) == {"message": f"Hello, Ada{i}!"}
        sent.append(rid)
    conn.close()
    logs = {c: _access_log(c) for c in stack.app_containers}
    served = {c: set(log) & set(sent) for c, log in logs.items()}
    assert all(served.values()), {c: len(ids) for c, ids in served.items()}
    assert set().union(*served.values()) == set(sent)
    # The app believes Nginx's X-Forwarded-For (Nginx has the fixed address the app
    # trusts): the client it logs is the one Nginx saw, not Nginx itself.
    if stack.nginx_ip:
        clients = {log[rid]["client_ip"] for c, log in logs.items() for rid in served[c]}
        assert stack.nginx_ip not in clients and "" not in clients, clients
    # Plain HTTP redirects to HTTPS.
    if stack.http_port:
        plain = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10)
        plain.request("GET", "/version")
        resp = plain.getresponse()
        assert resp.status in (301, 308) and resp.getheader("Location", "").startswith("https://")
        plain.close()
    metrics.setdefault("compose", {})["spread"] = {c: len(ids) for c, ids in served.items()}


def test_stopping_a_replica_under_load_loses_no_request(stack: Stack, metrics):
    """Bounded load (<= 20 s, <= 20000 requests, loopback) while one replica gets SIGTERM."""
    victim, survivor = stack.app_containers[0], stack.app_containers[1]
    grace = containers.duration_s(stack.cfg["services"][stack.app_service].get("stop_grace_period"), 10)
    results: list[tuple[float, int | str]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + LOAD_SECONDS_MAX
    stop_load = threading.Event()

    def worker(n: int) -> None:
        conn = _https(stack)
        i = 0
        while not stop_load.is_set() and time.monotonic() < deadline:
            with lock:
                if len(results) >= LOAD_REQUESTS_MAX:
                    return
            i += 1
            try:
                conn.request("GET", "/livez", headers={"X-Request-ID": f"ctr-load-{n}-{i}"})
                resp = conn.getresponse()
                resp.read()
                outcome: int | str = resp.status
            except (OSError, http.client.HTTPException) as exc:
                outcome = f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = _https(stack)
            with lock:
                results.append((time.monotonic(), outcome))
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop_started = time.monotonic()
    containers.podman("stop", "-t", str(int(grace)), victim, timeout=grace + 30)
    stopped_at = time.monotonic()
    time.sleep(2.0)  # keep the load on the survivor for a while
    stop_load.set()
    for t in threads:
        t.join(timeout=LOAD_SECONDS_MAX + 15)
    failures = [r for r in results if r[1] != 200]
    after = [r for r in results if r[0] > stopped_at]
    state = json.loads(containers.podman("inspect", victim, "--format", "{{json .State}}").stdout)
    metrics.setdefault("compose", {})["replica_stop"] = {
        "requests": len(results), "failures": len(failures), "after_stop": len(after),
        "stop_took_s": round(stopped_at - stop_started, 2), "victim_exit_code": state["ExitCode"],
    }
    print(json.dumps(metrics["compose"], indent=2))
    assert results and after, "no load ran"
    assert not failures, failures[:10]
    assert state["ExitCode"] == 0, state
    assert stopped_at - stop_started < grace
    # The survivor took the requests after the stop.
    assert any(rid.startswith("ctr-load-") for rid in _request_ids_served(survivor))
