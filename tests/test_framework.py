"""The `framework` answer: what differs between a Gin and an Echo service, and why an
update never switches it.

Rendering only: no Go build (tests/test_generated_go.py builds and tests both frameworks).
The update tests run the copier CLI on a git clone of the working tree tagged 0.1.0
(tests/test_update.py's helpers), updating to that same release: the framework check runs
on every update, whichever release it goes to.
"""

from __future__ import annotations

import filecmp
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import settings
from answer_sets import ANSWER_SETS
from conftest import ROOT, generate
from test_update import answers_of, commit_all, copier, git, new_project, update, working_tree_release

framework = settings.framework
SCRIPT = ROOT / "extensions" / "migrations" / "framework_change.py"

# What the refusal says, in the update's output: why, and what to do instead.
WHY = ("framework cannot change from gin to echo in an update", "internal/api/", "internal/products/",
       "never rewrites team-owned files", "Nothing was changed")
INSTEAD = ("generate a project with framework=echo beside this one", "port the", "start a new service with framework=echo")


# --------------------------------------------------------------------------- what differs

# Every file whose contents differ between a Gin and an Echo service generated from the same
# answers (when the answers generate it). Everything else, every deployment file included,
# is byte-identical. A file that starts or stops differing must be added or removed here.
DIFFERS = {
    # The answer itself.
    ".copier-answers.yml",
    # The framework's module and what it pulls in (locked per framework in extensions/gomod/).
    "go.mod",
    "go.sum",
    # TEMPLATE_REQUIRES (what `make deps` raises go.mod to) names the framework's module; the
    # rest of the Makefile is the same (test_the_makefile_differs_only_in_the_framework_module).
    "Makefile",
    # GIN_MODE, Gin's own setting: the Go config reads it, .env.example and the settings
    # table in docs/operations.md list it. Echo has no setting of its own.
    "internal/config/config.go",
    "internal/config/config_test.go",
    ".env.example",
    "docs/operations.md",
    # Generated docs that name the framework: the HTTP layer, and why an update cannot switch it.
    "docs/architecture.md",
    "docs/updating.md",
    # The template's HTTP layer: a template per framework for the router, the middleware, the
    # embedded assets' route and their test ...
    "internal/httpserver/router.go",
    "internal/httpserver/middleware.go",
    "internal/httpserver/routes_test.go",
    "internal/httpserver/assets.go",
    # ... and shared templates that name the framework in a comment (server.go) or write the
    # struct tag the validator reads (server_test.go).
    "internal/httpserver/server.go",
    "internal/httpserver/server_test.go",
    # internal/respond: the context-facing functions and their test per framework; errors.go
    # names the framework in a comment, respond_test.go writes the validator's tag.
    "internal/respond/respond.go",
    "internal/respond/context_test.go",
    "internal/respond/errors.go",
    "internal/respond/respond_test.go",
    # The team's handlers (team-owned: written once, for one framework).
    "internal/api/routes.go",
    "internal/api/greetings.go",
    "internal/api/openapi.go",
    "internal/api/router_test.go",
    "internal/products/handler.go",
    # The example resource's request struct: the validator's tag (binding / validate).
    "internal/products/product.go",
}

# Build and deployment files: never different (the Makefile only in its TEMPLATE_REQUIRES line).
DEPLOYMENT = re.compile(
    r"^(deploy/|\.github/|\.gitlab/|\.gitlab-ci\.yml$|Dockerfile$|\.dockerignore$|compose\.yaml$"
    r"|Makefile$|\.golangci\.yml$|\.gitignore$|\.editorconfig$)"
)

# Answer sets rendered for the comparison: defaults; everything on (MySQL, Redis, Kubernetes
# with a canary, systemd, Filebeat to Kafka, GitHub); GitLab with PostgreSQL; nothing deployed,
# no database and no assets.
COMPARED = ("default", "full", "orders", "minimal")
# One worker renders each answer set once for all the comparisons.
compare = pytest.mark.xdist_group("framework-render")


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """(gin project, echo project) for an answer set, rendered once per module."""
    made: dict[str, tuple[Path, Path]] = {}

    def render(name: str) -> tuple[Path, Path]:
        if name not in made:
            base = tmp_path_factory.mktemp(f"framework-{name}")
            # The same answers: the description too (its default names the framework).
            same = {**ANSWER_SETS[name], "description": f"The {name} service."}
            made[name] = tuple(  # type: ignore[assignment]
                generate(base / fw, {**same, "framework": fw}) for fw in ("gin", "echo")
            )
        return made[name]

    return render


