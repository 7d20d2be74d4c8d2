"""Full tier: each generated project passes its own Go checks right after `copier copy`.

The checks are the generated Makefile's targets, the same ones its CI workflow runs,
so a passing test here means the generated CI passes too.
"""

from __future__ import annotations

import hashlib

import pytest
from answer_sets import ANSWER_SETS, VARIANTS

# Every answer set, and the defaults on the second framework.
GO_SETS = {**ANSWER_SETS, "default-echo": VARIANTS["default-echo"]}
from conftest import run

# The targets the generated CI runs (vuln needs the online vulnerability database).
MAKE_TARGETS = ["fmt-check", "vet", "tidy-check", "lint", "cover", "build", "check-conflicts"]


def digest(project, *names):
    return {name: hashlib.sha256((project / name).read_bytes()).hexdigest() for name in names}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(GO_SETS))
def test_make_checks_pass_without_tidy(projects, name, request):
    request.node.add_marker(pytest.mark.xdist_group(f"go-{name}"))
    project = projects(name)
    before = digest(project, "go.mod", "go.sum")
    for target in MAKE_TARGETS:
        proc = run(["make", target], project, timeout=900)
        if target == "lint":
            assert "0 issues" in proc.stdout, proc.stdout
    assert digest(project, "go.mod", "go.sum") == before, "a check changed go.mod or go.sum"
    gofmt = run(["gofmt", "-l", "."], project)
    assert gofmt.stdout.strip() == ""


@pytest.mark.slow
def test_checks_catch_breakage(projects, tmp_path):
    """The checks above are not vacuous: a misformatted file, a vet error and an untidy go.mod fail them."""
    import shutil

    project = tmp_path / "broken"
    shutil.copytree(projects("default"), project)
    main = next((project / "cmd").glob("*/main.go"))
    original = main.read_text()

    main.write_text(original.replace("func main() {", "func main()  {"))
    assert run(["make", "fmt-check"], project, check=False).returncode != 0

    main.write_text(original.replace('fmt.Fprintf(os.Stderr, "', 'fmt.Fprintf(os.Stderr, "%d '))
    assert run(["make", "vet"], project, check=False).returncode != 0
    main.write_text(original)

    gomod = project / "go.mod"
    gomod.write_text(gomod.read_text() + "\nrequire github.com/google/uuid v1.6.0\n")
    assert run(["make", "tidy-check"], project, check=False).returncode != 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "minimal"])
def test_make_help_lists_every_target_in_plain_words(projects, name):
    project = projects(name)
    out = run(["make", "help"], project).stdout
    assert "$(" not in out, out
    targets = {line.split()[0] for line in out.splitlines() if line.strip()}
    for target in ("run", "build", "test", "check", "env-example", "deps", "update", "check-conflicts"):
        assert target in targets, (target, out)
    service = __import__("yaml").safe_load((project / ".copier-answers.yml").read_text())["service_name"]
    assert f"bin/{service}" in out


def _untested_combinations() -> list[str]:
    """The data-answer combinations (go.mod/go.sum locks) no answer set above generates."""
    import settings

    # An answer set that leaves `database` out gets its default, SQLite.
    covered = {settings.gomod_key({"database": "sqlite", **answers}) for answers in GO_SETS.values()}
    return [key for key in settings.gomod_keys() if key not in covered]


@pytest.mark.slow
@pytest.mark.parametrize("key", _untested_combinations())
def test_every_data_combination_is_tidy_and_builds(key, tmp_path):
    """go.mod's indirect requirements and go.sum come per combination of `database` and
    `redis` (scripts/lock-go-modules): the ones no answer set uses are tidy and build too."""
    from conftest import generate

    *framework, engine, redis = key.split("-")  # "[echo-]sqlite-redis": no prefix is Gin
    project = generate(tmp_path / key, {"framework": framework[0] if framework else "gin",
                                        "database": engine, "redis": redis == "redis", "go_version": "1.25",
                                        "with_kubernetes": False, "ci_provider": "none"})
    for target in ("tidy-check", "vet", "fmt-check", "lint"):
        run(["make", target], project, timeout=900)
    run(["go", "test", "-count=1", "./..."], project, timeout=900)


@pytest.mark.slow
def test_build_all_cross_compiles_for_the_image_platforms(projects, request):
    """make build-all: a static binary per platform of the image, for its architecture."""
    import settings

    request.node.add_marker(pytest.mark.xdist_group("go-default"))
    project = projects("default")
    run(["make", "build-all"], project, timeout=900)
    machines = {"amd64": "x86-64", "arm64": "ARM aarch64"}
    for platform in settings.BUILD_PLATFORMS:
        os_, arch = platform.split("/")
        binary = project / "bin" / f"example-service-{os_}-{arch}"
        kind = run(["file", "-b", str(binary)], project).stdout
        assert "ELF 64-bit" in kind and machines[arch] in kind and "statically linked" in kind, (platform, kind)
