"""The scheduled template update of a generated service (.github/workflows/template-update.yml)
and its helper script (.github/scripts/template_update.py, rendered from partials/template_update.py).

Fast tests call the script's functions: which CHANGELOG sections a pull request quotes,
what its body says, which files the conflict gate finds. Slow tests run the workflow's job
with tests/test_workflows.py's step runner on real services: a template repository with
releases tagged in the test, a service generated from the oldest, its git remote a local
bare repository, a `gh` stub that keeps pull requests, labels and statuses in a JSON file.
Everything else is real: Copier, git, make and the Go checks of the updated service.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import settings  # noqa: E402 - extensions/ is on sys.path (conftest)
from answer_sets import ANSWER_SETS, VARIANTS
from conftest import ROOT, generate
from test_update import commit_all, copy_working_tree, env, git, new_project, replace_once
from test_workflows import run_job

SCRIPT = ROOT / "partials/template_update.py"
_spec = importlib.util.spec_from_file_location("template_update", SCRIPT)
tu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tu)


# --------------------------------------------------------------------------- fast

CHANGELOG = """# Changelog

## [Unreleased]

### Upgrading

- not released yet

## [0.3.0] - 2026-12-20

### Upgrading

- Run `make migrate` once.

## [0.3.0rc1] - 2026-12-10

### Upgrading

- candidate notes

## [0.2.1] - 2026-12-05

### Fixed

- a typo

### Upgrading

Nothing to do by hand.

## [0.2.0] - 2026-12-01

### Added

- a feature

### Upgrading

- Answer `database`.
- Then run `make deps`.

### Notes

- not part of Upgrading

## [0.1.0] - 2026-11-21

### Upgrading