def differing(gin: Path, echo: Path) -> set[str]:
    """Files whose contents differ, or that only one of the two has."""
    a, b = files(gin), files(echo)
    return (a ^ b) | {f for f in a & b if not filecmp.cmp(gin / f, echo / f, shallow=False)}


@compare
@pytest.mark.parametrize("name", COMPARED)
def test_only_the_allow_listed_files_differ(rendered, name):
    gin, echo = rendered(name)
    assert files(gin) == files(echo), "the same files for both frameworks, only contents differ"
    expected = {f for f in DIFFERS if (gin / f).is_file()}
    found = differing(gin, echo)
    assert found - expected == set(), "differ but are not allow-listed"
    assert expected - found == set(), "allow-listed but identical: take them off DIFFERS"


@compare
@pytest.mark.parametrize("name", COMPARED)
def test_deployment_files_are_byte_identical(rendered, name):
    gin, echo = rendered(name)
    deployment = sorted(f for f in files(gin) if DEPLOYMENT.match(f))
    assert len(deployment) > (2 if name == "minimal" else 20), deployment
    assert [f for f in deployment if f != "Makefile" and not filecmp.cmp(gin / f, echo / f, shallow=False)] == []


@compare
@pytest.mark.parametrize("name", COMPARED)
def test_the_makefile_differs_only_in_the_framework_module(rendered, name):
    gin, echo = rendered(name)
    gin_lines, echo_lines = (p.joinpath("Makefile").read_text().splitlines() for p in (gin, echo))
    assert len(gin_lines) == len(echo_lines)
    changed = [(g, e) for g, e in zip(gin_lines, echo_lines) if g != e]
    assert len(changed) == 1 and changed[0][0].startswith("TEMPLATE_REQUIRES := "), changed
    (old,), (new,) = framework.go_requires({"framework": "gin"}), framework.go_requires({"framework": "echo"})
    gin_line, echo_line = changed[0]
    assert old in gin_line.split() and gin_line.replace(old, new, 1) == echo_line


@compare
@pytest.mark.parametrize("name", COMPARED)
def test_no_framework_setting_in_any_deployment_file(rendered, name):
    """The deployment files set none of a framework's own settings (GIN_MODE): each keeps its
    Go default, which is what a deployment needs, so they render the same for every framework."""
    keys = {key for spec in framework.FRAMEWORKS.values() for key, _, _ in spec["settings"]}
    assert keys, "no framework has a setting of its own: nothing to check"
    for project in rendered(name):
        for rel in sorted(files(project)):
            if DEPLOYMENT.match(rel):
                text = (project / rel).read_text(errors="replace")
                assert not [k for k in keys if k in text], rel


# --------------------------------------------------------------------------- the migration script


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, check=False)


ANSWERS = """\
# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY
_commit: 0.2.0
_src_path: gh:acme/copier-gin
{framework}service_name: orders-api
"""


@pytest.mark.parametrize(
    ("recorded", "new", "refused"),
    [
        ("framework: gin\n", "gin", False),
        ("framework: echo\n", "echo", False),
        ("framework: gin\n", "", False),  # no -d: the prompt's validator has the last word
        ("framework: echo\n", "", False),
        ("", "gin", False),  # generated before the question: on Gin
        ("", "", False),
        ("framework: gin\n", "echo", True),
        ("framework: echo\n", "gin", True),
        ("", "echo", True),
    ],
)
def test_script_refuses_exactly_a_change(tmp_path, recorded, new, refused):
    (tmp_path / ".copier-answers.yml").write_text(ANSWERS.format(framework=recorded))
    proc = run_script(".copier-answers.yml", new, cwd=tmp_path)
    assert proc.returncode == (1 if refused else 0), proc.stderr
    assert proc.stdout == ""
    if refused:
        old = "echo" if "echo" in recorded else "gin"
        assert proc.stderr.startswith(f"copier-gin: framework cannot change from {old} to {new} in an update.\n")
        assert f"written for {framework.FRAMEWORKS[old]['title']}" in proc.stderr
        assert f"start a new service with framework={new}" in proc.stderr
    else:
        assert proc.stderr == ""
    assert (tmp_path / ".copier-answers.yml").read_text() == ANSWERS.format(framework=recorded), "never writes"


def test_script_refuses_a_framework_not_offered(tmp_path):
    (tmp_path / ".copier-answers.yml").write_text(ANSWERS.format(framework="framework: gin\n"))
    proc = run_script(".copier-answers.yml", "flask", cwd=tmp_path)
    assert proc.returncode == 1 and "framework 'flask' is not offered; choose one of gin, echo." in proc.stderr


