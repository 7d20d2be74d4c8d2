"""Unit tests of the migrations in extensions/migrations/ and of how copier.yml registers them.

tests/test_update.py runs them for real inside `copier update`; these tests pin down each
migration's behaviour on answers files of every shape it may meet.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "extensions" / "migrations"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"cg_migration_{name}", MIGRATIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


to_0_2_0 = load("to_0_2_0")

ANSWERS_0_1_0 = """\
# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY
_commit: 0.1.0
_src_path: gh:acme/copier-gin
http_port: 8080
service_name: orders-api
with_github_actions: {value}
with_nginx: true
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [(True, "github"), (False, "none"), ("true", "github"), ("no", "none"), (1, "github"), (0, "none")],
)
def test_with_github_actions_becomes_ci_provider(old, new):
    migrated, what = to_0_2_0.migrate_answers({"with_github_actions": old, "http_port": 8080})
    assert migrated == {"ci_provider": new, "http_port": 8080}
    assert "ci_provider: " + new in what


def test_answer_already_under_the_new_name_wins():
    migrated, what = to_0_2_0.migrate_answers({"with_github_actions": True, "ci_provider": "none"})
    assert migrated == {"ci_provider": "none"}
    assert "kept ci_provider" in what


def test_nothing_to_do_without_the_old_answer():
    answers = {"ci_provider": "github", "http_port": 9090}
    migrated, what = to_0_2_0.migrate_answers(answers)
    assert migrated == answers
    assert what.startswith("nothing to do")


def test_unreadable_value_is_an_error():
    with pytest.raises(ValueError, match="with_github_actions"):
        to_0_2_0.migrate_answers({"with_github_actions": "maybe"})


def test_migrate_file_keeps_header_and_other_answers(tmp_path):
    path = tmp_path / ".copier-answers.yml"
    path.write_text(ANSWERS_0_1_0.format(value="false"))
    assert to_0_2_0.migrate_file(path) == "with_github_actions: False -> ci_provider: none"
    text = path.read_text()
    assert text.startswith("# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY\n")
    assert yaml.safe_load(text) == {
        "_commit": "0.1.0",
        "_src_path": "gh:acme/copier-gin",
        "ci_provider": "none",
        "http_port": 8080,
        "service_name": "orders-api",
        "with_nginx": True,
    }
    # A second run changes nothing.
    assert to_0_2_0.migrate_file(path).startswith("nothing to do")
    assert path.read_text() == text


