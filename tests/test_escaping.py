"""Free-text answers reach each format escaped for it, read back by that format's reader.

project_name and description are the answers free enough to hold a format's special
characters (quotes, `$`, `<tags>`, Markdown emphasis, backslashes in the description).
Each file they land in is read by a parser of its format, and the text must come back
exactly as answered: no lost tag, no expanded variable, no JSON escape left in.
"""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import generate
from markdown_it import MarkdownIt

ADVERSARIAL = [
    {"project_name": "Ada's <Tags> & *Stars* [link](x) #1 | ~ $HOME",
     "description": 'Says "hi" to $USER\'s <b>friends</b> \\ back\\slash, `code`, {{ braces }} and 100% _of_ them.'},
    {"project_name": "Ünïcode — naïve café ☕",
     "description": "Tabs\tare fine; so is ${NOT_EXPANDED} and a trailing backslash \\"},
]


def plain(node) -> str:
    """The text a Markdown renderer shows for a block: its inline children's text."""
    return "".join(child.content for child in node.children or [] if child.type in ("text", "code_inline")) \
        if node.type == "inline" else ""


@pytest.mark.parametrize("answers", ADVERSARIAL, ids=["punctuation", "unicode"])
def test_free_text_survives_every_format(tmp_path, answers):
    project = generate(tmp_path / "p", {**answers, "service_name": "pq"})
    name, description = answers["project_name"], answers["description"]

    # Markdown (GitHub's CommonMark): the heading and the paragraph show the text as typed.
    tokens = MarkdownIt("commonmark").parse((project / "README.md").read_text())
    heading = next(tokens[i + 1] for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h1")
    assert heading.content and "".join(c.content for c in heading.children if c.type == "text") == name
    assert not any(c.type in ("html_inline", "em_open", "strong_open", "link_open") for c in heading.children)
    paragraph = next(tokens[i + 1] for i, t in enumerate(tokens) if t.type == "paragraph_open")
    shown = "".join(c.content for c in paragraph.children if c.type in ("text", "softbreak"))
    assert shown == description.replace("\t", "\t"), shown
    assert not any(c.type in ("html_inline", "em_open", "code_inline") for c in paragraph.children)

    # YAML (the OpenAPI description), as kin-openapi and every YAML reader see it.
    info = yaml.safe_load((project / "internal/api/openapi.yaml").read_text())["info"]
    assert info["title"] == name and info["description"] == description

    # The answers file keeps both as typed (copier update replays them).
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert recorded["project_name"] == name and recorded["description"] == description

    # Go: the comment naming the project stays one comment line (the package compiles in
    # the Go tests of the answer sets; here: no line break, no */ can end it).
    main = next((project / "cmd").rglob("main.go")).read_text()
    assert f"// Command pq runs the {name} HTTP service.\n" in main
    assert json.loads(json.dumps(name)) == name


@pytest.mark.container
@pytest.mark.xdist_group("podman")
@pytest.mark.parametrize("answers", ADVERSARIAL, ids=["punctuation", "unicode"])
def test_the_image_label_reads_back_as_typed(tmp_path, answers):
    """The builder's own reading of the generated LABEL instruction (quotes, backslashes,
    no $ expansion, no JSON escapes): built on scratch with podman, then inspected."""
    from containers import podman

    project = generate(tmp_path / "p", {**answers, "service_name": "pq"})
    lines = (project / "Dockerfile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("LABEL "))
    end = next(i for i in range(start, len(lines)) if not lines[i].endswith("\\"))
    context = tmp_path / "ctx"
    context.mkdir()
    args = [line for line in lines[:start] if line.startswith("ARG ") and "=" in line]
    (context / "Dockerfile").write_text("\n".join(["FROM scratch", *args, *lines[start:end + 1]]) + "\n")
    tag = f"localhost/copier-gin-escaping:{tmp_path.name.lower()[-20:]}"
    podman("build", "-q", "-t", tag, str(context))
    try:
        labels = json.loads(podman("image", "inspect", tag, "--format", "json").stdout)[0]["Config"]["Labels"]
    finally:
        podman("rmi", "-f", tag, check=False)
    assert labels["org.opencontainers.image.description"] == answers["description"]