- the first release
"""


def test_the_releases_crossed_are_those_after_the_current_one_up_to_the_newest():
    crossed = tu.releases_crossed(CHANGELOG, "0.1.0", "0.3.0")
    assert [v for v, _, _ in crossed] == ["0.2.0", "0.2.1", "0.3.0rc1", "0.3.0"]
    assert crossed[0] == ("0.2.0", "2026-12-01", "- Answer `database`.\n- Then run `make deps`.")
    assert tu.releases_crossed(CHANGELOG, "0.2.0", "0.2.1") == [("0.2.1", "2026-12-05", "Nothing to do by hand.")]
    assert tu.releases_crossed(CHANGELOG, "0.3.0", "0.3.0") == []
    # A service generated from a commit after 0.2.0 records a `git describe`: 0.2.0 is behind it.
    assert [v for v, _, _ in tu.releases_crossed(CHANGELOG, "0.2.0-7-g1a2b3c4", "0.2.1")] == ["0.2.1"]


def test_the_body_of_a_clean_update():
    body = tu.body("0.1.0", "0.2.1", CHANGELOG, ["Makefile", "docs/updating.md"], [], "passed")
    assert body.startswith(tu.MARKER + "\n")
    assert "**0.1.0** → **0.2.1**" in body
    assert "Needs a human" not in body
    assert "None: every change of the template merged" in body
    assert "`make check` passed" in body
    assert "### 0.2.0 (2026-12-01)\n\n- Answer `database`.\n- Then run `make deps`." in body
    assert "### 0.2.1 (2026-12-05)\n\nNothing to do by hand." in body
    assert "not part of Upgrading" not in body and "0.3.0" not in body
    assert "## Files changed (2)" in body and "- `Makefile`\n- `docs/updating.md`" in body


def test_the_body_of_an_update_that_needs_a_human():
    body = tu.body("0.1.0", "0.2.0", CHANGELOG, ["internal/config/config.go", "Makefile"],
                   ["internal/config/config.go"], "skipped")
    assert "Needs a human: 1 conflicted file." in body
    assert f"labelled `{tu.LABEL}`" in body
    assert "## Conflicts\n\nResolve each" in body and "\n- `internal/config/config.go`\n" in body
    assert "did not run: conflicts first" in body
    failed = tu.body("0.1.0", "0.2.0", None, [], [], "failed", "https://ci.example/run/1")
    assert "Needs a human: `make check` fails." in failed
    assert "[run](https://ci.example/run/1)" in failed
    assert "CHANGELOG could not be read" in failed


def test_source_urls():
    assert tu.source_url("gh:acme/copier-gin") == "https://github.com/acme/copier-gin.git"
    assert tu.source_url("gl:acme/copier-gin.git") == "https://gitlab.com/acme/copier-gin.git"
    assert tu.source_url("https://git.example.com/t.git") == "https://git.example.com/t.git"
    assert tu.source_url("/srv/templates/copier-gin") == "/srv/templates/copier-gin"


def sh_git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, env=env(), capture_output=True, text=True, check=check)


def test_the_conflict_gate_finds_unmerged_files_markers_and_rej_files(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    sh_git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("one\n")
    (repo / "logo.bin").write_bytes(b"\0<<<<<<< x\n>>>>>>> y\n")  # binary: never a conflict
    (repo / "doc.md").write_text("A line may mention <<<<<<< markers mid-line.\n")
    sh_git(repo, "add", "-A")
    sh_git(repo, "commit", "-qm", "base")
    assert tu.conflicts(repo) == []
    assert tu.main(["conflicts", str(repo)]) == 0

    # An unmerged file that no longer has markers: still unresolved for git.
    sh_git(repo, "switch", "-qc", "side")
    (repo / "a.txt").write_text("side\n")
    sh_git(repo, "commit", "-qam", "side")
    sh_git(repo, "switch", "-q", "main")
    (repo / "a.txt").write_text("main\n")
    sh_git(repo, "commit", "-qam", "main")
    assert sh_git(repo, "merge", "side", check=False).returncode != 0
    (repo / "a.txt").write_text("resolved, but not added\n")
    # Markers in a new file and a .rej file.
    (repo / "b.go").write_text("package b\n<<<<<<< before updating\nx\n=======\ny\n>>>>>>> after updating\n")
    # A generated service's .gitignore ignores *.rej: the gate still sees them.
    (repo / ".gitignore").write_text("*.rej\n")
    (repo / "deploy").mkdir()
    (repo / "Makefile.rej").write_text("@@ -1 +1 @@\n")
    (repo / "deploy/app.env.rej").write_text("@@ -1 +1 @@\n")
    assert tu.conflicts(repo) == ["Makefile.rej", "a.txt", "b.go", "deploy/app.env.rej"]
    assert tu.main(["conflicts", str(repo)]) == 1
    sh_git(repo, "add", "a.txt")
    assert tu.conflicts(repo) == ["Makefile.rej", "b.go", "deploy/app.env.rej"]


def test_the_label_and_the_schedule():
    assert tu.LABEL == settings.TEMPLATE_UPDATE_LABEL
    crons = {settings.template_update_cron(f"svc-{i}") for i in range(40)}
    assert len(crons) > 20, "the schedule does not spread a fleet"
    for cron in crons:
        minute, hour, dom, month, dow = cron.split()
        assert 0 <= int(minute) < 60 and 5 <= int(hour) < 9 and (dom, month, dow) == ("*", "*", "1")


def test_the_workflow_is_generated_only_with_github_actions(projects):
    for name in ("default", "orders-github", "full"):
        project = projects(name)
        wf = yaml.safe_load((project / ".github/workflows/template-update.yml").read_text())
        job = wf["jobs"]["update"]
        assert wf["permissions"] == {}
        assert job["permissions"] == {"contents": "write", "pull-requests": "write", "issues": "write",
                                      "statuses": "write"}
        triggers = wf.get("on", wf.get(True))
        assert set(triggers) == {"schedule", "workflow_dispatch"}
        assert (project / ".github/scripts/template_update.py").read_text() == SCRIPT.read_text()
    assert not (projects("minimal") / ".github").exists()


# --------------------------------------------------------------------------- the job

UPGRADING_020 = "- UPGRADE-0.2.0: keep-alive connections now wait 75 s; nothing to do by hand."
UPGRADING_021 = "- UPGRADE-0.2.1: CI jobs may take 25 minutes; nothing to do by hand."
WORKFLOWS_DIR = "template/{% if ci_provider == 'github' %}.github{% endif %}/workflows"


def add_changelog_release(repo: Path, version: str, upgrading: str) -> None:
    path = repo / "CHANGELOG.md"
    text = path.read_text()
    at = text.index("\n## [0.1.0]")
    path.write_text(text[:at] + f"\n## [{version}] - 2026-12-01\n\n### Changed\n\n- something\n\n"
                    f"### Upgrading\n\n{upgrading}\n" + text[at:])


def release(repo: Path, version: str) -> None:
    if version == "0.2.0":
        replace_once(repo / "extensions/settings.py", r"HTTP_IDLE_TIMEOUT_S = 60\b", "HTTP_IDLE_TIMEOUT_S = 75")
        add_changelog_release(repo, version, UPGRADING_020)
    elif version == "0.2.1":
        replace_once(repo / WORKFLOWS_DIR / "ci.yml.jinja", r"timeout-minutes: 20\n", "timeout-minutes: 25\n")
        add_changelog_release(repo, version, UPGRADING_021)
    commit_all(repo, f"Release {version}")
    git(repo, "tag", "-a", version, "-m", version)


@pytest.fixture
def template_repo(tmp_path) -> Path:
    repo = tmp_path / "copier-gin"
    copy_working_tree(repo)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "copier-gin as in the working tree")
    git(repo, "tag", "-a", "0.1.0", "-m", "0.1.0")
    release(repo, "0.2.0")
    return repo


GH_STUB = r'''#!/usr/bin/env python3
"""gh, as far as template-update.yml uses it: pull requests, labels, statuses in $GH_STATE."""
import json, os, sys
from pathlib import Path

state_path = Path(os.environ["GH_STATE"])
state = json.loads(state_path.read_text()) if state_path.exists() else {"prs": [], "labels": [], "statuses": []}
args = sys.argv[1:]
with open(os.environ["CALLS"], "a") as fh:
    fh.write("gh " + " ".join(args) + "\n")
if not os.environ.get("GH_TOKEN"):
    sys.exit("gh: GH_TOKEN is not set")


def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default


def find(number):
    return next(p for p in state["prs"] if p["number"] == int(number))


if args[:2] == ["pr", "list"]:
    open_prs = [p for p in state["prs"] if p["head"] == opt("--head") and p["state"] == "open"]
    if open_prs:
        print(open_prs[0]["number"])
elif args[:2] == ["pr", "create"]:
    state["prs"].append({"number": len(state["prs"]) + 1, "head": opt("--head"), "base": opt("--base"),
                         "title": opt("--title"), "body": Path(opt("--body-file")).read_text(),
                         "draft": "--draft" in args, "labels": [], "state": "open"})
elif args[:2] == ["pr", "edit"]:
    pr = find(args[2])
    if "--title" in args:
        pr["title"] = opt("--title")
    if "--body-file" in args:
        pr["body"] = Path(opt("--body-file")).read_text()
    if "--add-label" in args:
        if opt("--add-label") not in state["labels"]:
            sys.exit("gh: label not found")
        pr["labels"] = sorted(set(pr["labels"]) | {opt("--add-label")})
    if "--remove-label" in args:
        pr["labels"] = [l for l in pr["labels"] if l != opt("--remove-label")]
elif args[:2] == ["pr", "ready"]:
    find(args[2])["draft"] = "--undo" in args
elif args[:2] == ["label", "create"]:
    state["labels"] = sorted(set(state["labels"]) | {args[2]})
elif args[0] == "api":
    fields = dict(a.split("=", 1) for a in args[1:] if "=" in a)
    path = next(a for a in args if "/statuses/" in a and "=" not in a)
    state["statuses"].append({"path": path, **fields})
else:
    sys.exit("gh stub: unknown command " + " ".join(args))
state_path.write_text(json.dumps(state, indent=1))
'''


def job_stubs(tmp_path: Path) -> Path:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "gh").write_text(GH_STUB)
    # The vulnerability database is on the internet, out of this machine's reach.
    (stubs / "govulncheck").write_text('#!/bin/sh\necho "govulncheck $*" >> "$CALLS"\n')
    for f in stubs.iterdir():
        f.chmod(0o755)
    return stubs


class Service:
    """A generated service, its GitHub remote (a bare repository) and a runner's checkout."""

    def __init__(self, template: Path | None, tmp_path: Path, answers: dict | None = None, edit=None,
                 project: Path | None = None):
        self.tmp = tmp_path
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.work = project or new_project(template, tmp_path / "service", answers, ref="0.1.0")
        if edit:
            edit(self.work)
            commit_all(self.work, "Team work")
        self.remote = tmp_path / "remote.git"
        git(tmp_path, "clone", "-q", "--bare", str(self.work), str(self.remote))
        self.state = tmp_path / "gh-state.json"
        self.runs = 0
        self.patch = None  # a function that changes the workflow before it runs

    def run(self, secrets: dict | None = None) -> dict:
        """The job on a fresh checkout of the remote's main, as actions/checkout makes it."""
        self.runs += 1
        run_dir = self.tmp / f"run-{self.runs}"
        run_dir.mkdir()
        checkout = run_dir / "checkout"
        git(run_dir, "clone", "-q", str(self.remote), str(checkout))
        wf = yaml.safe_load((checkout / ".github/workflows/template-update.yml").read_text())
        if self.patch:
            self.patch(wf)
        gitconfig = run_dir / "gitconfig"  # the job's `git config --global` stays in the run
        return run_job(
            wf, "update", checkout, run_dir, inputs={}, vars={}, secrets=secrets or {},
            github={"token": "ghs_run_token", "repository": "acme/service", "server_url": "https://github.com",
                    "run_id": str(self.runs), "event": {"repository": {"default_branch": "main"}}},
            stubs=job_stubs(run_dir),
            extra_env={"GH_STATE": str(self.state), "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1"},
        )

    def gh(self) -> dict:
        return json.loads(self.state.read_text()) if self.state.exists() else {"prs": [], "labels": [], "statuses": []}

    def branch_file(self, rel: str) -> str:
        return git(self.remote, "show", f"template-update:{rel}").stdout

    def branch_head(self) -> str:
        return git(self.remote, "rev-parse", "template-update").stdout.strip()


