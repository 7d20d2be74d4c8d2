"""Jinja extensions that Copier loads for copier-gin (see `_jinja_extensions` in copier.yml).

- `Validators` adds filters used by copier.yml validators and defaults.
- `ContextUpdater` adds the derived values every template uses, computed once in
  `derive()` so that ports, timeouts, names and paths agree across all artifacts.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import zlib
from pathlib import Path
from typing import Any

from copier_template_extensions import ContextHook
from jinja2.ext import Extension


def _load_sibling(name: str):
    """Import extensions/<name>.py by path: Copier loads this file by path, not as a package.

    Cached per file path, not per name: `copier update` renders the old and the new template
    release in one process, from two checkouts, and each must use its own extensions.
    """
    path = Path(__file__).resolve().with_name(f"{name}.py")
    qualified = f"copier_gin_{name}_{zlib.crc32(str(path).encode()):08x}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


settings = _load_sibling("settings")
naming = settings.naming  # loaded once, by settings.py


class Validators(Extension):
    """Filters for copier.yml: each validator returns "" or the message Copier shows."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters.update(
            {
                "cg_validate_project_name": naming.validate_project_name,
                "cg_validate_service_name": naming.validate_service_name,
                "cg_validate_module_path": naming.validate_module_path,
                "cg_validate_go_version": naming.validate_go_version,
                "cg_validate_framework": settings.framework.validate_framework,
                "cg_validate_port": naming.validate_port,
                "cg_validate_http_port": settings.validate_http_port,
                "cg_validate_int_range": naming.validate_int_range,
                "cg_validate_owner": naming.validate_owner,
                "cg_validate_image_registry": naming.validate_image_registry,
                "cg_validate_instances": settings.validate_instances,
                "cg_validate_canary": settings.validate_canary,
                "cg_validate_namespace": naming.validate_namespace,
                "cg_validate_hostname": naming.validate_hostname,
                "cg_slugify": naming.slugify,
                "cg_markdown": naming.markdown_text,
                "cg_dockerfile_string": naming.dockerfile_string,
                "cg_src_path_warning": naming.src_path_warning,
                "cg_license_text": naming.license_text,
            }
        )


# derive()'s result per answers. Copier builds a context for every path and file it
# renders (about 1,600 for the full answer set) and derive() takes milliseconds (the
# Grafana dashboard's JSON above all): computed once per answers, a copy is most of the
# time `copier copy` takes (docs/performance.md). Keyed by the settings module too: an
# update renders two template releases, each with its own extensions. Templates only
# read `cg`, so every file may share one.
_DERIVED: dict[str, dict[str, Any]] = {}
_DERIVED_MAX = 64


def _answers_key(context: dict[str, Any]) -> str:
    """Everything derive() may read: the context's values but Copier's own (`_copier_*`)."""
    answers = {k: v for k, v in context.items() if not k.startswith("_") and k != "cg"}
    return settings.__name__ + json.dumps(answers, sort_keys=True, default=repr)


def _memoize_from_string(environment) -> None:
    """Copier compiles every part of every path it renders, and the answers file's name,
    with `from_string`, again for each file: about 1,600 compilations of 150 distinct
    strings for the full answer set. The template compiled from a source is kept and
    reused (rendering never changes it); the extensions' preprocess hooks still run on
    every call, as a compilation would run them (Copier's yield tag resets its state there)."""
    compile_anew = environment.from_string
    compiled: dict[str, Any] = {}

    def from_string(source, globals=None, template_class=None):  # noqa: A002 (Jinja's signature)
        if globals is not None or template_class is not None or not isinstance(source, str):
            return compile_anew(source, globals, template_class)
        template = compiled.get(source)
        if template is None:
            template = compiled[source] = compile_anew(source)
        else:
            environment.preprocess(source)
        return template

    environment.from_string = from_string


class ContextUpdater(ContextHook):
    """Adds `cg`, the derived settings, to the rendering context of every template file."""

    def __init__(self, environment):
        super().__init__(environment)
        _memoize_from_string(environment)

    def hook(self, context: dict[str, Any]) -> None:
        # Copier also renders copier.yml's questions with this environment, one answer at a
        # time: derive only once every answer the settings need is known.
        if not all(key in context for key in settings.REQUIRED_ANSWERS):
            return
        key = _answers_key(context)
        if key in _DERIVED:
            context["cg"] = _DERIVED[key]
            return
        try:
            cg = settings.derive(context)
        except (ValueError, TypeError):
            # An answer Copier has not cast or validated yet (it renders this context while
            # it validates earlier questions): no cg now, so the error is reported against
            # that answer's own question, not against the one being validated.
            return
        if len(_DERIVED) >= _DERIVED_MAX:
            _DERIVED.clear()
        _DERIVED[key] = context["cg"] = cg
