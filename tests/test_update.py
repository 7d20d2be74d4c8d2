"""`copier update` keeps a team's work and brings the template's changes.

The module makes a temporary git clone of this template's working tree (uncommitted
changes included) and tags it 0.1.0. On top it commits what a real next release looks
like and tags it 0.2.0: a changed file (a server default in extensions/settings.py), a new
file, a moved file, a changed question default. A small 0.2.1 follows to check that
migrations run once.

The answer change `with_github_actions` -> `ci_provider` (extensions/migrations/to_0_2_0.py)
is in the working tree itself: it is proven on a real update from the recorded release
0.1.0, which asked with_github_actions, to the working tree tagged as the next release.

Projects are generated from 0.1.0 with the copier CLI, put under git, edited the way a team
edits them, committed, and updated with `copier update`. Then the project's own checks run:
`go build`, `go vet`, `go test` and `make check-conflicts`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from answer_sets import ANSWER_SETS
from conftest import ROOT, go_env, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("update")]

MIGRATION_TAG = "copier-gin migration 0.2.0:"
CONFLICT_START = "<<<<<<< "
CONFLICT_END = ">>>>>>> "

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Update Test",
    "GIT_AUTHOR_EMAIL": "update-test@example.invalid",
    "GIT_COMMITTER_NAME": "Update Test",
    "GIT_COMMITTER_EMAIL": "update-test@example.invalid",
}


def env() -> dict[str, str]:
    out = go_env()
    out.update(GIT_IDENTITY)
    # The machine's git settings (signing, hooks, default branch) stay out of the test.
    out["GIT_CONFIG_GLOBAL"] = os.devnull
    out["GIT_CONFIG_NOSYSTEM"] = "1"
    # `make update` calls `copier` from PATH: this venv's.
    out["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{out['PATH']}"
    return out


def sh(cmd: list[str], cwd: Path, check: bool = True, timeout: float = 600):
    return run([str(c) for c in cmd], cwd, timeout=timeout, env=env(), check=check)


def git(cwd: Path, *args: str, check: bool = True):
    return sh(["git", *args], cwd, check=check)


def copier(cwd: Path, *args: str, check: bool = True):
    """The copier CLI of this venv, as a team runs it."""
    return sh([sys.executable, "-m", "copier", *args], cwd, check=check)


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)


def answers_of(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


# --------------------------------------------------------------------------- the releases


def copy_working_tree(dst: Path) -> None:
    """Tracked and untracked (not ignored) files of the working tree, as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if ".egg-info/" in rel:
            continue
        src = ROOT / rel
        if not src.is_file():  # deleted in the working tree
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def working_tree_release(repo: Path) -> Path:
    """repo made a git repository of the working tree tagged 0.1.0: the release the tests
    generate from, their later releases being commits on top of it."""
    copy_working_tree(repo)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "copier-gin as in the working tree")
    git(repo, "tag", "-a", "0.1.0", "-m", "0.1.0")
    return repo


def replace_once(path: Path, pattern: str, replacement: str, flags: int = 0) -> None:
    text = path.read_text()
    new, count = re.subn(pattern, replacement, text, count=1, flags=flags)
    assert count == 1, f"release change no longer applies: {pattern!r} not found in {path}"
    path.write_text(new)


def release_0_2_0(repo: Path) -> None:
    """What the next release changes, as a template developer would commit it."""
    # Changed file: a server default. The Go config's default is rendered from it.
    replace_once(repo / "extensions/settings.py", r"HTTP_IDLE_TIMEOUT_S = 60\b", "HTTP_IDLE_TIMEOUT_S = 75")
    # Changed question default: recorded answers must win over it.
    replace_once(repo / "copier.yml", r"(\nshutdown_timeout:\n(?:  .*\n)*?  default: )20\n", r"\g<1>30\n")
    # New file.
    (repo / "template/docs/troubleshooting.md").write_text(
        "<!-- Managed by copier-gin: take template improvements with `make update`. -->\n"
        "# Troubleshooting\n\nThe service exits non-zero at start and names the variable it could not read.\n"
    )
    # Moved file.
    (repo / "template/docs/maintenance").mkdir()
    git(repo, "mv", "template/docs/updating.md.jinja", "template/docs/maintenance/updating.md.jinja")
    for doc in (repo / "template/docs").glob("*.md*"):
        doc.write_text(doc.read_text().replace("(updating.md)", "(maintenance/updating.md)"))


