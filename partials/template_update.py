# Managed by copier-gin: take template improvements with `make update`.
"""The steps of the scheduled template update that need more than a shell line: the
template-update workflow on GitHub Actions, the template-update job of the GitLab pipeline.
copier-gin renders this one file for either provider.

    template_update.py conflicts [DIR]
        Lists every unresolved conflict of an update in DIR (default: .): files git holds
        unmerged, files with conflict markers, .rej files. Exits 1 when there is one, even
        though `copier update` itself exited 0.
    template_update.py source-url SRC
        The git URL of a Copier source (`gh:org/repo`, `gl:org/repo`, a URL or a path).
    template_update.py body --from V --to V --changelog FILE --changed FILE
                            [--conflicts FILE] [--checks passed|failed|skipped] [--run URL]
        Prints the pull request's body (Markdown): from which release to which, the
        CHANGELOG's Upgrading section of every release crossed, the files changed and the
        conflicted ones.
    template_update.py gitlab-merge-request --api URL --project ID --branch B --target B
                            --title T --body FILE --label L --sha SHA --needs-human true|false
        Opens the merge request of branch B into B (or refreshes the open one) through the
        GitLab API with the token in TEMPLATE_UPDATE_TOKEN: a draft with the label L when a
        human must finish it, ready without it otherwise; sets the commit status
        template-update on SHA. Exits 1 while it needs a human.

Only the standard library, and `packaging` when it is there (Copier brings it), so the
workflow runs it with the Python that runs Copier. copier-gin's fleet tool uses the same
functions.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

MARKER = "<!-- copier-gin template update -->"
LABEL = "template-update: needs a human"
CONFLICT_START = "<<<<<<< "
CONFLICT_END = ">>>>>>> "
HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\S+))?\s*$", re.M)


# --------------------------------------------------------------------------- conflicts


def _git_lines(repo: Path, *args: str) -> list[str]:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        return []
    return [line for line in proc.stdout.split("\0" if "-z" in args else "\n") if line]


def unmerged(repo: Path) -> list[str]:
    """Files git holds unmerged (three stages in the index)."""
    return sorted({line.split("\t", 1)[1] for line in _git_lines(repo, "ls-files", "-u") if "\t" in line})


def _files(repo: Path) -> list[str]:
    if (repo / ".git").exists():
        return _git_lines(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return [str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file()]


def has_markers(text: str) -> bool:
    lines = text.splitlines()
    return any(line.startswith(CONFLICT_START) for line in lines) and any(
        line.startswith(CONFLICT_END) for line in lines
    )


def conflicts(repo: Path) -> list[str]:
    """Every file an update left unresolved: unmerged, with markers, or a .rej file."""
    found = set(unmerged(repo))
    # .rej files are git-ignored in a generated service: look for them on disk.
    found.update(str(p.relative_to(repo)) for p in repo.rglob("*.rej")
                 if ".git" not in p.relative_to(repo).parts and p.is_file())
    for rel in _files(repo):
        path = repo / rel
        if not path.is_file() or path.is_symlink() or rel.endswith(".rej"):
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        if has_markers(data.decode("utf-8", errors="replace")):
            found.add(rel)
    return sorted(found)


# --------------------------------------------------------------------------- versions


def version_key(text: str):
    """A sortable key of a release or a `git describe` of one (`0.2.0-3-gabc1234`)."""
    text = re.sub(r"-\d+-g[0-9a-f]+$", "", text.strip()).lstrip("v")
    try:
        from packaging.version import Version

        return (0, Version(text))
    except Exception:  # no packaging, or not PEP 440: numbers first, then the rest
        parts = re.findall(r"\d+|[a-z]+", text.lower())
        return (1, tuple((0, int(p)) if p.isdigit() else (-1, p) for p in parts))


def releases_crossed(changelog: str, old: str, new: str) -> list[tuple[str, str, str]]:
    """(version, date, Upgrading text) of each release in (old, new], oldest first."""
    matches = list(HEADING.finditer(changelog))
    out = []
    for i, m in enumerate(matches):
        version = m.group("version")
        if version.lower() == "unreleased":
            continue
        try:
            inside = version_key(old) < version_key(version) <= version_key(new)
        except TypeError:  # one PEP 440, one not
            inside = False
        if not inside:
            continue
        end = matches[i + 1].start() if i + 1 < len(matches) else len(changelog)
        section = changelog[m.end():end]
        up = re.search(r"^### Upgrading\s*$(?P<text>.*?)(?=^### |\Z)", section, re.M | re.S)
        out.append((version, m.group("date") or "", up.group("text").strip() if up else ""))
    return sorted(out, key=lambda r: version_key(r[0]))


# --------------------------------------------------------------------------- the body


def source_url(src: str) -> str:
    for prefix, host in (("gh:", "https://github.com/"), ("gl:", "https://gitlab.com/")):
        if src.startswith(prefix):
            rest = src[len(prefix):]
            return host + rest + ("" if rest.endswith(".git") else ".git")
    return src


def body(old: str, new: str, changelog: str | None, changed: list[str], conflicted: list[str],
         checks: str = "skipped", run_url: str = "") -> str:
    needs_human = bool(conflicted) or checks == "failed"
    lines = [MARKER, f"copier-gin template update: **{old}** → **{new}**", ""]
    if needs_human:
        reasons = []
        if conflicted:
            reasons.append(f"{len(conflicted)} conflicted file{'s' if len(conflicted) != 1 else ''}")
        if checks == "failed":
            reasons.append("`make check` fails")
        lines += [f"> [!WARNING]\n> Needs a human: {' and '.join(reasons)}. This pull request is a draft "
                  f"labelled `{LABEL}`; resolve, push to this branch, then mark it ready.", ""]
    lines += ["## Conflicts", ""]
    if conflicted:
        lines += ["Resolve each (search for `<<<<<<<`; for a `.rej` file apply it by hand and delete it), "
                  "then run `make check-conflicts deps env-example check`:", ""]
        lines += [f"- `{f}`" for f in conflicted]
    else:
        lines.append("None: every change of the template merged with this service's own.")
    lines += ["", "## Checks", "", {
        "passed": "`make check` passed on the updated tree.",
        "failed": "`make check` **failed** on the updated tree" + (f": see the [run]({run_url})." if run_url else "."),
        "skipped": "`make check` did not run: conflicts first.",
    }[checks], ""]
    lines += ["## Upgrading", ""]
    if changelog is None:
        lines.append("The template's CHANGELOG could not be read: see its repository.")
    else:
        crossed = releases_crossed(changelog, old, new)
        if not crossed:
            lines.append(f"The CHANGELOG names no release after {old} up to {new}.")
        for version, date, text in crossed:
            lines += [f"### {version}" + (f" ({date})" if date else ""), "", text or "Nothing to do by hand.", ""]
    lines += ["", f"## Files changed ({len(changed)})", ""]
    if changed:
        lines += ["<details><summary>list</summary>", ""] + [f"- `{f}`" for f in changed] + ["", "</details>"]
    else:
        lines.append("None.")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- GitLab


def gitlab_request(api: str, token: str, method: str, path: str, data: dict | None = None):
    """One GitLab API call; the decoded JSON answer."""
    import json
    import urllib.request

    request = urllib.request.Request(
        api.rstrip("/") + path, method=method,
        data=json.dumps(data).encode() if data is not None else None,
        headers={"PRIVATE-TOKEN": token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def gitlab_merge_request(api: str, token: str, project: str, branch: str, target: str, title: str,
                         body_text: str, label: str, sha: str, needs_human: bool) -> str:
    """Open or refresh the merge request of `branch`; a draft with `label` when it needs a
    human. Returns its web URL."""
    from urllib.parse import quote

    base = f"/projects/{quote(str(project), safe='')}"
    title = ("Draft: " if needs_human else "") + title
    found = gitlab_request(api, token, "GET", f"{base}/merge_requests?state=opened&source_branch={quote(branch)}")
    labels = {"add_labels": label} if needs_human else {"remove_labels": label}
    if found:
        mr = gitlab_request(api, token, "PUT", f"{base}/merge_requests/{found[0]['iid']}",
                            {"title": title, "description": body_text, **labels})
    else:
        mr = gitlab_request(api, token, "POST", f"{base}/merge_requests", {
            "source_branch": branch, "target_branch": target, "title": title, "description": body_text,
            "labels": label if needs_human else "", "remove_source_branch": True,
        })
    gitlab_request(api, token, "POST", f"{base}/statuses/{sha}", {
        "state": "failed" if needs_human else "success", "name": "template-update",
        "description": "needs a human: conflicts or failing checks" if needs_human
        else "merged cleanly, checks passed",
    })
    return str(mr.get("web_url", ""))


def _read_list(path: str | None) -> list[str]:
    if not path:
        return []
    return sorted({line.strip() for line in Path(path).read_text().splitlines() if line.strip()})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="template_update.py")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("conflicts")
    c.add_argument("dir", nargs="?", default=".")
    s = sub.add_parser("source-url")
    s.add_argument("src")
    b = sub.add_parser("body")
    b.add_argument("--from", dest="old", required=True)
    b.add_argument("--to", dest="new", required=True)
    b.add_argument("--changelog")
    b.add_argument("--changed", required=True)
    b.add_argument("--conflicts")
    b.add_argument("--checks", choices=["passed", "failed", "skipped"], default="skipped")
    b.add_argument("--run", default="")
    g = sub.add_parser("gitlab-merge-request")
    for name in ("api", "project", "branch", "target", "title", "body", "label", "sha"):
        g.add_argument(f"--{name}", required=True)
    g.add_argument("--needs-human", choices=["true", "false"], required=True)
    args = parser.parse_args(argv)
    if args.command == "gitlab-merge-request":
        import os

        token = os.environ.get("TEMPLATE_UPDATE_TOKEN", "")
        if not token:
            print("TEMPLATE_UPDATE_TOKEN is not set", file=sys.stderr)
            return 2
        needs_human = args.needs_human == "true"
        url = gitlab_merge_request(args.api, token, args.project, args.branch, args.target, args.title,
                                   Path(args.body).read_text(), args.label, args.sha, needs_human)
        print(f"merge request: {url}")
        if needs_human:
            print("template update needs a human: see the merge request's description", file=sys.stderr)
        return 1 if needs_human else 0
    if args.command == "conflicts":
        found = conflicts(Path(args.dir))
        for rel in found:
            print(rel)
        if found:
            print(f"{len(found)} unresolved conflict(s) after the update", file=sys.stderr)
        return 1 if found else 0
    if args.command == "source-url":
        print(source_url(args.src))
        return 0
    changelog = None
    if args.changelog and Path(args.changelog).is_file():
        changelog = Path(args.changelog).read_text()
    sys.stdout.write(body(args.old, args.new, changelog, _read_list(args.changed), _read_list(args.conflicts),
                          args.checks, args.run))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
