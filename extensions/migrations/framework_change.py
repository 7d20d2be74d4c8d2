"""Every update: refuse to change `framework`, before anything is written.

The handlers in internal/api/ and internal/products/ and their tests belong to the team and
are written for the framework the service was generated with; an update never rewrites a
team-owned file. An update that switched the answer would rewrite the template's router,
middleware and respond package for the new framework and leave the team's handlers on the
old one: the service would not build, and the merge would not say why.

Copier runs this script before it renders anything (`when: before`, no `version`), in the
project's directory, with the answers file's path and the new answer as given with `-d` or
`--data-file` (empty when none was: Copier asks its questions after the `before`
migrations, so a change made at the prompt is refused by the question's validator). The
old answer is the answers file's; a service generated before the question has none and is
on Gin. When they differ it prints why and what to do instead to stderr and exits 1,
which stops the update with the project untouched.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import framework  # noqa: E402  (extensions/framework.py)

TAG = "copier-gin"


def check(answers_file: Path, new: str) -> str:
    """"" when the update keeps the service's framework, else the message to print."""
    old = framework.recorded(answers_file)
    if old is None:
        return ""  # no answers file: Copier itself refuses to update
    new = new.strip()
    if new and new not in framework.FRAMEWORKS:
        return framework.validate_framework(new) + "\n"  # what the question would say, but now
    return framework.refusal(old, new)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {Path(__file__).name} ANSWERS_FILE NEW_FRAMEWORK", file=sys.stderr)
        return 2
    message = check(Path(argv[0]), argv[1])
    if not message:
        return 0
    print(f"{TAG}: {message}", file=sys.stderr, end="")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