def release_0_2_1(repo: Path) -> None:
    with (repo / "template/docs/troubleshooting.md").open("a") as fh:
        fh.write("\n`make help` lists every target.\n")


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> Path:
    """A git clone of the template with the tags 0.1.0 (now), 0.2.0 and 0.2.1."""
    repo = working_tree_release(tmp_path_factory.mktemp("template-releases"))
    assert (repo / "template/docs/updating.md.jinja").is_file(), "template/docs/updating.md.jinja is missing"
    release_0_2_0(repo)
    commit_all(repo, "Release 0.2.0")
    git(repo, "tag", "-a", "0.2.0", "-m", "0.2.0")
    release_0_2_1(repo)
    commit_all(repo, "Release 0.2.1")
    git(repo, "tag", "-a", "0.2.1", "-m", "0.2.1")
    return repo


def new_project(releases: Path, dst: Path, answers: dict, ref: str = "0.1.0") -> Path:
    """copier copy from a release, then git init and commit, as the after-copy message says."""
    data = dst.parent / f"{dst.name}-answers.yml"
    data.write_text(yaml.safe_dump(answers))
    copier(dst.parent, "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", ref,
           "--data-file", str(data), str(releases), str(dst))
    git(dst, "init", "-q", "-b", "main")
    commit_all(dst, f"Generate from copier-gin {ref}")
    return dst


def update(project: Path, ref: str, *extra: str, check: bool = True):
    return copier(project, "update", "--trust", "--defaults", "--conflict", "inline",
                  "--vcs-ref", ref, *extra, check=check)


def go_checks(project: Path) -> None:
    # What `make update` runs after `copier update`: go.mod raised to the template's
    # modules, .env.example rewritten from the settings structs (a Go test checks it).
    for cmd in (["make", "deps", "env-example"], ["go", "build", "./..."], ["go", "vet", "./..."], ["go", "test", "-count=1", "./..."]):
        sh(cmd, project)


def conflict_files(project: Path) -> list[str]:
    found = []
    for path in project.rglob("*"):
        if ".git" in path.parts or not path.is_file():
            continue
        if path.suffix == ".rej":
            found.append(str(path.relative_to(project)))
            continue
        lines = path.read_text(errors="replace").splitlines()
        if any(line.startswith(CONFLICT_START) for line in lines) and any(
            line.startswith(CONFLICT_END) for line in lines
        ):
            found.append(str(path.relative_to(project)))
    return sorted(found)


# --------------------------------------------------------------------------- team edits

TEAM_HANDLER = """\
package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Stock answers GET {prefix}/stock/:sku with a fixed level; the team's first real endpoint.
func Stock(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"sku": c.Param("sku"), "level": 7})
}
"""

TEAM_ROUTES = """\
// Package api holds the service's business endpoints. Owned by the team.
package api

import (
	"github.com/gin-gonic/gin"

	"{module}/internal/service"
)

// Register mounts the API's routes under /api/v1.
func Register(r *gin.RouterGroup, _ *service.Deps) {{
	r.GET("/api/v1/openapi.yaml", describe)
	r.GET("/api/v1/stock/:sku", Stock)
}}
"""

# The team describes its route in the API's contract (internal/api/openapi.yaml) and
# exercises it in the contract test's scenario: both are the team's files, and the
# contract test fails until they agree with the routes.
STOCK_OPENAPI_PATH = """\
  /stock/{sku}:
    get:
      operationId: getStock
      summary: Stock level of one SKU
      parameters:
        - name: sku
          in: path
          required: true
          schema:
            type: string
      responses:
        "200":
          description: The level
          content:
            application/json:
              schema:
                type: object
                required: [sku, level]
                properties:
                  sku:
                    type: string
                  level:
                    type: integer
        "503":
          description: The inventory API is unavailable
          content:
            application/json:
              schema:
                type: object
                required: [error]
"""