def gh_calls(result: dict) -> list[str]:
    return [line for line in result["calls"].read_text().splitlines() if line.startswith("gh ")]


def readme_note(project: Path) -> None:
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## On call\n\n#stock-oncall\n")


@pytest.mark.slow
@pytest.mark.xdist_group("template-update-clean")
def test_a_clean_update_becomes_one_ready_pull_request_refreshed_for_the_next_release(template_repo, tmp_path):
    service = Service(template_repo, tmp_path, ANSWER_SETS["default"], edit=readme_note)

    first = service.run()
    assert first["failed"] is None, first["stdout"][-4000:]
    checks = f"make deps env-example {' '.join(settings.CI_MAKE_TARGETS)}"
    assert checks in first["ran"], first["ran"]
    assert "govulncheck ./..." in first["calls"].read_text()
    assert "Fail while the pull request needs a human" in first["skipped"]
    [pr] = service.gh()["prs"]
    assert (pr["number"], pr["head"], pr["base"], pr["draft"], pr["labels"]) == (1, "template-update", "main", False, [])
    assert pr["title"] == "Update copier-gin 0.1.0 -> 0.2.0"
    body = pr["body"]
    assert "**0.1.0** → **0.2.0**" in body and UPGRADING_020 in body and "UPGRADE-0.2.1" not in body
    assert "None: every change of the template merged" in body and "`make check` passed" in body
    assert "- `internal/config/config.go`" in body and "- `.copier-answers.yml`" in body
    assert "README.md" not in body, "the team's README is not the template's to change"
    assert body in first["summary"].read_text()
    # The branch: the update, with the team's work, as one commit on main.
    assert "_commit: 0.2.0" in service.branch_file(".copier-answers.yml").splitlines()
    assert 'envDefault:"75s"' in service.branch_file("internal/config/config.go")
    assert "#stock-oncall" in service.branch_file("README.md")
    assert git(service.remote, "rev-list", "--count", "main..template-update").stdout.strip() == "1"
    [status] = service.gh()["statuses"]
    assert status["state"] == "success" and status["context"] == "template-update"
    assert status["path"] == f"repos/acme/service/statuses/{service.branch_head()}"

    # Nothing new: the branch already proposes 0.2.0 and is left alone.
    head = service.branch_head()
    again = service.run()
    assert again["failed"] is None, again["stdout"][-3000:]
    assert "::notice title=Already proposed::" in again["stdout"]
    assert gh_calls(again) == [] and service.branch_head() == head

    # 0.2.1 changes a workflow: GITHUB_TOKEN may not push that; the job says which secret to add.
    release(template_repo, "0.2.1")
    refused = service.run()
    assert refused["failed"] == "copier update on the branch", refused["stdout"][-3000:]
    assert "Secret TEMPLATE_UPDATE_TOKEN needed" in refused["stdout"]
    assert service.branch_head() == head and gh_calls(refused) == []

    refreshed = service.run(secrets={"TEMPLATE_UPDATE_TOKEN": "ghs_app_token"})
    assert refreshed["failed"] is None, refreshed["stdout"][-4000:]
    [pr] = service.gh()["prs"]  # the same pull request, refreshed
    assert pr["title"] == "Update copier-gin 0.1.0 -> 0.2.1" and pr["draft"] is False
    assert UPGRADING_020 in pr["body"] and UPGRADING_021 in pr["body"]
    assert pr["body"].index("UPGRADE-0.2.0") < pr["body"].index("UPGRADE-0.2.1")
    assert "- `.github/workflows/ci.yml`" in pr["body"]
    assert "timeout-minutes: 25" in service.branch_file(".github/workflows/ci.yml")
    assert any(c.startswith("gh pr edit 1 --title") for c in gh_calls(refreshed))
    assert not any(c.startswith("gh pr create") for c in gh_calls(refreshed))


