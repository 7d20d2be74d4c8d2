"""Kubernetes manifests of the generated service (issue 6), checked by the real tools.

For each answer set with Kubernetes on and each overlay:
- `kustomize build` renders it (the same kustomize the deploy workflow uses);
- kubernetes-validate --strict checks every core object against the upstream OpenAPI
  schemas of every bundled Kubernetes minor from 1.34 (whose support ended in October
  2026; 1.35 is the oldest still supported) through the newest bundled one;
- the custom resources (Argo Rollouts Rollout and AnalysisTemplate, Gateway API
  HTTPRoute, the Prometheus Operator's ServiceMonitor and PrometheusRule) are checked
  against the CRD schemas their projects publish, made strict (unknown fields rejected, as
  the API server's strict field validation does);
- kube-score, with its default checks plus optional ones, reports nothing;
- the restricted Pod Security Standard is evaluated by k8s.io/pod-security-admission
  (tests/tools/podsecurity, `go run`);
- the grace-period arithmetic and the ConfigMap are compared with the Go config defaults.
Every checker is also shown to fail on a broken input, so a pass means something.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import jsonschema
from deploy_tools import go_config_defaults
import pytest

import deploy_tools as dt
import yaml

from conftest import ROOT, go_env, run
from test_deploy_data import data_secret_env

sys.path.insert(0, str(ROOT / "extensions"))
import settings  # noqa: E402

K8S_SETS = ("default", "orders", "full")
OVERLAYS = ("staging", "production")
# Custom resource definitions, from the projects' own Go modules (pinned; the newest
# releases whose go directive this machine's Go 1.26 accepts).
GATEWAY_API = "sigs.k8s.io/gateway-api@v1.6.3"
ARGO_ROLLOUTS = "github.com/argoproj/argo-rollouts@v1.10.1"
PROMETHEUS_OPERATOR = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
CRDS = {
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): (
        GATEWAY_API,
        "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
    ),
    ("argoproj.io/v1alpha1", "Rollout"): (ARGO_ROLLOUTS, "manifests/crds/rollout-crd.yaml"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): (
        ARGO_ROLLOUTS,
        "manifests/crds/analysis-template-crd.yaml",
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        PROMETHEUS_OPERATOR,
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): (
        PROMETHEUS_OPERATOR,
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ),
}
# Oldest Kubernetes minor validated against (see the module docstring).
OLDEST_MINOR = (1, 34)
PODSECURITY = ROOT / "tests" / "tools" / "podsecurity"
# Python tools of this venv (bootstrap installs them), called by path: cwd changes per test.
VENV_BIN = Path(sys.executable).parent
KUBE_SCORE_ARGS = [
    "score",
    "--output-format",
    "ci",
    # The pods request CPU but set no CPU limit on purpose (throttling hurts latency); the
    # memory limit is set and checked.
    "--ignore-container-cpu-limit",
    "--enable-optional-test",
    "container-seccomp-profile",
    "--enable-optional-test",
    "container-ports-check",
]


def kube_minors() -> list[str]:
    from kubernetes_validate import utils

    minors = sorted({tuple(int(x) for x in v.split(".")[:2]) for v in utils.all_versions()})
    return [f"{a}.{b}" for a, b in minors if (a, b) >= OLDEST_MINOR]


# ------------------------------------------------------------------ shared helpers
def answers_of(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def cg_of(project: Path) -> dict:
    return settings.derive(answers_of(project))


def docs_of(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def kustomize_build(directory: Path) -> str:
    return run(["kustomize", "build", str(directory)], directory).stdout


def go_module_dir(spec: str, tmp: Path) -> Path:
    """`go mod download` a pinned module (once per machine: shared module cache)."""
    proc = run(["go", "mod", "download", "-json", spec], tmp)
    return Path(json.loads(proc.stdout)["Dir"])


@pytest.fixture(scope="session")
def k8s(projects, tmp_path_factory):
    """(answer set, overlay) -> (project, cg, built YAML text, parsed documents)."""
    cache: dict = {}
    out_dir = tmp_path_factory.mktemp("k8s-builds")

    def get(name: str, overlay: str):
        key = (name, overlay)
        if key not in cache:
            project = projects(name)
            text = kustomize_build(project / "deploy" / "k8s" / "overlays" / overlay)
            path = out_dir / f"{name}-{overlay}.yaml"
            path.write_text(text)
            cache[key] = (project, cg_of(project), path, docs_of(text))
        return cache[key]

    return get


@pytest.fixture(scope="session")
def crd_schemas(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crds")
    dirs: dict[str, Path] = {}
    schemas = {}
    for (api_version, kind), (module, path) in CRDS.items():
        if module not in dirs:
            dirs[module] = go_module_dir(module, tmp)
        crd = yaml.safe_load((dirs[module] / path).read_text())
        assert crd["kind"] == "CustomResourceDefinition" and crd["spec"]["names"]["kind"] == kind
        group, version = api_version.split("/")
        assert crd["spec"]["group"] == group
        served = [v for v in crd["spec"]["versions"] if v["name"] == version and v.get("served")]
        assert served, f"{module} {path} serves no {api_version}"
        schemas[(api_version, kind)] = strict_schema(served[0]["schema"]["openAPIV3Schema"])
    return schemas


def strict_schema(node):
    """An OpenAPI v3 structural schema as JSON Schema, rejecting unknown fields the way the
    API server does (pruning / strict field validation), except where the CRD preserves them."""
    if isinstance(node, list):
        return [strict_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    if (
        node.get("type") == "object"
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_errors(schema: dict, doc: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]


def kubernetes_validate(files: list[Path], minor: str, cwd: Path):
    return run(
        [str(VENV_BIN / "kubernetes-validate"), "--strict", "-k", minor, *map(str, files)], cwd, check=False
    )


def as_pod_template(doc: dict) -> dict:
    """A workload's pod template as a core v1 PodTemplate, so that the core schema checks
    the pod spec of a Rollout too."""
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": doc["metadata"]["name"]},
        "template": doc["spec"]["template"],
    }


def as_deployment(docs: list[dict]) -> list[dict]:
    """A Rollout seen as the Deployment it replaces (same pod template) and the HPA pointing
    at it, so kube-score, which does not know Argo's kinds, checks the pods and their links."""
    out = []
    for d in copy.deepcopy(docs):
        if d["kind"] == "Rollout":
            d["apiVersion"], d["kind"] = "apps/v1", "Deployment"
            d["spec"]["strategy"] = {"type": "RollingUpdate"}
        elif d["kind"] == "HorizontalPodAutoscaler" and d["spec"]["scaleTargetRef"]["kind"] == "Rollout":
            d["spec"]["scaleTargetRef"].update(apiVersion="apps/v1", kind="Deployment")
        elif d["kind"] == "AnalysisTemplate":
            continue
        out.append(d)
    return out


