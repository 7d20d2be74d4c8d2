"""GitLab CI of the generated project (ci_provider gitlab, issue 14).

GitLab cannot be reached from here, so the pipeline is proven in pieces, like the GitHub
workflows in tests/test_workflows.py:
- `.gitlab-ci.yml` and the team's `.gitlab/team.yml` validate against GitLab's CI schema
  (check-jsonschema's vendored copy, offline), and the check is shown to fail on typical
  mistakes; yamllint --strict and shellcheck (every job's script, as the runner joins it)
  report nothing;
- the structure is asserted on the parsed YAML, `extends` resolved as GitLab does: stages,
  workflow rules, timeouts, interruptible, resource groups, no push and no credential in a
  merge request's pipeline, pinned images, the team's include;
- the jobs' scripts run here, as written, with stubs only for what needs GitLab, a registry
  or a cluster (buildah, kubectl, the downloads): the check job's make targets, the
  Kubernetes job, the image job's push decision for every credential state, the deploy
  job's checks and digest pinning for each target, the template update's merge request
  against a stub of GitLab's API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, go_env, run

sys.path.insert(0, str(ROOT / "extensions"))
import settings  # noqa: E402

GITLAB_SETS = ("orders", "full-gitlab")
VENV_BIN = Path(sys.executable).parent
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 120}}}"
DIGEST = "sha256:" + "0123456789abcdef" * 4
SHA = "0123456789abcdef0123456789abcdef01234567"
# GitLab's keywords that are not jobs.
GLOBAL_KEYS = {"workflow", "stages", "default", "variables", "include", "image", "services", "cache",
               "before_script", "after_script", "spec"}
SCRIPT = ROOT / "partials/template_update.py"


def pipeline(project: Path) -> dict:
    return yaml.safe_load((project / ".gitlab-ci.yml").read_text())


def merged(base: dict, over: dict) -> dict:
    """GitLab's `extends` merge: hashes deep-merged, everything else replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def job(config: dict, name: str) -> dict:
    """The job `name` with its `extends` resolved and the defaults applied."""
    own = config[name]
    parents = own.get("extends", [])
    resolved: dict = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved = merged(resolved, job(config, parent))
    resolved = merged(resolved, {k: v for k, v in own.items() if k != "extends"})
    return resolved


def jobs(config: dict) -> dict[str, dict]:
    defaults = config.get("default", {})
    return {name: merged(defaults, job(config, name)) for name in config
            if name not in GLOBAL_KEYS and not name.startswith(".")}


def script_of(spec: dict) -> str:
    """The script as the runner runs it: every line in one shell, stopping at the first error."""
    lines = []
    for item in spec["script"]:
        lines += item if isinstance(item, list) else [item]
    return "set -eo pipefail\n" + "\n".join(lines) + "\n"