def conflicting_edit(project: Path) -> None:
    """The team raised the keep-alive default that release 0.2.0 changes too."""
    config = project / "internal/config/config.go"
    text = config.read_text()
    assert text.count('envDefault:"60s"') == 1
    config.write_text(text.replace('envDefault:"60s"', 'envDefault:"90s"'))


@pytest.mark.slow
@pytest.mark.xdist_group("template-update-conflict")
def test_a_conflicted_update_is_a_draft_with_a_label_a_failing_status_and_a_failing_run(template_repo, tmp_path):
    service = Service(template_repo, tmp_path, VARIANTS["orders-github"], edit=conflicting_edit)
    result = service.run()
    assert result["failed"] == "Fail while the pull request needs a human", result["stdout"][-4000:]
    assert f"make deps env-example {' '.join(settings.CI_MAKE_TARGETS)}" in result["skipped"]
    assert "::warning title=Conflict::internal/config/config.go" in result["stdout"]
    gh = service.gh()
    [pr] = gh["prs"]
    assert pr["draft"] is True and pr["labels"] == [settings.TEMPLATE_UPDATE_LABEL]
    assert gh["labels"] == [settings.TEMPLATE_UPDATE_LABEL]
    assert "Needs a human: 1 conflicted file." in pr["body"]
    conflicts_section = pr["body"].split("## Conflicts", 1)[1].split("## Checks", 1)[0]
    assert re.findall(r"^- `(.+)`$", conflicts_section, re.M) == ["internal/config/config.go"]
    assert "did not run: conflicts first" in pr["body"]
    [status] = gh["statuses"]
    assert status["state"] == "failure"
    # The branch carries the markers for the human to resolve there.
    config = service.branch_file("internal/config/config.go")
    assert "<<<<<<< before updating" in config and 'envDefault:"90s"' in config and 'envDefault:"75s"' in config