TEAM_OPENAPI = """\
openapi: 3.1.0
info:
  title: Stock
  version: "1"
servers:
  - url: /api/v1
paths:
  /openapi.yaml:
    get:
      operationId: getOpenAPI
      responses:
        "200":
          description: This description
          content:
            application/yaml: {}
""" + STOCK_OPENAPI_PATH


def describe_team_route(project: Path, status: int, replace_examples: bool = False) -> dict[str, str]:
    """Describe GET /api/v1/stock/{sku} in openapi.yaml and call it in the contract test's
    scenario (expecting `status`); with replace_examples, the examples' routes go. Returns
    the two files' new contents."""
    api = project / "internal/api"
    spec, contract = api / "openapi.yaml", api / "contract_test.go"
    if replace_examples:
        spec.write_text(TEAM_OPENAPI)
    else:
        text = spec.read_text()
        assert text.count("\npaths:\n") == 1
        spec.write_text(text.replace("\npaths:\n", "\npaths:\n" + STOCK_OPENAPI_PATH, 1))
    exchange = f'\t\t{{http.MethodGet, apiPrefix + "/stock/abc-1", "", "", {status}}},\n'
    text = contract.read_text()
    start = text.index("\tscenario := []exchange{\n") + len("\tscenario := []exchange{\n")
    if replace_examples:
        end = text.index("\n\t}\n", start) + 1
        keep = '\t\t{http.MethodGet, apiPrefix + "/openapi.yaml", "", "", http.StatusOK},\n'
        text = text[:start] + keep + exchange + text[end:]
    else:
        text = text[:start] + exchange + text[start:]
    contract.write_text(text)
    return {"internal/api/openapi.yaml": spec.read_text(), "internal/api/contract_test.go": contract.read_text()}


TEAM_TEST = """\
package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"{module}/internal/service"
)

func TestStockRoute(t *testing.T) {{
	gin.SetMode(gin.TestMode)
	engine := gin.New()
	Register(engine.Group(""), &service.Deps{{}})
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/stock/abc-1", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"sku":"abc-1"`) {{
		t.Fatalf("GET /api/v1/stock/abc-1 = %d %s", rec.Code, rec.Body.String())
	}}
}}
"""

TEAM_SETTINGS = """\
package service

// Settings are the service's own settings: none yet.
type Settings struct{}
"""

TEAM_SERVICE = """\
// Package service builds what the handlers need. Owned by the team.
package service

import (
	"context"
	"log/slog"

	"{module}/internal/lifecycle"
)

// Deps are the service's dependencies.
type Deps struct {{
	Logger *slog.Logger
}}

// New builds the dependencies.
func New(_ context.Context, _ Settings, life *lifecycle.Hooks) (*Deps, error) {{
	return &Deps{{Logger: life.Logger()}}, nil
}}
"""

README_NOTES = "\n## On call\n\nPage the stock team in #stock-oncall; runbook in the wiki.\n"


def optional_files(project: Path) -> list[str]:
    """Generated deployment files a team may drop (it deletes the first one)."""
    return sorted(
        str(p.relative_to(project))
        for p in project.rglob("*")
        if p.is_file() and ".git" not in p.parts and p.relative_to(project).parts[0] == "deploy"
    )


# Answer sets whose team deletes the example API, as its comment invites; the others keep
# it and add their route beside the example's.
DROPS_EXAMPLE = {"minimal"}


