"""Releases (docs/releasing.md): CHANGELOG.md and pyproject.toml name the same release, a
release tag in this clone is that release, and scripts/release refuses whatever would make
a bad tag. The script runs here in throwaway repositories, never on this one."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT

VENV_PYTHON = Path(sys.executable)


def load_release_module():
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("release_script", str(ROOT / "scripts" / "release"))
    spec = importlib.util.spec_from_loader("release_script", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


release = load_release_module()


def test_changelog_and_pyproject_name_the_same_release():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    releases = release.changelog_releases((ROOT / "CHANGELOG.md").read_text())
    assert releases, "CHANGELOG.md has no release"
    assert releases[0][0] == version, f"CHANGELOG's newest release {releases[0][0]}, pyproject.toml {version}"
    for number, _, section in releases:
        assert re.search(r"^### Upgrading\s*$", section, re.M), f"{number} has no Upgrading section"
    # The newest recorded release is that release, or the one before it when the release
    # is being prepared (the records are written once it is tagged).
    recorded = release.recorded_releases(ROOT)
    assert recorded, "pyproject.toml records no release"
    newest = max(recorded, key=release.Version)
    numbers = [number for number, _, _ in releases]
    assert newest in numbers[:2], f"newest recorded release {newest}, CHANGELOG's newest {numbers[:2]}"


def test_every_release_tag_in_this_clone_is_recorded_at_its_commit():
    """Tags never move: each tag this clone has (a clone fetched without tags has none)
    names the commit pyproject.toml records for it, and the recorded commits are here."""
    recorded = release.recorded_releases(ROOT)
    for tag in release.release_tags(ROOT):
        assert str(tag) in recorded, f"the tag {tag} is not recorded in pyproject.toml"
        assert release.git("rev-parse", f"{tag}^{{commit}}", root=ROOT).strip() == recorded[str(tag)], tag
    for version, commit in recorded.items():
        found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True)
        assert found.returncode == 0, f"release {version}'s commit {commit} is not in this clone's history"


CHANGELOG = """# Changelog

## [Unreleased]

## [{new}] - 2026-12-01

### Added
- something

{upgrading}

## [0.1.0] - 2026-11-21

### Upgrading
- nothing
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    """A repository shaped like this one, released at 0.1.0, preparing 0.2.0."""
    root = tmp_path / "tpl"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "release", root / "scripts" / "release")
    (root / "pyproject.toml").write_text('[project]\nname = "copier-gin"\nversion = "0.2.0"\n')
    (root / "CHANGELOG.md").write_text(CHANGELOG.format(new="0.2.0", upgrading="### Upgrading\n- run make deps"))
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "Release 0.2.0")
    return root


def run_release(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": str(root)}
    return subprocess.run([str(VENV_PYTHON), str(root / "scripts" / "release"), *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=60)


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)


def test_release_tags_the_commit_annotated_and_never_pushes(repo):
    dry = run_release(repo, "0.2.0", "--dry-run")
    assert dry.returncode == 0 and "no tag" in dry.stdout, dry.stderr
    assert git(repo, "tag", "--list") == ""
    proc = run_release(repo, "0.2.0")
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "cat-file", "-t", "0.2.0").strip() == "tag", "an annotated tag"
    assert git(repo, "rev-parse", "0.2.0^{commit}") == git(repo, "rev-parse", "HEAD")
    assert "git push origin HEAD 0.2.0" in proc.stdout
    head = git(repo, "rev-parse", "HEAD").strip()
    assert release.recorded_releases(repo) == {"0.2.0": head}, "the release is recorded at its commit"
    assert git(repo, "status", "--porcelain").split() == ["M", "pyproject.toml"], "recorded, not committed"
    commit_all(repo, "Record release 0.2.0")
    again = run_release(repo, "0.2.0")
    assert again.returncode == 1 and "exists already" in again.stderr, again.stderr
    # A clone without the tag still knows the release from its record.
    git(repo, "tag", "-d", "0.2.0")
    again = run_release(repo, "0.2.0")
    assert again.returncode == 1 and "records the release 0.2.0 already" in again.stderr, again.stderr


