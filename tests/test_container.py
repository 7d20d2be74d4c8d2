"""Build the generated Dockerfile, unmodified, with podman and run the image.

The external base images are mapped onto local stand-ins (tests/containers.py), built
once per machine. Figures (image sizes, build times) are printed by the tests (see them
with `-rP`) and written to container-metrics.json in pytest's base temp directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import containers
from conftest import free_port
from settings import derive

ANSWER_SETS_UNDER_TEST = ["default", "orders"]
BUILD_ARGS = {"VERSION": "1.2.3-ctr", "COMMIT": "c0ffee1", "DATE": "2026-01-02T03:04:05Z"}
IMAGE_SIZE_GOAL = 15 * 1000 * 1000  # bytes, as podman reports sizes (MB = 10^6)

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
        cache_mounts = Path("/var/tmp/buildah-cache-0").exists()
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
        metrics.setdefault("images", {})[name] = {
            "size_bytes": size,
            "size_mb": round(size / 1e6, 2),
            "build_cold_no_layer_cache_s": round(cold, 1),
            "cache_mounts_already_present": cache_mounts,
            "build_warm_after_source_edit_s": round(warm, 1),
            "build_noop_s": round(noop, 1),
        }
        cache[name] = Built(name, project, tag, cg, answers)
        return cache[name]

    return build


@pytest.fixture(params=ANSWER_SETS_UNDER_TEST)
def image(request, images) -> Built:
    return images(request.param)


def _run(built: Built, *extra: str):
    port = free_port()
    ctx = containers.container(built.tag, "-p", f"127.0.0.1:{port}:{built.cg['http_port']}", *extra)
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
        assert re.search(rf"^FROM\s+{re.escape(ref)}(\s|$)", text, re.M), ref


def test_image_config(image: Built):
    config = containers.image_inspect(image.tag)["Config"]
    binary = f"/{image.cg['binary']}"
    assert config["User"] == f"{image.cg['uid']}:{image.cg['gid']}"
    assert config["Entrypoint"] == [binary]
    assert f"{image.cg['http_port']}/tcp" in config.get("ExposedPorts", {})
    assert config["Healthcheck"]["Test"] == ["CMD", binary, "healthcheck"], config.get("Healthcheck")
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
    assert (root / "usr/share/zoneinfo/Europe/Berlin").is_file()


def test_serves_as_uid_65532_and_reports_build_args(image: Built):
    ctx, port = _run(image)
    with ctx as cid:
        status, body = containers.wait_http(f"http://127.0.0.1:{port}{image.cg['liveness_path']}")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        status, body = containers.wait_http(f"http://127.0.0.1:{port}{image.cg['readiness_path']}")
        assert status == 200 and json.loads(body)["status"] == "ready", body
        status, body = containers.wait_http(f"http://127.0.0.1:{port}{image.cg['version_path']}")
        version = json.loads(body)
        assert status == 200
        assert (version["version"], version["commit"], version["date"]) == (
            BUILD_ARGS["VERSION"], BUILD_ARGS["COMMIT"], BUILD_ARGS["DATE"])
        assert version["go"].startswith("go1."), version
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


def test_image_size_meets_the_goal(image: Built, metrics):
    size = containers.image_inspect(image.tag)["Size"]
    figures = metrics["images"][image.name]
    print(f"{image.name}: image {size / 1e6:.2f} MB, builds {json.dumps(figures)}")
    assert size < IMAGE_SIZE_GOAL, f"{image.name} image is {size / 1e6:.2f} MB, goal < {IMAGE_SIZE_GOAL / 1e6:.0f} MB"
