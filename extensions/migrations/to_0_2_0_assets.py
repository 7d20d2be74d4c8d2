"""Migration for copier-gin 0.2.0: services generated before keep serving no static files.

0.2.0 adds the question `with_assets` (default yes): the team's files in `assets/public/`,
embedded in the binary and served under the static prefix. `make update` answers new
questions with their defaults, so without this migration every existing service would
gain the assets packages on its first update, and, since `assets/public/` is the team's
(left out of every update's render), an embed directive with nothing to embed: the
build would fail. Copier runs this script before it renders the new version
(`when: before`), in the project's directory, with the answers file's path; it records
the answer such a service effectively had:

    (no with_assets answer)  ->  with_assets: false

A team that wants embedded assets answers it on purpose, in this update or a later one:
`make update UPDATE_ARGS="-d with_assets=true"`. `assets/public/` is then the team's and
left out of the update's render, so the same script runs again after the render
(`--after ANSWERS_FILE TEMPLATE_DIR`, `when: after`) and creates it from the release's own
template when the answer is yes and the folder is missing (a later switch on is
switched_on_seams.py's). An answer already present is never changed, an existing file
never overwritten, so running it again is harmless. It prints one line saying what it did.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from to_0_2_0 import record_missing, rewrite_answers  # noqa: E402

TAG = "copier-gin migration 0.2.0 (assets)"
BEFORE_ASSETS = {"with_assets": False}


def migrate_answers(answers: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Return the answers with the pre-0.2.0 assets answer filled in, and what changed."""
    return record_missing(answers, BEFORE_ASSETS, "with_assets already answered")


# The team's folder and where the release's template keeps its first files.
ASSETS = Path("assets", "public")
TEMPLATE_ASSETS = Path("template", "{% if with_assets %}assets{% endif %}", "public")


def create_assets(project: Path, template: Path, answers: dict[str, Any]) -> str:
    """After the render: give a service that answered yes its assets/public/ when it has none."""
    if not answers.get("with_assets"):
        return "nothing to do (with_assets is off)"
    if (project / ASSETS).exists():
        return f"nothing to do ({ASSETS.as_posix()}/ exists)"
    source = template / TEMPLATE_ASSETS
    created = []
    for src in sorted(p for p in source.rglob("*") if p.is_file()):
        dst = project / ASSETS / src.relative_to(source)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        created.append((ASSETS / src.relative_to(source)).as_posix())
    if not created:
        raise ValueError(f"{source} has no file to start {ASSETS.as_posix()}/ with")
    return "created the team-owned " + ", ".join(created) + " (go:embed needs a file)"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--after"] and len(argv) == 3:
        path, template = Path(argv[1]), Path(argv[2])
        try:
            answers = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            what = create_assets(path.resolve().parent, template, answers)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            print(f"{TAG}: {exc}", file=sys.stderr)
            return 1
        print(f"{TAG}: {what}", file=sys.stderr)
        return 0
    if len(argv) != 1:
        print(f"usage: {Path(__file__).name} ANSWERS_FILE | --after ANSWERS_FILE TEMPLATE_DIR", file=sys.stderr)
        return 2
    return rewrite_answers(Path(argv[0]), TAG, migrate_answers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
