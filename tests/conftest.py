"""Shared fixtures: generate projects from the working tree and run their tools.

Generated projects are cached per answer set for the whole session (`project`), and
every Go command shares this machine's module and build caches, so each module is
downloaded and each package compiled once across all projects.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from copier import run_copy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "extensions"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_sets import ANSWER_SETS, VARIANTS  # noqa: E402

# Real PostgreSQL, MariaDB and Redis servers for the services that need them (dbservers.py),
# and a real Prometheus that scrapes them (promserver.py).
pytest_plugins = ["dbservers", "promserver"]

TOOLS_BIN = Path(os.environ.get("TOOLS_BIN", Path.home() / ".cache" / "copier-gin" / "bin"))


def go_env() -> dict[str, str]:
    """Environment for the generated projects' Go commands: local toolchain, shared caches."""
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = "local"
    env["GOFLAGS"] = "-buildvcs=false"
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("GIN_MODE", None)
    return env


def generate(dst: Path, answers: dict | None = None, **kwargs) -> Path:
    """`copier copy` the working tree (uncommitted changes included) into dst.

    vcs_ref "HEAD" is what makes it the working tree: Copier adds a local template's
    uncommitted changes to HEAD, while without a ref it takes the newest release tag.
    """
    run_copy(
        src_path=str(ROOT),
        dst_path=str(dst),
        data=answers or {},
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref=kwargs.pop("vcs_ref", "HEAD"),
        **kwargs,
    )
    return dst


def run(cmd: list[str], cwd: Path, timeout: float = 600, env: dict | None = None, check: bool = True):
    """Run a command, fail the test with its output when it fails."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=env or go_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} exited {proc.returncode} in {cwd}\n"
            f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"
        )
    return proc


def read_response(sock) -> bytes:
    """Read one HTTP response with a JSON body from a raw socket: until the head is complete
    and the body's closing brace has arrived, or the peer closes."""
    raw = b""
    while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    return raw


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers_of_set(name: str) -> dict:
    """The answers of an answer set or of a variant (answer_sets.py), by name."""
    return ANSWER_SETS[name] if name in ANSWER_SETS else VARIANTS[name]


class Projects:
    """Session cache of generated projects, one per answer-set name."""

    def __init__(self, base: Path):
        self.base = base
        self._made: dict[str, Path] = {}

    def __call__(self, name: str) -> Path:
        if name not in self._made:
            dst = self.base / name
            if dst.exists():
                shutil.rmtree(dst)
            generate(dst, answers_of_set(name))
            self._made[name] = dst
        return self._made[name]


@pytest.fixture(scope="session")
def projects(tmp_path_factory) -> Projects:
    return Projects(tmp_path_factory.mktemp("projects"))


@pytest.fixture(scope="session")
def built(projects, tmp_path_factory):
    """Build each project's binary once (with version ldflags) and return its path."""
    cache: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in cache:
            project = projects(name)
            run(["make", "build", "VERSION=1.2.3-test", "COMMIT=abc1234", "DATE=2026-01-02T03:04:05Z"], project)
            binary = project / "bin" / str(answers_of_set(name).get("service_name", "example-service"))
            assert binary.is_file(), list((project / "bin").iterdir())
            # A copy of its own: other tests run make build (without these flags) and
            # make build-all in the same project.
            kept = tmp_path_factory.mktemp(f"bin-{name}") / binary.name
            shutil.copy2(binary, kept)
            cache[name] = kept
        return cache[name]

    return build


def engine_of(name: str) -> str:
    """The `database` answer of an answer set (sqlite when it keeps the default)."""
    return str(answers_of_set(name).get("database", "sqlite"))


def data_env(request, name: str, prefix: str, workdir: Path) -> dict[str, str]:
    """Settings that give a service generated from answer set `name` its database and
    Redis: a fresh database on the session's real server (dbservers.py), or an SQLite
    file in workdir; pending migrations applied at start."""
    engine = engine_of(name)
    env: dict[str, str] = {}
    if engine != "none":
        url = {
            "sqlite": lambda: f"file:{workdir}/service.db",
            "postgres": lambda: request.getfixturevalue("postgres_url"),
            "mysql": lambda: request.getfixturevalue("mariadb_url"),
        }[engine]()
        env[f"{prefix}_DATABASE_URL"] = url
        env[f"{prefix}_DATABASE_MIGRATE_ON_START"] = "true"
    if answers_of_set(name).get("redis"):
        env[f"{prefix}_REDIS_URL"] = request.getfixturevalue("redis_url")
    return env