def checks_break(project: Path) -> None:
    """A team test that pins the platform's keep-alive default, which 0.2.0 changes."""
    module = yaml.safe_load((project / ".copier-answers.yml").read_text())["module_path"]
    (project / "internal/service/keepalive_test.go").write_text(f'''package service

import (
	"testing"

	"{module}/internal/config"
)

// Our load balancer closes idle connections after 65 s: the service must close first.
func TestKeepAliveBelowTheBalancers(t *testing.T) {{
	cfg, err := config.Load(nil)
	if err != nil {{
		t.Fatal(err)
	}}
	if cfg.HTTPIdleTimeout.Seconds() >= 65 {{
		t.Fatalf("HTTPIdleTimeout = %s, want < 65s", cfg.HTTPIdleTimeout)
	}}
}}
''')


@pytest.mark.slow
@pytest.mark.xdist_group("template-update-checks")
def test_an_update_whose_checks_fail_needs_a_human_too(template_repo, tmp_path):
    service = Service(template_repo, tmp_path, ANSWER_SETS["default"], edit=checks_break)
    result = service.run()
    assert result["failed"] == "Fail while the pull request needs a human", result["stdout"][-4000:]
    assert "TestKeepAliveBelowTheBalancers" in result["stdout"]
    [pr] = service.gh()["prs"]
    assert pr["draft"] is True and pr["labels"] == [settings.TEMPLATE_UPDATE_LABEL]
    assert "Needs a human: `make check` fails." in pr["body"]
    assert "None: every change of the template merged" in pr["body"]
    assert "[run](https://github.com/acme/service/actions/runs/1)" in pr["body"]
    assert service.gh()["statuses"][-1]["state"] == "failure"


