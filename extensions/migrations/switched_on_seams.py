"""Every update: give a feature this update switches on the team-owned seams it needs.

Team-owned paths are left out of every update's render (`_exclude` in copier.yml), so
`copier update -d with_kubernetes=true` on a service generated without Kubernetes writes
the template's manifests but not `deploy/k8s/team/`, which both overlays include:
kustomize would not build. The same holds for compose (`deploy/compose/app.env` and the
`*.secrets.env.example` files compose.yaml reads), supervisord or systemd (`deploy/supervisord/
<service>.env`, `deploy/systemd/<service>.env`), GitHub Actions (`.github/dependabot.yml`), GitLab CI
(`.gitlab/team.yml`, which `.gitlab-ci.yml` includes) and embedded assets
(`assets/public/`, which `assets/embed.go` embeds: without it the service does not compile).

Copier runs this script after every update (`when: after`, no `version`), in the project's
directory, with the template checkout as its argument. It compares the answers the project
had before the update (`.copier-answers.yml` at git HEAD: Copier refuses to update a dirty
repository) with the answers now recorded, and creates each seam file that the
new answers generate, the previous answers did not, and the project lacks; it renders them
from the release's own templates, as `copier copy` would. It never overwrites a file, and a
seam of a feature that was already on stays deleted when its team deleted it.

It leaves the team's code alone: switching `database` or `redis` on does not create the
example `internal/products/` or its migration, and the wiring in `internal/service/` is
done by hand (the generated docs/updating.md, "Changing an answer"). It prints one line to
stderr when it created something, nothing otherwise.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The answers -> render context of `copier copy`, and the release's files rendered with it.
from to_0_2_0_seams import _context, arguments, render_file, rendered_files  # noqa: E402

TAG = "copier-gin: switched on"
# Seams the template's own files read or embed (rendered paths, relative to the project).
SEAM = re.compile(
    r"^(deploy/compose/[^/]+|deploy/(?:supervisord|systemd)/[^/]+\.env|deploy/k8s/team/.+|\.github/dependabot\.yml|\.gitlab/team\.yml"
    r"|assets/public/.+)$"  # with_assets: go:embed needs a file in the team's folder
)


def previous_answers(project: Path, answers_file: Path) -> dict[str, Any] | None:
    """The answers committed before this update, or None when git has none."""
    rel = answers_file.resolve().relative_to(project).as_posix()
    proc = subprocess.run(
        ["git", "show", f"HEAD:./{rel}"], cwd=project, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return None
    return yaml.safe_load(proc.stdout) or {}


def seams(template: Path, answers: dict[str, Any]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """{rendered seam path: (its template file, the render context)} for these answers."""
    context = _context(template, answers)
    return {rel: (src, context) for rel, src in rendered_files(template, context) if SEAM.match(rel)}


def _questions(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers without Copier's own keys (_commit, _src_path)."""
    return {k: v for k, v in answers.items() if not k.startswith("_")}


def create_switched_on(project: Path, template: Path, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Render the seams `new` generates and `old` did not, when missing; return their paths."""
    if _questions(old) == _questions(new):
        return []
    before = seams(template, old)
    created = []
    for rel, (src, context) in sorted(seams(template, new).items()):
        if rel in before or (project / rel).exists():
            continue
        render_file(src, project / rel, context)
        created.append(rel)
    return created


def main(argv: list[str]) -> int:
    answers_file, template = arguments(argv, TAG, Path(__file__).name)
    project = answers_file.resolve().parent
    try:
        new = yaml.safe_load(answers_file.read_text(encoding="utf-8")) or {}
        old = previous_answers(project, answers_file)
        if old is None:
            return 0  # not committed yet: nothing to compare with
        created = create_switched_on(project, template, old, new)
    except (OSError, ValueError, jinja2.TemplateError, yaml.YAMLError) as exc:
        print(f"{TAG}: failed: {exc}", file=sys.stderr)
        return 1
    if created:
        print(f"{TAG}: created the team-owned file(s) {', '.join(created)}; they are yours now", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