@pytest.mark.parametrize(
    ("change", "version", "expected"),
    [
        (None, "latest", "is not a PEP 440 version"),
        (None, "v0.2.0", "write the version as 0.2.0 "),
        (None, "0.2.0-rc1", "write the version as 0.2.0rc1"),
        (None, "0.3.0", "pyproject.toml says version 0.2.0, not 0.3.0"),
        ("pyproject", "0.3.0", "CHANGELOG.md has no heading ## [0.3.0]"),
        ("no-upgrading", "0.2.0", "section has no ### Upgrading part"),
        ("dirty", "0.2.0", "the tree is not clean"),
        ("untracked", "0.2.0", "the tree is not clean"),
        ("newer-tag", "0.2.0", "older than the newest release tag 0.3.0"),
        ("newer-record", "0.2.0", "older than the newest recorded release 0.3.0"),
        ("records-not-last", "0.2.0", "must be the file's last table"),
    ],
)
def test_release_refuses(repo, change, version, expected):
    if change == "pyproject":
        (repo / "pyproject.toml").write_text('[project]\nname = "copier-gin"\nversion = "0.3.0"\n')
        commit_all(repo, "bump")
    elif change == "no-upgrading":
        (repo / "CHANGELOG.md").write_text(CHANGELOG.format(new="0.2.0", upgrading=""))
        commit_all(repo, "no upgrading")
    elif change == "dirty":
        (repo / "CHANGELOG.md").write_text((repo / "CHANGELOG.md").read_text() + "\nlate edit\n")
    elif change == "untracked":
        (repo / "notes.txt").write_text("x")
    elif change == "newer-record":
        (repo / "pyproject.toml").write_text((repo / "pyproject.toml").read_text()
                                             + '\n[tool.copier-gin.releases]\n"0.3.0" = "0123456789abcdef"\n')
        commit_all(repo, "a newer release recorded, its tag not fetched")
    elif change == "records-not-last":
        (repo / "pyproject.toml").write_text((repo / "pyproject.toml").read_text()
                                             + '\n[tool.copier-gin.releases]\n\n[tool.other]\nx = 1\n')
        commit_all(repo, "a table after the records")
    elif change == "newer-tag":
        git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "tag", "-a", "0.3.0", "-m", "0.3.0")
    proc = run_release(repo, version)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert set(git(repo, "tag", "--list").split()) <= {"0.3.0"}, "refused, yet tagged"


def test_release_at_an_earlier_commit_reads_that_commit(repo):
    """A release made before the tool existed is tagged where it was made, from its own files,
    even though main has moved on (pyproject.toml now names the next release)."""
    released = git(repo, "rev-parse", "HEAD").strip()
    (repo / "pyproject.toml").write_text('[project]\nname = "copier-gin"\nversion = "0.3.0"\n')
    (repo / "CHANGELOG.md").write_text(CHANGELOG.format(new="0.2.0", upgrading="### Upgrading\n- x")
                                       .replace("## [Unreleased]", "## [Unreleased]\n\n- work for 0.3.0"))
    commit_all(repo, "Work towards 0.3.0")
    (repo / "scratch.txt").write_text("untracked work in progress")
    assert run_release(repo, "0.2.0").returncode == 1, "HEAD is not 0.2.0"
    proc = run_release(repo, "0.2.0", "--at", released[:9])
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "rev-parse", "0.2.0^{commit}").strip() == released
    assert git(repo, "cat-file", "-t", "0.2.0").strip() == "tag"
    assert release.recorded_releases(repo) == {"0.2.0": released}, "recorded at the tagged commit, not HEAD"


@pytest.mark.parametrize(("at", "expected"), [
    ("nosuch", "nosuch is not a commit of this repository"),
    ("side", "is not a commit of this branch's history"),
    ("HEAD~1", "pyproject.toml says version 0.1.0, not 0.2.0"),
])
def test_release_at_refuses(repo, at, expected):
    (repo / "pyproject.toml").write_text('[project]\nname = "copier-gin"\nversion = "0.1.0"\n')
    commit_all(repo, "0.1.0 as it was")
    (repo / "pyproject.toml").write_text('[project]\nname = "copier-gin"\nversion = "0.2.0"\n')
    commit_all(repo, "0.2.0 again")
    git(repo, "switch", "-q", "-c", "side")
    (repo / "side.txt").write_text("a branch of its own")
    commit_all(repo, "side work")
    git(repo, "switch", "-q", "main")
    proc = run_release(repo, "0.2.0", "--at", at)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert git(repo, "tag", "--list") == ""
