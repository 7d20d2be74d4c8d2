"""Every real release of this repository updates to the template as it is now.

test_update and test_seams simulate releases on top of the working tree. This module takes
the releases that exist: for each release pyproject.toml records (a clone fetched without
tags has their commits all the same), a throwaway template repository holds that release's
tree (tagged with its version) and then the working tree, tagged with the
version it will be released as (pyproject.toml's, or the next minor when that is already a
tag). Services generated from the old release, with the edits a team makes, update with
their own `make update`, run the steps the CHANGELOG's Upgrading sections ask for, and pass
`make check` with every team edit intact and no conflict.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

from answer_sets import ANSWER_SETS
from conftest import ROOT
from test_update import answers_of, commit_all, conflict_files, copy_working_tree, framework_of, git, new_project, sh

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("release-updates")]


def recorded_releases() -> dict[str, str]:
    """Every release and its commit, as pyproject.toml records them (scripts/release writes
    them; tests/test_release.py checks them against this clone's tags). A clone fetched
    without tags has the commits all the same."""
    releases = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["copier-gin"]["releases"]
    return dict(sorted(releases.items(), key=lambda item: Version(item[0])))


def working_tree_version(tags: list[str]) -> str:
    """The version the working tree will be released as."""
    declared = Version(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])
    newest = max((Version(t) for t in tags), default=Version("0"))
    if declared > newest:
        return str(declared)
    return f"{newest.major}.{newest.minor + 1}.0"


RELEASES = recorded_releases()
TAGS = list(RELEASES)
NEXT = working_tree_version(TAGS)


def releases_repo(dst: Path, tag: str) -> Path:
    """A template repository: `tag` as it was released, then the working tree as NEXT."""
    dst.mkdir(parents=True)
    commit = RELEASES[tag]
    if subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT).returncode != 0:
        pytest.fail(f"release {tag}'s commit {commit} is not in this clone: fetch its history (not a shallow clone)")
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    git(dst, "init", "-q", "-b", "main")
    commit_all(dst, f"copier-gin {tag}")
    git(dst, "tag", "-a", tag, "-m", tag)
    for path in sorted(dst.iterdir()):
        if path.name != ".git":
            subprocess.run(["rm", "-rf", str(path)], check=True)
    copy_working_tree(dst)
    commit_all(dst, f"copier-gin {NEXT} (the working tree)")
    git(dst, "tag", "-a", NEXT, "-m", NEXT)
    return dst


STOCK = """\
package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Stock answers GET /api/v1/stock/:sku with a fixed level.
func Stock(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"sku": c.Param("sku"), "level": 7})
}
"""

# The same on Echo, for services of releases that ask the framework question (0.1.0 does not:
# its services are Gin, whatever the answer set says, and stay Gin after the update).
ECHO_STOCK = """\
package api

import (
	"net/http"

	"github.com/labstack/echo/v5"
)

// Stock answers GET /api/v1/stock/:sku with a fixed level.
func Stock(c *echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"sku": c.Param("sku"), "level": 7})
}
"""
README_NOTE = "\n## On call\n\nPage the stock team in #stock-oncall.\n"
CONFIG_NOTE = "\n// Team note: LOG_LEVEL=debug in staging.\n"


def team_edits(project: Path) -> dict[str, str]:
    """What a team does in any release's layout: a route and its handler in the API
    package, a README section, a comment at the end of a template-owned file."""
    routes = project / "internal/api/routes.go"
    text, count = re.subn(r"(func Register\(v1 \*gin\.RouterGroup\) \{\n)", '\\1\tv1.GET("/stock/:sku", Stock)\n',
                          routes.read_text())
    if count == 0:  # the seams' layout
        text, count = re.subn(r"(\n(\t+)(\w+) := r\.Group\(\"/api/v1\"\)\n)", '\\1\\2\\3.GET("/stock/:sku", Stock)\n', text)
    assert count == 1, f"no place for a route in {routes}:\n{text}"
    routes.write_text(text)
    stock = {"gin": STOCK, "echo": ECHO_STOCK}[framework_of(project)]
    (project / "internal/api/stock.go").write_text(stock)
    readme = project / "README.md"
    readme.write_text(readme.read_text() + README_NOTE)
    config = project / "internal/config/config.go"
    config.write_text(config.read_text() + CONFIG_NOTE)
    commit_all(project, "Team: stock endpoint, on-call notes")
    return {"internal/api/stock.go": stock, "README.md": readme.read_text()}


@pytest.fixture(scope="module", params=TAGS)
def releases(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, releases_repo(tmp_path_factory.mktemp(f"releases-{request.param}") / "repo", request.param)


def test_the_working_tree_is_newer_than_every_release():
    assert all(Version(t) < Version(NEXT) for t in TAGS), (TAGS, NEXT)


@pytest.mark.parametrize("name", ["default", "orders", "full"])
def test_a_service_of_every_release_updates_to_this_one(releases, tmp_path, name):
    tag, repo = releases
    project = new_project(repo, tmp_path / name, ANSWER_SETS[name], ref=tag)
    assert answers_of(project)["_commit"] == tag
    framework = framework_of(project)  # gin when the release did not ask
    kept = team_edits(project)

    result = sh(["make", "update", f"UPDATE_ARGS=--defaults --vcs-ref {NEXT}"], project, timeout=900)
    assert "no conflict markers" in result.stdout, result.stdout[-3000:]
    assert conflict_files(project) == []
    assert answers_of(project)["_commit"] == NEXT
    # The update keeps the framework the service was generated with (Gin before the question).
    assert answers_of(project)["framework"] == framework
    for rel, text in kept.items():
        assert (project / rel).read_text() == text, f"the update changed the team's {rel}"
    assert (project / "internal/config/config.go").read_text().endswith(CONFIG_NOTE), "the team's comment was lost"
    assert 'GET("/stock/:sku", Stock)' in (project / "internal/api/routes.go").read_text(), "the team's route was lost"

    # What every Upgrading section crossed asks a team to run by hand, then the checks.
    sh(["make", "deps", "env-example"], project)
    sh(["make", "check"], project, timeout=1800)
    commit_all(project, f"Update to copier-gin {NEXT}")
    assert git(project, "status", "--porcelain").stdout == ""
