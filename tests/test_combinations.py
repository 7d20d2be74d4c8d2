"""Every combination of the yes/no answers renders, and no generated text names a file that
was not generated.

Each deployment target is optional, and its files go with it; what must not stay behind
is a doc line, a comment or a Makefile target that points at a file of a switched-off
target (issue: "every text must match the files that exist"). The product of the yes/no
answers is rendered from one copy of the working tree (no clone per render), and every
text file is scanned for project paths: each must exist in that project, or be a file the
team creates by itself (listed in TEAM_CREATED with the reason).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from copier import run_copy
from test_update import copy_working_tree

# Yes/no answers and their dependants: compose only with docker, a canary only with
# Kubernetes (and a database server, which the canary needs).
# `ci` stands for ci_provider: off is none, on alternates between github and gitlab, so both
# providers meet every other answer without doubling the product.
FLAGS = ("with_docker", "with_nginx", "with_supervisord", "with_filebeat", "with_kubernetes",
         "ci", "redis")


def combinations() -> list[dict]:
    out = []
    for i, values in enumerate(itertools.product((False, True), repeat=len(FLAGS))):
        base = dict(zip(FLAGS, values))
        base["ci_provider"] = ("gitlab" if (i // 2) % 2 else "github") if base.pop("ci") else "none"
        # systemd varies with supervisord and Nginx (all four host layouts, each with and
        # without Nginx) instead of doubling the combinations.
        base["with_systemd"] = base["with_supervisord"] != base["with_nginx"]
        composes = (False, True) if base["with_docker"] else (False,)
        canaries = (False, True) if base["with_kubernetes"] else (False,)
        for compose, canary in itertools.product(composes, canaries):
            answers = {**base, "with_compose": compose, "k8s_canary": canary,
                       "database": "postgres" if canary else "sqlite"}
            out.append(answers)
    return out


COMBINATIONS = combinations()

# Project paths a text may name although the template does not generate them: files the
# team or the operator creates (secrets, certificates, overrides), and build outputs.
TEAM_CREATED = (
    re.compile(r"^deploy/compose/[\w.-]+\.secrets\.env$"),  # git-ignored real secrets beside the examples
    re.compile(r"^deploy/nginx/tls/[\w.-]+\.(pem|crt|key)$"),  # the operator's certificate
    re.compile(r"^deploy/nginx/[\w.-]+/(locations|http)\.d/"),  # the team's Nginx seams
    re.compile(r"^compose\.override\.yaml$"),  # the team's compose additions
    re.compile(r"^bin/"),  # build output
    re.compile(r"^\.env$"),  # the developer's own settings
    re.compile(r"^coverage\.\w+$"),
    re.compile(r"^migrations/sql/\d+_[\w.-]*$"),  # a migration the team writes
    re.compile(r"^deploy/k8s/team/[\w./-]+\.yaml$"),  # the team's Kubernetes resources
)

IGNORE_FILES = {".gitignore", ".dockerignore"}

# A project path as texts name them: under one of the project's top folders, or one of
# its root files. Placeholders (<service>, NAME, *) and URL or host paths are not paths
# of the project.
TOP = r"(?:deploy|docs|internal|cmd|migrations|\.github|\.gitlab|scripts)"
ROOT_FILES = r"(?:\.gitlab-ci\.yml|compose\.yaml|compose\.override\.yaml|Dockerfile|Makefile|\.dockerignore|\.env\.example|\.env|go\.mod|go\.sum|\.golangci\.yml)"
PATH_RE = re.compile(rf"(?<![\w/.:@$<-])((?:{TOP}/[\w./-]*[\w-]/?)|{ROOT_FILES})(?![\w/*<-]|\.[\w*{{])")
# A Go identifier after a package path (internal/service.Settings), a placeholder (NNNNN).
GO_SYMBOL = re.compile(r"\.[A-Z]\w*$")
PLACEHOLDER = re.compile(r"(^|/)[A-Z_]{3,}|NNN")
LINK_RE = re.compile(r"\]\(([\w./-]+\.md)(?:#[\w-]*)?\)")


@pytest.fixture(scope="module")
def template_copy(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("template-copy")
    copy_working_tree(src)
    return src


def references(project: Path) -> dict[str, set[str]]:
    """Project paths named in each generated text file."""
    found: dict[str, set[str]] = {}
    for path in project.rglob("*"):
        if not path.is_file() or ".git" in path.parts or path.suffix in {".sum", ".png"}:
            continue
        if path.name in IGNORE_FILES:  # they list patterns to leave out, present or not
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(project).as_posix()
        names = set(PATH_RE.findall(text))
        # Markdown links are relative to the document.
        for link in LINK_RE.findall(text):
            names.add((path.parent / link).resolve().relative_to(project.resolve()).as_posix()
                      if not link.startswith("/") else link.lstrip("/"))
        if names:
            found[rel] = names
    return found


def dangling(project: Path) -> list[str]:
    out = []
    for source, names in sorted(references(project).items()):
        for name in sorted(names):
            name = GO_SYMBOL.sub("", name.rstrip("."))
            if PLACEHOLDER.search(name):
                continue
            if (project / name).exists() or any(p.search(name) for p in TEAM_CREATED):
                continue
            out.append(f"{source} names {name}")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("answers", COMBINATIONS,
                         ids=["-".join([k.removeprefix("with_")[:4] for k, v in a.items() if v is True]
                                       + [a["ci_provider"]]) for a in COMBINATIONS])
def test_every_yes_no_combination_renders_with_no_dangling_reference(template_copy, tmp_path, answers):
    project = tmp_path / "p"
    run_copy(src_path=str(template_copy), dst_path=str(project), data=answers, defaults=True, unsafe=True,
             quiet=True, vcs_ref=None)
    assert (project / "go.mod").is_file()
    problems = dangling(project)
    assert not problems, "\n".join(problems)
    # A deployment folder exists only with something in it.
    for folder in (project / "deploy").glob("*") if (project / "deploy").exists() else []:
        assert any(folder.rglob("*")), f"{folder.name} is empty"
    if (project / "deploy").exists():
        assert any((project / "deploy").iterdir()), "deploy/ is empty"
