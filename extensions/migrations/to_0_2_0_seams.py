"""Migration for copier-gin 0.2.0: give services generated before the seams their seams.

0.2.0 moves the team's work into team-owned files the template's files call or include:
`internal/service/` (settings and dependencies), `internal/upstream/` (the example client),
`deploy/compose/app.env`, `deploy/supervisord/<service>.env`, `deploy/k8s/team/` (and the
Nginx `http.d/` and `locations.d/` folders, which need no file). Team-owned paths are left out of every update's
render (`_exclude`), so the update itself never creates them: without this migration the
new `internal/app` would not compile (no `internal/service`), kustomize would not build (no
component) and compose would miss its env file.

Copier runs it after rendering the new version (`when: after`), in the project's directory,
with the template checkout as its argument. It

- renders each team-owned seam file of the release that the project lacks, from the
  release's own templates and the project's recorded answers (the same values `copier copy`
  uses); it never overwrites a file that exists;
- adapts the team's `internal/api` to the new `Register(r *gin.RouterGroup, deps
  *service.Deps)` when it still has the 0.1.0 form `Register(v1 *gin.RouterGroup)` (and the
  example tests' `Register(engine.Group("/api/v1"))` calls); other forms are left alone and
  the line it prints says what to change by hand.

It does nothing in a service that has Go files in `internal/service/` already (generated with the
seams from a development version before the 0.2.0 tag): there a missing seam file was
deleted by its team. It prints one line to stderr saying what it did.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import yaml

TAG = "copier-gin migration 0.2.0 (seams)"
# Team-owned files of the release this migration creates when missing (rendered paths,
# relative to the project). The Nginx http.d/ and locations.d/ folders need no file.
TEAM_FILE = re.compile(
    r"^(internal/service/.*|internal/upstream/.*|deploy/compose/app\.env|deploy/supervisord/[^/]+\.env"
    r"|deploy/k8s/team/.*)$"
)

OLD_REGISTER = re.compile(r"func Register\((\w+) \*gin\.RouterGroup\) \{\n")
OLD_TEST_CALL = re.compile(r"Register\((\w+)\.Group\(\"(/api/v\d+)\"\)\)")


def _load_settings(template: Path):
    path = template / "extensions" / "settings.py"
    spec = importlib.util.spec_from_file_location(f"copier_gin_settings_migration_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _context(template: Path, answers: dict[str, Any]) -> dict[str, Any]:
    config = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8"))
    context: dict[str, Any] = {}
    env = jinja2.Environment(keep_trailing_newline=True)
    # Questions the answers file lacks take their default, as `copier copy --defaults` would.
    for key, question in config.items():
        if key.startswith("_") or not isinstance(question, dict):
            continue
        if key in answers:
            context[key] = answers[key]
        elif "default" in question:
            default = question["default"]
            try:
                context[key] = env.from_string(default).render(**context) if isinstance(default, str) else default
            except jinja2.TemplateError:
                continue  # a default built with the template's own filters: not needed here
            if question.get("type") == "int":
                context[key] = int(context[key])
            elif question.get("type") == "bool" and isinstance(context[key], str):
                context[key] = context[key].strip().lower() == "true"
    context["cg"] = _load_settings(template).derive(context)
    return context


# Renders paths and files as `copier copy` does (switched_on_seams.py renders its seams alike).
_ENV = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


def rendered_files(template: Path, context: dict[str, Any]) -> Iterator[tuple[str, Path]]:
    """(rendered path relative to the project, its template file) for each file the release
    generates with this render context."""
    source = template / "template"
    for src in sorted(p for p in source.rglob("*") if p.is_file()):
        try:
            parts = [_ENV.from_string(part).render(**context) for part in src.relative_to(source).parts]
        except jinja2.TemplateError:
            continue  # a path only Copier can render (the answers file): never a team file
        if any(part == "" for part in parts):
            continue  # an option that is off
        rel = "/".join(parts)
        if rel.endswith(".jinja"):
            rel = rel[: -len(".jinja")]
        yield rel, src


def render_file(src: Path, dst: Path, context: dict[str, Any]) -> None:
    """Write the template file src to dst, rendered when it is a .jinja file."""
    text = src.read_text(encoding="utf-8")
    if src.name.endswith(".jinja"):
        text = _ENV.from_string(text).render(**context)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text, encoding="utf-8")


def render_missing(project: Path, template: Path, answers: dict[str, Any]) -> list[str]:
    """Render the release's team-owned seam files the project lacks; return their paths."""
    context = _context(template, answers)
    created = []
    for rel, src in rendered_files(template, context):
        if TEAM_FILE.match(rel) and not (project / rel).exists():
            render_file(src, project / rel, context)
            created.append(rel)
    return created


