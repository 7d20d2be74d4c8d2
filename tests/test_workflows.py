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

import json
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
import naming  # noqa: E402
import settings  # noqa: E402

GHA_SETS = ("default", "orders-github", "full")
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
    "google-github-actions/auth": ("6fc4af4b145ae7821d527454aa9bd537d1f2dc5f", "v2.1.7"),
    "azure/login": ("a457da9ea143d694b1b9c7c869ebb04ebe844ef5", "v2.3.0"),
}
# The login action of each deploy target (kubeconfig needs none), and the inputs it gets:
# identities only, all from repository or environment variables, never a stored key.
LOGIN_ACTIONS = {
    "eks": ("aws-actions/configure-aws-credentials", {"role-to-assume", "aws-region"}),
    "gke": ("google-github-actions/auth", {"workload_identity_provider", "service_account", "project_id"}),
    "aks": ("azure/login", {"client-id", "tenant-id", "subscription-id"}),
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
    expected = {"ci.yml", "template-update.yml"}
    if answers["with_docker"]:
        expected.add("image.yml")
        if answers["with_kubernetes"]:
            expected.add("deploy.yml")
    if answers.get("with_supervisord", True) or answers.get("with_systemd"):
        expected.add("deploy-host.yml")
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
        # template-update.yml grants nothing at the top: its one job says what it needs.
        assert wf["permissions"] == ({} if file == "template-update.yml" else {"contents": "read"}), file
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
               ("image.yml", "deploy-production", "id-token"), ("image.yml", "publish", "packages"),
               *(("template-update.yml", "update", scope) for scope in ("contents", "pull-requests", "issues", "statuses"))}
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
    # Pull requests build in a job without write permission; pushes in the one that may push.
    pr_build, build = wf["jobs"]["build"], wf["jobs"]["publish"]
    assert pr_build["if"] == "github.event_name == 'pull_request'" and build["if"] == "github.event_name == 'push'"
    assert pr_build["permissions"] == {"contents": "read"}
    expected_perms = {"contents": "read", **({"packages": "write"} if cg["registry"]["is_ghcr"] else {})}
    assert build["permissions"] == expected_perms
    pr_steps = {s["uses"].split("@")[0]: s for s in pr_build["steps"] if "uses" in s}
    assert "docker/login-action" not in pr_steps and pr_steps["docker/build-push-action"]["with"]["push"] is False
    assert not any(s.get("id") == "push" for s in pr_build["steps"])
    steps = {s["uses"].split("@")[0]: s for s in build["steps"] if "uses" in s}
    # The same build otherwise.
    same = {k: v for k, v in steps["docker/build-push-action"]["with"].items() if k != "push"}
    assert same == {k: v for k, v in pr_steps["docker/build-push-action"]["with"].items() if k != "push"}
    assert set(steps) - set(pr_steps) == {"docker/login-action"}
    login = steps["docker/login-action"]
    assert login["if"] == "steps.push.outputs.push == 'true'"
    assert login["with"]["registry"] == cg["registry"]["host"]
    push = steps["docker/build-push-action"]["with"]
    assert push["push"] == "${{ steps.push.outputs.push == 'true' }}"
    assert build["outputs"]["pushed"] == "${{ steps.push.outputs.push }}"
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
        pushed = " && needs.publish.outputs.pushed == 'true'"
        assert staging["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'" + pushed
        assert production["if"] == "github.event_name == 'push' && startsWith(github.ref, 'refs/tags/v')" + pushed
        for job, env in ((staging, "staging"), (production, "production")):
            assert job["uses"] == "./.github/workflows/deploy.yml" and job["needs"] == "publish"
            assert job["with"] == {"environment": env, "digest": "${{ needs.publish.outputs.digest }}"}
            assert job["secrets"] == {"KUBE_CONFIG": "${{ secrets.KUBE_CONFIG }}"}
        assert build["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", ("default", "orders-github"))
def test_image_push_waits_for_registry_credentials(projects, name, tmp_path):
    """The first push of a new repository to a registry other than GHCR: no credentials yet.
    The image is built, a notice says what to set, nothing is pushed and so nothing deployed;
    half-set credentials fail, naming both. GHCR needs nothing but the job's token."""
    project = projects(name)
    cg = settings.derive(answers_of(project))
    wf = workflows(project)["image.yml"]
    script = step(wf, "publish", "Push or only build")["run"]
    env_keys = set(step(wf, "publish", "Push or only build").get("env", {}))

    def decide(username: str = "", password_set: str = "false"):
        out, summary = tmp_path / "out", tmp_path / "summary"
        out.write_text("")
        summary.write_text("")
        env = {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
        if "REGISTRY_USERNAME" in env_keys:
            env.update({"REGISTRY_USERNAME": username, "REGISTRY_PASSWORD_SET": password_set})
        proc = run_step(script, tmp_path, env, tmp_path)
        return proc, out.read_text().strip()

    proc, out = decide()
    if cg["registry"]["is_ghcr"]:
        assert not env_keys and proc.returncode == 0 and out == "push=true"
        return
    assert proc.returncode == 0 and out == "push=false", proc.stdout + proc.stderr
    assert "::notice title=Image built, not pushed::" in proc.stdout
    assert "REGISTRY_USERNAME" in (tmp_path / "summary").read_text()
    for username, password_set in (("bot", "false"), ("", "true")):
        proc, out = decide(username, password_set)
        assert proc.returncode == 1 and "REGISTRY_USERNAME" in proc.stdout and "REGISTRY_PASSWORD" in proc.stdout
    proc, out = decide("bot", "true")
    assert proc.returncode == 0 and out == "push=true"


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
    for target, (action, inputs) in LOGIN_ACTIONS.items():
        login = [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]
        assert len(login) == 1, action
        assert login[0]["if"] == f"steps.target.outputs.target == '{target}'"
        assert set(login[0]["with"]) == inputs, "OIDC: no stored keys"
        for value in login[0]["with"].values():
            assert re.fullmatch(r"\$\{\{ vars\.\w+ \}\}", value), value
    assert set(cg["deploy_targets"]) == set(LOGIN_ACTIONS) | {"kubeconfig"}

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


# The deploy job, run step by step the way the runner would: `if:` conditions evaluated,
# step outputs, GITHUB_ENV and GITHUB_PATH carried over, every `run:` script executed with
# bash -eo pipefail. Actions cannot run here: a `uses:` step is recorded as run (setup-go's
# Go is already on PATH). The cloud CLIs and kubectl are stubs that log their arguments and
# write what the real ones would (a kubeconfig), so each target's credentials script runs.
def writes_kubeconfig(command: str, flag: str, context: str) -> str:
    """A stub body: `command` writes a minimal kubeconfig to the file after `flag`."""
    return f"""
if [ "$1 $2" = "{command}" ]; then
  while [ $# -gt 0 ]; do [ "$1" = {flag} ] && out=$2; shift; done
  printf 'apiVersion: v1\\nkind: Config\\ncurrent-context: {context}\\n' > "$out"
fi"""


CLOUD_STUBS = {
    "aws": writes_kubeconfig("eks update-kubeconfig", "--kubeconfig", "eks"),
    "gcloud": """
case "$*" in
  *"value(endpoint)"*) echo 203.0.113.10 ;;
  *"value(masterAuth.clusterCaCertificate)"*) echo Q0EtREFUQQ== ;;
  "auth print-access-token") echo ya29.short-lived ;;
  *) exit 2 ;;
esac""",
    "az": writes_kubeconfig("aks get-credentials", "--file", "aks"),
    "go": """
case "$1" in
  env) echo "$STUB_GOPATH" ;;
  install)
    case "$2" in
      github.com/Azure/kubelogin@*)
        mkdir -p "$GOBIN"
        printf '#!/bin/bash\\necho "kubelogin $* KUBECONFIG=${KUBECONFIG:-}" >> "$CALLS"\\n' > "$GOBIN/kubelogin"
        chmod +x "$GOBIN/kubelogin" ;;
    esac ;;
esac""",
    "kubectl": """
[ -s "$KUBECONFIG" ] || { echo "kubectl: no kubeconfig at $KUBECONFIG" >&2; exit 1; }
case "$*" in
  *"get rollout"*) echo Healthy ;;
esac""",
}


def cloud_stubs(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "stubs"
    bin_dir.mkdir()
    for name, body in CLOUD_STUBS.items():
        path = bin_dir / name
        path.write_text(f'#!/bin/bash\necho "{name} $* KUBECONFIG=${{KUBECONFIG:-}}" >> "$CALLS"\n{body}\n')
        path.chmod(0o755)
    return bin_dir


def resolve(value, ctx: dict) -> str:
    """A workflow value with `${{ vars.X }}`, `secrets.X`, `inputs.X` or
    `steps.ID.outputs.X` expressions, as the runner resolves it (unset: empty)."""

    def one(m: re.Match) -> str:
        expr = m.group(1).strip()
        parts = expr.split(".")
        if parts[0] in ("vars", "secrets", "inputs") and len(parts) == 2:
            return ctx[parts[0]].get(parts[1], "")
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return ctx["steps"].get(parts[1], {}).get(parts[3], "")
        if parts[0] == "github" and "github" in ctx:
            value = ctx["github"]
            for part in parts[1:]:
                value = value[part]
            return str(value)
        raise AssertionError(f"the test's runner does not know the expression {expr!r}")

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def condition(expr: str, ctx: dict) -> bool:
    m = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+) (==|!=) '([^']*)'", expr)
    assert m, f"the test's runner does not know the condition {expr!r}"
    value = ctx["steps"].get(m.group(1), {}).get(m.group(2), "")
    return (value == m.group(4)) == (m.group(3) == "==")