def team_edits(project: Path, drop_example: bool) -> dict[str, str | None]:
    """Edit the project like a team; return {path: content or None if deleted} to check later."""
    answers = answers_of(project)
    prefix = re.sub(r"[^A-Z0-9]", "_", answers["service_name"].upper())
    expect: dict[str, str | None] = {}
    api = project / "internal/api"
    # A new handler and its route.
    if drop_example:
        for name in ("greetings.go", "greetings_test.go"):
            assert (api / name).is_file(), f"the example handler internal/api/{name} is missing"
            (api / name).unlink()
            expect[f"internal/api/{name}"] = None
        routes = TEAM_ROUTES.format(module=answers["module_path"])
    else:
        routes, count = re.subn(
            r"(\n(\t+)(\w+) := r\.Group\(\"/api/v1\"\)\n)",
            "\\1\\2\\3.GET(\"/stock/:sku\", Stock)\n",
            (api / "routes.go").read_text(),
        )
        assert count == 1, "internal/api/routes.go has no v1 := r.Group(\"/api/v1\") in Register"
    team_test = TEAM_TEST.format(module=answers["module_path"])
    for name, text in (("stock.go", TEAM_HANDLER), ("stock_test.go", team_test), ("routes.go", routes)):
        (api / name).write_text(text)
        expect[f"internal/api/{name}"] = text
    expect.update(describe_team_route(project, 200, replace_examples=drop_example))
    if drop_example:
        # The example dependency goes too: its package, its wiring and its settings.
        module = answers["module_path"]
        shutil.rmtree(project / "internal/upstream")
        expect["internal/upstream/upstream.go"] = None
        (project / "internal/service/service_test.go").unlink()
        expect["internal/service/service_test.go"] = None
        for name, text in (("settings.go", TEAM_SETTINGS), ("service.go", TEAM_SERVICE.format(module=module))):
            (project / "internal/service" / name).write_text(text)
            expect[f"internal/service/{name}"] = text
        sh(["make", "tidy", "env-example"], project)
    # An edited README.
    readme = project / "README.md"
    assert readme.is_file(), "README.md is missing"
    readme.write_text(readme.read_text() + README_NOTES)
    expect["README.md"] = readme.read_text()
    # A changed environment default in the team's own file.
    dotenv = project / ".env"
    dotenv.write_text(f"{prefix}_LOG_LEVEL=debug\n{prefix}_LOG_FORMAT=text\n")
    expect[".env"] = dotenv.read_text()
    # A deleted optional file.
    dropped = optional_files(project)
    if dropped:
        (project / dropped[0]).unlink()
        expect[dropped[0]] = None
    # A comment added at the end of a template-owned file: a non-conflicting edit merges.
    config = project / "internal/config/config.go"
    config.write_text(config.read_text() + "\n// Team note: LOG_LEVEL=debug in staging.\n")
    expect["internal/config/config.go#tail"] = "// Team note: LOG_LEVEL=debug in staging.\n"
    return expect


def assert_team_edits_survived(project: Path, expect: dict[str, str | None]) -> None:
    for rel, want in expect.items():
        if rel.endswith("#tail"):
            text = (project / rel.split("#")[0]).read_text()
            assert text.endswith(want), f"{rel}: the team's edit was lost"
            continue
        path = project / rel
        if want is None:
            assert not path.exists(), f"{rel} was deleted by the team but the update brought it back"
        else:
            assert path.is_file(), f"{rel} was lost"
            assert path.read_text() == want, f"{rel} was changed by the update"


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", ["default", "orders", "minimal"])
def test_update_brings_release_and_keeps_team_edits(releases, tmp_path, name):
    project = new_project(releases, tmp_path / name, ANSWER_SETS[name])
    before = answers_of(project)
    assert before["_commit"] == "0.1.0"
    idle_old = (project / "internal/config/config.go").read_text()
    assert 'envDefault:"60s"' in idle_old

    expect = team_edits(project, drop_example=name in DROPS_EXAMPLE)
    commit_all(project, "Team work: stock endpoint, README, .env, drop a deploy file")

    result = update(project, "0.2.0")
    # The 0.2.0 migration runs once, with nothing to do: the working tree asks ci_provider.
    assert result.stderr.count(MIGRATION_TAG) + result.stdout.count(MIGRATION_TAG) == 1

    after = answers_of(project)
    # The answers file records the new version and keeps every recorded answer.
    assert after["_commit"] == "0.2.0"
    for key, value in before.items():
        if not key.startswith("_"):
            assert after[key] == value, key
    # Changed question default (shutdown_timeout 20 -> 30) did not override the answer.
    assert after["shutdown_timeout"] == ANSWER_SETS[name].get("shutdown_timeout", 20)
    # The CI answer and its files (the migration from with_github_actions: tests below).
    provider = ANSWER_SETS[name].get("ci_provider", "github")
    assert after["ci_provider"] == provider
    assert (project / ".github").is_dir() == (provider == "github")
    assert (project / ".gitlab-ci.yml").is_file() == (provider == "gitlab")

    # The template's change arrived: changed default, new file, moved file.
    config = (project / "internal/config/config.go").read_text()
    assert 'HTTP_IDLE_TIMEOUT" envDefault:"75s"' in config and 'envDefault:"60s"' not in config
    assert (project / "docs/troubleshooting.md").is_file()
    assert (project / "docs/maintenance/updating.md").is_file()
    assert not (project / "docs/updating.md").exists()

    assert_team_edits_survived(project, expect)
    assert conflict_files(project) == []
    if provider != "none":
        assert_ci_runs_check_conflicts(project, provider)
    sh(["make", "check-conflicts"], project)
    go_checks(project)
    # Nothing else is left for the team to clean up: the update is one reviewable commit.
    commit_all(project, "Update to copier-gin 0.2.0")
    assert git(project, "status", "--porcelain").stdout == ""


