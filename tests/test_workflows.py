"""GitHub Actions workflows and Dependabot config of the generated project (issue 6).

GitHub itself cannot be reached from here, so the workflows are proven in pieces:
- actionlint (with shellcheck for every `run:` script), zizmor --offline (regular and
  pedantic personas) and yamllint --strict report nothing;
- every action is pinned to a full commit SHA with its release in a comment, and the pins
  are the ones listed below (each seen in public workflows with that version comment);
- the hardening rules (least permissions, timeouts, no persisted credentials, no
  expressions inside `run:`, OIDC only where it deploys, per-environment concurrency)
  are asserted on the parsed YAML;
- the `make` targets the ci workflow runs exist in the generated Makefile and are the
  targets this repository's own Go tests run; the Kubernetes and deploy steps' scripts are
  executed here, as written in the workflow files, against the generated project.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, go_env, run

sys.path.insert(0, str(ROOT / "extensions"))
import settings  # noqa: E402

GHA_SETS = ("default", "orders", "full")
VENV_BIN = Path(sys.executable).parent
YAMLLINT_CONFIG = "{extends: default, rules: {truthy: {check-keys: false}, line-length: {max: 120}}}"
# Every action the generated workflows use: the commit each release tag points to.
ACTIONS = {
    "actions/checkout": ("8e8c483db84b4bee98b60c0593521ed34d9990e8", "v6.0.1"),
    "actions/setup-go": ("7a3fe6cf4cb3a834922a1244abfce67bcef6a0c5", "v6.2.0"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "hadolint/hadolint-action": ("54c9adbab1582c2ef04b2016b760714a4bfde3cf", "v3.1.0"),
    "docker/setup-buildx-action": ("e468171a9de216ec08956ac3ada2f0791b6bd435", "v3.11.1"),
    "docker/login-action": ("184bdaa0721073962dff0199f1fb9940f07167d1", "v3.5.0"),
    "docker/metadata-action": ("c1e51972afc2121e065aed6d45c65596fe445f3f", "v5.8.0"),
    "docker/build-push-action": ("263435318d21b8e681c14492fe198d362a7d2c83", "v6.18.0"),
    "aws-actions/configure-aws-credentials": ("b47578312673ae6fa5b5096b330d9fbac3d116df", "v4.2.1"),
}
# GitHub runs `run:` scripts with this shell.
GHA_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def workflows(project: Path) -> dict[str, dict]:
    return {
        p.name: yaml.safe_load(p.read_text()) for p in sorted((project / ".github" / "workflows").glob("*.yml"))
    }


def answers_of(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def step(workflow: dict, job: str, name: str) -> dict:
    found = [s for s in workflow["jobs"][job]["steps"] if s.get("name") == name]
    assert len(found) == 1, f"no step {name!r} in job {job}"
    return found[0]


def run_step(script: str, cwd: Path, env: dict[str, str], tmp_path: Path):
    """Run a workflow step's script the way the runner does (bash -eo pipefail)."""
    path = tmp_path / "step.sh"
    path.write_text(script)
    full = go_env()
    full["PATH"] = f"{VENV_BIN}{os.pathsep}{full['PATH']}"
    full.update(env)
    return subprocess.run([*GHA_BASH, str(path)], cwd=cwd, env=full, capture_output=True, text=True, timeout=600)