FAST_CHECKS = "go vet ./... && go test -count=1 ./internal/api/..."


def cheaper_checks(wf: dict) -> None:
    """The fleet's services run go vet and the API's tests instead of every CI target: the
    full checks are the tests above; here what counts is each pull request's body."""
    [step] = [s for s in wf["jobs"]["update"]["steps"] if s.get("id") == "checks"]
    targets = "make " + " ".join(settings.CI_MAKE_TARGETS)
    assert step["run"].count(targets) == 1
    step["run"] = step["run"].replace(targets, FAST_CHECKS)


@pytest.mark.slow
@pytest.mark.xdist_group("fleet")
def test_the_workflow_on_a_simulated_fleet_names_the_conflicted_file_only_where_it_conflicts(tmp_path):
    """tests/fleet_sim.py's fleet (five services, three releases, one conflicting team edit):
    the job's steps on each service with the workflow give a pull request whose body lists
    the conflicted file for the conflicting service and none for the others."""
    from fleet_sim import build_fleet

    fleet = build_fleet(tmp_path / "fleet")
    seen = set()
    for s in fleet.services:
        if not (s.path / ".github/workflows/template-update.yml").exists():
            recorded = yaml.safe_load((s.path / ".copier-answers.yml").read_text())
            assert recorded["ci_provider"] in ("none", "gitlab"), s.name
            continue
        service = Service(None, tmp_path / f"gh-{s.name}", project=s.path)
        service.patch = cheaper_checks
        result = service.run(secrets={"TEMPLATE_UPDATE_TOKEN": "ghs_app_token"})
        prs = service.gh()["prs"]
        seen.add(s.expected_update)
        if s.expected_update == "clean":
            assert result["failed"] is None and prs == [], result["stdout"][-3000:]
            assert "::notice title=Template up to date::" in result["stdout"]
            continue
        [pr] = prs
        assert pr["title"] == f"Update copier-gin {s.release} -> {fleet.newest}", s.name
        conflicts = re.findall(r"^- `(.+)`$", pr["body"].split("## Conflicts", 1)[1].split("## Checks", 1)[0], re.M)
        assert conflicts == s.conflicts, (s.name, pr["body"])
        needs_human = s.expected_update in ("conflicted", "checks failing")
        assert pr["draft"] is needs_human and (pr["labels"] == [settings.TEMPLATE_UPDATE_LABEL]) is needs_human, s.name
        assert (result["failed"] == "Fail while the pull request needs a human") is needs_human, result["stdout"][-3000:]
        if s.expected_update == "merged":
            assert "None: every change of the template merged" in pr["body"] and "`make check` passed" in pr["body"]
        if s.expected_update == "checks failing":
            assert "Needs a human: `make check` fails." in pr["body"] and not conflicts
    assert seen == {"clean", "merged", "conflicted", "checks failing"}, seen