def run_script(*args: str, cwd: Path):
    return subprocess.run(
        [sys.executable, str(MIGRATIONS / "to_0_2_0.py"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )


def test_script_as_copier_runs_it(tmp_path):
    (tmp_path / ".copier-answers.yml").write_text(ANSWERS_0_1_0.format(value="true"))
    proc = run_script(".copier-answers.yml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "copier-gin migration 0.2.0: with_github_actions: True -> ci_provider: github"
    assert yaml.safe_load((tmp_path / ".copier-answers.yml").read_text())["ci_provider"] == "github"


def test_script_leaves_answers_alone_when_the_release_lacks_the_new_question(tmp_path):
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text(ANSWERS_0_1_0.format(value="false"))
    before = answers.read_text()
    (tmp_path / "old.yml").write_text("with_github_actions:\n  type: bool\n")
    proc = run_script(".copier-answers.yml", "old.yml", cwd=tmp_path)
    assert proc.returncode == 0 and "nothing to do" in proc.stderr
    assert answers.read_text() == before
    (tmp_path / "new.yml").write_text("ci_provider:\n  type: str\n")
    proc = run_script(".copier-answers.yml", "new.yml", cwd=tmp_path)
    assert proc.returncode == 0 and "ci_provider: none" in proc.stderr
    assert yaml.safe_load(answers.read_text())["ci_provider"] == "none"


@pytest.mark.parametrize(
    ("args", "files", "code", "message"),
    [
        ((), {}, 2, "usage:"),
        ((".copier-answers.yml",), {}, 1, "not found"),
        ((".copier-answers.yml",), {".copier-answers.yml": "- a list\n"}, 1, "expected a mapping"),
        ((".copier-answers.yml",), {".copier-answers.yml": "a: [\n"}, 1, "copier-gin migration 0.2.0:"),
    ],
)
def test_script_errors(tmp_path, args, files, code, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = run_script(*args, cwd=tmp_path)
    assert proc.returncode == code
    assert message in proc.stderr


# --------------------------------------------------------------------------- copier.yml


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "copier.yml").read_text())


def test_migrations_use_the_current_list_format(config):
    migrations = config["_migrations"]
    assert isinstance(migrations, list) and migrations
    versions = []
    for entry in migrations:
        assert set(entry) <= {"version", "command", "when", "working_directory"}, entry
        assert "before" not in entry and "after" not in entry  # the deprecated format
        if "version" not in entry:
            # Runs on every update: after the render (switched_on_seams.py), or before it only
            # to refuse an update (framework_change.py: tests/test_framework.py).
            before = entry["command"][1].endswith("/framework_change.py")
            assert entry["when"] == "{{ _stage == '%s' }}" % ("before" if before else "after"), entry
        else:
            versions.append(Version(entry["version"]))
            assert str(Version(entry["version"])) == entry["version"], "use the canonical PEP 440 form"
        assert entry["when"] in ("{{ _stage == 'before' }}", "{{ _stage == 'after' }}")
        command = entry["command"]
        assert isinstance(command, list), "a list runs without a shell"
        assert command[0] == "{{ _copier_python }}"
    assert versions == sorted(versions), "keep migrations in release order"


def test_every_migration_script_is_registered_and_exists(config):
    registered = set()
    for entry in config["_migrations"]:
        script = re.fullmatch(r"\{\{ _copier_conf.src_path \}\}/(extensions/migrations/\w+\.py)", entry["command"][1])
        assert script, entry["command"]
        assert (ROOT / script[1]).is_file()
        registered.add(Path(script[1]).name)
        if "version" not in entry:  # runs on every update: not named after a release
            assert not Path(script[1]).stem.startswith("to_"), script[1]
            continue
        # The script is named after the release that needs it (to_0_2_0.py, to_0_2_0_seams.py).
        stem, release = Path(script[1]).stem, "to_" + entry["version"].replace(".", "_")
        assert stem == release or stem.startswith(release + "_"), stem
    on_disk = {p.name for p in MIGRATIONS.glob("*.py")}
    assert on_disk == registered


def test_team_owned_files_are_protected(config):
    # Anchored at the root: a bare README.md would also match deploy/nginx/tls/README.md.
    team = {"/README.md", "/internal/api/**", "/.env"}
    assert team <= set(config["_skip_if_exists"])
    excludes = config["_exclude"]
    for path in ("/README.md", "/internal/api/", "/.env"):
        assert "{% if _copier_operation == 'update' %}" + path + "{% endif %}" in excludes


def test_min_copier_version_has_every_feature_copier_yml_uses(config):
    """`_copier_operation` (used by `_exclude`) exists from Copier 9.6 on."""
    from packaging.version import Version

    uses_operation = "_copier_operation" in (ROOT / "copier.yml").read_text()
    assert not uses_operation or Version(config["_min_copier_version"]) >= Version("9.6.0")


# --------------------------------------------------------------------------- 0.2.0 seams

seams = load("to_0_2_0_seams")

ROUTES_0_1_0 = """\
// Package api holds the service's business endpoints.
package api

import "github.com/gin-gonic/gin"

// Register mounts the API's routes on the /api/v1 group.
func Register(v1 *gin.RouterGroup) {
	greetings := v1.Group("/greetings")
	greetings.POST("", CreateGreeting)
}
"""

TEST_0_1_0 = """\
package api

import (
	"testing"

	"github.com/gin-gonic/gin"
)

func newRouter() *gin.Engine {
	engine := gin.New()
	Register(engine.Group("/api/v1"))
	return engine
}
"""


def test_seams_migration_adapts_the_0_1_0_register(tmp_path):
    api = tmp_path / "internal" / "api"
    api.mkdir(parents=True)
    (api / "routes.go").write_text(ROUTES_0_1_0)
    (api / "greetings_test.go").write_text(TEST_0_1_0)
    notes = seams.adapt_api(tmp_path, "example.com/orders")
    routes = (api / "routes.go").read_text()
    assert "func Register(r *gin.RouterGroup, _ *service.Deps) {\n\tv1 := r.Group(\"/api/v1\")\n" in routes
    assert 'import (\n\t"github.com/gin-gonic/gin"\n\n\t"example.com/orders/internal/service"\n)' in routes
    assert 'greetings := v1.Group("/greetings")' in routes, "the team's routes are kept"
    test = (api / "greetings_test.go").read_text()
    assert 'Register(engine.Group(""), &service.Deps{})' in test
    assert '\t"github.com/gin-gonic/gin"\n\n\t"example.com/orders/internal/service"\n)' in test
    assert len(notes) == 2
    # Again: nothing left to do, nothing changes.
    assert seams.adapt_api(tmp_path, "example.com/orders") == []
    assert (api / "routes.go").read_text() == routes


def test_seams_migration_names_a_register_it_cannot_adapt(tmp_path):
    api = tmp_path / "internal" / "api"
    api.mkdir(parents=True)
    custom = ROUTES_0_1_0.replace("func Register(v1 *gin.RouterGroup) {", "func Register(g *gin.RouterGroup, extra int) {")
    (api / "routes.go").write_text(custom)
    notes = seams.adapt_api(tmp_path, "example.com/orders")
    assert notes == ["internal/api/routes.go: change Register to Register(r *gin.RouterGroup, deps *service.Deps) by hand"]
    assert (api / "routes.go").read_text() == custom


@pytest.mark.parametrize("answers, present, absent", [
    ({"service_name": "orders-api", "module_path": "example.com/orders", "http_port": 9090, "shutdown_timeout": 5,
      "owner": "shop", "with_docker": True, "with_compose": True, "with_kubernetes": True, "with_supervisord": True},
     ["internal/service/service.go", "internal/upstream/upstream.go", "deploy/compose/app.env",
      "deploy/k8s/team/kustomization.yaml", "deploy/k8s/team/production/config.env", "deploy/supervisord/orders-api.env"],
     []),
    ({"service_name": "p2", "module_path": "p2", "http_port": 1024, "shutdown_timeout": 1, "owner": "fin",
      "with_docker": False, "with_kubernetes": False, "with_supervisord": False, "with_nginx": False},
     ["internal/service/settings.go"],
     ["deploy/compose/app.env", "deploy/k8s/team/kustomization.yaml", "deploy/supervisord/p2.env"]),
])
def test_seams_migration_renders_only_missing_team_files(tmp_path, answers, present, absent):
    keep = tmp_path / "internal" / "service" / "settings.go"
    keep.parent.mkdir(parents=True)
    keep.write_text("package service // the team's own\n")
    created = seams.render_missing(tmp_path, ROOT, answers)
    for rel in present:
        assert (tmp_path / rel).is_file(), rel
    for rel in absent:
        assert not (tmp_path / rel).exists(), rel
    assert keep.read_text() == "package service // the team's own\n", "an existing team file was overwritten"
    assert "internal/service/settings.go" not in created
    assert all(seams.TEAM_FILE.match(rel) for rel in created)
    assert not any(rel.startswith(("internal/app", "internal/config", "deploy/k8s/base")) for rel in created)
    service = (tmp_path / "internal/service/service.go").read_text()
    assert f'"{answers["module_path"]}/internal/lifecycle"' in service and "{{" not in service


def run_data_script(*args: str, cwd: Path):
    return subprocess.run(
        [sys.executable, str(MIGRATIONS / "to_0_2_0_data.py"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )


def test_data_migration_keeps_an_old_service_without_a_database(tmp_path):
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text(ANSWERS_0_1_0.format(value="true"))
    proc = run_data_script(".copier-answers.yml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "copier-gin migration 0.2.0 (data): recorded database: 'none', redis: False"
    text = answers.read_text()
    migrated = yaml.safe_load(text)
    assert migrated["database"] == "none" and migrated["redis"] is False
    assert text.startswith("# Changes here will be overwritten by Copier")
    assert migrated["service_name"] == yaml.safe_load(ANSWERS_0_1_0.format(value="true"))["service_name"]
    # A second run, or a service that answered already, is left alone.
    answers.write_text(text.replace("database: none", "database: postgres"))
    proc = run_data_script(".copier-answers.yml", cwd=tmp_path)
    assert proc.returncode == 0 and "nothing to do" in proc.stderr
    assert yaml.safe_load(answers.read_text())["database"] == "postgres"


@pytest.mark.parametrize("content, code", [(None, 1), ("- a list\n", 1), ("a: [", 1)])
def test_data_migration_errors(tmp_path, content, code):
    if content is not None:
        (tmp_path / ".copier-answers.yml").write_text(content)
    proc = run_data_script(".copier-answers.yml", cwd=tmp_path)
    assert proc.returncode == code and "copier-gin migration 0.2.0 (data)" in proc.stderr
    assert run_data_script(cwd=tmp_path).returncode == 2
