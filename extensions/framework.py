"""The HTTP framework the service's handlers are written for: Gin or Echo.

Only the packages that speak HTTP know it (internal/httpserver's router and middleware,
internal/respond's context-facing functions, and the team's handlers in internal/api and
the example resource); configuration, logging, health, shutdown, the data layer, metrics,
tracing and every deployment file are the same for both. This module names what differs:
the Go modules, the router group type the team's Register receives, the struct tag the
validator reads, and the framework's own settings. Nothing here depends on Copier.
"""

from __future__ import annotations

from typing import Any, Mapping

# The choices of the `framework` answer, with what each needs.
FRAMEWORKS: dict[str, dict[str, Any]] = {
    "gin": {
        "title": "Gin",
        "module": "github.com/gin-gonic/gin",
        "go_requires": ("github.com/gin-gonic/gin@v1.12.0",),
        # The team's Register(r *<router>, ...): the group the routes mount on.
        "router": "gin.RouterGroup",
        "context": "*gin.Context",
        # Struct tag go-playground/validator reads: Gin's binding package reads `binding`.
        "validate_tag": "binding",
        # Gin's own setting (debug route listing, test mode): key, default, doc.
        "settings": (("GIN_MODE", "release", "release, debug or test."),),
        # The route template of a path parameter, as the framework writes it in c.FullPath().
        "param_syntax": ":name",
    },
    "echo": {
        "title": "Echo",
        "module": "github.com/labstack/echo/v5",
        "go_requires": ("github.com/labstack/echo/v5@v5.4.4",),
        "router": "echo.Group",
        "context": "*echo.Context",
        # The tag Echo's documentation pairs with go-playground/validator.
        "validate_tag": "validate",
        "settings": (),
        "param_syntax": ":name",
    },
}
DEFAULT_FRAMEWORK = "gin"


def validate_framework(value: object) -> str:
    text = str(value if value is not None else "")
    if text not in FRAMEWORKS:
        return f"framework '{text}' is not offered; choose one of {', '.join(FRAMEWORKS)}."
    return ""


def name(answers: Mapping[str, Any]) -> str:
    """The answer, with services generated before the question existed on Gin."""
    value = str(answers.get("framework") or DEFAULT_FRAMEWORK)
    return value if value in FRAMEWORKS else DEFAULT_FRAMEWORK


def http(answers: Mapping[str, Any]) -> dict[str, Any]:
    """cg.http: which framework, and what the templates write for it."""
    key = name(answers)
    spec = FRAMEWORKS[key]
    return {
        "framework": key,
        "title": spec["title"],
        "gin": key == "gin",
        "echo": key == "echo",
        "module": spec["module"],
        "router": spec["router"],
        "context": spec["context"],
        "validate_tag": spec["validate_tag"],
        "settings": [list(s) for s in spec["settings"]],
    }


def go_requires(answers: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(FRAMEWORKS[name(answers)]["go_requires"])


def settings(answers: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The framework's own environment settings (after the platform's, before TRUSTED_PROXIES)."""
    return tuple(FRAMEWORKS[name(answers)]["settings"])