def write_stub(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def run_job(spec: dict, cwd: Path, tmp_path: Path, env: dict[str, str], stubs: Path | None = None,
            config: dict | None = None):
    """Run a job's script with bash, its variables (global, then the job's) and `env`."""
    full = go_env()
    path = f"{VENV_BIN}{os.pathsep}{full['PATH']}"
    full["PATH"] = f"{stubs}{os.pathsep}{path}" if stubs else path
    full["TMPDIR"] = str(tmp_path)
    full["CI_PROJECT_DIR"] = str(cwd)
    for key, value in {**(config or {}).get("variables", {}), **spec.get("variables", {})}.items():
        full[key] = str(value)
    full.update(env)
    file = tmp_path / "job.sh"
    file.write_text(script_of(spec))
    return subprocess.run(["bash", str(file)], cwd=cwd, env=full, capture_output=True, text=True, timeout=600)


def logged(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


# ------------------------------------------------------------------ fast
def test_derive_gitlab_keys():
    cg = settings.derive({"service_name": "a", "http_port": 8080, "shutdown_timeout": 1, "owner": "x",
                          "database": "postgres"})
    gl = cg["gitlab"]
    assert set(gl["deploy_targets"]) == {"agent", "kubeconfig"}
    assert gl["db_service"]["image"] == cg["db"]["compose_image"]
    assert gl["db_service"]["url"].startswith("postgres://ci:ci@database:5432/")
    assert settings.derive({"service_name": "a", "http_port": 8080, "shutdown_timeout": 1, "owner": "x",
                            "database": "sqlite"})["gitlab"]["db_service"] is None
    for image in (gl["buildah_image"], gl["hadolint_image"]):
        assert re.fullmatch(r"[\w./-]+:v\d+\.\d+\.\d+(-\w+)?", image), image
    assert re.fullmatch(r"v\d+\.\d+\.\d+", gl["kubectl_version"])


class GitLabAPI:
    """A stub of the few GitLab API calls the template update makes, on loopback."""

    def __init__(self, open_mrs: list[dict]):
        self.calls: list[tuple[str, str, dict | None]] = []
        self.open_mrs = open_mrs
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                api.calls.append((self.command, self.path, body))
                assert self.headers["PRIVATE-TOKEN"] == "tok"
                return body

            def do_GET(self):  # noqa: N802 - http.server's name
                self._record()
                self._answer(api.open_mrs)

            def do_POST(self):  # noqa: N802
                self._record()
                self._answer({"iid": 7, "web_url": "http://gitlab.test/mr/7"})

            def do_PUT(self):  # noqa: N802
                self._record()
                self._answer({"iid": 3, "web_url": "http://gitlab.test/mr/3"})

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/v4"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def merge_request(tmp_path: Path, api: GitLabAPI, needs_human: str):
    body = tmp_path / "body.md"
    body.write_text("the body\n")
    return subprocess.run(
        [sys.executable, str(SCRIPT), "gitlab-merge-request", "--api", api.url, "--project", "42",
         "--branch", "template-update", "--target", "main", "--title", "Update copier-gin 0.1.0 -> 0.2.0",
         "--body", str(body), "--label", settings.TEMPLATE_UPDATE_LABEL, "--sha", SHA, "--needs-human", needs_human],
        env={**os.environ, "TEMPLATE_UPDATE_TOKEN": "tok"}, capture_output=True, text=True, timeout=60,
    )


def test_template_update_opens_a_ready_merge_request(tmp_path):
    api = GitLabAPI(open_mrs=[])
    try:
        proc = merge_request(tmp_path, api, "false")
    finally:
        api.stop()
    assert proc.returncode == 0, proc.stderr
    (m1, p1, _), (m2, p2, mr), (m3, p3, status) = api.calls
    assert (m1, p1) == ("GET", "/api/v4/projects/42/merge_requests?state=opened&source_branch=template-update")
    assert (m2, p2) == ("POST", "/api/v4/projects/42/merge_requests")
    assert mr["source_branch"] == "template-update" and mr["target_branch"] == "main"
    assert mr["title"] == "Update copier-gin 0.1.0 -> 0.2.0" and mr["description"] == "the body\n"
    assert mr["labels"] == ""
    assert (m3, p3) == ("POST", f"/api/v4/projects/42/statuses/{SHA}")
    assert status["state"] == "success" and status["name"] == "template-update"


def test_template_update_refreshes_the_open_one_as_a_draft_when_it_needs_a_human(tmp_path):
    api = GitLabAPI(open_mrs=[{"iid": 3}])
    try:
        proc = merge_request(tmp_path, api, "true")
    finally:
        api.stop()
    assert proc.returncode == 1 and "needs a human" in proc.stderr
    (_, _, _), (method, path, mr), (_, _, status) = api.calls
    assert (method, path) == ("PUT", "/api/v4/projects/42/merge_requests/3")
    assert mr["title"].startswith("Draft: ") and mr["add_labels"] == settings.TEMPLATE_UPDATE_LABEL
    assert status["state"] == "failed"


# ------------------------------------------------------------------ slow: generated projects
@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize("name", GITLAB_SETS)
def test_gitlab_schema_accepts_the_pipeline_and_the_team_file(projects, name):
    project = projects(name)
    proc = run([str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
                ".gitlab-ci.yml", ".gitlab/team.yml"], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize(("old", "new"), [
    ("      when: manual\n", "      when: manually\n"),  # not one of GitLab's `when` values
    ("  timeout: 20 minutes\n", "  timeout: [20]\n"),  # a timeout is a duration
    ("resource_group: deploy-staging\n", "resource_group: [deploy-staging]\n"),
])
def test_gitlab_schema_catches_typical_mistakes(projects, tmp_path, old, new):
    text = (projects("orders") / ".gitlab-ci.yml").read_text()
    assert old in text
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(text.replace(old, new, 1))
    proc = run([str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(broken)],
               tmp_path, check=False)
    assert proc.returncode == 1, proc.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize("name", GITLAB_SETS)
def test_yamllint_and_shellcheck(projects, tmp_path, name):
    project = projects(name)
    proc = run([str(VENV_BIN / "yamllint"), "--strict", "-d", YAMLLINT_CONFIG, ".gitlab-ci.yml", ".gitlab/team.yml"],
               project, check=False)
    assert proc.returncode == 0, proc.stdout
    for job_name, spec in jobs(pipeline(project)).items():
        script = tmp_path / f"{job_name.replace(':', '-')}.sh"
        script.write_text("#!/usr/bin/env bash\n" + script_of(spec))
        proc = run(["shellcheck", "--severity=style", str(script)], tmp_path, check=False)
        assert proc.returncode == 0, f"{job_name}:\n{proc.stdout}"


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize("name", GITLAB_SETS)
def test_structure(projects, name):
    project = projects(name)
    config = pipeline(project)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    all_jobs = jobs(config)
    assert config["stages"] == ["check", "build", "deploy", "update"]
    # One pipeline per change: merge requests', the default branch's, version tags', the
    # schedule's; a branch with an open merge request gets no second (push) pipeline.
    rules = config["workflow"]["rules"]
    assert rules[0] == {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}
    assert rules[1]["when"] == "never" and "$CI_OPEN_MERGE_REQUESTS" in rules[1]["if"]
    assert config["default"] == {"interruptible": True, "timeout": "20 minutes"}
    # The team's seam: included when it exists.
    assert config["include"] == [{"local": ".gitlab/team.yml", "rules": [{"exists": [".gitlab/team.yml"]}]}]
    expected = {"go", "template-update"}
    expected |= {"integration"} if answers["database"] in ("postgres", "mysql") else set()
    expected |= {"dockerfile", "image:build", "image:publish"} if answers["with_docker"] else set()
    expected |= {"kubernetes"} if answers["with_kubernetes"] else set()
    expected |= {"deploy:staging", "deploy:production"} if answers["with_docker"] and answers["with_kubernetes"] else set()
    assert set(all_jobs) == expected
    for job_name, spec in all_jobs.items():
        assert re.fullmatch(r"\d+ minutes", spec["timeout"]), job_name
        # Pinned images: a tag, never latest.
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", spec["image"]) and not spec["image"].endswith(":latest"), job_name
        assert spec["stage"] in config["stages"], job_name
    assert all_jobs["go"]["script"][0] == "make " + " ".join(settings.CI_MAKE_TARGETS)
    # Only the check and build jobs may be cancelled by a newer pipeline.
    for job_name in all_jobs:
        want = not job_name.startswith(("deploy:", "template-update", "image:publish"))
        assert all_jobs[job_name]["interruptible"] is want, job_name
    # The template update: alone, in the schedule's (or a manual) pipeline with TEMPLATE_UPDATE.
    update = all_jobs["template-update"]
    assert update["rules"] == [{"if": '$TEMPLATE_UPDATE == "true" && ($CI_PIPELINE_SOURCE == "schedule"'
                                      ' || $CI_PIPELINE_SOURCE == "web")'}]
    assert update["resource_group"] == "template-update"
    for job_name in expected - {"template-update", "image:build", "deploy:production"}:
        assert {"if": '$TEMPLATE_UPDATE == "true"', "when": "never"} in all_jobs[job_name]["rules"], job_name
    if answers["with_docker"]:
        build, publish = all_jobs["image:build"], all_jobs["image:publish"]
        # Merge requests only build: no login, no push, no artifact for a deploy.
        assert build["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
        assert not re.search(r"login|push|REGISTRY_PASSWORD", script_of(build))
        assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"} in publish["rules"]
        assert publish["artifacts"] == {"reports": {"dotenv": "image.env"}}
        assert settings.GITLAB_BUILDAH_IMAGE == publish["image"]
        assert publish["variables"]["IMAGE"] == settings.derive(answers)["image"]
    if answers["with_docker"] and answers["with_kubernetes"]:
        staging, production = all_jobs["deploy:staging"], all_jobs["deploy:production"]
        assert staging["environment"]["name"] == "staging" and staging["resource_group"] == "deploy-staging"
        assert staging["rules"][-1] == {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}
        assert production["environment"]["name"] == "production"
        assert production["resource_group"] == "deploy-production"
        assert production["rules"] == [{"if": r"$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/", "when": "manual"}]
        for spec in (staging, production):
            assert spec["needs"] == [{"job": "image:publish", "artifacts": True}]
            assert spec["timeout"] == f"{settings.derive(answers)['k8s_deploy_timeout_min']} minutes"
    if answers["with_kubernetes"]:
        kube = script_of(all_jobs["kubernetes"])
        for tool in (*settings.K8S_CHECK_GO_TOOLS, *settings.K8S_CHECK_PIP):
            assert tool in kube, tool


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
def test_the_check_job_runs_here(projects, tmp_path):
    project = projects("orders")
    go = jobs(pipeline(project))["go"]
    targets = go["script"][0].split()[1:]
    # Every target exists (dry run); those that need no network or minutes of compiling run.
    run(["make", "-n", *targets, "fuzz"], project, env=go_env())
    fast = [t for t in targets if t in ("fmt-check", "tidy-check", "check-conflicts")]
    run(["make", *fast], project, env=go_env())


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize("name", GITLAB_SETS)
def test_the_kubernetes_job_runs_here(projects, tmp_path, name):
    project = projects(name)
    spec = jobs(pipeline(project))["kubernetes"]
    stubs, log = tmp_path / "stubs", tmp_path / "calls.log"
    # go and pip only install the pinned checkers, which this machine has (scripts/bootstrap):
    # stubs log those calls; kustomize, kube-score and kubernetes-validate run for real.
    write_stub(stubs, "go", f'echo "go $*" >> {log}\n[ "$1" = env ] && echo {tmp_path}/gopath\nexit 0\n')
    venv_stub = f'mkdir -p "$3/bin"; printf \'#!/bin/sh\\necho "pip $*" >> {log}\\n\' > "$3/bin/pip"; chmod +x "$3/bin/pip"'
    write_stub(stubs, "python3", f'case "$1" in -m) {venv_stub} ;; esac\nexit 0\n')
    proc = run_job(spec, project, tmp_path, {}, stubs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    calls = logged(log)
    assert [c for c in calls if c.startswith("go install")] == [f"go install {t}" for t in settings.K8S_CHECK_GO_TOOLS]
    assert any(c.startswith("pip install") and settings.K8S_CHECK_PIP[0] in c for c in calls)


BUILDAH_STUB = """echo "buildah $*" >> {log}
if [ "$1 $2" = "manifest push" ]; then
  while [ $# -gt 0 ]; do [ "$1" = --digestfile ] && printf '%s' "{digest}" > "$2"; shift; done
fi
if [ "$1" = login ]; then cat > {tmp}/password; fi
exit 0
"""


def image_run(project: Path, tmp_path: Path, job_name: str, env: dict[str, str]):
    config = pipeline(project)
    spec = jobs(config)[job_name]
    stubs, log = tmp_path / "stubs", tmp_path / "buildah.log"
    write_stub(stubs, "buildah", BUILDAH_STUB.format(log=log, digest=DIGEST, tmp=tmp_path))
    base = {"CI_COMMIT_SHA": SHA, "CI_COMMIT_REF_SLUG": "main", "CI_COMMIT_TIMESTAMP": "2026-11-24T01:00:00+00:00"}
    proc = run_job(spec, project, tmp_path, {**base, **env}, stubs, config)
    dotenv = project / "image.env"
    result = dotenv.read_text() if dotenv.exists() else None
    dotenv.unlink(missing_ok=True)
    (project / "digest.txt").unlink(missing_ok=True)
    return proc, logged(log), result


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
def test_merge_requests_only_build_the_image(projects, tmp_path):
    project = projects("orders")
    proc, calls, dotenv = image_run(project, tmp_path, "image:build", {
        "CI_MERGE_REQUEST_IID": "12", "CI_PIPELINE_SOURCE": "merge_request_event",
        # Even were a credential visible, the merge request's job has no step that uses it.
        "REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p",
    })
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[1] for c in calls] == ["manifest", "build"]
    assert "--build-arg VERSION=mr-12" in calls[1] and f"--build-arg COMMIT={SHA}" in calls[1]
    assert "--platform " + ",".join(settings.BUILD_PLATFORMS) in calls[1]
    assert dotenv is None


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize(("env", "pushed", "user"), [
    ({}, False, None),  # a new project on another registry: build, say what to set
    ({"REGISTRY_USERNAME": "shop-bot", "REGISTRY_PASSWORD": "s3cret"}, True, "shop-bot"),
    # GitLab's registry credentials only count when the image goes to that registry.
    ({"CI_REGISTRY": "gitlab.example.com:5050", "CI_REGISTRY_USER": "gitlab-ci-token",
      "CI_REGISTRY_PASSWORD": "job-token"}, False, None),
])
def test_image_push_decision(projects, tmp_path, env, pushed, user):
    project = projects("orders")
    proc, calls, dotenv = image_run(project, tmp_path, "image:publish", env)
    assert proc.returncode == 0, proc.stderr
    if not pushed:
        assert "Image built, not pushed" in proc.stdout and "REGISTRY_PASSWORD" in proc.stdout
        assert not [c for c in calls if "login" in c or "push" in c]
        assert dotenv == "IMAGE_PUSHED=false\n"
        return
    assert f"buildah login --username {user} --password-stdin registry.example.com" in calls
    assert (tmp_path / "password").read_text().strip() == env["REGISTRY_PASSWORD"]
    image = settings.derive(yaml.safe_load((project / ".copier-answers.yml").read_text()))["image"]
    pushes = [c for c in calls if c.startswith("buildah manifest push")]
    assert [c.split()[-1] for c in pushes] == [f"docker://{image}:{SHA}", f"docker://{image}:main"]
    assert dotenv == f"IMAGE_PUSHED=true\nIMAGE_DIGEST={DIGEST}\n"


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
def test_image_pushes_to_gitlabs_registry_with_its_own_credentials_and_tags_versions(projects, tmp_path):
    project = projects("full-gitlab")  # image_registry defaults to registry.gitlab.com/<owner>
    proc, calls, dotenv = image_run(project, tmp_path, "image:publish", {
        "CI_REGISTRY": "registry.gitlab.com", "CI_REGISTRY_USER": "gitlab-ci-token",
        "CI_REGISTRY_PASSWORD": "job-token", "CI_COMMIT_TAG": "v1.4.2", "CI_COMMIT_REF_SLUG": "v1-4-2",
    })
    assert proc.returncode == 0, proc.stderr
    assert "buildah login --username gitlab-ci-token --password-stdin registry.gitlab.com" in calls
    assert [c.split()[-1].rsplit(":", 1)[1] for c in calls if c.startswith("buildah manifest push")] == [
        SHA, "1.4.2", "1.4"]
    assert "--build-arg VERSION=1.4.2" in next(c for c in calls if c.startswith("buildah build"))
    assert dotenv == f"IMAGE_PUSHED=true\nIMAGE_DIGEST={DIGEST}\n"


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize("env", [{"REGISTRY_USERNAME": "shop-bot"}, {"REGISTRY_PASSWORD": "s3cret"}])
def test_image_push_fails_on_a_half_set_up_registry(projects, tmp_path, env):
    proc, calls, _ = image_run(projects("orders"), tmp_path, "image:publish", env)
    assert proc.returncode == 1
    assert "needs both REGISTRY_USERNAME and REGISTRY_PASSWORD" in proc.stderr
    assert not [c for c in calls if "login" in c or "push" in c]


KUBECTL_STUB = """echo "kubectl $* KUBECONFIG=${{KUBECONFIG:-}}" >> {log}
case "$*" in *"get rollout"*) echo Healthy ;; esac
exit 0
"""


def deploy_run(project: Path, tmp_path: Path, environment: str, env: dict[str, str]):
    work = tmp_path / "project"
    shutil.copytree(project, work, ignore=shutil.ignore_patterns("bin", ".git"))
    config = pipeline(work)
    spec = jobs(config)[f"deploy:{environment}"]
    stubs, log = tmp_path / "stubs", tmp_path / "calls.log"
    write_stub(stubs, "kubectl", KUBECTL_STUB.format(log=log))
    write_stub(stubs, "curl", f'echo "curl $*" >> {log}; exit 1\n')
    # go only installs the pinned kustomize, which this machine has: a stub logs that call.
    real_go = shutil.which("go", path=go_env()["PATH"])
    write_stub(stubs, "go", f'if [ "$1" = install ]; then echo "go $*" >> {log}; exit 0; fi\nexec {real_go} "$@"\n')
    base = {"CI_ENVIRONMENT_NAME": environment, "IMAGE_PUSHED": "true", "IMAGE_DIGEST": DIGEST}
    proc = run_job(spec, work, tmp_path, {**base, **env}, stubs, config)
    return proc, logged(log), work


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize(("env", "message"), [
    ({"IMAGE_PUSHED": "false"}, "no image was pushed"),
    ({}, "set the CI/CD variable DEPLOY_TARGET (agent, kubeconfig)"),
])
def test_deploy_skips_without_an_image_or_a_target(projects, tmp_path, env, message):
    proc, calls, _ = deploy_run(projects("orders"), tmp_path, "staging", env)
    assert proc.returncode == 0, proc.stderr
    assert "skipped" in proc.stdout and message in proc.stdout
    assert calls == []


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize(("env", "message"), [
    ({"DEPLOY_TARGET": "eks"}, "DEPLOY_TARGET=eks: expected one of agent, kubeconfig"),
    ({"DEPLOY_TARGET": "kubeconfig"}, "needs these variables too: KUBE_CONFIG"),
    ({"DEPLOY_TARGET": "agent"}, "needs these variables too: KUBE_CONTEXT"),
    ({"DEPLOY_TARGET": "agent", "KUBE_CONTEXT": "x:y", "IMAGE_DIGEST": "sha256:abc"}, "not an image digest"),
])
def test_deploy_fails_on_a_half_set_up_environment(projects, tmp_path, env, message):
    proc, calls, _ = deploy_run(projects("orders"), tmp_path, "production", env)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert not [c for c in calls if c.startswith("kubectl")]


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
@pytest.mark.parametrize("name", GITLAB_SETS)
@pytest.mark.parametrize("target", ("agent", "kubeconfig"))
def test_deploy_pins_the_digest_and_applies(projects, tmp_path, name, target):
    project = projects(name)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    cg = settings.derive(answers)
    kubeconfig = tmp_path / "kubeconfig-file"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    env = {"DEPLOY_TARGET": target}
    env.update({"KUBE_CONTEXT": "shop/agents:staging"} if target == "agent" else {"KUBE_CONFIG": str(kubeconfig)})
    proc, calls, work = deploy_run(project, tmp_path, "staging", env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"image: {cg['image']}@{DIGEST}" in proc.stdout
    kustomization = (work / "deploy/k8s/overlays/staging/kustomization.yaml").read_text()
    assert DIGEST in kustomization
    assert calls[0] == f"go install {settings.K8S_KUSTOMIZE}"
    kubectl = [c for c in calls if c.startswith("kubectl")]
    if target == "agent":
        assert kubectl[0].startswith("kubectl config use-context shop/agents:staging")
        kubectl = kubectl[1:]
    want_config = f"KUBECONFIG={kubeconfig}" if target == "kubeconfig" else "KUBECONFIG="
    assert kubectl[0].startswith("kubectl apply --server-side --field-manager=gitlab-ci -f ")
    assert all(c.endswith(want_config) for c in kubectl)
    namespace = cg["k8s_namespaces"]["staging"]
    if answers.get("k8s_canary"):
        assert kubectl[1].startswith(f"kubectl -n {namespace} get rollout {cg['service']}")
    else:
        assert kubectl[1].startswith(f"kubectl -n {namespace} rollout status deployment/{cg['service']}")
    assert not [c for c in calls if c.startswith("curl")], "kubectl on PATH: no download"


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
def test_template_update_job_needs_its_token(projects, tmp_path):
    project = projects("orders")
    config = pipeline(project)
    proc = run_job(jobs(config)["template-update"], project, tmp_path, {}, None, config)
    assert proc.returncode == 1
    assert "TEMPLATE_UPDATE_TOKEN" in proc.stderr and "write_repository" in proc.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("gitlab")
def test_template_update_script_is_the_shared_one(projects):
    project = projects("orders")
    assert (project / ".gitlab/scripts/template_update.py").read_text() == SCRIPT.read_text()
    assert not (project / ".github").exists()
