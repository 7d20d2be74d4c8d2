"""scripts/fleet reports on a fleet of services and tries their updates.

The fleet is tests/fleet_sim.py's: a template repository tagged 0.1.0, 0.2.0 and 0.2.1,
and five services generated from those tags with different answers, each edited and
committed by its team. One of them (orders-api) changed the same line as release 0.2.0
(a conflict), one (catalog) has a test that pins the default 0.2.0 changes (its checks
fail after the update), one (inventory-sync-worker) is on the newest release, and p2 is
listed by its git URL.

The tool's table is asserted line by line and its JSON exactly (but for the list of
files each update changed, which grows whenever a template file mentions what the
release changes: the files the release certainly changes are asserted instead), with its
exit status, every error case, and that the services' own repositories are untouched.

The checks after each update are `make deps env-example`, `go vet` and the team's own
tests (`go test ./internal/api/...`), except for one run with the full `make check`.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from fleet_sim import CONFIG_GO, Fleet, build_fleet
from test_update import assert_team_edits_survived, commit_all, copier, git, sh

pytestmark = [pytest.mark.xdist_group("fleet")]
slow = pytest.mark.slow

FLEET = ROOT / "scripts" / "fleet"
CHECKS = "make deps env-example && go vet ./... && go test -count=1 ./internal/api/..."
HEADER = "SERVICE                RELEASE  NEWEST  BEHIND  ANSWERS DIFFERING  UPDATE RESULT   DETAILS"

# Each service's answers that differ from the defaults of 0.2.1: (answer, default).
GIN = ": a Go web service built on Gin."
DIFFERING: dict[str, dict[str, tuple]] = {
    "example-service": {
        # 0.2.0 raised the default from 20 to 30; the recorded answer stays.
        "shutdown_timeout": (20, 30),
    },
    "orders-api": {
        "database": ("postgres", "sqlite"),
        "description": ("Orders API" + GIN, "Example Service" + GIN),
        "go_version": ("1.25", "1.26"),
        "http_port": (9090, 8080),
        "image_registry": ("registry.example.com/shop", "ghcr.io/acme"),
        "instances": (3, 2),
        "k8s_edge_namespace": ("envoy-gateway-system", "ingress-nginx"),
        "k8s_routing": ("gateway", "ingress"),
        "license": ("Apache-2.0", "Proprietary"),
        "module_path": ("gitlab.example.com/shop/backend/orders-api", "github.com/acme/example-service"),
        "nginx_server_name": ("orders-api.example.com", "example-service.example.com"),
        "owner": ("shop-team", "acme"),
        "project_name": ("Orders API", "Example Service"),
        "redis": (True, False),
        "runtime_image": ("scratch", "distroless"),
        "service_name": ("orders-api", "example-service"),
        "shutdown_timeout": (5, 30),
        "with_compose": (False, True),
        "with_filebeat": (False, True),
    },
    "catalog": {
        "description": ("Catalog" + GIN, "Example Service" + GIN),
        "module_path": ("github.com/acme/catalog", "github.com/acme/example-service"),
        "nginx_server_name": ("catalog.example.com", "example-service.example.com"),
        "project_name": ("Catalog", "Example Service"),
        "service_name": ("catalog", "example-service"),
        "shutdown_timeout": (20, 30),
    },
    "p2": {
        # Answered none (the others took the default, github).
        "ci_provider": ("none", "github"),
        "database": ("none", "sqlite"),
        "description": ("Pay" + GIN, "Example Service" + GIN),
        "http_port": (1024, 8080),
        "license": ("MIT", "Proprietary"),
        "module_path": ("p2", "github.com/acme/example-service"),
        "owner": ("Fin", "acme"),
        "project_name": ("Pay", "Example Service"),
        "service_name": ("p2", "example-service"),
        "shutdown_timeout": (1, 30),
        "with_assets": (False, True),
        "with_docker": (False, True),
        "with_kubernetes": (False, True),
        "with_nginx": (False, True),
        "with_supervisord": (False, True),
    },
    "inventory-sync-worker": {
        "database": ("mysql", "sqlite"),
        # full is the Echo service of the fleet: its description's default names Echo.
        "description": ("Inventory Sync Worker: a Go web service built on Echo.", "Example Service" + GIN),
        "filebeat_output": ("kafka", "elasticsearch"),
        "framework": ("echo", "gin"),
        "http_port": (18080, 8080),
        "instances": (4, 2),
        "k8s_canary": (True, False),
        "k8s_edge_namespace": ("platform-gateway", "ingress-nginx"),
        "k8s_routing": ("gateway", "ingress"),
        "license": ("BSD-3-Clause", "Proprietary"),
        "module_path": ("github.com/acme/platform/inventory-sync-worker", "github.com/acme/example-service"),
        "nginx_server_name": ("inventory.internal.acme.example", "example-service.example.com"),
        "project_name": ("Inventory Sync Worker", "Example Service"),
        "redis": (True, False),
        "service_name": ("inventory-sync-worker", "example-service"),
        "shutdown_timeout": (45, 30),
        "with_systemd": (True, False),
    },
}


def answers_section(*names: str | tuple[str, str]) -> list[str]:
    """The report's lines on answers, for services named as in DIFFERING or as
    (name in the report, name in DIFFERING)."""
    lines = ["", "Answers that differ from the defaults of 0.2.1:"]
    for name in names:
        shown, known = name if isinstance(name, tuple) else (name, name)
        lines.append(f"  {shown}")
        lines += [f"    {key}: {json.dumps(v)} (default: {json.dumps(d)})" for key, (v, d) in DIFFERING[known].items()]
    return lines + [""]


def differing_json(name: str) -> dict:
    return {key: {"value": v, "default": d} for key, (v, d) in DIFFERING[name].items()}


def fleet_cmd(cwd: Path, *args: str):
    """scripts/fleet as a platform team runs it: with the Python on PATH (it re-executes
    itself with .venv's when that one lacks plumbum)."""
    return sh([sys.executable, FLEET, *args], cwd, check=False, timeout=1800)


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def snapshot(repo: Path) -> dict[str, str]:
    """Everything of a repository the fleet tool must leave alone."""
    def out(*args: str) -> str:
        return git(repo, *args).stdout
    return {
        "HEAD": out("rev-parse", "HEAD"),
        "branch": out("symbolic-ref", "HEAD"),
        "refs": out("for-each-ref", "--format=%(refname) %(objectname)"),
        "status": out("status", "--porcelain", "--untracked-files=all", "--ignored"),
        "remotes": out("remote", "-v"),
        "stash": out("stash", "list"),
        "config": (repo / ".git" / "config").read_text(),
    }


# --------------------------------------------------------------------------- the fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Fleet:
    return build_fleet(tmp_path_factory.mktemp("fleet"))


@pytest.fixture(scope="module")
def base(fleet) -> Path:
    """The folder of the services files: services are listed relative to it."""
    return fleet.template.parent


@pytest.fixture(scope="module")
def originals(fleet) -> dict[str, dict[str, str]]:
    return {s.name: snapshot(s.path) for s in fleet.services}


@pytest.fixture(scope="module")
def services_file(fleet, base) -> Path:
    path = base / "fleet.txt"
    path.write_text(
        "# The shop's services, generated from copier-gin\n"
        "services/example-service\n"
        "services/orders-api\n"
        "\n"
        "services/catalog            # the catalogue team's\n"
        f"file://{base}/services/p2   p2\n"
        "services/inventory-sync-worker\n"
    )
    return path


@pytest.fixture(scope="module")
def tried(fleet, base, services_file, originals):
    """One --try-update run over the whole fleet, its clones kept: (process, JSON, kept)."""
    keep = base / "kept"
    proc = fleet_cmd(base, str(services_file), "--template", str(fleet.template), "--try-update",
                     "--checks", CHECKS, "--json", "report.json", "--keep", str(keep))
    return proc, json.loads((base / "report.json").read_text()), keep


@slow
def test_report_says_who_is_behind_and_which_answers_differ(fleet, base, services_file):
    proc = fleet_cmd(base, str(services_file), "--template", str(fleet.template))
    assert proc.returncode == 1, proc.stderr
    assert lines_of(proc.stdout) == [
        "SERVICE                RELEASE  NEWEST  BEHIND  ANSWERS DIFFERING  UPDATE RESULT  DETAILS",
        "example-service        0.1.0    0.2.1   yes     1                  -",
        "orders-api             0.1.0    0.2.1   yes     19                 -",
        "catalog                0.1.0    0.2.1   yes     6                  -",
        "p2                     0.2.0    0.2.1   yes     15                 -",
        "inventory-sync-worker  0.2.1    0.2.1   no      17                 -",
        *answers_section("example-service", "orders-api", "catalog", "p2", "inventory-sync-worker"),
        "Needs attention: example-service (behind), orders-api (behind), catalog (behind), p2 (behind)",
    ]

    # The same as JSON on stdout, instead of the table.
    proc = fleet_cmd(base, str(services_file), "--template", str(fleet.template), "--json", "-")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report == {
        "template": str(fleet.template),
        "newest": "0.2.1",
        "try_update": False,
        "checks": None,
        "services": [
            {
                "name": s.name,
                "location": f"file://{base}/services/p2" if s.name == "p2" else f"services/{s.name}",
                "release": s.release,
                "newest": "0.2.1",
                "behind": s.behind,
                "answers_differing": differing_json(s.name),
                "update": None,
                "details": "",
                "conflicts": [],
                "failed_check": None,
                "changed": [],
                "error": None,
            }
            for s in fleet.services
        ],
        "needs_attention": ["example-service", "orders-api", "catalog", "p2"],
        "errors": [],
        "exit": 1,
    }


@slow
def test_try_update_reports_clean_merged_conflicted_and_failing_checks(tried):
    proc, _, _ = tried
    assert proc.returncode == 1, proc.stderr
    assert lines_of(proc.stdout) == [
        HEADER,
        "example-service        0.1.0    0.2.1   yes     1                  merged          checks passed",
        "orders-api             0.1.0    0.2.1   yes     19                 conflicted      conflicts: internal/config/config.go",
        "catalog                0.1.0    0.2.1   yes     6                  checks failing  go test -count=1 ./internal/api/... failed (exit 1)",
        "p2                     0.2.0    0.2.1   yes     15                 merged          checks passed",
        "inventory-sync-worker  0.2.1    0.2.1   no      17                 clean           up to date",
        *answers_section("example-service", "orders-api", "catalog", "p2", "inventory-sync-worker"),
        "Needs attention: orders-api (conflicted), catalog (checks failing)",
    ]
    # The failing check's output is on stderr, for the human reading the run.
    assert "--- FAIL: TestIdleTimeoutMatchesRunbook" in proc.stderr
    assert "HTTP_IDLE_TIMEOUT defaults to 1m15s; the runbook says 60s" in proc.stderr


@slow
def test_try_update_json(fleet, base, tried):
    _, report, _ = tried
    changed = {s["name"]: s.pop("changed") for s in report["services"]}
    expected = {
        "example-service": ("merged", "checks passed", [], None),
        "orders-api": ("conflicted", f"conflicts: {CONFIG_GO}", [CONFIG_GO], None),
        "catalog": ("checks failing", "go test -count=1 ./internal/api/... failed (exit 1)", [],
                    "go test -count=1 ./internal/api/..."),
        "p2": ("merged", "checks passed", [], None),
        "inventory-sync-worker": ("clean", "up to date", [], None),
    }
    assert report == {
        "template": str(fleet.template),
        "newest": "0.2.1",
        "try_update": True,
        "checks": CHECKS,
        "services": [
            {
                "name": s.name,
                "location": f"file://{base}/services/p2" if s.name == "p2" else f"services/{s.name}",
                "release": s.release,
                "newest": "0.2.1",
                "behind": s.behind,
                "answers_differing": differing_json(s.name),
                "update": expected[s.name][0],
                "details": expected[s.name][1],
                "conflicts": expected[s.name][2],
                "failed_check": expected[s.name][3],
                "error": None,
            }
            for s in fleet.services
        ],
        "needs_attention": ["orders-api", "catalog"],
        "errors": [],
        "exit": 1,
    }
    for s in fleet.services:
        assert s.expected_update == expected[s.name][0], s.name
    # What each update changed: what the release changes, never a team-owned file.
    from_0_1_0 = {".copier-answers.yml", CONFIG_GO, "docs/troubleshooting.md", "docs/updating.md",
                  "docs/maintenance/updating.md"}
    for name in ("example-service", "orders-api", "catalog"):
        assert from_0_1_0 <= set(changed[name]), (name, changed[name])
        team_owned = [f for f in changed[name] if f == "README.md" or f.startswith(("internal/api/", "deploy/compose/"))]
        assert team_owned == [], (name, team_owned)
    assert changed["p2"] == [".copier-answers.yml", "docs/troubleshooting.md"]
    assert changed["inventory-sync-worker"] == []


@slow
def test_kept_clones_show_the_outcome_and_cannot_push(fleet, tried):
    _, _, keep = tried
    assert sorted(p.name for p in keep.iterdir()) == ["catalog", "example-service", "orders-api", "p2"]
    for clone in keep.iterdir():
        assert git(clone, "remote").stdout == "", f"{clone.name}: the clone has a remote to push to"
    # The conflict: both values between markers, the file unmerged for git.
    config = (keep / "orders-api" / CONFIG_GO).read_text()
    assert "<<<<<<< before updating" in config and ">>>>>>> after updating" in config
    assert 'envDefault:"90s"' in config and 'envDefault:"75s"' in config
    assert f"UU {CONFIG_GO}" in git(keep / "orders-api", "status", "--porcelain").stdout.splitlines()
    # The merges kept the team's work and took the release.
    for name in ("example-service", "p2", "catalog"):
        clone = keep / name
        # .env is the team's but git ignores it: a clone never has it.
        assert_team_edits_survived(clone, {k: v for k, v in fleet[name].edits.items() if k != ".env"})
        assert 'HTTP_IDLE_TIMEOUT" envDefault:"75s"' in (clone / CONFIG_GO).read_text()
        assert (clone / "docs/troubleshooting.md").read_text().endswith("`make help` lists every target.\n")


@slow
def test_the_services_repositories_are_untouched(fleet, originals, tried):
    for service in fleet.services:
        assert snapshot(service.path) == originals[service.name], service.name


@slow
def test_full_make_check_and_nothing_to_do_exit_0(fleet, base, originals):
    services = base / "quiet.txt"
    services.write_text(f"file://{base}/services/p2 p2\nservices/inventory-sync-worker\n")
    proc = fleet_cmd(base, str(services), "--template", str(fleet.template), "--try-update")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines_of(proc.stdout) == [
        "SERVICE                RELEASE  NEWEST  BEHIND  ANSWERS DIFFERING  UPDATE RESULT  DETAILS",
        "p2                     0.2.0    0.2.1   yes     15                 merged         checks passed",
        "inventory-sync-worker  0.2.1    0.2.1   no      17                 clean          up to date",
        *answers_section("p2", "inventory-sync-worker"),
        "Nothing needs attention: every update is clean or merged.",
    ]
    # The default checks ran, the whole of `make check` among them.
    assert "fleet: p2: make deps env-example: exit 0" in proc.stderr
    assert "fleet: p2: make check: exit 0" in proc.stderr

    # Without --try-update, a fleet on the newest release needs nothing either.
    services.write_text("services/inventory-sync-worker\n")
    proc = fleet_cmd(base, str(services), "--template", str(fleet.template))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines_of(proc.stdout)[-1] == "Nothing needs attention: every service is on the newest release."
    assert snapshot(fleet["p2"].path) == originals["p2"]


# --------------------------------------------------------------------------- errors


@pytest.fixture(scope="module")
def strangers(fleet, base) -> Path:
    """Repositories that are not (usable) services of this template, under base/strangers."""
    root = base / "strangers"
    root.mkdir()
    # A git repository that Copier never touched.
    plain = root / "plain"
    plain.mkdir()
    (plain / "main.go").write_text("package main\n\nfunc main() {}\n")
    git(plain, "init", "-q", "-b", "main")
    commit_all(plain, "A service of its own")
    # A service of another template.
    other_template = root / "other-template"
    (other_template / "template").mkdir(parents=True)
    (other_template / "copier.yml").write_text(
        "_subdirectory: template\nname:\n  type: str\n  default: thing\n")
    (other_template / "template" / "{{_copier_conf.answers_file}}.jinja").write_text(
        "{{ _copier_answers|to_nice_yaml }}")
    (other_template / "template" / "README.md.jinja").write_text("# {{ name }}\n")
    git(other_template, "init", "-q", "-b", "main")
    commit_all(other_template, "Another template")
    git(other_template, "tag", "-a", "1.0.0", "-m", "1.0.0")
    copier(root, "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", "1.0.0", str(other_template), "other")
    git(root / "other", "init", "-q", "-b", "main")
    commit_all(root / "other", "Generate from the other template")
    # A clone of a real service with work in progress.
    git(root, "clone", "-q", str(fleet["example-service"].path), "dirty")
    readme = root / "dirty" / "README.md"
    readme.write_text(readme.read_text() + "\nWork in progress.\n")
    return root


@slow
def test_errors_are_one_line_each_and_exit_2(fleet, base, strangers):
    services = base / "errors.txt"
    services.write_text(
        "services/inventory-sync-worker\n"
        "services/missing\n"
        "file:///nonexistent/ghost.git\n"
        "strangers/plain\n"
        "strangers/other\n"
        "strangers/dirty\n"
    )
    dirty_before = snapshot(strangers / "dirty")
    proc = fleet_cmd(base, str(services), "--template", str(fleet.template), "--try-update")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert lines_of(proc.stdout) == [
        "SERVICE                RELEASE  NEWEST  BEHIND  ANSWERS DIFFERING  UPDATE RESULT  DETAILS",
        "inventory-sync-worker  0.2.1    0.2.1   no      17                 clean          up to date",
        "missing                -        0.2.1   -       -                  error          no such directory: services/missing",
        "ghost                  -        0.2.1   -       -                  error          cannot clone file:///nonexistent/ghost.git:"
        " fatal: '/nonexistent/ghost.git' does not appear to be a git repository",
        "plain                  -        0.2.1   -       -                  error          no .copier-answers.yml: not generated with Copier",
        "other                  -        0.2.1   -       -                  error          generated from"
        f" {strangers / 'other-template'}, not from this template ({fleet.template}): name its source with --template",
        # A dirty clone is read (its release, its answers) but not updated.
        "dirty                  0.1.0    0.2.1   yes     1                  error          uncommitted changes (README.md):"
        " commit or stash them; update not tried",
        *answers_section("inventory-sync-worker", ("dirty", "example-service")),
        "Errors: missing, ghost, plain, other, dirty",
    ]
    assert snapshot(strangers / "dirty") == dirty_before

    # The tool's default template is this repository: the fleet's services are another's.
    # (HEAD as the ref: a clone fetched without tags has no release tag to compare with.)
    services.write_text("services/inventory-sync-worker\n")
    proc = fleet_cmd(base, str(services), "--vcs-ref", "HEAD")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"generated from {fleet.template}, not from this template ({ROOT})" in proc.stdout


@pytest.mark.parametrize("content, message", [
    (None, "cannot read the services file {path}: No such file or directory"),
    ("# nobody yet\n\n", "the services file {path} lists no service"),
    ("services/p2\nfile:///elsewhere/p2.git\n", "{path}:2: the name p2 is already used on line 1: add a name after the location"),
    ("services/p2 p2 extra\n", "{path}:1: expected a location and an optional name, got 3 fields: services/p2 p2 extra"),
])
def test_an_unreadable_services_file_exits_2(tmp_path, content, message):
    """The services file is read first: nothing else happens when it is wrong."""
    path = tmp_path / "services.txt"
    if content is not None:
        path.write_text(content)
    proc = fleet_cmd(tmp_path, str(path), "--try-update")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == "fleet: " + message.format(path=path)


def test_command_line_errors_exit_2(tmp_path):
    for args, message in [
        ([], "fleet: usage: scripts/fleet SERVICES_FILE [--try-update] [--checks CMD | --no-checks] [--json FILE|-]"
             " [--template SRC] [--vcs-ref REF] [--keep DIR]"),
        (["a.txt", "--frobnicate"], "fleet: unknown option --frobnicate"),
        (["a.txt", "--json"], "fleet: --json needs a value"),
        (["a.txt", "--checks", "make deps && && make check"], "fleet: --checks 'make deps && && make check' has an empty command"),
    ]:
        proc = sh([sys.executable, FLEET, *args], tmp_path, check=False)
        assert proc.returncode == 2, args
        assert proc.stderr.strip() == message, args


# --------------------------------------------------------------------------- units


def load_fleet_module():
    """scripts/fleet as a module (its file has no .py suffix)."""
    if "copier_gin_fleet" not in sys.modules:
        loader = importlib.machinery.SourceFileLoader("copier_gin_fleet", str(FLEET))
        spec = importlib.util.spec_from_loader(loader.name, loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[loader.name] = module  # its dataclasses look their module up
        loader.exec_module(module)
    return sys.modules["copier_gin_fleet"]


def test_release_versions_read_like_copier_reads_them():
    fleet = load_fleet_module()
    v = fleet.release_version
    assert v("0.1.0") < v("0.1.0-5-gabc1234") < v("0.2.0") < v("0.2.1")
    assert str(v("0.1.0-5-gabc1234")) == "0.1.0.post5+abc1234"
    assert v("0.2.0rc1") < v("0.2.0")
    assert v("HEAD") is None and v("5f3c2a1deadbeef") is None


def test_one_repository_has_one_identity(tmp_path):
    fleet = load_fleet_module()
    same = {
        fleet.identity("https://github.com/Acme/copier-gin.git"),
        fleet.identity("git@github.com:Acme/copier-gin.git"),
        fleet.identity("ssh://git@GitHub.com/Acme/copier-gin"),
        fleet.identity("gh:Acme/copier-gin"),
        fleet.identity("git+https://github.com/Acme/copier-gin/"),
    }
    assert same == {"github.com/Acme/copier-gin"}
    assert fleet.identity("../t", tmp_path / "svc") == str((tmp_path / "t").resolve())
    assert fleet.identity(f"file://{tmp_path}/t") == fleet.identity(str(tmp_path / "t"))
    assert fleet.identity("https://gitlab.com/acme/copier-gin") != fleet.identity("https://github.com/acme/copier-gin")


def test_services_file_format(tmp_path):
    fleet = load_fleet_module()
    path = tmp_path / "services.txt"
    path.write_text(
        "# platform services\n"
        "\n"
        "../checkouts/orders   # the shop's\n"
        "git@github.com:acme/billing.git\n"
        "https://gitlab.example.com/shop/catalog.git  catalog-v2\n"
        "gh:acme/search\n"
    )
    entries = fleet.read_services(path)
    assert [(e.name, e.location, e.target) for e in entries] == [
        ("orders", "../checkouts/orders", str(tmp_path / "../checkouts/orders")),
        ("billing", "git@github.com:acme/billing.git", "git@github.com:acme/billing.git"),
        ("catalog-v2", "https://gitlab.example.com/shop/catalog.git", "https://gitlab.example.com/shop/catalog.git"),
        ("search", "gh:acme/search", "https://github.com/acme/search.git"),
    ]