def assert_ci_runs_check_conflicts(project: Path, provider: str = "github") -> None:
    """The generated CI runs `make ... check-conflicts` on every push and pull request."""
    if provider == "gitlab":
        pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
        assert re.match(r"make\b.*\bcheck-conflicts\b", pipeline["go"]["script"][0]), pipeline["go"]
        return
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "push" in triggers and "pull_request" in triggers
    runs = [
        step.get("run", "")
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
    ]
    assert any(
        re.search(r"(^|\n)\s*make\b[^\n]*\bcheck-conflicts\b", run) for run in runs
    ), f"no CI step runs make check-conflicts: {runs}"


def test_conflicting_edit_leaves_markers_that_check_conflicts_catches(releases, tmp_path):
    project = new_project(releases, tmp_path / "conflict", ANSWER_SETS["default"])
    config = project / "internal/config/config.go"
    text = config.read_text()
    assert text.count('envDefault:"60s"') == 1
    # The team raised the same default the release changes: a true conflict.
    config.write_text(text.replace('envDefault:"60s"', 'envDefault:"90s"'))
    commit_all(project, "Team: longer keep-alive")

    update(project, "0.2.0")
    merged = config.read_text()
    assert "<<<<<<< before updating" in merged and ">>>>>>> after updating" in merged
    assert 'envDefault:"90s"' in merged and 'envDefault:"75s"' in merged
    assert conflict_files(project) == ["internal/config/config.go"]
    # git also knows: the file is unmerged until the team resolves and adds it.
    assert "UU internal/config/config.go" in git(project, "status", "--porcelain").stdout.splitlines()

    check = sh(["make", "check-conflicts"], project, check=False)
    assert check.returncode != 0
    assert "internal/config/config.go" in check.stdout + check.stderr

    # Resolving the conflict (keep the team's value) and adding it makes the check pass again.
    resolved = re.sub(
        r"<<<<<<< before updating\n(.*?)=======\n.*?>>>>>>> after updating\n", r"\1", merged, flags=re.S
    )
    config.write_text(resolved)
    assert 'envDefault:"90s"' in resolved and CONFLICT_START not in resolved
    # Until git is told (git add), the file is still unmerged: the check still names it.
    check = sh(["make", "check-conflicts"], project, check=False)
    assert check.returncode != 0 and "internal/config/config.go" in check.stdout + check.stderr
    git(project, "add", "internal/config/config.go")
    assert "UU" not in git(project, "status", "--porcelain").stdout
    sh(["make", "check-conflicts"], project)
    sh(["go", "build", "./..."], project)


def test_check_conflicts_catches_a_rej_file(releases, tmp_path):
    project = new_project(releases, tmp_path / "rej", ANSWER_SETS["minimal"])
    sh(["make", "check-conflicts"], project)
    (project / "Makefile.rej").write_text("@@ -1 +1 @@\n-old\n+new\n")
    check = sh(["make", "check-conflicts"], project, check=False)
    assert check.returncode != 0
    assert "Makefile.rej" in check.stdout + check.stderr


