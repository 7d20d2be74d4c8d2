"""The documentation site (mkdocs.yml, docs/, scripts/docs): it builds with warnings as
errors (every internal link and anchor resolves), its questions page is what copier.yml
says, every command block marked runnable runs, and the built site opens in headless
Chromium without a console error (Mermaid's parse errors are console errors), showing what
its screenshots are read back to contain."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import ROOT, TOOLS_BIN, generate, go_env
from test_update import copy_working_tree

DOCS = ROOT / "docs"
SCRIPT = ROOT / "scripts" / "docs"
RUNNABLE = re.compile(r"<!-- runnable: (?P<where>\w+) -->\n```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)
MARKER = re.compile(r"<!-- runnable:[^>]*-->")


def runnable_blocks(docs: Path = DOCS) -> list[tuple[str, str, str]]:
    """(id, where, commands) of every block marked runnable in the pages of docs."""
    blocks = []
    for page in sorted(docs.glob("*.md")):
        text = page.read_text()
        for i, match in enumerate(RUNNABLE.finditer(text)):
            blocks.append((f"{page.name}#{i + 1}", match["where"], match["body"]))
    return blocks


def docs_env() -> dict[str, str]:
    env = dict(go_env())
    env["PATH"] = os.pathsep.join([str(ROOT / ".venv" / "bin"), str(TOOLS_BIN), env.get("PATH", "")])
    return env


def commit_all(path: Path) -> None:
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "as generated"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("site") / "site"
    proc = subprocess.run([str(SCRIPT), "build", str(dest)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return dest


def test_the_site_builds_strict_with_every_page_in_its_navigation(site):
    for page in nav_pages():
        assert (site / url_of(page) / "index.html").is_file(), f"{page} was not built"
    assert (site / "javascripts" / "mermaid.min.js").stat().st_size > 1_000_000, "the pinned Mermaid is in the site"
    # Nothing of the site is fetched from elsewhere: no font or script CDN.
    for html in site.rglob("*.html"):
        text = html.read_text()
        assert "fonts.googleapis.com" not in text and "unpkg.com" not in text, html


def test_a_broken_link_fails_the_build(tmp_path):
    """The strict build is what keeps links honest: a page linking to a missing page fails."""
    copy = tmp_path / "copier-gin"
    copy_working_tree(copy)
    commit_all(copy)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    page = copy / "docs" / "service.md"
    page.write_text(page.read_text() + "\nSee [the missing guide](missing.md#nowhere).\n")
    proc = subprocess.run([str(copy / "scripts" / "docs"), "build", str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0
    assert "missing.md" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_questions_page_is_what_copier_yml_says():
    proc = subprocess.run([str(SCRIPT), "questions", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (DOCS / "questions.md").read_text()
    import yaml

    questions = [k for k in yaml.safe_load((ROOT / "copier.yml").read_text()) if not k.startswith("_")]
    assert re.findall(r"^## `(\w+)`$", text, re.M) == questions, "every question, in copier.yml's order"


def test_runnable_markers_are_well_formed():
    """A marker not followed by a command block would be skipped silently: refuse it."""
    for page in DOCS.glob("*.md"):
        text = page.read_text()
        assert len(MARKER.findall(text)) == len(RUNNABLE.findall(text)), f"{page.name}: a runnable marker without its block"
    wheres = {where for _, where, _ in runnable_blocks()}
    assert wheres == {"template", "service"}, wheres
    pages = nav_pages()
    assert set(SHOWN) <= {page.removesuffix(".md") for page in pages}, "SHOWN names a page that is gone"
    assert {p.name for p in DOCS.glob("*.md")} == {p for p in pages if "/" not in p}, "every page is in the nav"


@pytest.mark.slow
@pytest.mark.parametrize("where, commands", [b[1:] for b in runnable_blocks()], ids=[b[0] for b in runnable_blocks()])
def test_a_runnable_block_runs(tmp_path, where, commands):
    if where == "template":
        cwd = tmp_path / "copier-gin"
        copy_working_tree(cwd)
        commit_all(cwd)
    else:
        cwd = generate(tmp_path / "example-service", {})
        if not (cwd / ".git").exists():
            commit_all(cwd)
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=cwd, env=docs_env(),
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{commands}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.slow
def test_the_generated_services_runnable_blocks_run(tmp_path):
    """A generated service's own docs mark the blocks its team can run as they are."""
    project = generate(tmp_path / "example-service", {})
    commit_all(project)
    blocks = runnable_blocks(project / "docs") + runnable_blocks(project)  # docs/*.md, README.md
    assert blocks, "the generated docs mark no block runnable"
    for name, where, commands in blocks:
        assert where == "service", f"{name}: a generated page's blocks run in the service"
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=project, env=docs_env(),
                              capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, f"{name}: {commands}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


# --------------------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def served(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


# What some screenshots must show (read back with tesseract); every page is opened.
SHOWN = {
    "index": ["copier-gin", "Quick start"],
    "questions": ["Questions", "service_name"],
    # Only a drawn sequence diagram puts this line in the picture: the page's text says it otherwise.
    "service": ["How a generated service works", "within SHUTDOWN_TIMEOUT (20 s)"],
}

def nav_pages() -> list[str]:
    """Every page of mkdocs.yml's nav (the generated service's among them), by its source."""
    return re.findall(r"^\s*- [^:\n]+: (\S+\.md)$", (ROOT / "mkdocs.yml").read_text(), re.M)


def url_of(source: str) -> str:
    path = source.removesuffix(".md")
    for index in ("index", "README"):
        if path == index or path.endswith(f"/{index}"):
            return path.removesuffix(index)
    return f"{path}/"


PAGES = [(url_of(page), SHOWN.get(page.removesuffix(".md"), [])) for page in nav_pages()]


@pytest.mark.slow
@pytest.mark.parametrize("path, shown", PAGES, ids=[p.strip("/") or "home" for p, _ in PAGES])
def test_the_page_opens_in_chromium_without_console_errors(served, tmp_path, path, shown):
    chromium = shutil.which("chromium")
    assert chromium, "chromium is installed by scripts/bootstrap (bootstrap.d/85-docs.sh)"
    shot = tmp_path / "page.png"
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--window-size=1280,2400",
         f"--screenshot={shot}", f"{served}/{path}"],
        capture_output=True, text=True, timeout=180,
    )
    assert shot.is_file(), proc.stderr[-3000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "\n".join(console)
    if shown:
        text = subprocess.run(["tesseract", str(shot), "-"], capture_output=True, text=True, check=True,
                              timeout=120).stdout
        flat = " ".join(text.split())
        for words in shown:
            assert words in flat, f"{words!r} is not in the screenshot of /{path}:\n{text[:3000]}"
