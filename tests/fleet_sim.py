"""A simulated fleet: services generated from several releases of this template, each
with its own answers and the edits its team made since.

`build_fleet(tmp)` makes, under tmp:
- `template/`: a git repository of this template with three release tags: 0.1.0 (the
  working tree), 0.2.0 and 0.2.1, the releases tests/test_update.py simulates (0.2.0
  changes the HTTP idle timeout default from 60s to 75s, renames a question with a
  migration, adds a doc and moves another; 0.2.1 extends the new doc);
- one git repository per service, generated with the copier CLI from one of those tags,
  committed, then edited by its team (in team-owned files, plus one comment at the end of a
  template-owned file, which merges) and committed again; a team writes its handlers for
  its service's framework (test_update.team_edits reads the answer):

| service | answers | from | team edits | update to 0.2.1 |
|---|---|---|---|---|
| example-service | default | 0.1.0 | a stock endpoint with its test and contract, README, .env, a deploy file dropped, a note in config.go | merges, its checks pass |
| orders-api | orders | 0.1.0 | README, supervisord settings, and the idle timeout raised to 90s in the template-owned config.go | conflicts in internal/config/config.go |
| catalog | default, named Catalog | 0.1.0 | README, compose settings, a test pinning the 60s idle timeout the runbook documents | merges, `go test` fails |
| p2 | minimal | 0.2.0 | the example API replaced by its own, README, .env | merges, its checks pass |
| inventory-sync-worker | full (on Echo) | 0.2.1 | a stock endpoint (Echo's handler), README, Kubernetes settings | already on the newest release |

The fleet tool's tests (tests/test_fleet.py) report on it; anything that runs an update's
steps on each service can use it too: `Fleet.services` says, per service, what to expect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from answer_sets import ANSWER_SETS
from test_update import (
    answers_of,
    commit_all,
    copy_working_tree,
    git,
    new_project,
    release_0_2_0,
    release_0_2_1,
    team_edits,
)

TAGS = ["0.1.0", "0.2.0", "0.2.1"]
NEWEST = TAGS[-1]
CONFIG_GO = "internal/config/config.go"


@dataclass
class Service:
    name: str  # its folder's name, which the fleet tool reports it by
    path: Path
    answer_set: str  # a key of tests/answer_sets.py
    answers: dict  # what was answered when it was generated
    release: str  # the tag it was generated from (its `_commit`)
    behind: bool  # older than the newest tag
    conflicts: list[str] = field(default_factory=list)  # files an update to NEWEST leaves conflicted
    checks_fail: bool = False  # `go test` fails after the (conflict-free) update
    edits: dict[str, str | None] = field(default_factory=dict)  # test_update's format: what must survive

    @property
    def expected_update(self) -> str:
        """What an update to the newest release gives: clean, merged, conflicted or checks failing."""
        if not self.behind:
            return "clean"
        if self.conflicts:
            return "conflicted"
        return "checks failing" if self.checks_fail else "merged"


@dataclass
class Fleet:
    template: Path
    tags: list[str]
    newest: str
    services: list[Service]

    def __getitem__(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)


def build_template(dst: Path) -> Path:
    """This template's working tree as 0.1.0, then the simulated 0.2.0 and 0.2.1."""
    dst.mkdir(parents=True)
    copy_working_tree(dst)
    git(dst, "init", "-q", "-b", "main")
    commit_all(dst, "copier-gin as in the working tree")
    git(dst, "tag", "-a", "0.1.0", "-m", "0.1.0")
    release_0_2_0(dst)
    commit_all(dst, "Release 0.2.0")
    git(dst, "tag", "-a", "0.2.0", "-m", "0.2.0")
    release_0_2_1(dst)
    commit_all(dst, "Release 0.2.1")
    git(dst, "tag", "-a", "0.2.1", "-m", "0.2.1")
    return dst


def append(path: Path, text: str) -> str:
    assert path.is_file(), f"{path} is missing"
    path.write_text(path.read_text() + text)
    return path.read_text()


def env_prefix(project: Path) -> str:
    return answers_of(project)["service_name"].upper().replace("-", "_")