def run_job(wf: dict, job_id: str, cwd: Path, tmp_path: Path, *, inputs: dict, vars: dict, secrets: dict,
            github: dict | None = None, stubs: Path | None = None, extra_env: dict | None = None) -> dict:
    """Run a job's `run:` steps in order, as the runner would (`uses:` steps are the
    caller's to prepare). `github` is the github context (its `repository` also becomes
    GITHUB_REPOSITORY), `stubs` a directory of commands ahead of PATH (default: the cloud
    CLIs' stubs), `extra_env` more of the runner's environment."""
    job = wf["jobs"][job_id]
    ctx = {"vars": vars, "secrets": secrets, "inputs": inputs, "steps": {}}
    if github is not None:
        ctx["github"] = github
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    calls = tmp_path / "calls.log"
    calls.write_text("")
    stubs = stubs or cloud_stubs(tmp_path)
    files = {name: tmp_path / name for name in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")}
    for f in files.values():
        f.write_text("")
    env = {k: resolve(v, ctx) for k, v in job.get("env", {}).items()}
    env.update({k: str(v) for k, v in files.items()})
    env.update(extra_env or {})
    if github is not None:
        env["GITHUB_REPOSITORY"] = github["repository"]
    env.update({"RUNNER_TEMP": str(runner_temp), "CALLS": str(calls), "STUB_GOPATH": str(tmp_path / "gopath")})
    path_prefix = [str(stubs)]
    result = {"ran": [], "skipped": [], "failed": None, "stdout": "", "calls": calls, "runner_temp": runner_temp,
              "summary": files["GITHUB_STEP_SUMMARY"]}
    for s in job["steps"]:
        label = s.get("name") or s["uses"].split("@")[0]
        if "if" in s and not condition(s["if"], ctx):
            result["skipped"].append(label)
            continue
        result["ran"].append(label)
        if "uses" in s:
            continue
        step_env = {**env, **{k: resolve(v, ctx) for k, v in s.get("env", {}).items()}}
        output = tmp_path / "GITHUB_OUTPUT"
        output.write_text("")
        step_env["GITHUB_OUTPUT"] = str(output)
        full_path = os.pathsep.join([*path_prefix, str(VENV_BIN), go_env()["PATH"]])
        proc = run_step(s["run"], cwd, {**step_env, "PATH": full_path}, tmp_path)
        result["stdout"] += proc.stdout + proc.stderr
        if proc.returncode != 0:
            result["failed"] = label
            return result
        ctx["steps"][s.get("id", "")] = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        for line in files["GITHUB_ENV"].read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
        files["GITHUB_ENV"].write_text("")
        path_prefix = [*reversed(files["GITHUB_PATH"].read_text().split()), *path_prefix]
    return result


DIGEST = "sha256:" + "0123456789abcdef" * 4
DEPLOY_VARS = {
    "eks": {"AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/deploy", "AWS_REGION": "eu-west-1",
            "EKS_CLUSTER": "shop-eks"},
    "gke": {"GCP_WORKLOAD_IDENTITY_PROVIDER": "projects/1/locations/global/workloadIdentityPools/gh/providers/gh",
            "GCP_SERVICE_ACCOUNT": "deploy@shop.iam.gserviceaccount.com", "GCP_PROJECT": "shop",
            "GKE_CLUSTER": "shop-gke", "GKE_LOCATION": "europe-west1"},
    "aks": {"AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
            "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000002",
            "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000003",
            "AKS_RESOURCE_GROUP": "shop-rg", "AKS_CLUSTER": "shop-aks"},
}
KUBE_CONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: any\n"


def deploy_run(project: Path, tmp_path: Path, vars: dict, secrets: dict | None = None) -> dict:
    copy = tmp_path / "repo"
    shutil.copytree(project / "deploy", copy / "deploy")
    return run_job(workflows(project)["deploy.yml"], "deploy", copy, tmp_path,
                   inputs={"environment": "staging", "digest": DIGEST}, vars=vars, secrets=secrets or {})


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
def test_deploy_skips_an_environment_that_is_not_set_up(projects, tmp_path):
    """The first push of a new repository: no deploy variable is set. The job checks its
    inputs, pins the digest in the overlay (so a broken overlay still fails), says why it
    stops, and succeeds without logging in anywhere or touching a cluster."""
    result = deploy_run(projects("default"), tmp_path, vars={})
    assert result["failed"] is None, result["stdout"]
    assert "::notice title=Deploy to staging skipped::" in result["stdout"]
    assert "DEPLOY_TARGET" in result["summary"].read_text()
    assert "Pin the image by digest in the overlay" in result["ran"]
    for name in ("AWS credentials (OIDC)", "Google Cloud credentials (OIDC)", "Azure credentials (OIDC)",
                 "Cluster credentials", "Apply", "Wait until the new version serves"):
        assert name in result["skipped"], name
    assert not re.search(r"^(aws|gcloud|az|kubectl|kubelogin) ", result["calls"].read_text(), re.M)


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize("name", ("default", "full"))
@pytest.mark.parametrize("target", ("eks", "gke", "aks", "kubeconfig"))
def test_deploy_logs_in_to_the_target_and_applies(projects, tmp_path, name, target):
    """Each target runs its own login action (and no other), leaves a private kubeconfig
    that kubectl then uses, and applies the pinned manifests."""
    project = projects(name)
    vars = {"DEPLOY_TARGET": target, **DEPLOY_VARS.get(target, {})}
    secrets = {"KUBE_CONFIG": KUBE_CONFIG} if target == "kubeconfig" else {}
    result = deploy_run(project, tmp_path, vars=vars, secrets=secrets)
    assert result["failed"] is None, result["stdout"]
    logins = {"eks": "AWS credentials (OIDC)", "gke": "Google Cloud credentials (OIDC)",
              "aks": "Azure credentials (OIDC)"}
    for t, label in logins.items():
        assert (label in result["ran"]) == (t == target), (t, result["ran"])
    kubeconfig = result["runner_temp"] / "kubeconfig"
    assert kubeconfig.stat().st_mode & 0o077 == 0, "the kubeconfig is readable by others"
    config = yaml.safe_load(kubeconfig.read_text())
    assert config["kind"] == "Config"
    calls = result["calls"].read_text()
    if target == "eks":
        assert "aws eks update-kubeconfig --name shop-eks --region eu-west-1 --kubeconfig " in calls
    elif target == "gke":
        assert "--location europe-west1 --project shop" in calls and "gcloud auth print-access-token" in calls
        assert config["clusters"][0]["cluster"] == {"server": "https://203.0.113.10",
                                                    "certificate-authority-data": "Q0EtREFUQQ=="}
        assert config["users"][0]["user"] == {"token": "ya29.short-lived"}
        assert "::add-mask::ya29.short-lived" in result["stdout"]
    elif target == "aks":
        assert "az aks get-credentials --resource-group shop-rg --name shop-aks --file " in calls
        assert re.search(r"^kubelogin convert-kubeconfig --login azurecli --kubeconfig ", calls, re.M)
        assert f"go install {settings.KUBELOGIN}" in calls
    else:
        assert kubeconfig.read_text() == KUBE_CONFIG + "\n"
    applies = [line for line in calls.splitlines() if line.startswith("kubectl apply")]
    assert len(applies) == 1 and applies[0].endswith(f"KUBECONFIG={kubeconfig}"), calls
    assert f"-f {result['runner_temp'] / 'manifests.yaml'}" in applies[0]


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize(
    ("vars", "secrets", "expected"),
    [
        ({"DEPLOY_TARGET": "gke", "GKE_CLUSTER": "c"}, {},
         "needs these variables (or secrets) too: GCP_WORKLOAD_IDENTITY_PROVIDER GCP_SERVICE_ACCOUNT GCP_PROJECT "
         "GKE_LOCATION"),
        ({"DEPLOY_TARGET": "kubeconfig"}, {}, "DEPLOY_TARGET=kubeconfig needs these variables (or secrets) too: KUBE_CONFIG"),
        ({"DEPLOY_TARGET": "EKS", **DEPLOY_VARS["eks"]}, {}, "DEPLOY_TARGET=EKS: expected one of eks, gke, aks, kubeconfig"),
        ({"AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::1:role/d"}, {}, "DEPLOY_TARGET=eks needs these variables (or secrets) too: AWS_REGION EKS_CLUSTER"),
    ],
    ids=["partial", "secret-missing", "unknown", "legacy-partial"],
)
def test_deploy_fails_on_a_half_set_up_environment(projects, tmp_path, vars, secrets, expected):
    """Set up, but wrongly: the job fails at the check, naming what is missing, before any
    login or cluster call."""
    result = deploy_run(projects("default"), tmp_path, vars=vars, secrets=secrets)
    assert result["failed"] == "Check the deploy target", result["stdout"]
    assert expected in result["stdout"], result["stdout"]
    assert not re.search(r"^(aws|gcloud|az|kubectl) ", result["calls"].read_text(), re.M)


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
def test_deploy_keeps_deploying_services_set_up_for_eks_only(projects, tmp_path):
    """Services generated when EKS was the only target set its three variables and no
    DEPLOY_TARGET: after the update they still deploy there; AWS_REGION alone (set for
    other uses) does not make a target."""
    result = deploy_run(projects("default"), tmp_path, vars=DEPLOY_VARS["eks"])
    assert result["failed"] is None and "AWS credentials (OIDC)" in result["ran"], result["stdout"]
    assert "kubectl apply" in result["calls"].read_text()
    other = tmp_path / "region-only"
    other.mkdir()
    result = deploy_run(projects("default"), other, vars={"AWS_REGION": "eu-west-1"})
    assert result["failed"] is None and "Apply" in result["skipped"], result["stdout"]


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
def test_kubelogin_pin_builds_with_the_oldest_supported_go():
    """The AKS path go-installs kubelogin with the service's own Go (setup-go reads
    go.mod): the pinned release must not ask for a newer Go than the oldest answer allows."""
    module, _, version = settings.KUBELOGIN.partition("@")
    proc = run(["go", "mod", "download", "-json", f"{module}@{version}"], ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    gomod = Path(json.loads(proc.stdout)["GoMod"]).read_text()
    required = re.search(r"^go (\d+)\.(\d+)", gomod, re.M)
    oldest = min(tuple(int(x) for x in v.split(".")) for v in naming.SUPPORTED_GO_VERSIONS)
    assert (int(required.group(1)), int(required.group(2))) <= oldest, required.group(0)


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

HOST_DEPLOY_STUB = """#!/bin/sh
# The generated deploy.sh's stand-in: what it was called with, and what it could read.
{ echo "deploy.sh $*"; echo "key=$(cat "$DEPLOY_SSH_KEY_FILE") mode=$(stat -c %a "$DEPLOY_SSH_KEY_FILE")";
  echo "known=$(cat "$DEPLOY_KNOWN_HOSTS_FILE") hosts=$DEPLOY_HOSTS"; } >> "$CALLS"
"""


@pytest.mark.slow
@pytest.mark.xdist_group("workflows")
@pytest.mark.parametrize(("state", "inputs", "expect"), [
    ("unset", {}, "notice"),
    ("no-key", {}, "fails"),
    ("set", {}, "deploys"),
    ("set", {"environment": "production", "action": "rollback"}, "rolls back"),
    ("set", {"environment": "staging", "action": "promote"}, "fails"),
])
def test_host_deploy_job_runs_as_the_runner_would(projects, tmp_path, state, inputs, expect):
    """deploy-host.yml's steps, run here in order with `make` and deploy/host/deploy.sh as
    stubs (the real deploy.sh runs over SSH in tests/test_host_deploy.py): without hosts it
    skips with a notice, half set up it fails naming what is missing, else it builds and
    deploys, or only rolls back; the key is readable by the step alone and removed after."""
    project = projects("default")
    wf = workflows(project)["deploy-host.yml"]
    cg = settings.derive(answers_of(project))
    names = cg["host_deploy"]
    copy = tmp_path / "project"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".git", "bin"))
    (copy / "deploy/host/deploy.sh").write_text(HOST_DEPLOY_STUB)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "make").write_text('#!/bin/sh\necho "make $*" >> "$CALLS"\n')
    (stubs / "git").write_text('#!/bin/sh\necho "v1.2.3"\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    variables = {} if state == "unset" else {names["hosts_var"]: "deploy@web1.example deploy@web2.example:2222",
                                             names["known_hosts_var"]: "web1.example ssh-ed25519 AAAAC3Nza"}
    secrets = {names["key_secret"]: "-----BEGIN OPENSSH PRIVATE KEY-----"} if state == "set" else {}
    result = run_job(wf, "deploy", copy, tmp_path, inputs=inputs, vars=variables, secrets=secrets, stubs=stubs)
    calls = result["calls"].read_text()
    if expect == "notice":
        assert result["failed"] is None and f"::notice::{names['hosts_var']} is not set" in result["stdout"]
        assert calls == "" and len(result["ran"]) == 1, result
    elif expect == "fails":
        assert result["failed"] == "Check the settings" and calls == "", result
        if state == "no-key":
            assert f"not: {names['key_secret']} (secret)" in result["stdout"], result["stdout"]
        else:
            assert "action must be deploy or rollback" in result["stdout"], result["stdout"]
    else:
        assert result["failed"] is None, result["stdout"]
        assert "key=-----BEGIN OPENSSH PRIVATE KEY----- mode=600" in calls
        assert "known=web1.example ssh-ed25519 AAAAC3Nza hosts=deploy@web1.example deploy@web2.example:2222" in calls
        if expect == "deploys":
            assert "make build" in calls and f"deploy.sh activate v1.2.3 bin/{cg['binary']}" in calls, calls
        else:
            assert "make" not in calls and "deploy.sh rollback" in calls, calls
        assert not (result["runner_temp"] / "deploy_key").exists(), "the key outlives the step"