def go_defaults(project: Path, cg: dict) -> dict[str, str]:
    """The defaults in the Go config struct's tags (internal/config/config.go)."""
    defaults = go_config_defaults(project)
    assert set(defaults) == set(cg["env"]), "config.go and derive() disagree on the variables"
    return defaults


def env_example(project: Path) -> dict[str, str]:
    values = {}
    for line in (project / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def config_map(docs: list[dict], cg: dict) -> dict:
    """The service's settings ConfigMap (its name carries kustomize's content hash); the
    other one is the Grafana dashboard's (components/monitoring)."""
    (found,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(f"{cg['service']}-config-")]
    return found


def pod_spec(docs: list[dict], cg: dict) -> dict:
    return one(docs, cg["k8s_workload"]["kind"], cg["service"])["spec"]["template"]["spec"]


def copy_k8s(project: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "k8s"
    shutil.copytree(project / "deploy" / "k8s", dst)
    return dst


# ------------------------------------------------------------------ fast: derive() keys
@pytest.mark.parametrize("canary", [False, True])
def test_derive_k8s_keys(canary):
    cg = settings.derive(
        {"service_name": "orders-api", "http_port": 9090, "shutdown_timeout": 7, "owner": "x", "k8s_canary": canary}
    )
    assert cg["k8s_workload"] == (
        {"api_version": "argoproj.io/v1alpha1", "kind": "Rollout"}
        if canary
        else {"api_version": "apps/v1", "kind": "Deployment"}
    )
    assert cg["k8s_namespaces"] == {"staging": "orders-api-staging", "production": "orders-api"}
    # The ConfigMap sets every variable the service reads, at the Go defaults.
    assert set(cg["config_defaults"]) == set(cg["env"])
    assert cg["config_defaults"]["HTTP_PORT"] == "9090"
    assert cg["config_defaults"]["SHUTDOWN_TIMEOUT"] == "7s"
    # preStop sleep, then the app's own shutdown, then a margin before SIGKILL.
    assert cg["k8s_termination_grace_s"] == cg["k8s_prestop_sleep_s"] + 7 + settings.SHUTDOWN_MARGIN_S
    assert cg["k8s_termination_grace_s"] > cg["k8s_prestop_sleep_s"] + cg["shutdown_timeout_s"]


def test_derive_defaults_to_deployment_without_answer():
    cg = settings.derive({"service_name": "a", "http_port": 8080, "shutdown_timeout": 1, "owner": "x"})
    assert cg["k8s_workload"]["kind"] == "Deployment"


# ------------------------------------------------------------------ slow: generated projects


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
def test_minimal_has_no_kubernetes_files(projects):
    project = projects("minimal")
    assert not (project / "deploy" / "k8s").exists()
    assert not list(project.rglob("kustomization.yaml"))


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", K8S_SETS)
def test_kustomize_build_renders_the_objects(k8s, name, overlay):
    project, cg, _, docs = k8s(name, overlay)
    answers = answers_of(project)
    service = cg["service"]
    namespace = cg["k8s_namespaces"][overlay]
    kinds = sorted(d["kind"] for d in docs)
    sqlite = cg["data_deploy"]["db"]["sqlite"]
    expected = [
        "ConfigMap",
        cg["k8s_workload"]["kind"],
        # Monitoring (components/monitoring): the admin port's Service, what the Prometheus
        # Operator reads, the dashboard (test_observability_static.py checks them).
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
        # SQLite: one pod on a volume claim, no autoscaler (tests/test_deploy_data.py).
        "PersistentVolumeClaim" if sqlite else "HorizontalPodAutoscaler",
        "HTTPRoute" if answers["k8s_routing"] == "gateway" else "Ingress",
        "Namespace",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    if answers["k8s_canary"]:
        expected += ["AnalysisTemplate", "Service"]
    # Egress to the database server and to Redis: a NetworkPolicy each.
    expected += ["NetworkPolicy"] * (cg["data_deploy"]["db"]["server"] + cg["redis"]["enabled"])
    assert kinds == sorted(expected)
    for d in docs:
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == namespace, d["metadata"]
    ns = one(docs, "Namespace")
    assert ns["metadata"]["name"] == namespace
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    workload = one(docs, cg["k8s_workload"]["kind"], service)
    assert workload["apiVersion"] == cg["k8s_workload"]["api_version"]
    if sqlite:
        assert workload["spec"]["replicas"] == 1, "one SQLite writer"
    else:
        assert "replicas" not in workload["spec"], "the HPA owns the replica count"
    container = workload["spec"]["template"]["spec"]["containers"][0]
    # The overlay sets the image: the registry from the answers, a tag (a digest once deployed).
    assert container["image"].startswith(cg["image"] + ":"), container["image"]
    assert not container["image"].endswith(":latest")

    if not sqlite:
        hpa = one(docs, "HorizontalPodAutoscaler", service)
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": cg["k8s_workload"]["api_version"],
            "kind": cg["k8s_workload"]["kind"],
            "name": service,
        }
        assert hpa["spec"]["minReplicas"] >= 2
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
        assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == workload["spec"]["selector"][
        "matchLabels"
    ]

    service_obj = one(docs, "Service", service)
    assert service_obj["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}
    ]
    assert container["ports"] == [{"name": "http", "containerPort": cg["http_port"], "protocol": "TCP"},
                                  {"name": "admin", "containerPort": cg["obs"]["admin_port"], "protocol": "TCP"}]

    # Only TCP to the app port and the admin port comes in; only DNS goes out.
    netpol = one(docs, "NetworkPolicy", service)
    assert netpol["spec"]["policyTypes"] == ["Ingress", "Egress"]
    # ... the app port only from the edge's namespace (and the Argo Rollouts controller's for
    # a canary), the admin port only from the monitoring namespace.
    edge = answers.get("k8s_edge_namespace") or ("envoy-gateway-system" if answers["k8s_routing"] == "gateway" else "ingress-nginx")
    namespaces = [edge] + (["argo-rollouts"] if answers["k8s_canary"] else [])
    monitoring = answers.get("k8s_monitoring_namespace", "monitoring")
    assert netpol["spec"]["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}} for ns in namespaces],
        "ports": [{"port": "http", "protocol": "TCP"}],
    }, {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": monitoring}}}],
        "ports": [{"port": "admin", "protocol": "TCP"}],
    }]
    assert {p["port"] for rule in netpol["spec"]["egress"] for p in rule["ports"]} == {53}

    host = f"{service}.staging.example.com" if overlay == "staging" else f"{service}.example.com"
    if answers["k8s_routing"] == "gateway":
        route = one(docs, "HTTPRoute", service)
        assert route["spec"]["hostnames"] == [host]
        assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == service
        assert route["spec"]["rules"][0]["backendRefs"][0]["port"] == 80
    else:
        ingress = one(docs, "Ingress", service)
        assert ingress["spec"]["ingressClassName"]
        assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": f"{service}-tls"}]
        assert [r["host"] for r in ingress["spec"]["rules"]] == [host]
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend == {"name": service, "port": {"name": "http"}}

    if answers["k8s_canary"]:
        canary = workload["spec"]["strategy"]["canary"]
        weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
        assert weights[0] == 5 and weights[-1] == 100 and weights == sorted(weights)
        template = one(docs, "AnalysisTemplate")
        assert canary["analysis"]["templates"] == [{"templateName": template["metadata"]["name"]}]
        assert canary["canaryService"] == f"{service}-canary"
        one(docs, "Service", f"{service}-canary")
        metric = template["spec"]["metrics"][0]
        assert metric["provider"]["web"]["url"].endswith(cg["readiness_path"])
        assert metric["failureLimit"] >= 0


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("name", K8S_SETS)
def test_pod_spec_follows_the_contract(k8s, name):
    """Probes on the service's distinct endpoints, restricted security context, resources,
    spreading, and the shutdown sequence, as rendered by kustomize."""
    for overlay in OVERLAYS:
        _, cg, _, docs = k8s(name, overlay)
        spec = pod_spec(docs, cg)
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        assert spec["serviceAccountName"] == cg["service"]
        assert one(docs, "ServiceAccount", cg["service"])["automountServiceAccountToken"] is False
        assert spec["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": cg["uid"],
            "runAsGroup": cg["gid"],
            "fsGroup": cg["gid"],
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        (container,) = spec["containers"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": cg["uid"],
            "runAsGroup": cg["gid"],
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        probes = {p: container[p]["httpGet"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
        assert probes == {
            "startupProbe": {"path": cg["liveness_path"], "port": "http"},
            "livenessProbe": {"path": cg["liveness_path"], "port": "http"},
            "readinessProbe": {"path": cg["readiness_path"], "port": "http"},
        }
        assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": cg["k8s_prestop_sleep_s"]}}}
        assert spec["terminationGracePeriodSeconds"] == cg["k8s_termination_grace_s"]
        assert container["resources"]["requests"]["cpu"] == "500m"
        assert container["resources"]["requests"]["memory"] == "256Mi"
        assert container["resources"]["limits"]["memory"] == "256Mi"
        assert "cpu" not in container["resources"]["limits"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts.pop("/tmp")]
        if cg["data_deploy"]["db"]["sqlite"]:
            # The SQLite file on the volume claim; fsGroup above makes it writable.
            claim = volumes[mounts.pop(cg["db"]["data_dir"])]["persistentVolumeClaim"]["claimName"]
            assert one(docs, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert mounts == {} and len(volumes) == len(container["volumeMounts"])
        keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        anti = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
        # Secrets are referenced, never inlined.
        assert not [d for d in docs if d["kind"] == "Secret"]
        assert {"secretRef": {"name": f"{cg['service']}-secrets", "optional": True}} in container["envFrom"]
        secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
                       if "secretKeyRef" in e.get("valueFrom", {})}
        assert secret_refs == {
            **({cg["data_deploy"]["db"]["url_var"]: {"name": cg["db"]["k8s_secret"], "key": "url"}}
               if cg["db"]["enabled"] else {}),
            **({cg["data_deploy"]["redis"]["url_var"]: {"name": cg["redis"]["k8s_secret"], "key": "url"}}
               if cg["redis"]["enabled"] else {}),
        }
        # With a database, every pod first runs `migrate up`: the app container, other arguments.
        if cg["db"]["enabled"]:
            (init,) = spec["initContainers"]
            assert init["args"] == cg["data_deploy"]["migrate_args"] == ["migrate", "up"]
            assert {k: v for k, v in init.items() if k not in ("name", "args")} == {
                k: v for k, v in container.items()
                if k not in ("name", "ports", "startupProbe", "livenessProbe", "readinessProbe", "lifecycle")}
        else:
            assert "initContainers" not in spec


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("name", K8S_SETS)
def test_grace_period_covers_presleep_and_go_shutdown_default(k8s, name):
    """terminationGracePeriodSeconds > preStop sleep + the service's SHUTDOWN_TIMEOUT default,
    where the default is read from the generated Go config and .env.example."""
    project, cg, _, docs = k8s(name, "production")
    defaults = go_defaults(project, cg)
    shutdown = defaults["SHUTDOWN_TIMEOUT"]
    assert re.fullmatch(r"\d+s", shutdown), shutdown
    shutdown_s = int(shutdown[:-1])
    assert env_example(project)[cg["env"]["SHUTDOWN_TIMEOUT"]] == shutdown
    spec = pod_spec(docs, cg)
    sleep_s = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = spec["terminationGracePeriodSeconds"]
    assert grace == sleep_s + shutdown_s + settings.SHUTDOWN_MARGIN_S
    assert grace > sleep_s + shutdown_s
    # The ConfigMap does not override the shutdown timeout with something longer.
    configmap = config_map(docs, cg)
    assert configmap["data"][cg["env"]["SHUTDOWN_TIMEOUT"]] == shutdown


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("name", K8S_SETS)
def test_configmap_holds_the_go_defaults_and_is_referenced_by_hash(k8s, name):
    project, cg, _, docs = k8s(name, "staging")
    defaults = go_defaults(project, cg)
    configmap = config_map(docs, cg)
    # The platform's defaults (base/config.env), the database's and Redis's (their components)
    # merged with the team's settings (team/config.env, through the team component): together,
    # every line of .env.example but the URLs, which are secrets (Secrets, secretKeyRef).
    team = dt.env_file(project / "deploy" / "k8s" / "team" / "config.env")
    assert team, "the team component's config.env lists the service's own settings"
    data = {**cg["data_deploy"]["db"]["settings_env"], **cg["data_deploy"]["redis"]["settings_env"]}
    # The framework's own settings (Gin's GIN_MODE) are left to the Go defaults: every
    # framework gets the same deployment files.
    framework_only = {cg["env"][k] for k in cg["config_defaults"] if k not in cg["deploy_config_defaults"]}
    assert configmap["data"] == {**{cg["env"][k]: v for k, v in defaults.items() if cg["env"][k] not in framework_only},
                                 **data, **team}
    secrets = set(cg["data_deploy"]["secret_vars"])
    assert not secrets & set(configmap["data"])
    assert configmap["data"] == {k: v for k, v in env_example(project).items() if k not in secrets | framework_only}
    assert re.fullmatch(rf"{cg['service']}-config-[a-z0-9]{{10}}", configmap["metadata"]["name"])
    container = pod_spec(docs, cg)["containers"][0]
    assert {"configMapRef": {"name": configmap["metadata"]["name"]}} in container["envFrom"]


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("name", ("default", "full"))
def test_config_change_renames_the_configmap_so_pods_roll(k8s, name, tmp_path):
    project, cg, _, docs = k8s(name, "production")
    before = config_map(docs, cg)["metadata"]["name"]
    k8s_dir = copy_k8s(project, tmp_path)
    env_file = k8s_dir / "base" / "config.env"
    key = cg["env"]["LOG_LEVEL"]
    text = env_file.read_text()
    assert f"{key}=info\n" in text
    env_file.write_text(text.replace(f"{key}=info\n", f"{key}=debug\n"))
    after_docs = docs_of(kustomize_build(k8s_dir / "overlays" / "production"))
    after = config_map(after_docs, cg)
    assert after["data"][key] == "debug"
    assert after["metadata"]["name"] != before
    container = pod_spec(after_docs, cg)["containers"][0]
    assert {"configMapRef": {"name": after["metadata"]["name"]}} in container["envFrom"]


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("name", ("default", "full"))
def test_overlay_takes_an_image_digest(k8s, name, tmp_path):
    """What the deploy workflow does: `kustomize edit set image NAME=IMAGE@DIGEST` in the overlay."""
    project, cg, _, _ = k8s(name, "staging")
    k8s_dir = copy_k8s(project, tmp_path)
    overlay = k8s_dir / "overlays" / "staging"
    digest = "sha256:" + "ab" * 32
    run(["kustomize", "edit", "set", "image", f"{cg['service']}={cg['image']}@{digest}"], overlay)
    docs = docs_of(kustomize_build(overlay))
    assert pod_spec(docs, cg)["containers"][0]["image"] == f"{cg['image']}@{digest}"


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("minor", kube_minors())
@pytest.mark.parametrize("name", K8S_SETS)
def test_kubernetes_validate_strict(k8s, name, minor, tmp_path):
    files, custom = [], set()
    for overlay in OVERLAYS:
        _, _, path, docs = k8s(name, overlay)
        files.append(path)
        for d in docs:
            if (d["apiVersion"], d["kind"]) in CRDS:
                custom.add(d["kind"])
            if d["kind"] == "Rollout":
                # The Rollout's pod template is a core PodTemplateSpec: check it with the core schema.
                wrapped = tmp_path / f"{overlay}-podtemplate.yaml"
                wrapped.write_text(yaml.safe_dump(as_pod_template(d)))
                files.append(wrapped)
    proc = kubernetes_validate(files, minor, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert not [line for line in lines if line.startswith(("ERROR", "FATAL"))], proc.stdout
    # Only the custom resources lack a bundled schema (they are checked against their CRDs below).
    warned = {re.search(r"for kind (\w+) ", line).group(1) for line in lines if line.startswith("WARN")}
    assert warned == custom
    passed = [line for line in lines if line.startswith("INFO") and f"against version {minor}" in line]
    core_docs = sum(1 for o in OVERLAYS for d in k8s(name, o)[3] if (d["apiVersion"], d["kind"]) not in CRDS)
    assert len(passed) == core_docs + len(files) - len(OVERLAYS), proc.stdout


def test_kube_minors_span_at_least_three_releases():
    from kubernetes_validate import utils

    minors = kube_minors()
    assert len(minors) >= 3
    assert minors[0] == "%d.%d" % OLDEST_MINOR
    assert minors[-1] == ".".join(utils.latest_version().split(".")[:2])


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("name", K8S_SETS)
def test_custom_resources_match_their_crd_schemas(k8s, crd_schemas, name):
    checked = 0
    for overlay in OVERLAYS:
        _, _, _, docs = k8s(name, overlay)
        for d in docs:
            key = (d["apiVersion"], d["kind"])
            if key in CRDS:
                assert crd_errors(crd_schemas[key], d) == [], f"{overlay} {d['kind']}"
                checked += 1
    answers = answers_of(k8s(name, "staging")[0])
    # ServiceMonitor and PrometheusRule always (components/monitoring).
    expected = (answers["k8s_routing"] == "gateway") + 2 * bool(answers["k8s_canary"]) + 2
    assert checked == expected * len(OVERLAYS)


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
def test_validators_reject_broken_manifests(k8s, crd_schemas, tmp_path):
    """Negative controls: each schema check fails on a small mistake."""
    _, cg, _, docs = k8s("full", "staging")
    rollout = one(docs, "Rollout")
    broken = copy.deepcopy(rollout)
    broken["spec"]["strategy"]["canary"]["stepz"] = []
    assert crd_errors(crd_schemas[("argoproj.io/v1alpha1", "Rollout")], broken)
    broken = copy.deepcopy(rollout)
    broken["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] = "5"
    assert crd_errors(crd_schemas[("argoproj.io/v1alpha1", "Rollout")], broken)
    route = copy.deepcopy(one(docs, "HTTPRoute"))
    route["spec"]["rules"][0]["backendRefs"][0]["port"] = "http"
    assert crd_errors(crd_schemas[("gateway.networking.k8s.io/v1", "HTTPRoute")], route)
    template = copy.deepcopy(one(docs, "AnalysisTemplate"))
    template["spec"]["metrics"][0]["provider"]["web"]["urll"] = "x"
    assert crd_errors(crd_schemas[("argoproj.io/v1alpha1", "AnalysisTemplate")], template)

    pod = as_pod_template(rollout)
    pod["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(pod))
    proc = kubernetes_validate([bad], kube_minors()[0], tmp_path)
    assert proc.returncode != 0 and "ERROR" in proc.stdout, proc.stdout
    # An HPA of a set that has one (SQLite's single pod has none).
    hpa = copy.deepcopy(next(d for name in K8S_SETS for d in k8s(name, "staging")[3]
                             if d["kind"] == "HorizontalPodAutoscaler"))
    hpa["apiVersion"] = "autoscaling/v2beta2"
    bad.write_text(yaml.safe_dump(hpa))
    proc = kubernetes_validate([bad], kube_minors()[-1], tmp_path)
    # autoscaling/v2beta2 is gone: there is no schema to pass it against.
    assert "kind HorizontalPodAutoscaler with api version autoscaling/v2beta2" in proc.stdout, proc.stdout
    assert "passed" not in proc.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", K8S_SETS)
def test_kube_score_reports_nothing(k8s, name, overlay, tmp_path):
    _, _, path, docs = k8s(name, overlay)
    if any(d["kind"] == "Rollout" for d in docs):
        path = tmp_path / "as-deployment.yaml"
        path.write_text(yaml.safe_dump_all(as_deployment(docs)))
    proc = run(["kube-score", *KUBE_SCORE_ARGS, str(path)], tmp_path, check=False)
    findings = [line for line in proc.stdout.splitlines() if not line.startswith(("[OK]", "[SKIPPED]"))]
    assert proc.returncode == 0 and findings == [], proc.stdout + proc.stderr
    assert sum(line.startswith("[OK]") for line in proc.stdout.splitlines()) >= 30


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
def test_kube_score_catches_a_missing_probe(k8s, tmp_path):
    _, cg, _, docs = k8s("default", "staging")
    docs = copy.deepcopy(docs)
    container = pod_spec(docs, cg)["containers"][0]
    del container["readinessProbe"]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    proc = run(["kube-score", *KUBE_SCORE_ARGS, str(path)], tmp_path, check=False)
    assert proc.returncode != 0
    assert "[CRITICAL]" in proc.stdout


def podsecurity(stdin: str, tmp_path: Path):
    return subprocess.run(
        ["go", "run", ".", "-level", "restricted", "-version", "latest"],
        cwd=PODSECURITY,
        input=stdin,
        env=go_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("name", K8S_SETS)
def test_pod_security_restricted_by_the_upstream_evaluator(k8s, name, tmp_path):
    for overlay in OVERLAYS:
        _, cg, path, _ = k8s(name, overlay)
        proc = podsecurity(path.read_text(), tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        kind = cg["k8s_workload"]["kind"]
        assert proc.stdout.splitlines() == [f"ALLOWED {kind}/{cg['service']} at restricted:latest"]


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
def test_pod_security_evaluator_denies_what_restricted_forbids(k8s, tmp_path):
    _, cg, path, docs = k8s("default", "production")
    for mutate, reason in [
        (lambda s: s["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True), "allowPrivilegeEscalation"),
        (lambda s: s["containers"][0]["securityContext"]["capabilities"].update(drop=["NET_RAW"]), "unrestricted capabilities"),
        (lambda s: (s["securityContext"].pop("seccompProfile"), s["containers"][0]["securityContext"].pop("seccompProfile")), "seccompProfile"),
        (lambda s: s.update(hostNetwork=True), "host namespaces"),
    ]:
        broken = copy.deepcopy(docs)
        mutate(pod_spec(broken, cg))
        proc = podsecurity(yaml.safe_dump_all(broken), tmp_path)
        assert proc.returncode != 0, proc.stdout
        assert proc.stdout.startswith(f"DENIED {cg['k8s_workload']['kind']}/{cg['service']}"), proc.stdout
        assert reason in proc.stdout, proc.stdout
    # No pod template at all is an error, not a pass.
    proc = podsecurity(yaml.safe_dump(one(docs, "Service", cg["service"])), tmp_path)
    assert proc.returncode != 0 and "no pod template" in proc.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("name", K8S_SETS)
def test_yamllint_passes_on_the_manifests(projects, name):
    project = projects(name)
    files = sorted(str(p) for p in (project / "deploy" / "k8s").rglob("*.yaml"))
    assert len(files) >= 10
    proc = run([str(VENV_BIN / "yamllint"), "--strict", "-d", YAMLLINT_CONFIG, *files], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


YAMLLINT_CONFIG = "{extends: default, rules: {document-start: disable, line-length: {max: 120}}}"


# ------------------------------------------------------------------ the pod spec, run for real
def http_status(url: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("name", ("default", "orders"))
def test_built_binary_runs_with_the_pod_environment_and_answers_its_probes(k8s, built, name, request, tmp_path):
    """The container's environment as the pod gets it (the ConfigMap, the memory limit, from
    which the service sets its Go memory limit with headroom) starts the real binary; the probes' paths answer as the manifest expects; on SIGTERM
    (sent after the preStop sleep) it exits 0 within the grace period left after that sleep."""
    import os
    import signal
    import socket
    import time

    from conftest import free_port

    _, cg, _, docs = k8s(name, "production")
    binary = built(name)
    spec = pod_spec(docs, cg)
    (container,) = spec["containers"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(cg["env_prefix"] + "_")}
    env.update(config_map(docs, cg)["data"])
    (memory,) = [e for e in container["env"] if e["name"] == cg["env"]["MEMORY_LIMIT"]]
    assert memory["valueFrom"]["resourceFieldRef"]["resource"] == "limits.memory"
    assert not [e for e in container["env"] if e["name"] == "GOMEMLIMIT"], "GOMEMLIMIT = the limit leaves no headroom"
    env[cg["env"]["MEMORY_LIMIT"]] = str(256 * 1024 * 1024)  # what the kubelet puts there for 256Mi
    env.pop("GOMEMLIMIT", None)
    # The Secrets' URLs (a database and Redis of this machine's test servers; for SQLite a file).
    env.update(data_secret_env(request, cg, tmp_path))
    if cg["db"]["enabled"]:
        # The init container first, as the kubelet runs it: same binary and environment.
        (init,) = spec["initContainers"]
        migrate = subprocess.run([str(binary), *init["args"]], env=env, capture_output=True, text=True, timeout=120)
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    # Same settings, but on loopback and a free port instead of the pod's own network.
    port = free_port()
    env[cg["env"]["HTTP_HOST"]] = "127.0.0.1"
    env[cg["env"]["HTTP_PORT"]] = str(port)
    env[cg["env"]["ADMIN_HOST"]] = "127.0.0.1"
    env[cg["env"]["ADMIN_PORT"]] = str(free_port())
    proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "no listener within 10 s"
                time.sleep(0.05)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            path = container[probe]["httpGet"]["path"]
            assert http_status(f"http://127.0.0.1:{port}{path}") == 200, probe
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        ready_path = container["readinessProbe"]["httpGet"]["path"]
        seen = []
        while proc.poll() is None and time.monotonic() - started < spec["terminationGracePeriodSeconds"]:
            try:
                seen.append(http_status(f"http://127.0.0.1:{port}{ready_path}"))
            except OSError:
                seen.append("closed")
            time.sleep(0.05)
        proc.wait(timeout=5)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out, err = proc.communicate()
    assert proc.returncode == 0, (out, err)
    # The Go heap is held under 90% of the pod's memory limit.
    (limit,) = [json.loads(l) for l in out.splitlines() if '"msg":"go memory limit"' in l]
    assert limit["bytes"] == 256 * 1024 * 1024 // 100 * settings.GO_MEMORY_LIMIT_PERCENT
    # Once it stops answering ready it never answers ready again (a request racing the signal
    # may still see 200 first; the 503 window itself is tested in test_service_e2e.py).
    first_not_ready = next((i for i, status in enumerate(seen) if status != 200), len(seen))
    assert 200 not in seen[first_not_ready:], seen
    budget = spec["terminationGracePeriodSeconds"] - container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert elapsed < budget, (elapsed, budget)
