"""MkDocs hooks of the documentation site (mkdocs.yml), run by scripts/docs.

- Mermaid: the theme draws ```mermaid blocks with mermaid.min.js, which it loads from a CDN
  unless the page has it already. The site ships the pinned copy scripts/docs fetched
  (extra_javascript), so it works offline and serves the version the tests drew with.
- The generated service's own docs: scripts/docs copies this checkout with the defaults and
  names the copy in COPIER_GIN_SERVICE_DIR; its README.md and docs/*.md become the pages
  under example-service/, as a team reads them (their links are checked like the site's).
- Links to repository files outside docs/ (`../benchmarks/...`) work on the repository's
  web view but name no page of the site: with COPIER_GIN_REPO_URL set (publishing), they
  point at that file there; without it they become the file's path in code.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

SERVICE_PREFIX = "example-service"

OUTSIDE = re.compile(r"\[([^\]]+)\]\(\.\./([^)#\s]+)\)")


def on_page_markdown(markdown, page, config, files):
    repo = os.environ.get("COPIER_GIN_REPO_URL", "").rstrip("/")

    def replace(match: re.Match) -> str:
        text, path = match.groups()
        if repo:
            return f"[{text}]({repo}/blob/main/{path})"
        return text if text.strip("`") == path else f"{text} (`{path}`)"

    return OUTSIDE.sub(replace, markdown)


def on_files(files, config):
    source = os.environ.get("COPIER_GIN_SERVICE_DIR")
    if not source or not Path(source, "README.md").is_file():
        raise PluginError("the site includes a generated service's docs: build it with scripts/docs build (or serve)")
    root = Path(source)
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        uri = f"{SERVICE_PREFIX}/{page.relative_to(root).as_posix()}"
        files.append(File.generated(config, uri, abs_src_path=str(page)))
    return files


def on_post_build(config):
    source = os.environ.get("COPIER_GIN_MERMAID_JS")
    if not source or not Path(source).is_file():
        raise PluginError("the site needs the pinned mermaid.min.js: build it with scripts/docs build (or serve)")
    target = Path(config["site_dir"]) / "javascripts" / "mermaid.min.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
