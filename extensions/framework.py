"""The HTTP framework the service's handlers are written for: Gin or Echo.

Only the packages that speak HTTP know it (internal/httpserver's router and middleware,
internal/respond's context-facing functions, and the team's handlers in internal/api and
the example resource); configuration, logging, health, shutdown, the data layer, metrics,
tracing and every deployment file are the same for both. This module names what differs:
the Go modules, the struct tag the validator reads, and the framework's own settings
(internal/httpserver.Router, in the framework's router.go, is the group the team's Register
receives). Nothing here depends on Copier.

The answer cannot change on `copier update`: the team's handlers (internal/api,
internal/products and their tests) are written for one framework, and an update never
rewrites a team-owned file. `refusal()` says so; extensions/migrations/framework_change.py
and the question's validator both use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml

# The choices of the `framework` answer, with what each needs.
FRAMEWORKS: dict[str, dict[str, Any]] = {
    "gin": {
        "title": "Gin",
        "module": "github.com/gin-gonic/gin",
        "go_requires": ("github.com/gin-gonic/gin@v1.12.0",),
        # Struct tag go-playground/validator reads: Gin's binding package reads `binding`.
        "validate_tag": "binding",
        # Gin's own setting (debug route listing, test mode): key, default, doc.
        "settings": (("GIN_MODE", "release", "release, debug or test."),),
    },
    "echo": {
        "title": "Echo",
        "module": "github.com/labstack/echo/v5",
        "go_requires": ("github.com/labstack/echo/v5@v5.4.4",),
        # The tag Echo's documentation pairs with go-playground/validator.
        "validate_tag": "validate",
        "settings": (),
    },
}
DEFAULT_FRAMEWORK = "gin"


def validate_framework(value: object, dst_path: object = None, answers_file: object = None) -> str:
    """"" or what is wrong: a framework not offered, or (given the destination and its
    answers file) a change from the one an existing service records."""
    text = str(value if value is not None else "")
    if text not in FRAMEWORKS:
        return f"framework '{text}' is not offered; choose one of {', '.join(FRAMEWORKS)}."
    if dst_path is not None and answers_file is not None:
        old = recorded(Path(str(dst_path)) / str(answers_file))
        if old is not None:
            return refusal(old, text).replace("\n", " ").strip()
    return ""


def name(answers: Mapping[str, Any]) -> str:
    """The answer, with services generated before the question existed on Gin."""
    value = str(answers.get("framework") or DEFAULT_FRAMEWORK)
    return value if value in FRAMEWORKS else DEFAULT_FRAMEWORK


def recorded(answers_file: Path) -> str | None:
    """The framework an existing service's answers file records (gin when it predates the
    question), or None when there is no readable answers file (a new service)."""
    try:
        answers = yaml.safe_load(Path(answers_file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return name(answers) if isinstance(answers, dict) else None


def refusal(old: str, new: str) -> str:
    """"" when `new` keeps the service's framework `old` (or says nothing), else why an
    update cannot switch it and what to do instead."""
    if not new or new == old:
        return ""
    was, wants = FRAMEWORKS[old]["title"], FRAMEWORKS.get(new, {"title": new})["title"]
    return (
        f"framework cannot change from {old} to {new} in an update.\n"
        f"The handlers in internal/api/ and internal/products/ and their tests are the team's files,\n"
        f"written for {was}, and an update never rewrites team-owned files: the service would no\n"
        f"longer build. Nothing was changed.\n"
        f"To move to {wants}, generate a project with framework={new} beside this one, port the\n"
        f"handlers to it by hand following its internal/api/ and internal/products/, and bring the\n"
        f"team's other files over; or start a new service with framework={new}.\n"
    )


def http(answers: Mapping[str, Any]) -> dict[str, Any]:
    """cg.http: which framework, and what the templates write for it."""
    key = name(answers)
    spec = FRAMEWORKS[key]
    return {
        "framework": key,
        "title": spec["title"],
        "gin": key == "gin",
        "echo": key == "echo",
        "validate_tag": spec["validate_tag"],
    }


def go_requires(answers: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(FRAMEWORKS[name(answers)]["go_requires"])


def settings(answers: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The framework's own environment settings (after the platform's, before TRUSTED_PROXIES)."""
    return tuple(FRAMEWORKS[name(answers)]["settings"])
