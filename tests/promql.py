"""Every PromQL expression a generated project ships, ready to evaluate.

`expressions(project_dir)` reads the generated files the way their consumers do and returns
`(source, expr)` pairs, source naming the file and the rule, panel or metric:

- `deploy/prometheus/rules.yml`: every rule's `expr` (Prometheus);
- `deploy/k8s/components/monitoring/prometheusrule.yaml`, when generated: the same from the
  PrometheusRule's `spec.groups` (the Prometheus Operator);
- `deploy/grafana/dashboards/*.json`: every panel target's `expr` and the selector of every
  query variable's `label_values(...)` (Grafana), with Grafana's variables resolved:
  `$__rate_interval`, `$__interval`, `$__range` to durations, the dashboard's own variables
  (`$namespace`, `${instance}`, ...) to `.*` (their "All" value) unless given;
- the AnalysisTemplate in `deploy/k8s/base/analysistemplate.yaml`, when generated: every
  Prometheus metric's `query` (Argo Rollouts), with `{{args.name}}` resolved from `args`
  (by default empty: a matcher `label=""` then matches series without the label, so the
  canary queries select every pod's series of a service scraped outside Kubernetes).

Whatever is left unresolved raises ValueError, so a new variable cannot slip through. The
expressions are checked here by promtool's parser (`check`); tests/test_observability_e2e.py
evaluates them against a real Prometheus scraping a running service.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

RULES = Path("deploy/prometheus/rules.yml")
PROMETHEUS_RULE = Path("deploy/k8s/components/monitoring/prometheusrule.yaml")
DASHBOARDS = Path("deploy/grafana/dashboards")
ANALYSIS = Path("deploy/k8s/base/analysistemplate.yaml")

# Grafana's global variables, as a dashboard over the last hour at a 15 s scrape interval has them.
GRAFANA_GLOBALS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
GRAFANA_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
ARGO_ARG = re.compile(r"\{\{\s*args\.([\w-]+)\s*\}\}")
LABEL_VALUES = re.compile(r"^label_values\((.*),\s*\w+\)$", re.S)


def _rules(groups: list[dict], where: str) -> list[tuple[str, str]]:
    out = []
    for group in groups:
        for rule in group["rules"]:
            kind, name = ("record", rule["record"]) if "record" in rule else ("alert", rule["alert"])
            out.append((f"{where} {kind} {name}", rule["expr"]))
    return out


def grafana_resolve(expr: str, variables: dict[str, str]) -> str:
    def sub(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name in variables:
            return variables[name]
        raise ValueError(f"unresolved Grafana variable ${name} in {expr!r}")

    return GRAFANA_VAR.sub(sub, expr)


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def dashboard_expressions(path: Path, variables: dict[str, str] | None = None,
                          globals_: dict[str, str] | None = None) -> list[tuple[str, str]]:
    board = json.loads(path.read_text())
    own = {v["name"]: ".*" for v in board.get("templating", {}).get("list", []) if v["type"] != "datasource"}
    values = {**GRAFANA_GLOBALS, **(globals_ or {}), **own, **(variables or {})}
    out = []
    for var in board.get("templating", {}).get("list", []):
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = LABEL_VALUES.match(query.strip())
        if not match:
            raise ValueError(f"{path.name}: variable {var['name']} is not label_values(selector, label): {query!r}")
        out.append((f"{path.name} variable {var['name']}", grafana_resolve(match.group(1), values)))
    for panel in _panels(board.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                source = f"{path.name} panel {panel['title']!r} {target.get('refId', '')}".rstrip()
                out.append((source, grafana_resolve(target["expr"], values)))
    return out


def analysis_expressions(path: Path, args: dict[str, str] | None = None) -> list[tuple[str, str]]:
    out = []
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc or doc.get("kind") != "AnalysisTemplate":
            continue
        declared = {a["name"]: a.get("value", "") for a in doc["spec"].get("args", [])}
        values = {**declared, **(args or {})}
        for metric in doc["spec"]["metrics"]:
            prom = metric["provider"].get("prometheus")
            if not prom:
                continue

            def sub(match: re.Match) -> str:
                if match.group(1) not in values:
                    raise ValueError(f"{path.name}: {metric['name']} uses an undeclared argument {match.group(1)}")
                return values[match.group(1)]

            out.append((f"{path.name} metric {metric['name']}", ARGO_ARG.sub(sub, prom["query"])))
    return out


def expressions(project_dir: Path | str, *, variables: dict[str, str] | None = None,
                grafana_globals: dict[str, str] | None = None,
                analysis_args: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Every (source, expr) of the generated project at project_dir (see the module docstring)."""
    project = Path(project_dir)
    out = _rules(yaml.safe_load((project / RULES).read_text())["groups"], str(RULES))
    if (project / PROMETHEUS_RULE).exists():
        doc = yaml.safe_load((project / PROMETHEUS_RULE).read_text())
        out += _rules(doc["spec"]["groups"], str(PROMETHEUS_RULE))
    for board in sorted((project / DASHBOARDS).glob("*.json")):
        out += [(f"{DASHBOARDS / s}", e) for s, e in dashboard_expressions(board, variables, grafana_globals)]
    if (project / ANALYSIS).exists():
        out += [(f"{ANALYSIS.parent / s}", e) for s, e in analysis_expressions(project / ANALYSIS, analysis_args)]
    for source, expr in out:
        if "$" in expr or "{{" in expr:
            raise ValueError(f"{source}: unresolved variable left in {expr!r}")
    return out


# ------------------------------------------------------------------ promtool
def promtool() -> str:
    """promtool's path; a clear failure when it is missing (scripts/bootstrap installs Debian's
    prometheus package, which has it)."""
    found = shutil.which("promtool")
    if not found:
        raise FileNotFoundError(
            "promtool not found on PATH: install Debian's `prometheus` package (scripts/bootstrap.d/75-prometheus.sh)"
        )
    return found


def check(exprs: list[tuple[str, str]]) -> subprocess.CompletedProcess:
    """Parse every expression with promtool, as recording rules of one rules file: exit 0
    when all parse; a failure names the rule check:expr_<i>, i the index in exprs."""
    rules = [{"record": f"check:expr_{i}", "expr": expr} for i, (_, expr) in enumerate(exprs)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exprs.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}, sort_keys=False))
        return subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