def test_script_without_an_answers_file_or_with_bad_arguments(tmp_path):
    assert run_script("missing.yml", "echo", cwd=tmp_path).returncode == 0  # Copier refuses that update itself
    usage = run_script(".copier-answers.yml", cwd=tmp_path)
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_copier_yml_runs_it_first_before_every_update():
    """First: a later `before` migration may rewrite the answers file, which a refused update
    must leave as it was."""
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    first = config["_migrations"][0]
    assert "version" not in first and first["when"] == "{{ _stage == 'before' }}"
    assert first["command"][1:] == [
        "{{ _copier_conf.src_path }}/extensions/migrations/framework_change.py",
        "{{ _copier_conf.answers_file }}",
        # Copier asks its questions after the `before` migrations: `{{ framework }}` would be
        # empty here. The -d / --data-file answers are known.
        "{{ _copier_conf.data.get('framework', '') }}",
    ]


# --------------------------------------------------------------------------- real updates


# Each runs the copier CLI several times: the full tier.
pytest_slow = pytest.mark.slow


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return working_tree_release(tmp_path_factory.mktemp("framework-release"))


def assert_refused(result, project: Path, answers_before: str) -> None:
    assert result.returncode != 0, result.stdout + result.stderr
    for text in WHY + INSTEAD:
        assert text in result.stderr, (text, result.stderr[-3000:])
    assert git(project, "status", "--porcelain").stdout == "", "the project must be untouched"
    assert (project / ".copier-answers.yml").read_text() == answers_before


@pytest_slow
@pytest.mark.xdist_group("framework-update")
def test_update_refuses_to_switch_the_framework(release, tmp_path):
    project = new_project(release, tmp_path / "gin", {})
    assert answers_of(project)["framework"] == "gin"
    before = (project / ".copier-answers.yml").read_text()
    assert_refused(update(project, "0.1.0", "-d", "framework=echo", check=False), project, before)
    # The same answer given again: the update runs (without -d: the next test).
    update(project, "0.1.0", "-d", "framework=gin")
    assert answers_of(project)["framework"] == "gin"


@pytest_slow
@pytest.mark.xdist_group("framework-update")
def test_a_service_generated_before_the_question_is_on_gin(release, tmp_path):
    project = new_project(release, tmp_path / "old", {})
    answers = project / ".copier-answers.yml"
    answers.write_text("".join(line for line in answers.read_text().splitlines(True) if not line.startswith("framework:")))
    commit_all(project, "As generated before the framework question")
    before = answers.read_text()
    assert_refused(update(project, "0.1.0", "-d", "framework=echo", check=False), project, before)
    update(project, "0.1.0")
    assert answers_of(project)["framework"] == "gin"


@pytest_slow
@pytest.mark.xdist_group("framework-update")
def test_an_echo_service_updates_and_stays_on_echo(release, tmp_path):
    project = new_project(release, tmp_path / "echo", {"framework": "echo"})
    before = (project / ".copier-answers.yml").read_text()
    result = update(project, "0.1.0", "-d", "framework=gin", check=False)
    assert result.returncode != 0 and "framework cannot change from echo to gin in an update" in result.stderr
    assert "written for Echo" in result.stderr
    assert git(project, "status", "--porcelain").stdout == ""
    assert (project / ".copier-answers.yml").read_text() == before
    update(project, "0.1.0")
    assert answers_of(project)["framework"] == "echo"


@pytest_slow
@pytest.mark.xdist_group("framework-update")
def test_recopy_is_refused_by_the_validator(release, tmp_path):
    """`copier recopy` runs no migration; the question's validator compares with the answers
    file (as it does for a change made at an update's prompt)."""
    project = new_project(release, tmp_path / "recopy", {})
    before = (project / ".copier-answers.yml").read_text()
    result = copier(project, "recopy", "--trust", "--defaults", "--vcs-ref", "0.1.0", "-d", "framework=echo", check=False)
    assert result.returncode != 0
    assert "Validation error for question 'framework': framework cannot change from gin to echo" in result.stderr
    assert git(project, "status", "--porcelain").stdout == ""
    assert (project / ".copier-answers.yml").read_text() == before


def test_copy_refuses_a_framework_not_offered(tmp_path):
    dst = tmp_path / "flask"
    result = copier(tmp_path, "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "-d", "framework=flask", str(ROOT), str(dst),
                    check=False)
    assert result.returncode != 0
    assert "Invalid choice for 'framework': 'flask' is not in ['gin', 'echo']" in result.stderr
    assert not dst.exists() or not any(dst.iterdir())