# The team documents the keep-alive in its runbook and pins it in a test: when a release
# changes the template's default, the test fails (and the runbook gets updated).
PINNED_IDLE_TEST = """\
package api

import (
	"testing"
	"time"

	"{module}/internal/config"
)

// The runbook (README, "Timeouts") says idle keep-alive connections last 60s: the load
// balancer in front closes its own after 55s.
func TestIdleTimeoutMatchesRunbook(t *testing.T) {{
	cfg, err := config.Load(nil)
	if err != nil {{
		t.Fatal(err)
	}}
	if cfg.HTTPIdleTimeout != 60*time.Second {{
		t.Fatalf("HTTP_IDLE_TIMEOUT defaults to %s; the runbook says 60s", cfg.HTTPIdleTimeout)
	}}
}}
"""


def edit_example_service(project: Path) -> dict[str, str | None]:
    return team_edits(project, drop_example=False)


def edit_orders(project: Path) -> dict[str, str | None]:
    prefix = env_prefix(project)
    edits = {
        "README.md": append(project / "README.md", "\n## Ownership\n\nThe shop team (#shop-backend).\n"),
        "deploy/supervisord/orders-api.env": append(
            project / "deploy/supervisord/orders-api.env", f"{prefix}_LOG_LEVEL=warn\n"),
    }
    # The team raised the keep-alive in the template's own file, which the release also
    # changes there: a true conflict.
    config = project / CONFIG_GO
    text = config.read_text()
    assert text.count('envDefault:"60s"') == 1, f"{CONFIG_GO} no longer has the 60s idle timeout"
    config.write_text(text.replace('envDefault:"60s"', 'envDefault:"90s"'))
    return edits


def edit_catalog(project: Path) -> dict[str, str | None]:
    prefix = env_prefix(project)
    module = answers_of(project)["module_path"]
    test = project / "internal/api/keepalive_test.go"
    test.write_text(PINNED_IDLE_TEST.format(module=module))
    return {
        "README.md": append(project / "README.md", "\n## Timeouts\n\nIdle keep-alive connections last 60s.\n"),
        "deploy/compose/app.env": append(project / "deploy/compose/app.env", f"{prefix}_LOG_FORMAT=text\n"),
        "internal/api/keepalive_test.go": test.read_text(),
    }


def edit_p2(project: Path) -> dict[str, str | None]:
    edits = team_edits(project, drop_example=True)
    # With the examples' exchanges gone, the contract test's JSON content type is unused:
    # golangci-lint (make check) says so, and the team deletes it.
    contract = project / "internal/api/contract_test.go"
    text = contract.read_text()
    if len(re.findall(r"\bjs\b", text)) == 1:
        contract.write_text(text.replace('\tconst js = "application/json"\n', ""))
        edits["internal/api/contract_test.go"] = contract.read_text()
    return edits


def edit_inventory(project: Path) -> dict[str, str | None]:
    edits = team_edits(project, drop_example=False)
    prefix = env_prefix(project)
    edits["deploy/k8s/team/config.env"] = append(
        project / "deploy/k8s/team/config.env", f"{prefix}_LOG_LEVEL=warn\n")
    return edits


# name, answer set, extra answers, release, edit, conflicts, checks fail
PLAN = [
    ("example-service", "default", {}, "0.1.0", edit_example_service, [], False),
    # orders is a GitLab project in the answer sets; here it keeps GitHub's template-update workflow.
    ("orders-api", "orders", {"ci_provider": "github"}, "0.1.0", edit_orders, [CONFIG_GO], False),
    ("catalog", "default", {"project_name": "Catalog"}, "0.1.0", edit_catalog, [], True),
    ("p2", "minimal", {}, "0.2.0", edit_p2, [], False),
    ("inventory-sync-worker", "full", {}, "0.2.1", edit_inventory, [], False),
]


def build_fleet(tmp: Path) -> Fleet:
    """The template repository and five services under tmp (see the module's docstring)."""
    template = build_template(tmp / "template")
    (tmp / "services").mkdir()
    services = []
    for name, answer_set, extra, release, edit, conflicts, checks_fail in PLAN:
        answers = {**ANSWER_SETS[answer_set], **extra}
        project = new_project(template, tmp / "services" / name, answers, ref=release)
        assert answers_of(project)["_commit"] == release
        edits = edit(project)
        commit_all(project, "Team work")
        services.append(Service(
            name=name, path=project, answer_set=answer_set, answers=answers, release=release,
            behind=release != NEWEST, conflicts=conflicts, checks_fail=checks_fail, edits=edits,
        ))
    return Fleet(template=template, tags=list(TAGS), newest=NEWEST, services=services)
