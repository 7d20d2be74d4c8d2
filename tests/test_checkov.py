"""checkov's policies on the generated Kubernetes manifests, Dockerfile and workflows (issue 6).

A second, independent policy checker next to kube-score, hadolint, actionlint and zizmor.
For each answer set with those artifacts, one checkov run (offline) scans a directory of:
- `k8s/<overlay>.yaml`: `kustomize build` of each overlay after the image is pinned by
  digest the way deploy.yml pins it (`kustomize edit set image NAME=IMAGE@DIGEST`), so the
  scan sees what the deploy job applies. checkov does not know Argo's kinds: a canary's
  Rollout is scanned as the Deployment it replaces (same pod template);
- `Dockerfile`;
- `.github/workflows/*.yml`.
Nothing may fail except the waivers below (each with its reason, each still needed), a floor
of passed checks per framework shows the scan really looked at the artifacts, and a broken
copy of the artifacts makes the same helper report the expected failures.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path, PurePosixPath

import pytest
import yaml

from conftest import TOOLS_BIN, go_env, run
from test_k8s import as_deployment, docs_of

CHECKOV = TOOLS_BIN / "checkov"  # own venv: scripts/bootstrap.d/65-checkov.sh
CHECKOV_VERSION = "3.3.30"
SETS = ("default", "orders-github", "full")
OVERLAYS = ("staging", "production")
FRAMEWORKS = ("kubernetes", "dockerfile", "github_actions")
# What a digest pin looks like; the value does not matter to the policies.
DIGEST = "sha256:" + "ab" * 32
# One checkov run of one project: start-up is most of it (about 4 s here).
TIMEOUT_S = 240

# The only failures accepted: (check, file glob in the scan directory, reason). Each must
# still match a failure in every answer set, so a stale waiver is noticed.
WAIVERS: tuple[tuple[str, str, str], ...] = (
    ("CKV_K8S_11", "k8s/*.yaml", "no CPU limit on purpose: CFS throttling hurts latency; CPU is requested, memory limited"),
    ("CKV_K8S_35", "k8s/*.yaml", "config is environment variables (docs/architecture.md); the optional Secret comes by envFrom"),
    ("CKV_GHA_7", ".github/workflows/deploy.yml", "deploy.yml builds nothing: its manual inputs pick an environment and a built digest"),
    ("CKV_GHA_7", ".github/workflows/deploy-host.yml", "deploy-host.yml's manual inputs pick an environment and deploy "
     "or rollback; the binary is built from the selected ref alone, with no input reaching the build"),
)
# checkov 3.3.30's bundled workflow schema rejects an expression in `cancel-in-progress`
# (its oneOf matches both `expressionSyntax` and `string`), valid on GitHub and to actionlint,
# and then skips the whole workflow without a word (the class of bug of its issue 5742). The
# scanned copy says `true` there: no checkov policy reads that key, and the test asserts that
# every workflow was scanned.
CANCEL_EXPRESSION = re.compile(r"^(\s*cancel-in-progress:) \$\{\{.*\}\}[ \t]*$", re.M)
# Checks that must have passed on the pod template: the scan reached the workload.
WORKLOAD_CHECKS = (
    "CKV_K8S_16",  # not privileged
    "CKV_K8S_20",  # no privilege escalation
    "CKV_K8S_22",  # read-only root filesystem
    "CKV_K8S_28",  # NET_RAW dropped (all capabilities are)
    "CKV_K8S_31",  # seccomp RuntimeDefault
    "CKV_K8S_38",  # no service account token
    "CKV_K8S_40",  # high UID
    "CKV_K8S_43",  # image by digest
)
# Passed checks per framework and project at least (measured with 3.3.30: kubernetes
# 182-190 over both overlays, dockerfile 83-100, github_actions 139 over three workflows).
FLOORS = {"kubernetes": 160, "dockerfile": 70, "github_actions": 100}


def checkov_env() -> dict[str, str]:
    """Offline: no platform key, no metadata download, no update check against the registry."""
    env = {k: v for k, v in go_env().items() if not k.startswith(("BC_", "PRISMA_", "CKV_"))}
    env.update(BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="true", LOG_LEVEL="WARNING")
    return env


def checkov(directory: Path) -> dict[str, dict]:
    """Run checkov once on a directory; framework -> {"passed", "failed": [(check, file,
    resource)], "summary"}. Waivers are not applied here."""
    proc = run(
        [str(CHECKOV), "-d", ".", "--framework", *FRAMEWORKS, "--skip-download", "--compact", "-o", "json"],
        directory,
        timeout=TIMEOUT_S,
        env=checkov_env(),
        check=False,
    )
    assert proc.returncode in (0, 1), f"checkov crashed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    data = json.loads(proc.stdout)
    reports = {}
    for report in data if isinstance(data, list) else [data]:
        summary = report["summary"]
        assert summary["checkov_version"] == CHECKOV_VERSION
        assert summary["parsing_errors"] == 0, (report["check_type"], report["results"].get("parsing_errors"))
        reports[report["check_type"]] = {
            kind: [
                (c["check_id"], c["file_path"].lstrip("/"), c["resource"])
                for c in report["results"][f"{kind}_checks"]
            ]
            for kind in ("passed", "failed", "skipped")
        } | {"summary": summary}
    failed = any(r["failed"] for r in reports.values())
    assert proc.returncode == (1 if failed else 0), proc.stderr[-3000:]
    return reports


def waiver_of(check: str, path: str) -> tuple[str, str, str] | None:
    return next((w for w in WAIVERS if w[0] == check and PurePosixPath(path).match(w[1])), None)


def unwaived(reports: dict[str, dict]) -> list[tuple[str, str, str]]:
    return [f for r in reports.values() for f in r["failed"] if waiver_of(f[0], f[1]) is None]


def scan_dir(project: Path, out: Path) -> Path:
    """The project's artifacts as deployed and built, in one directory for one checkov run."""
    k8s = out / "k8s-src"
    shutil.copytree(project / "deploy" / "k8s", k8s)
    (out / "k8s").mkdir()
    for overlay in OVERLAYS:
        directory = k8s / "overlays" / overlay
        image = next(i for i in yaml.safe_load((directory / "kustomization.yaml").read_text())["images"])
        run(["kustomize", "edit", "set", "image", f"{image['name']}={image['newName']}@{DIGEST}"], directory)
        docs = docs_of(run(["kustomize", "build", str(directory)], directory).stdout)
        (out / "k8s" / f"{overlay}.yaml").write_text(yaml.safe_dump_all(as_deployment(docs), sort_keys=False))
    shutil.rmtree(k8s)
    shutil.copy2(project / "Dockerfile", out / "Dockerfile")
    (out / ".github" / "workflows").mkdir(parents=True)
    for workflow in (project / ".github" / "workflows").iterdir():
        text = CANCEL_EXPRESSION.sub(r"\1 true", workflow.read_text())
        (out / ".github" / "workflows" / workflow.name).write_text(text)
    return out