def uses_lines(project: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted((project / ".github" / "workflows").glob("*.yml")):
        for line in path.read_text().splitlines():
            m = re.match(r"\s*(?:- )?uses:\s*(\S+)(.*)$", line)
            if m:
                out.append((m.group(1), m.group(2).strip()))
    return out


# ------------------------------------------------------------------ fast
def test_derive_ci_keys():
    cg = settings.derive({"service_name": "a", "http_port": 8080, "shutdown_timeout": 1, "owner": "x"})
    assert cg["registry"] == {"host": "ghcr.io", "is_ghcr": True}
    cg = settings.derive(
        {"service_name": "a", "http_port": 8080, "shutdown_timeout": 1, "owner": "x", "image_registry": "reg.example.com:5000/t"}
    )
    assert cg["registry"] == {"host": "reg.example.com:5000", "is_ghcr": False}
    assert cg["ci_make_targets"][0] == "fmt-check" and "cover" in cg["ci_make_targets"]
    assert cg["k8s_check_tools"]["kustomize"] in cg["k8s_check_tools"]["go"]
    assert cg["k8s_deploy_timeout_min"] == 20
    canary = settings.derive({"service_name": "a", "http_port": 8080, "shutdown_timeout": 1, "owner": "x", "k8s_canary": True})
    # The deploy job outlives the canary's polling loop.
    assert canary["k8s_deploy_timeout_min"] * 60 > canary["k8s_deploy_wait_polls"] * 15


def test_bootstrap_installs_the_versions_the_generated_ci_installs():
    """The template's tests use the same checker versions as the generated CI."""
    text = (ROOT / "scripts" / "bootstrap.d" / "60-k8s-ci.sh").read_text()
    for spec in (*settings.K8S_CHECK_GO_TOOLS, *settings.K8S_CHECK_PIP):
        assert f'"{spec}"' in text, spec
    from kubernetes_validate import utils

    bundled = {".".join(v.split(".")[:2]) for v in utils.all_versions()}
    assert set(settings.K8S_VALIDATE_VERSIONS) <= bundled
    assert max(settings.K8S_VALIDATE_VERSIONS, key=lambda v: tuple(map(int, v.split(".")))) == max(
        bundled, key=lambda v: tuple(map(int, v.split(".")))
    )


# ------------------------------------------------------------------ slow: generated projects
@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
def test_minimal_has_no_github_files(projects):
    assert not (projects("minimal") / ".github").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_expected_files(projects, name):
    project = projects(name)
    answers = answers_of(project)
    expected = {"ci.yml"}
    if answers["with_docker"]:
        expected.add("image.yml")
        if answers["with_kubernetes"]:
            expected.add("deploy.yml")
    assert set(workflows(project)) == expected
    assert (project / ".github" / "dependabot.yml").is_file()


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_actionlint_reports_nothing(projects, name):
    project = projects(name)
    files = sorted(str(p) for p in (project / ".github" / "workflows").glob("*.yml"))
    assert shutil.which("shellcheck"), "actionlint checks run: scripts with shellcheck: install it (bootstrap)"
    proc = run(["actionlint", "-no-color", *files], project, check=False)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_zizmor_reports_nothing(projects, name):
    project = projects(name)
    for persona in ("regular", "pedantic"):
        proc = run(
            [str(VENV_BIN / "zizmor"), "--offline", "--persona", persona, "--format", "plain", ".github"],
            project,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "No findings to report" in proc.stdout, proc.stdout
    # The only ignore comments: the local reusable workflow calls, written `./...` because
    # actionlint rejects GitHub's newer `$/...` form that zizmor's self-repository audit asks for.
    proc = run(
        [str(VENV_BIN / "zizmor"), "--offline", "--persona", "pedantic", "--no-ignores", "--format", "json", ".github"],
        project,
        check=False,
    )
    findings = yaml.safe_load(proc.stdout)
    assert {f["ident"] for f in findings} <= {"self-repository"}, proc.stdout
    assert len(findings) == (2 if "deploy.yml" in workflows(project) else 0)


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_yamllint_passes(projects, name):
    project = projects(name)
    proc = run([str(VENV_BIN / "yamllint"), "--strict", "-d", YAMLLINT_CONFIG, ".github"], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
def test_checkers_catch_broken_workflows(projects, tmp_path):
    """Negative controls: each checker fails on a typical mistake."""
    project = projects("default")
    ci = (project / ".github" / "workflows" / "ci.yml").read_text()
    work = tmp_path / "repo"
    (work / ".github" / "workflows").mkdir(parents=True)
    bad = work / ".github" / "workflows" / "ci.yml"

    bad.write_text(ci.replace("timeout-minutes: 20", "timeout-minutes: twenty"))
    assert run(["actionlint", "-no-color", str(bad)], work, check=False).returncode != 0
    bad.write_text(ci.replace("run: make ", 'run: echo $GITHUB_REF_NAME && make '))
    proc = run(["actionlint", "-no-color", str(bad)], work, check=False)
    assert proc.returncode != 0 and "shellcheck" in proc.stdout, proc.stdout

    sha, version = ACTIONS["actions/checkout"]
    bad.write_text(
        ci.replace(f"actions/checkout@{sha}  # {version}", "actions/checkout@v6").replace(
            "        with:\n          persist-credentials: false\n", ""
        )
    )
    proc = run([str(VENV_BIN / "zizmor"), "--offline", "--persona", "pedantic", str(bad)], work, check=False)
    assert proc.returncode != 0 and "unpinned-uses" in proc.stdout and "artipacked" in proc.stdout, proc.stdout
    bad.write_text(ci.replace("run: make ", "run: echo ${{ github.event.pull_request.title }} && make "))
    proc = run([str(VENV_BIN / "zizmor"), "--offline", str(bad)], work, check=False)
    assert proc.returncode != 0 and "template-injection" in proc.stdout, proc.stdout

    bad.write_text(ci.replace("on:\n", "on:  \n"))
    assert run([str(VENV_BIN / "yamllint"), "--strict", "-d", YAMLLINT_CONFIG, str(bad)], work, check=False).returncode


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_actions_pinned_to_full_shas_with_version_comments(projects, name):
    project = projects(name)
    uses = uses_lines(project)
    assert uses
    for ref, comment in uses:
        if ref.startswith("./"):
            assert ref == "./.github/workflows/deploy.yml"
            continue
        action, _, sha = ref.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", sha), ref
        assert action in ACTIONS, f"{action} has no attested pin in ACTIONS"
        assert (sha, comment) == (ACTIONS[action][0], f"# {ACTIONS[action][1]}"), (ref, comment)


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_hardening(projects, name):
    project = projects(name)
    for file, wf in workflows(project).items():
        assert wf["permissions"] == {"contents": "read"}, file
        for job_id, job in wf["jobs"].items():
            if "uses" in job:  # a reusable workflow call: its own jobs carry the timeouts
                continue
            assert isinstance(job["timeout-minutes"], int) and 0 < job["timeout-minutes"] <= 60, (file, job_id)
            for s in job["steps"]:
                if s.get("uses", "").startswith("actions/checkout@"):
                    assert s["with"]["persist-credentials"] is False, (file, job_id)
                if "run" in s:
                    assert "${{" not in s["run"], f"expression inside run: in {file} {job_id} {s.get('name')}"
            perms = job.get("permissions", {})
            if perms.get("id-token") == "write":
                assert (file, job_id) in {("deploy.yml", "deploy")}, (file, job_id)
        # The callers of deploy.yml grant it id-token (a reusable workflow gets no more than its caller).
        for job_id, job in wf["jobs"].items():
            if "uses" in job:
                assert job["permissions"] == {"contents": "read", "id-token": "write"}
    # Nothing grants write access except these.
    writes = {
        (file, job_id, scope)
        for file, wf in workflows(project).items()
        for job_id, job in wf["jobs"].items()
        for scope, level in job.get("permissions", {}).items()
        if level == "write"
    }
    allowed = {("deploy.yml", "deploy", "id-token"), ("image.yml", "deploy-staging", "id-token"),
               ("image.yml", "deploy-production", "id-token"), ("image.yml", "build", "packages")}
    assert writes <= allowed, writes


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_ci_runs_the_make_targets_on_prs_and_main(projects, name):
    project = projects(name)
    cg = settings.derive(answers_of(project))
    ci = workflows(project)["ci.yml"]
    # `on:` is read by PyYAML as the boolean True.
    assert set(ci[True]) == {"pull_request", "push"} and ci[True]["push"]["branches"] == ["main"]
    go = ci["jobs"]["go"]
    runs = [s["run"] for s in go["steps"] if "run" in s]
    assert runs == ["make " + " ".join(cg["ci_make_targets"]), "make fuzz"]
    # A server database: the integration tests run against one, instead of skipping.
    if cg["db"].get("ci"):
        job = ci["jobs"]["integration"]
        assert job["env"] == {f"{cg['env_prefix']}_TEST_DATABASE_URL": cg["db"]["ci"]["url"]}
        assert [s["run"] for s in job["steps"] if "run" in s][-1] == "make test"
    else:
        assert "integration" not in ci["jobs"]
    setup = [s for s in go["steps"] if s.get("uses", "").startswith("actions/setup-go@")][0]
    # The newest patch of the answered Go line, not go.mod's minimum (which would pin an old patch).
    assert setup["with"]["go-version"] == f"{answers_of(project)['go_version']}.x"
    assert setup["with"]["check-latest"] is True and setup["with"].get("cache", True) is not False
    # Every target exists in the generated Makefile (make's own database) and dry-runs.
    proc = run(["make", "-pRrq", "-f", "Makefile", ":"], project, check=False)
    targets = set(re.findall(r"^([a-zA-Z][\w-]*):", proc.stdout, re.M))
    for target in [*cg["ci_make_targets"], "fuzz"]:
        assert target in targets, f"ci.yml runs make {target}; the Makefile has no such target"
        run(["make", "-n", target], project)
    answers = answers_of(project)
    if answers["with_docker"]:
        lint = ci["jobs"]["dockerfile"]["steps"][-1]
        assert lint["with"] == {"dockerfile": "Dockerfile", "failure-threshold": "style"}
    assert ("kubernetes" in ci["jobs"]) == bool(answers["with_kubernetes"])


def test_ci_make_targets_are_the_ones_the_go_tests_run():
    """tests/test_generated_go.py runs the generated project's checks through its MAKE_TARGETS,
    so the ci workflow's `make` command is proven here, target by target. The one exception
    is vuln: govulncheck needs the online vulnerability database (its target is dry-run in
    test_ci_runs_the_make_targets_on_prs_and_main)."""
    import ast

    tree = ast.parse((ROOT / "tests" / "test_generated_go.py").read_text())
    (value,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MAKE_TARGETS" for t in node.targets)
    ]
    tested = set(ast.literal_eval(value))
    assert [t for t in settings.CI_MAKE_TARGETS if t not in tested] == ["vuln"]


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_ci_kubernetes_job_runs_here(projects, name, tmp_path):
    """The ci workflow's Kubernetes job: pinned tools as the template's tests use, then its
    check step, executed as written."""
    project = projects(name)
    cg = settings.derive(answers_of(project))
    job = workflows(project)["ci.yml"]["jobs"]["kubernetes"]
    install = step({"jobs": {"k": job}}, "k", "Install the checkers (pinned)")["run"]
    for spec in (*cg["k8s_check_tools"]["go"], *cg["k8s_check_tools"]["pip"]):
        assert spec in install
    check = step({"jobs": {"k": job}}, "k", "Check the manifests")["run"]
    proc = run_step(check, project, {}, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Kubernetes manifests: ok (Kubernetes {' '.join(cg['k8s_validate_versions'])})" in proc.stdout
    shellcheck = run(["shellcheck", "deploy/k8s/check.sh"], project, check=False)
    assert shellcheck.returncode == 0, shellcheck.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
def test_ci_kubernetes_check_fails_on_a_bad_manifest(projects, tmp_path):
    project = projects("default")
    copy = tmp_path / "project"
    shutil.copytree(project / "deploy", copy / "deploy")
    workload = copy / "deploy" / "k8s" / "base" / "workload.yaml"
    workload.write_text(workload.read_text().replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystm: true"))
    check = step(workflows(project)["ci.yml"], "kubernetes", "Check the manifests")["run"]
    proc = run_step(check, copy, {}, tmp_path)
    assert proc.returncode != 0 and "ERROR" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_image_workflow(projects, name):
    project = projects(name)
    cg = settings.derive(answers_of(project))
    wf = workflows(project)["image.yml"]
    assert set(wf[True]) == {"pull_request", "push"}
    assert wf[True]["push"]["branches"] == ["main"] and wf[True]["push"]["tags"]
    assert wf["env"]["IMAGE"] == cg["image"]
    build = wf["jobs"]["build"]
    expected_perms = {"contents": "read", **({"packages": "write"} if cg["registry"]["is_ghcr"] else {})}
    assert build["permissions"] == expected_perms
    steps = {s["uses"].split("@")[0]: s for s in build["steps"] if "uses" in s}
    login = steps["docker/login-action"]
    assert login["if"] == "github.event_name != 'pull_request'"
    assert login["with"]["registry"] == cg["registry"]["host"]
    push = steps["docker/build-push-action"]["with"]
    assert push["push"] == "${{ github.event_name != 'pull_request' }}"
    assert push["platforms"] == "linux/amd64,linux/arm64"
    # Cross-compiled in a build stage on the runner's platform, so nothing needs QEMU: the
    # build stage is pinned to BUILDPLATFORM and the later stages run no command.
    assert "docker/setup-qemu-action" not in steps
    stages = re.split(r"^FROM ", (project / "Dockerfile").read_text(), flags=re.M)[1:]
    assert stages[0].startswith("--platform=$BUILDPLATFORM "), stages[0][:80]
    assert "GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build" in stages[0]
    for stage in stages[1:]:
        assert not re.search(r"^RUN ", stage, re.M), "a target-platform stage runs a command: it would need QEMU"
    assert push["sbom"] is True and push["provenance"] == "mode=max"
    assert push["cache-from"] == "type=gha" and push["cache-to"] == "type=gha,mode=max"
    tags = steps["docker/metadata-action"]["with"]["tags"]
    assert "type=semver,pattern={{version}}" in tags and "type=sha,format=long" in tags
    # Build args the Dockerfile declares.
    dockerfile = (project / "Dockerfile").read_text()
    for arg in re.findall(r"^\s*(\w+)=", push["build-args"], re.M):
        assert re.search(rf"^ARG {arg}\b", dockerfile, re.M), arg
    if answers_of(project)["with_kubernetes"]:
        staging, production = wf["jobs"]["deploy-staging"], wf["jobs"]["deploy-production"]
        assert staging["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
        assert production["if"] == "github.event_name == 'push' && startsWith(github.ref, 'refs/tags/v')"
        for job, env in ((staging, "staging"), (production, "production")):
            assert job["uses"] == "./.github/workflows/deploy.yml" and job["needs"] == "build"
            assert job["with"] == {"environment": env, "digest": "${{ needs.build.outputs.digest }}"}
        assert build["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_deploy_workflow(projects, name, tmp_path):
    project = projects(name)
    cg = settings.derive(answers_of(project))
    wf = workflows(project)["deploy.yml"]
    assert set(wf[True]) == {"workflow_call", "workflow_dispatch"}
    job = wf["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"] == {"group": "deploy-${{ inputs.environment }}", "cancel-in-progress": False}
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["timeout-minutes"] == cg["k8s_deploy_timeout_min"]
    oidc = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")][0]
    assert set(oidc["with"]) == {"role-to-assume", "aws-region"}, "OIDC: no stored keys"

    # The input check and the digest pinning run here, as written.
    env = {**{k: str(v) for k, v in job["env"].items() if not str(v).startswith("${{")}}
    checker = step(wf, "deploy", "Check the inputs")["run"]
    pin = step(wf, "deploy", "Pin the image by digest in the overlay")["run"]
    digest = "sha256:" + "0123456789abcdef" * 4
    for environment in ("staging", "production"):
        copy = tmp_path / environment
        shutil.copytree(project / "deploy", copy / "deploy")
        github_env = tmp_path / f"{environment}.env"
        github_env.write_text("")
        runner_temp = tmp_path / f"{environment}-runner"
        runner_temp.mkdir()
        step_env = {**env, "ENVIRONMENT": environment, "DIGEST": digest, "GITHUB_ENV": str(github_env),
                    "RUNNER_TEMP": str(runner_temp)}
        proc = run_step(checker, copy, step_env, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert github_env.read_text() == f"NAMESPACE={cg['k8s_namespaces'][environment]}\n"
        proc = run_step(pin, copy, step_env, tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        manifests = list(yaml.safe_load_all((runner_temp / "manifests.yaml").read_text()))
        workload = [d for d in manifests if d["kind"] == cg["k8s_workload"]["kind"]][0]
        assert workload["spec"]["template"]["spec"]["containers"][0]["image"] == f"{cg['image']}@{digest}"
        assert workload["metadata"]["namespace"] == cg["k8s_namespaces"][environment]
        overlay = yaml.safe_load((copy / "deploy" / "k8s" / "overlays" / environment / "kustomization.yaml").read_text())
        assert overlay["images"] == [{"name": cg["service"], "newName": cg["image"], "digest": digest}]
    for bad in ({"ENVIRONMENT": "prod"}, {"DIGEST": "latest"}, {"DIGEST": digest + "; rm -rf /"}):
        proc = run_step(checker, tmp_path, {**env, "ENVIRONMENT": "staging", "DIGEST": digest,
                                            "GITHUB_ENV": str(tmp_path / "x.env"), **bad}, tmp_path)
        assert proc.returncode != 0, bad
    wait = step(wf, "deploy", "Wait until the new version serves")["run"]
    if answers_of(project)["k8s_canary"]:
        assert "get rollout" in wait and "Degraded" in wait
    else:
        assert 'rollout status "deployment/$SERVICE"' in wait


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", GHA_SETS)
def test_dependabot(projects, name):
    """Dependabot only bumps files the team owns (go.mod, go.sum): a bump of a template-owned
    file (an action's SHA, a base image) would conflict with the template's own bump at the
    next update. The file itself is the team's, so it can add ecosystems of its own."""
    project = projects(name)
    config = yaml.safe_load((project / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {u["package-ecosystem"] for u in config["updates"]}
    assert ecosystems == {"gomod"}
    for update in config["updates"]:
        assert update["directory"] == "/" and update["schedule"]["interval"] == "weekly"
    team = team_owned_patterns()
    for path in ("/go.mod", "/go.sum", "/.github/dependabot.yml"):
        assert path in team, f"{path} must be team-owned (copier.yml _skip_if_exists)"
    subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", "vendor.dependabot",
         str(project / ".github" / "dependabot.yml")],
        check=True, capture_output=True, text=True,
    )


def team_owned_patterns() -> list[str]:
    return yaml.safe_load((ROOT / "copier.yml").read_text())["_skip_if_exists"]