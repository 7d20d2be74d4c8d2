"""Migration for copier-gin 0.2.0: services generated before keep having no database.

0.2.0 adds the questions `database` (default `sqlite`) and `redis`. `make update` answers
new questions with their defaults, so without this migration every existing service
would gain an SQLite database, the products example and its migrations on its first
update. Copier runs this script before it renders the new version (`when: before`), in
the project's directory, with the answers file's path; it records the answers such a
service effectively had:

    (no database answer)  ->  database: none, redis: false

A team that wants a database answers it on purpose afterwards, e.g.
`make update UPDATE_ARGS="-d database=postgres"` (docs/updating.md says what to wire by
hand then). Answers already present are never changed, so running it again is harmless.
It prints one line saying what it did.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from to_0_2_0 import record_missing, rewrite_answers  # noqa: E402

TAG = "copier-gin migration 0.2.0 (data)"
BEFORE_DATA = {"database": "none", "redis": False}


def migrate_answers(answers: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Return the answers with the pre-0.2.0 data answers filled in, and what changed."""
    return record_missing(answers, BEFORE_DATA, "database and redis already answered")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: {Path(__file__).name} ANSWERS_FILE", file=sys.stderr)
        return 2
    return rewrite_answers(Path(argv[0]), TAG, migrate_answers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
