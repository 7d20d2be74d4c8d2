"""Fast tests of the container test helpers and of the podman settings bootstrap applies."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

import containers

ROOT = Path(__file__).resolve().parent.parent

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG GO=1.26
FROM --platform=$BUILDPLATFORM golang:${GO}-bookworm@sha256:abcd AS build
RUN echo hi
FROM build AS test
FROM gcr.io/distroless/static-debian12:nonroot \\
    AS runtime
COPY --from=build /x /x
FROM scratch
FROM runtime
"""


def test_from_lines_are_parsed_with_args_stages_and_continuations():
    froms = containers.parse_from_lines(DOCKERFILE)
    assert [(f.ref, f.stage) for f in froms] == [
        ("golang:1.26-bookworm@sha256:abcd", "build"),
        ("build", "test"),
        ("gcr.io/distroless/static-debian12:nonroot", "runtime"),
        ("scratch", None),
        ("runtime", None),
    ]
    assert containers.external_refs(DOCKERFILE) == [
        "golang:1.26-bookworm@sha256:abcd",
        "gcr.io/distroless/static-debian12:nonroot",
    ]


@pytest.mark.parametrize(
    ("ref", "kind"),
    [
        ("golang:1.25-bookworm", "builder"),
        ("docker.io/library/golang:1.26@sha256:0123", "builder"),
        ("gcr.io/distroless/static-debian12:nonroot", "runtime"),
        ("gcr.io/distroless/static:nonroot@sha256:0123", "runtime"),
        ("nginx:1.28.0", "nginx"),
    ],
)
def test_standin_kind(ref, kind):
    assert containers.standin_kind(ref) == kind


@pytest.mark.parametrize("ref", ["alpine:3.20", "gcr.io/distroless/base-debian12", "docker.elastic.co/beats/filebeat:9.1.0"])
def test_unknown_base_images_are_refused(ref):
    with pytest.raises(AssertionError, match="no stand-in"):
        containers.standin_kind(ref)


def test_build_contexts_map_each_reference_as_written():
    standins = containers.StandIns(images={"builder": "localhost/b:1", "runtime": "localhost/r:1"})
    assert containers.build_contexts(DOCKERFILE, standins) == [
        "--build-context", "golang:1.26-bookworm@sha256:abcd=container-image://localhost/b:1",
        "--build-context", "gcr.io/distroless/static-debian12:nonroot=container-image://localhost/r:1",
    ]


def _apt_dir(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(textwrap.dedent(text))
    osr = tmp_path / "os-release"
    osr.write_text('NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n')
    return d, osr


def test_debian_mirror_from_deb822_sources(tmp_path):
    d, osr = _apt_dir(tmp_path, {
        "a.sources": """\
            Types: deb
            URIs: http://mirror.invalid/debian-security
            Suites: bookworm-security
            Components: main

            Types: deb deb-src
            # a comment
            URIs: http://mirror.invalid/debian
            Suites: bookworm bookworm-updates
            Components: main contrib
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
            """,
        "other.list.disabled": "deb http://elsewhere.invalid/x bookworm main\n",
    })
    assert containers.debian_mirror(d, osr) == containers.Mirror(
        "http://mirror.invalid/debian", "bookworm", "/usr/share/keyrings/debian-archive-keyring.gpg")


def test_debian_mirror_from_one_line_list(tmp_path):
    d, osr = _apt_dir(tmp_path, {"x.list": "# deb http://no.invalid/ bookworm main\ndeb [signed-by=/k.gpg] http://m.invalid/debian bookworm main\n"})
    assert containers.debian_mirror(d, osr) == containers.Mirror("http://m.invalid/debian", "bookworm", "/k.gpg")


def test_debian_mirror_missing_is_an_error(tmp_path):
    d, osr = _apt_dir(tmp_path, {"x.list": "deb http://m.invalid/debian bullseye main\n"})
    with pytest.raises(RuntimeError, match="bookworm"):
        containers.debian_mirror(d, osr)


def _podman_settings(conf: Path) -> str:
    """Run bootstrap's podman_settings against conf instead of /etc/containers/containers.conf."""
    script = f"""
        set -euo pipefail
        log() {{ :; }}
        . {ROOT}/scripts/bootstrap.d/50-podman.sh
        body=$(declare -f podman_settings | sed 's#/etc/containers/containers.conf#{conf}#')
        eval "$body"
        podman_settings
    """
    subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True)
    return conf.read_text()


def test_podman_settings_create_the_file(tmp_path):
    import tomllib

    conf = tmp_path / "containers.conf"
    parsed = tomllib.loads(_podman_settings(conf))
    assert parsed == {"containers": {"default_ulimits": []}, "engine": {"runtime": "runc"}}


def test_podman_settings_merge_without_clobbering_and_are_idempotent(tmp_path):
    import tomllib

    conf = tmp_path / "containers.conf"
    conf.write_text(textwrap.dedent("""\
        # site settings
        [containers]
        log_driver = "k8s-file"
        # default_ulimits = ["nofile=1024:2048"]
        default_ulimits = ["nofile=1:2"]

        [network]
        network_backend = "netavark"

        [engine]
        cgroup_manager = "cgroupfs"
        runtime = "crun"
        """))
    first = _podman_settings(conf)
    assert _podman_settings(conf) == first
    parsed = tomllib.loads(first)
    assert parsed == {
        "containers": {"log_driver": "k8s-file", "default_ulimits": []},
        "network": {"network_backend": "netavark"},
        "engine": {"cgroup_manager": "cgroupfs", "runtime": "runc"},
    }
    assert "# site settings" in first and '# default_ulimits = ["nofile=1024:2048"]' in first