def test_check_conflicts_catches_an_unmerged_file_without_markers(releases, tmp_path):
    """A conflict resolved by hand but never `git add`ed (or one in a file git merges
    without markers) is still unresolved: check-conflicts says so until it is added."""
    project = new_project(releases, tmp_path / "unmerged", ANSWER_SETS["minimal"])
    git(project, "switch", "-q", "-c", "side")
    (project / "LICENSE").write_text("side\n")
    commit_all(project, "side")
    git(project, "switch", "-q", "main")
    (project / "LICENSE").write_text("main\n")
    commit_all(project, "main")
    assert git(project, "merge", "side", check=False).returncode != 0
    (project / "LICENSE").write_text("resolved, not added\n")
    check = sh(["make", "check-conflicts"], project, check=False)
    assert check.returncode != 0 and "  LICENSE" in check.stdout, check.stdout + check.stderr
    git(project, "add", "LICENSE")
    sh(["make", "check-conflicts"], project)


def generated_files(project: Path) -> set[str]:
    return {
        str(p.relative_to(project))
        for p in project.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(project).parts
    }


def test_answer_toggled_during_update_removes_then_restores_files(releases, tmp_path):
    project = new_project(releases, tmp_path / "toggle", ANSWER_SETS["default"])
    nginx_files = {f for f in generated_files(project) if "nginx" in f}
    assert nginx_files, "with_nginx=true generated no nginx files"
    originals = {f: (project / f).read_text() for f in nginx_files}

    update(project, "0.1.0", "-d", "with_nginx=false")
    assert answers_of(project)["with_nginx"] is False
    left = {f for f in generated_files(project) if "nginx" in f}
    assert left == set(), f"with_nginx=false left {sorted(left)}"
    commit_all(project, "Drop nginx")
    sh(["make", "check-conflicts"], project)

    update(project, "0.1.0", "-d", "with_nginx=true")
    assert answers_of(project)["with_nginx"] is True
    back = {f for f in generated_files(project) if "nginx" in f}
    assert back == nginx_files
    for f in nginx_files:
        assert (project / f).read_text() == originals[f], f"{f} differs after re-adding"


def test_update_refuses_a_dirty_project(releases, tmp_path):
    project = new_project(releases, tmp_path / "dirty", ANSWER_SETS["minimal"])
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nwork in progress\n")
    answers_before = (project / ".copier-answers.yml").read_text()

    result = update(project, "0.2.0", check=False)
    assert result.returncode != 0
    assert "Destination repository is dirty" in result.stderr
    assert "commit or stash" in result.stderr
    assert readme.read_text().endswith("work in progress\n")
    assert (project / ".copier-answers.yml").read_text() == answers_before
    assert not (project / "docs/troubleshooting.md").exists()


# --------------------------------------------------------------------------- the 0.2.0 migration

# The answers 0.1.0 asked: with_github_actions, not ci_provider.
ANSWERS_0_1_0 = {
    "off": {**{k: v for k, v in ANSWER_SETS["minimal"].items() if k != "ci_provider"}, "with_github_actions": False},
    "on": {"with_github_actions": True},
}


@pytest.fixture(scope="module")
def recorded_releases(tmp_path_factory) -> tuple[Path, str, str]:
    """A template repository: release 0.1.0 as recorded in pyproject.toml (it asked
    with_github_actions), the working tree tagged as the next release (it asks ci_provider,
    its copier.yml registers the migration), and a patch release after it."""
    from packaging.version import Version
    from test_release_updates import NEXT, releases_repo

    repo = releases_repo(tmp_path_factory.mktemp("recorded-releases") / "repo", "0.1.0")
    assert Version(NEXT) >= Version("0.2.0"), NEXT
    patch = f"{Version(NEXT).major}.{Version(NEXT).minor}.{Version(NEXT).micro + 1}"
    (repo / "template/docs/troubleshooting.md").write_text("# Troubleshooting\n\n`make help` lists every target.\n")
    commit_all(repo, f"Release {patch}")
    git(repo, "tag", "-a", patch, "-m", patch)
    return repo, NEXT, patch