@pytest.fixture(scope="session")
def checkov_scans(projects, tmp_path_factory):
    """answer set -> (scan directory, reports, seconds checkov took)."""
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            directory = scan_dir(projects(name), tmp_path_factory.mktemp(f"checkov-{name}"))
            start = time.monotonic()
            reports = checkov(directory)
            cache[name] = (directory, reports, time.monotonic() - start)
        return cache[name]

    return get


def test_waivers_are_reasoned_and_distinct():
    assert len({(c, g) for c, g, _ in WAIVERS}) == len(WAIVERS)
    assert all(c.startswith("CKV_") and reason.strip() for c, _, reason in WAIVERS)


@pytest.mark.slow
@pytest.mark.xdist_group("checkov")
@pytest.mark.parametrize("name", SETS)
def test_checkov_passes(checkov_scans, name):
    directory, reports, seconds = checkov_scans(name)
    for framework in FRAMEWORKS:
        r = reports[framework]
        waived = [f for f in r["failed"] if waiver_of(f[0], f[1])]
        print(
            f"{name} {framework}: passed {len(r['passed'])}, failed {len(r['failed']) - len(waived)}, "
            f"waived {len(waived)}, skipped {len(r['skipped'])}"
        )
    print(f"{name}: checkov {seconds:.1f} s")
    assert unwaived(reports) == []
    for framework, floor in FLOORS.items():
        assert len(reports[framework]["passed"]) >= floor, (framework, reports[framework]["summary"])
        # Nothing is skipped in the files (no inline checkov:skip comments).
        assert reports[framework]["skipped"] == [], reports[framework]["skipped"]
    # Every waiver is still needed.
    failed = [f for r in reports.values() for f in r["failed"]]
    for waiver in WAIVERS:
        assert any(waiver_of(c, p) == waiver for c, p, _ in failed), f"stale waiver {waiver}"
    # The workload's pod template was checked, in both overlays, and these policies held.
    passed = {(c, p) for c, p, res in reports["kubernetes"]["passed"] if res.startswith("Deployment.")}
    for overlay in OVERLAYS:
        for check in WORKLOAD_CHECKS:
            assert (check, f"k8s/{overlay}.yaml") in passed, (check, overlay)
    # The Dockerfile and each workflow were scanned.
    assert {p for _, p, _ in reports["dockerfile"]["passed"]} == {"Dockerfile"}
    workflows = {f".github/workflows/{p.name}" for p in (directory / ".github" / "workflows").iterdir()}
    assert {p for _, p, _ in reports["github_actions"]["passed"]} == workflows


@pytest.mark.slow
@pytest.mark.xdist_group("checkov")
def test_checkov_fails_on_broken_artifacts(checkov_scans, tmp_path):
    """The helper reports real mistakes: a privileged container with an unpinned image, a
    Dockerfile that ends as root, a workflow that puts a pull request's title into a script."""
    directory = shutil.copytree(checkov_scans("default")[0], tmp_path / "scan")
    manifests = directory / "k8s" / "staging.yaml"
    docs = docs_of(manifests.read_text())
    workload = next(d for d in docs if d["kind"] == "Deployment")
    container = workload["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["privileged"] = True
    container["image"] = container["image"].split("@")[0] + ":latest"
    manifests.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    dockerfile = directory / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\nUSER root\n")
    ci = directory / ".github" / "workflows" / "ci.yml"
    workflow = yaml.safe_load(ci.read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as true
    job = next(iter(workflow["jobs"].values()))
    job["steps"].append({"name": "Greet", "run": 'echo "${{ github.event.pull_request.title }}"'})
    ci.write_text(yaml.safe_dump(workflow, sort_keys=False))

    found = {(c, p) for c, p, _ in unwaived(checkov(directory))}
    assert {
        ("CKV_K8S_16", "k8s/staging.yaml"),  # privileged
        ("CKV_K8S_43", "k8s/staging.yaml"),  # no digest
        ("CKV_K8S_14", "k8s/staging.yaml"),  # :latest
        ("CKV_DOCKER_8", "Dockerfile"),  # last USER is root
        ("CKV_GHA_2", ".github/workflows/ci.yml"),  # shell injection
    } <= found, found
    # The untouched overlay stays clean.
    assert not [f for f in found if f[1] == "k8s/production.yaml"]