def adapt_api(project: Path, module: str) -> list[str]:
    """Move the team's api package from the 0.1.0 Register to the 0.2.0 one."""
    notes = []
    api = project / "internal" / "api"
    routes = api / "routes.go"
    if not routes.is_file():
        return ["internal/api/routes.go not found: write Register(r *gin.RouterGroup, deps *service.Deps)"]
    text = routes.read_text(encoding="utf-8")
    if "*service.Deps" in text:
        return notes
    match = OLD_REGISTER.search(text)
    if not match:
        return ["internal/api/routes.go: change Register to Register(r *gin.RouterGroup, deps *service.Deps) by hand"]
    group = match.group(1)
    text = OLD_REGISTER.sub(
        f"func Register(r *gin.RouterGroup, _ *service.Deps) {{\n\t{group} := r.Group(\"/api/v1\")\n", text, count=1
    )
    routes.write_text(_import(text, f"{module}/internal/service"), encoding="utf-8")
    notes.append("internal/api/routes.go: Register(r, deps)")
    for test in sorted(api.glob("*_test.go")):
        body = test.read_text(encoding="utf-8")
        new, count = OLD_TEST_CALL.subn(r'Register(\1.Group(""), &service.Deps{})', body)
        if count:
            test.write_text(_import(new, f"{module}/internal/service"), encoding="utf-8")
            notes.append(f"internal/api/{test.name}: Register(..., &service.Deps{{}})")
    return notes


def _import(text: str, path: str) -> str:
    """Add an import to a Go file's import block (gofmt's grouping: a local block last)."""
    if f'"{path}"' in text:
        return text
    block = re.search(r"import \((.*?)\n\)", text, re.S)
    if block:
        return text[: block.end() - 2] + f'\n\n\t"{path}"' + text[block.end() - 2 :]
    single = re.search(r'import ("[^"]+")\n', text)
    if single:
        return text.replace(single.group(0), f'import (\n\t{single.group(1)}\n\n\t"{path}"\n)\n', 1)
    return text


def arguments(argv: list[str], tag: str, script: str) -> tuple[Path, Path]:
    """The answers file and the template checkout Copier passes an after migration, run in
    the project's directory; anything else is said and exits the script (2: usage, 1: no
    answers file)."""
    if len(argv) != 2:
        print(f"usage: {script} ANSWERS_FILE TEMPLATE_DIR", file=sys.stderr)
        raise SystemExit(2)
    answers_file, template = Path(argv[0]), Path(argv[1])
    if not answers_file.is_file():
        print(f"{tag}: {answers_file} not found (run from the project's directory)", file=sys.stderr)
        raise SystemExit(1)
    return answers_file, template


def main(argv: list[str]) -> int:
    answers_file, template = arguments(argv, TAG, Path(__file__).name)
    answers = yaml.safe_load(answers_file.read_text(encoding="utf-8")) or {}
    project = answers_file.resolve().parent
    # (Copier's update may leave an empty internal/service: only Go files count.)
    if any((project / "internal" / "service").glob("*.go")):
        # Generated with the seams already (a development version before the 0.2.0 tag):
        # a seam file missing now was deleted by the team, and stays deleted.
        print(f"{TAG}: nothing to do (internal/service exists: the service has its seams)", file=sys.stderr)
        return 0
    try:
        created = render_missing(project, template, answers)
        notes = adapt_api(project, str(answers.get("module_path", "")))
    except (OSError, ValueError, jinja2.TemplateError, yaml.YAMLError) as exc:
        print(f"{TAG}: failed: {exc}", file=sys.stderr)
        return 1
    what = f"created {len(created)} team-owned file(s)" + (f" ({', '.join(created)})" if created else "")
    if notes:
        what += "; " + "; ".join(notes)
    print(f"{TAG}: {what}; next: make deps env-example (make update runs them from 0.2.0 on)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