@pytest.mark.parametrize(("old", "provider"), [("off", "none"), ("on", "github")])
def test_with_github_actions_becomes_ci_provider_on_a_real_update(recorded_releases, tmp_path, old, provider):
    """A service generated by 0.1.0 keeps its CI choice: with_github_actions false stays without
    any CI file (ci_provider's default is github: only the migration keeps it so), true
    becomes github."""
    repo, new, _ = recorded_releases
    project = new_project(repo, tmp_path / old, ANSWERS_0_1_0[old])
    assert answers_of(project)["with_github_actions"] is (old == "on")
    assert (project / ".github").is_dir() is (old == "on")

    result = update(project, new)
    out = result.stdout + result.stderr
    assert out.count(MIGRATION_TAG) == 1
    assert f"with_github_actions: {old == 'on'} -> ci_provider: {provider}" in out
    after = answers_of(project)
    assert "with_github_actions" not in after and after["ci_provider"] == provider
    assert (project / ".github").is_dir() is (provider == "github")
    if provider == "github":
        assert (project / ".github/workflows/ci.yml").is_file()
    assert not (project / ".gitlab-ci.yml").exists() and not (project / ".gitlab").exists()
    assert conflict_files(project) == []
    sh(["make", "check-conflicts"], project)


def test_migration_runs_exactly_once(recorded_releases, tmp_path):
    repo, new, patch = recorded_releases
    project = new_project(repo, tmp_path / "once", ANSWERS_0_1_0["off"])
    outputs = []

    first = update(project, new)
    outputs.append(first.stdout + first.stderr)
    assert "with_github_actions: False -> ci_provider: none" in outputs[0]
    assert answers_of(project)["ci_provider"] == "none"
    commit_all(project, f"Update to {new}")

    # The second update goes through the project's own `make update`, as a team runs it.
    second = sh(["make", "update", f"UPDATE_ARGS=--defaults --vcs-ref {patch}"], project, timeout=900)
    outputs.append(second.stdout + second.stderr)
    assert "copier update --trust" in second.stdout and "no conflict markers" in second.stdout
    assert answers_of(project)["_commit"] == patch
    assert answers_of(project)["ci_provider"] == "none"
    assert not (project / ".github").exists() and not (project / ".gitlab-ci.yml").exists()
    commit_all(project, f"Update to {patch}")

    # Updating to the version it is already on runs nothing either.
    third = update(project, patch)
    outputs.append(third.stdout + third.stderr)
    assert [out.count(MIGRATION_TAG) for out in outputs] == [1, 0, 0]


def test_without_the_migration_the_update_would_add_workflows(recorded_releases, tmp_path):
    """Control: the same release without its migration silently turns GitHub Actions back on."""
    repo, new, _ = recorded_releases
    variant = tmp_path / "no-migration"
    shutil.copytree(repo, variant)
    git(variant, "checkout", "-q", new)
    config = variant / "copier.yml"
    text = config.read_text()
    start = text.index("\n_migrations:\n")
    end = text.index("\n# ----", start)
    config.write_text(text[:start] + text[end:])
    commit_all(variant, f"{new} without its migration")
    git(variant, "tag", "-f", "-a", new, "-m", f"{new} without its migration")

    project = new_project(variant, tmp_path / "lost", ANSWERS_0_1_0["off"])
    assert not (project / ".github").exists()
    result = update(project, new)
    assert MIGRATION_TAG not in result.stdout + result.stderr
    assert answers_of(project)["ci_provider"] == "github"
    assert (project / ".github/workflows/ci.yml").is_file()


def check_update(project: Path) -> dict:
    result = copier(project, "check-update", "--output-format", "json")
    return json.loads(result.stdout)


def test_check_update_reports_newer_release(releases, tmp_path):
    project = new_project(releases, tmp_path / "fleet", ANSWER_SETS["orders"])
    report = check_update(project)
    assert report["update_available"] is True
    assert report["current_version"] == "0.1.0"
    assert report["latest_version"] == "0.2.1"
    quiet = copier(project, "check-update", "--quiet", check=False)
    assert quiet.returncode == 2

    # Straight from 0.1.0 to 0.2.1 crosses 0.2.0: its migration runs, once (nothing to do).
    result = update(project, "0.2.1")
    assert (result.stdout + result.stderr).count(MIGRATION_TAG) == 1
    assert answers_of(project)["ci_provider"] == "gitlab"
    commit_all(project, "Update to 0.2.1")
    report = check_update(project)
    assert report["update_available"] is False
    assert report["current_version"] == "0.2.1"
    assert copier(project, "check-update", "--quiet", check=False).returncode == 0
