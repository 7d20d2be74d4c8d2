"""Fast tier: every answer set renders completely, and optional features are whole files."""

from __future__ import annotations

import re

import pytest
import yaml
from answer_sets import ANSWER_SETS

# Jinja left behind: `{{`, `{%` or `{#`. Not Jinja, and meant to stay: GitHub Actions'
# `${{ ... }}` expressions, Argo Rollouts' `{{args.name}}` analysis arguments, the
# image-tag patterns `{{version}}`, `{{major}}`, `{{minor}}` of the image workflow, the
# Prometheus alerts' Go templates `{{$labels.job}}` and the Grafana dashboard's legends
# `{{route}}`, `{{instance}}`, ... (label names of the service's metrics).
LEFTOVER = re.compile(
    r"(?<!\$)\{\{(?!(args\.[\w-]+|version|major|minor|patch|route|status|instance|client|state|commit)\}\}|\$labels\.\w+\}\})"
    r"|\{%|\{#|%\}|#\}"
)


@pytest.mark.parametrize("name", list(ANSWER_SETS))
def test_no_jinja_left_anywhere(projects, name):
    project = projects(name)
    offenders = []
    for path in project.rglob("*"):
        if path.is_dir() or ".git" in path.parts or path.relative_to(project).parts[0] == "bin":
            continue  # bin/ holds binaries other tests build into the shared project
        assert not LEFTOVER.search(str(path.relative_to(project))), f"unrendered file name: {path}"
        assert path.suffix != ".jinja", f"template suffix left: {path}"
        text = path.read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if LEFTOVER.search(line):
                offenders.append(f"{path.relative_to(project)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders[:20])


@pytest.mark.parametrize("name", list(ANSWER_SETS))
def test_copie_generates_and_records_every_answer(copie, name):
    """Generated through pytest-copie, as a template user's test would."""
    result = copie.copy(extra_answers=ANSWER_SETS[name])
    assert result.exit_code == 0, result.exception
    assert result.exception is None
    answers = yaml.safe_load((result.project_dir / ".copier-answers.yml").read_text())
    for question, value in ANSWER_SETS[name].items():
        assert answers[question] == value, question
        assert result.answers[question] == value, question
    assert answers["_src_path"]


def test_copie_reports_a_rejected_answer(copie):
    result = copie.copy(extra_answers={"http_port": 80})
    assert result.exit_code != 0
    assert "http_port 80 is out of range" in str(result.exception)


@pytest.mark.parametrize("name", list(ANSWER_SETS))
def test_service_layout(projects, name):
    project = projects(name)
    service = yaml.safe_load((project / ".copier-answers.yml").read_text())["service_name"]
    assert (project / "cmd" / service / "main.go").is_file()
    for package in ("app", "config", "httpserver", "health", "lifecycle", "logging", "buildinfo", "respond", "api",
                    "service", "upstream"):
        assert list((project / "internal" / package).glob("*.go")), package
    for name_ in ("go.mod", "go.sum", "Makefile", ".golangci.yml", ".env.example", "README.md", "LICENSE",
                  "docs/operations.md", "docs/updating.md", "docs/architecture.md", ".gitignore"):
        assert (project / name_).is_file(), name_
    gomod = (project / "go.mod").read_text()
    module = yaml.safe_load((project / ".copier-answers.yml").read_text())["module_path"]
    assert gomod.startswith(f"module {module}\n")


OPTIONAL = {
    "with_docker": ["Dockerfile", ".dockerignore", "compose.yaml"],
    "with_compose": ["compose.yaml", "deploy/compose"],
    "with_nginx": ["deploy/nginx"],
    "with_supervisord": ["deploy/supervisord"],
    "with_filebeat": ["deploy/filebeat"],
    "with_kubernetes": ["deploy/k8s"],
    "ci_provider": [".github"],  # default github, minimal none; gitlab below
}


@pytest.mark.parametrize("answer", list(OPTIONAL))
def test_switching_a_feature_off_removes_its_files(projects, answer):
    on = projects("default")
    off = projects("minimal")
    assert ANSWER_SETS["minimal"].get(answer, False) in (False, "none") or answer == "with_compose"
    for rel in OPTIONAL[answer]:
        assert (on / rel).exists(), f"{rel} missing with {answer} on"
        assert not (off / rel).exists(), f"{rel} present with {answer} off"


def test_systemd_and_the_host_deploys_come_with_a_process_manager(projects):
    """deploy/systemd/ only with systemd (off by default, on in `full`); deploy/host/ (the
    SSH deploys) with supervisord or systemd; neither without both."""
    full, default, minimal = projects("full"), projects("default"), projects("minimal")
    assert ANSWER_SETS["full"]["with_systemd"] and not ANSWER_SETS["default"].get("with_systemd")
    for rel in ("deploy/systemd", "deploy/host", ".github/workflows/deploy-host.yml"):
        assert (full / rel).exists(), rel
        assert not (minimal / rel).exists(), rel
    assert not (default / "deploy/systemd").exists() and (default / "deploy/host").is_dir()
    # The team's host settings: supervisord's file when it is generated, systemd's alone never then.
    assert not list((full / "deploy/systemd").glob("*.env"))
def test_a_logstash_pipeline_only_when_filebeat_ships_to_kafka_or_logstash(projects):
    """deploy/logstash/ follows filebeat_output (tests/test_logstash.py checks its content)."""
    assert (projects("full") / "deploy/logstash/index-template.json").is_file()  # kafka
    assert not (projects("default") / "deploy/logstash").exists()  # Filebeat ships to Elasticsearch
    assert not (projects("minimal") / "deploy/logstash").exists()  # no Filebeat


CI_FILES = {"github": [".github"], "gitlab": [".gitlab-ci.yml", ".gitlab/team.yml", ".gitlab/scripts"]}


@pytest.mark.parametrize("name", list(ANSWER_SETS))
def test_ci_provider_generates_its_files_only(projects, name):
    """Each ci_provider choice brings its own CI files and no other's (none: no CI file)."""
    project = projects(name)
    provider = ANSWER_SETS[name].get("ci_provider", "github")
    for choice, paths in CI_FILES.items():
        for rel in paths:
            assert (project / rel).exists() == (choice == provider), f"{rel} with ci_provider={provider}"


@pytest.mark.parametrize("line", ["name: {{ service_name }}", "{% if with_nginx %}", "{{cg.env_prefix}}", "x {# note #}"])
def test_leftover_pattern_catches_jinja(line):
    assert LEFTOVER.search(line)


@pytest.mark.parametrize(
    "line", ["ref: ${{ github.sha }}", "url: http://{{args.canary-service}}.x", "type=semver,pattern={{major}}.{{minor}}"]
)
def test_leftover_pattern_allows_other_tools_syntax(line):
    assert not LEFTOVER.search(line)


def test_templates_compile_under_names_with_quotes():
    """Copier compiles each template under its path, and a path may hold quotes (a question
    renamed into `{% if ci_provider == 'github' %}`, as the 0.2.0 release will do). Jinja
    writes that name, unescaped, into the code of an inline `x if y` without `else`, which
    then does not compile: every template must compile under such a name."""
    import jinja2

    from conftest import ROOT

    env = jinja2.Environment(keep_trailing_newline=True, extensions=["jinja2.ext.do"])
    bad = []
    for path in sorted((ROOT / "template").rglob("*.jinja")):
        name = "{% if (x == 'y') %}" + str(path.relative_to(ROOT))
        try:
            env.compile(path.read_text(), name=name, filename=name)
        except SyntaxError as exc:
            bad.append(f"{path.relative_to(ROOT)}: {exc}")
        except jinja2.TemplateSyntaxError:
            pass  # Copier's own extensions' syntax: rendered by the render tests
    assert not bad, bad
