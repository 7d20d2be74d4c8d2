"""Migration for copier-gin 0.2.0: the `with_github_actions` answer becomes `ci_provider`.

0.1.0 asked a yes/no question, `with_github_actions`. 0.2.0 asks which CI system the
generated workflows target, `ci_provider` (`github` or `none`), so that other CI systems
can be added as choices later without another yes/no question per system.

Without this migration an existing project that had answered `with_github_actions: false`
would be updated with the new question's default (`github`), and `make update` would add
workflows the team had chosen not to have. Copier runs this script before it renders the
new version (`when: before` in copier.yml), in the project's directory, with the path of the
answers file as its only argument. It rewrites that file in place:

    with_github_actions: true   ->  ci_provider: github
    with_github_actions: false  ->  ci_provider: none

It only uses the standard library and PyYAML (a Copier dependency, so present in the
interpreter that runs Copier). Running it again is harmless: with no `with_github_actions`
left it changes nothing. It prints one line saying what it did, which the update tests count.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

OLD_KEY = "with_github_actions"
NEW_KEY = "ci_provider"
TAG = "copier-gin migration 0.2.0"


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"true", "yes", "y", "on", "1"}:
            return True
        if text in {"false", "no", "n", "off", "0", ""}:
            return False
    if isinstance(value, int):
        return value != 0
    raise ValueError(f"{OLD_KEY}: cannot read {value!r} as yes/no")


def migrate_answers(answers: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Return the migrated answers and a one-line description of what changed.

    An answer already recorded under the new name wins over the old one (the team set it
    on purpose, for example with `copier update -d ci_provider=none`).
    """
    if OLD_KEY not in answers:
        return dict(answers), f"nothing to do ({OLD_KEY} not in the answers)"
    migrated = {key: value for key, value in answers.items() if key != OLD_KEY}
    old = answers[OLD_KEY]
    if NEW_KEY in answers:
        return migrated, f"dropped {OLD_KEY}: {old!r}, kept {NEW_KEY}: {answers[NEW_KEY]!r}"
    migrated[NEW_KEY] = "github" if _truthy(old) else "none"
    return migrated, f"{OLD_KEY}: {old!r} -> {NEW_KEY}: {migrated[NEW_KEY]}"


def _header(text: str) -> str:
    """The comment lines Copier writes at the top of the answers file."""
    lines = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def migrate_file(path: Path, migrate=None) -> str:
    """Rewrite the answers file at path with `migrate` (migrate_answers by default), keeping
    Copier's header; return its description of what changed. Other 0.2.0 migrations reuse it."""
    text = path.read_text(encoding="utf-8")
    answers = yaml.safe_load(text) or {}
    if not isinstance(answers, dict):
        raise ValueError(f"{path}: expected a mapping of answers")
    migrated, what = (migrate or migrate_answers)(answers)
    if migrated != answers:
        body = yaml.safe_dump(migrated, default_flow_style=False, allow_unicode=True, sort_keys=True)
        path.write_text(_header(text) + body, encoding="utf-8")
    return what


def record_missing(answers: dict[str, Any], before: dict[str, Any], answered: str) -> tuple[dict[str, Any], str]:
    """Return the answers with the ones a service generated before a question existed
    effectively had (`before`) filled in where missing, and what changed; `answered` says
    why nothing did. The other 0.2.0 migrations of new questions are this with their answers."""
    missing = {k: v for k, v in before.items() if k not in answers}
    if not missing:
        return dict(answers), f"nothing to do ({answered})"
    return {**answers, **missing}, "recorded " + ", ".join(f"{k}: {v!r}" for k, v in missing.items())


def rewrite_answers(path: Path, tag: str, migrate=None) -> int:
    """Run migrate_file as a `when: before` migration: print the one line, prefixed with
    `tag`, saying what it did or why it could not, and return the script's exit code."""
    if not path.is_file():
        print(f"{tag}: {path} not found (run from the project's directory)", file=sys.stderr)
        return 1
    try:
        what = migrate_file(path, migrate)
    except (ValueError, yaml.YAMLError) as exc:
        print(f"{tag}: {exc}", file=sys.stderr)
        return 1
    print(f"{tag}: {what}", file=sys.stderr)
    return 0


def template_asks_new_question(config: Path) -> bool:
    """Whether the release being installed (its copier.yml) asks `ci_provider`.

    The migration is registered for 0.2.0 before that release is made: should 0.2.0 ship
    without the new question, dropping the old answer would bring back workflows a team
    turned off, so the migration then leaves the answers alone.
    """
    questions = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    return isinstance(questions, dict) and NEW_KEY in questions


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(f"usage: {Path(__file__).name} ANSWERS_FILE [TEMPLATE_COPIER_YML]", file=sys.stderr)
        return 2
    path = Path(argv[0])
    # (A missing answers file is reported first, whatever the release asks.)
    if len(argv) == 2 and path.is_file() and not template_asks_new_question(Path(argv[1])):
        print(f"{TAG}: nothing to do (the template being installed asks no {NEW_KEY})", file=sys.stderr)
        return 0
    return rewrite_answers(path, TAG)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
