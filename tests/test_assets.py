"""Static assets (issue 18): the team's files in assets/public/, embedded in the binary with
go:embed, served under the static prefix by the service in every layout, and by the bare
host's Nginx from disk with the same headers.

Fast: the answer, its migration for services generated before, what switching it off
removes, the one source of truth (extensions/settings.py) in the rendered files.
Slow (one generated project, its binary and the generated Nginx on loopback): every file
put in assets/public/ (nested, with spaces, dotfiles, `_`-prefixed, precompressed) is served
by the binary and through Nginx with the same bytes and headers; a file added after the
build is not; errors are the service's JSON; If-None-Match gives 304; traversal is refused;
and the go:embed traps (a directive in the wrong comment form, a pattern that misses
files, a stale .gz) make the generated project's own `go test` fail, naming the cause.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

import deploy_tools as dt
from conftest import ROOT, generate, go_env, run
import settings  # noqa: E402 - extensions/ is on sys.path (conftest)

sys.path.insert(0, str(ROOT / "extensions" / "migrations"))
import to_0_2_0_assets  # noqa: E402

PREFIX = settings.STATIC_PREFIX
SERVICE = "example-service"
ENV_PREFIX = "EXAMPLE_SERVICE"

# The files a team puts in assets/public/ (relative path -> content).
CSS = ("body { color: #123456; }\n" * 40).encode()
FILES: dict[str, bytes] = {
    "css/app.css": CSS,
    "css/_partial.css": b".partial { margin: 0; }\n",
    "js/app.3f2a9c1b7e.js": b"console.log('fingerprinted');\n",
    "img/logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n',
    "img/pixel.png": bytes(range(256)) * 4,
    "nested/deeper dir/file with spaces.txt": b"spaces are fine\n",
    ".well-known/security.txt": b"Contact: mailto:security@example.com\n",
    "robots.txt": b"User-agent: *\nDisallow:\n",
    # Only in the binary: removed from Nginx's copy, so Nginx passes it to the service.
    "only-in-binary.json": b'{"from": "the binary"}\n',
}
# Headers both must send alike.
SAME_HEADERS = ("Content-Type", "Cache-Control", "Content-Encoding", "Content-Length", "X-Content-Type-Options")


# ------------------------------------------------------------------ fast
def test_answer_defaults_on_and_is_registered_as_team_owned():
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    assert config["with_assets"]["type"] == "bool" and config["with_assets"]["default"] is True
    assert "/assets/public/**" in config["_skip_if_exists"]
    assert "{% if _copier_operation == 'update' %}/assets/public/{% endif %}" in config["_exclude"]
    scripts = [m["command"][1] for m in config["_migrations"]]
    assert "{{ _copier_conf.src_path }}/extensions/migrations/to_0_2_0_assets.py" in scripts
    before, after = [m for m in config["_migrations"] if m["command"][1].endswith("to_0_2_0_assets.py")]
    assert before["version"] == after["version"] == "0.2.0"
    assert "before" in before["when"] and before["command"][2:] == ["{{ _copier_conf.answers_file }}"]
    assert "after" in after["when"] and after["command"][2] == "--after"


def test_migration_keeps_existing_services_without_assets(tmp_path):
    migrated, what = to_0_2_0_assets.migrate_answers({"service_name": "x"})
    assert migrated == {"service_name": "x", "with_assets": False} and "with_assets: False" in what
    for answered in (True, False):
        again, what = to_0_2_0_assets.migrate_answers({"with_assets": answered})
        assert again == {"with_assets": answered} and "nothing to do" in what
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text("# Changes here will be overwritten by Copier\n_commit: 0.1.0\nservice_name: x\n")
    script = ROOT / "extensions" / "migrations" / "to_0_2_0_assets.py"
    first = subprocess.run([sys.executable, script, answers], capture_output=True, text=True, check=True)
    assert first.stderr.strip() == "copier-gin migration 0.2.0 (assets): recorded with_assets: False"
    text = answers.read_text()
    assert text.startswith("# Changes here") and yaml.safe_load(text)["with_assets"] is False
    second = subprocess.run([sys.executable, script, answers], capture_output=True, text=True, check=True)
    assert "nothing to do" in second.stderr and answers.read_text() == text
    missing = subprocess.run([sys.executable, script, tmp_path / "nope.yml"], capture_output=True, text=True)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_migration_gives_a_service_that_opts_in_its_folder(tmp_path):
    """Crossing 0.2.0 with `-d with_assets=true`: assets/public/ is left out of the update's
    render, so the after step creates it (go:embed refuses an empty pattern)."""
    script = ROOT / "extensions" / "migrations" / "to_0_2_0_assets.py"
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text("with_assets: false\n")
    after = lambda: subprocess.run([sys.executable, script, "--after", answers, ROOT],  # noqa: E731
                                   capture_output=True, text=True, check=True).stderr
    assert "with_assets is off" in after() and not (tmp_path / "assets").exists()
    answers.write_text("with_assets: true\n")
    assert "created the team-owned assets/public/.keep" in after()
    assert (tmp_path / "assets/public/.keep").read_bytes() == b""
    (tmp_path / "assets/public/.keep").unlink()  # the team's choice: never recreated
    (tmp_path / "assets/public/app.css").write_text("x")
    assert "exists" in after() and not (tmp_path / "assets/public/.keep").exists()


def test_switching_it_on_later_creates_the_folder(tmp_path):
    """After 0.2.0 (with_assets: false recorded), `-d with_assets=true` is switched_on_seams.py's."""
    sys.path.insert(0, str(ROOT / "extensions" / "migrations"))
    import switched_on_seams

    old = {"project_name": "Stock", "service_name": "stock", "module_path": "example.com/stock",
           "with_docker": False, "with_nginx": False, "with_supervisord": False, "with_kubernetes": False,
           "ci_provider": "none", "database": "none", "redis": False, "with_assets": False}
    got = switched_on_seams.create_switched_on(tmp_path, ROOT, old, {**old, "with_assets": True})
    assert got == ["assets/public/.keep"] and (tmp_path / "assets/public/.keep").is_file()


def test_settings_are_one_source():
    cg = settings.derive({"service_name": SERVICE, "http_port": 8080, "shutdown_timeout": 20})
    assert cg["assets"]["enabled"] and cg["assets"]["prefix"] == cg["nginx"]["static_prefix"] == PREFIX
    assert cg["nginx"]["static_fallback"] == f"@{cg['nginx']['upstream']}_idempotent"
    off = settings.derive({"service_name": SERVICE, "http_port": 8080, "shutdown_timeout": 20, "with_assets": False})
    assert off["nginx"]["static_fallback"] == "=404"
    assert "assets/public/" in cg["ownership"]["team"] and "assets/public/" not in off["ownership"]["team"]
    fingerprint = re.compile(settings.ASSET_FINGERPRINT)
    assert fingerprint.search("/static/js/app.3f2a9c1b.js") and not fingerprint.search("/static/app.css")


def test_switching_it_off_removes_files_not_lines(tmp_path):
    on = generate(tmp_path / "on", {"database": "none"})
    off = generate(tmp_path / "off", {"database": "none", "with_assets": False})
    files = lambda root: {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}  # noqa: E731
    assert files(on) - files(off) == {
        "assets/embed.go", "assets/embed_test.go", "assets/public/.keep", "internal/static/static.go",
        "internal/static/static_test.go", "internal/httpserver/assets.go", "internal/httpserver/assets_test.go",
        "docs/assets.md",
    }
    assert files(off) <= files(on)
    assert "mountAssets" not in (off / "internal/httpserver/router.go").read_text()
    assert "\nassets:" not in (off / "Makefile").read_text() and "\nassets:" in (on / "Makefile").read_text()
    static_conf = lambda root: (root / f"deploy/nginx/{SERVICE}/static.conf").read_text()  # noqa: E731
    assert "try_files $uri =404;" in static_conf(off)
    assert "try_files $uri @example_service_idempotent;" in static_conf(on)
    assert "`assets/public/`" in (on / "docs/updating.md").read_text()
    assert "assets" not in (off / "docs/updating.md").read_text()
    # The rendered Go and Nginx hold the settings' values, not copies.
    go = (on / "internal/static/static.go").read_text()
    assert f"`{settings.ASSET_FINGERPRINT}`" in go and f'"{settings.ASSET_CACHE_FINGERPRINTED}"' in go
    cache_conf = (on / f"deploy/nginx/{SERVICE}/static-cache.conf").read_text()
    assert f'"~{settings.ASSET_FINGERPRINT}" "{settings.ASSET_CACHE_FINGERPRINTED}";' in cache_conf
    for ext, ctype in settings.ASSET_TYPES:
        # Nginx: the bare type, and charset_types adds the charset (test_every_file_... compares).
        assert f'{{"{ext}", "{ctype}"}}' in go and f"{ctype.split(';')[0]} {ext};" in static_conf(on)


# ------------------------------------------------------------------ slow
class Site:
    def __init__(self, project: Path, binary: Path):
        self.project, self.binary = project, binary


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    project = generate(tmp_path_factory.mktemp("assets") / SERVICE, {"database": "none"})
    public = project / "assets" / "public"
    for rel, data in FILES.items():
        (public / rel).parent.mkdir(parents=True, exist_ok=True)
        (public / rel).write_bytes(data)
    started = time.monotonic()
    out = run(["make", "assets"], project).stdout
    assert "compressed assets/public/css/app.css" in out, out
    assert gzip.decompress((public / "css/app.css.gz").read_bytes()) == CSS
    assert not (public / "img/pixel.png.gz").exists(), "png is not recompressed"
    # brotli is installed by scripts/bootstrap (Debian's package): `make assets` writes .br too.
    brotli = subprocess.run(["brotli", "-d", "-c", str(public / "css/app.css.br")], capture_output=True, check=True)
    assert brotli.stdout == CSS and not (public / "img/pixel.png.br").exists()
    run(["make", "build"], project)
    print(f"make assets + build: {time.monotonic() - started:.1f}s")
    return Site(project, project / "bin" / SERVICE)


def fetch_once(conn: http.client.HTTPConnection, method, path, headers=None):
    """(status, headers, body) of one request on its own connection, closed after it."""
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


class Service:
    def __init__(self, binary: Path, cwd: Path):
        self.port, self.admin = dt.free_ports(1)[0], dt.free_ports(1)[0]
        env = {k: v for k, v in go_env().items() if not k.startswith(ENV_PREFIX)}
        env.update({f"{ENV_PREFIX}_HTTP_HOST": "127.0.0.1", f"{ENV_PREFIX}_HTTP_PORT": str(self.port),
                    f"{ENV_PREFIX}_ADMIN_HOST": "127.0.0.1", f"{ENV_PREFIX}_ADMIN_PORT": str(self.admin)})
        self.proc = subprocess.Popen([str(binary)], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.fetch("GET", "/livez")[0] == 200:
                    return
            except OSError:
                pass
            assert self.proc.poll() is None, self.proc.communicate()[1]
            assert time.monotonic() < deadline, "the service did not answer within 10 s"
            time.sleep(0.05)

    def fetch(self, method, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        return fetch_once(conn, method, path, headers)

    def stop(self):
        self.proc.terminate()
        self.proc.communicate(timeout=30)


class Nginx:
    """The generated Nginx, bare-host layout, in front of the service, its static_dir a copy
    of assets/public/ without only-in-binary.json."""

    def __init__(self, project: Path, service_port: int):
        answers = {k: v for k, v in yaml.safe_load((project / ".copier-answers.yml").read_text()).items()
                   if not k.startswith("_")}
        ports = settings.derive(answers)["upstream_ports"]
        self.pub = dt.world_readable_tmpdir("cg-assets-nginx-")
        static_dir = self.pub / "static"
        shutil.copytree(project / "assets" / "public", static_dir)
        (static_dir / "only-in-binary.json").unlink()
        for path in [static_dir, *static_dir.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        http_port, self.https_port = dt.free_ports(2)
        conf = dt.nginx_prefix(project, self.pub / "nginx", "nginx.conf", port_map={p: service_port for p in ports},
                               http_port=http_port, https_port=self.https_port, static_dir=static_dir)
        checked = dt.nginx_test(conf)
        assert checked.returncode == 0, checked.stderr
        assert f"alias {static_dir}/;" in (conf.parent / SERVICE / "static.conf").read_text()
        self.ctx = ssl.create_default_context(cafile=str(conf.parent / "tls" / "fullchain.pem"))
        self.proc = subprocess.Popen(["nginx", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.fetch("GET", "/livez")
                return
            except OSError:
                assert self.proc.poll() is None, self.proc.communicate()[1]
                assert time.monotonic() < deadline, "nginx did not answer within 10 s"
                time.sleep(0.1)

    def fetch(self, method, path, headers=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=self.ctx, timeout=10)
        return fetch_once(conn, method, path, headers)

    def stop(self):
        self.proc.terminate()
        self.proc.communicate(timeout=30)
        shutil.rmtree(self.pub, ignore_errors=True)


@pytest.fixture(scope="module")
def running(site, tmp_path_factory):
    service = Service(site.binary, tmp_path_factory.mktemp("run"))
    try:
        nginx = Nginx(site.project, service.port)
        try:
            yield service, nginx
        finally:
            nginx.stop()
    finally:
        service.stop()


def url(rel: str) -> str:
    return PREFIX + urllib.parse.quote(rel)


def json_error(status: int, body: bytes, code: str) -> None:
    error = json.loads(body)["error"]
    assert error["code"] == code and error["request_id"], body


@pytest.mark.slow
@pytest.mark.xdist_group("assets")
def test_the_binary_serves_the_brotli_variants_make_assets_wrote(site, running):
    """A client that prefers br gets the .br `make assets` wrote, whole, with its length (GET
    and HEAD); one that accepts only gzip gets the .gz. (Debian's Nginx has no brotli module:
    through Nginx a file on disk goes as .gz or as it is.)"""
    service, _ = running
    public = site.project / "assets" / "public"
    for rel in ("css/app.css", "js/app.3f2a9c1b7e.js"):
        status, hdrs, body = service.fetch("GET", url(rel), {"Accept-Encoding": "gzip;q=0.5, br"})
        assert (status, hdrs["Content-Encoding"]) == (200, "br"), (rel, status, dict(hdrs))
        assert body == (public / (rel + ".br")).read_bytes() and "Accept-Encoding" in hdrs["Vary"], rel
        assert int(hdrs["Content-Length"]) == len(body), rel
        head = service.fetch("HEAD", url(rel), {"Accept-Encoding": "br"})
        assert (head[0], head[1]["Content-Length"], head[2]) == (200, str(len(body)), b""), rel
        status, hdrs, body = service.fetch("GET", url(rel), {"Accept-Encoding": "gzip"})
        assert hdrs["Content-Encoding"] == "gzip" and body == (public / (rel + ".gz")).read_bytes(), rel



def test_make_assets_without_brotli_leaves_no_stale_br(tmp_path):
    """A teammate without brotli edits a stylesheet and runs `make assets`: the .gz is
    renewed and the old .br, which would now be stale, is removed (the project's test
    checks each .gz against its file; a .br cannot be read without a brotli decoder)."""
    project = generate(tmp_path / SERVICE, {"database": "none"})
    css = project / "assets" / "public" / "site.css"
    css.write_bytes(CSS)
    run(["make", "assets"], project)
    assert (project / "assets/public/site.css.br").is_file()
    css.write_bytes(CSS + b"p { margin: 0; }\n")
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("sh", "find", "gzip", "rm", "echo"):  # what the recipe calls, brotli left out
        (bare / tool).symlink_to(shutil.which(tool))
    proc = subprocess.run([shutil.which("make"), "assets"], cwd=project, env={**os.environ, "PATH": str(bare)},
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "brotli is not installed" in proc.stdout, proc.stdout + proc.stderr
    assert not (project / "assets/public/site.css.br").exists()
    assert gzip.decompress((project / "assets/public/site.css.gz").read_bytes()) == css.read_bytes()


@pytest.mark.xdist_group("assets")
def test_every_file_is_served_alike_by_the_binary_and_through_nginx(site, running):
    service, nginx = running
    for rel, data in FILES.items():
        for encoding in ("", "gzip"):
            headers = {"Accept-Encoding": encoding} if encoding else {}
            answers = {name: server.fetch("GET", url(rel), headers) for name, server in
                       (("binary", service), ("nginx", nginx))}
            for name, (status, hdrs, body) in answers.items():
                assert status == 200, (name, rel, status, body[:200])
                if hdrs["Content-Encoding"] == "gzip":
                    # The precompressed variant `make assets` wrote, sent as it is.
                    variant = site.project / "assets" / "public" / (rel + ".gz")
                    assert encoding == "gzip" and body == variant.read_bytes(), (name, rel)
                    assert gzip.decompress(body) == data and "Accept-Encoding" in hdrs["Vary"], (name, rel)
                else:
                    assert body == data, (name, rel)
                assert hdrs["ETag"], (name, rel)
                want_cache = (settings.ASSET_CACHE_FINGERPRINTED if "3f2a9c1b7e" in rel else settings.ASSET_CACHE_OTHER)
                assert hdrs["Cache-Control"] == want_cache, (name, rel, hdrs["Cache-Control"])
            (_, b_hdrs, b_body), (_, n_hdrs, n_body) = answers["binary"], answers["nginx"]
            if encoding and rel.endswith((".css", ".js", ".txt", ".svg", ".json")):
                assert b_hdrs["Content-Encoding"] == "gzip", rel
            assert b_body == n_body, rel
            for key in SAME_HEADERS:
                assert b_hdrs[key] == n_hdrs[key], (rel, encoding, key, b_hdrs[key], n_hdrs[key])
            # Nginx's security headers on what it serves from disk; the service's nosniff in
            # every layout (SAME_HEADERS).
            assert n_hdrs["X-Content-Type-Options"] == "nosniff", rel
            # Embedded files have no modification time: only the ETag revalidates.
            assert b_hdrs["Last-Modified"] is None, rel
    # Served by whom: Nginx from disk (its mtime-based ETag), or the service behind it.
    assert service.fetch("GET", url("robots.txt"))[1]["ETag"] != nginx.fetch("GET", url("robots.txt"))[1]["ETag"]
    assert service.fetch("GET", url("only-in-binary.json"))[1]["ETag"] == \
        nginx.fetch("GET", url("only-in-binary.json"))[1]["ETag"], "Nginx passes a file it lacks to the service"
    # The service's content types are fixed, not the host's mime.types.
    assert service.fetch("GET", url("css/app.css"))[1]["Content-Type"] == "text/css; charset=utf-8"
    assert service.fetch("GET", url("img/pixel.png"))[1]["Content-Type"] == "image/png"


@pytest.mark.slow
@pytest.mark.xdist_group("assets")
def test_conditional_head_and_errors(site, running):
    service, nginx = running
    for name, server in (("binary", service), ("nginx", nginx)):
        for rel in ("css/app.css", "js/app.3f2a9c1b7e.js", "only-in-binary.json"):
            for encoding in ("", "gzip"):
                headers = {"Accept-Encoding": encoding} if encoding else {}
                status, hdrs, _ = server.fetch("GET", url(rel), headers)
                assert status == 200
                status, _, body = server.fetch("GET", url(rel), {**headers, "If-None-Match": hdrs["ETag"]})
                assert (status, body) == (304, b""), (name, rel, encoding, status)
                head_status, head_hdrs, head_body = server.fetch("HEAD", url(rel), headers)
                assert (head_status, head_body) == (200, b""), (name, rel)
                for key in SAME_HEADERS + ("ETag",):
                    assert head_hdrs[key] == hdrs[key], (name, rel, key)
        # A missing file, a directory: the service's JSON 404 (Nginx passes them to it).
        for path in (url("missing.css"), url("css/"), url("css"), PREFIX, url("nested/deeper dir/")):
            status, hdrs, body = server.fetch("GET", path)
            assert status == 404 and hdrs["Content-Type"].startswith("application/json"), (name, path, body)
            json_error(status, body, "not_found")
        # Traversal: refused (400 from the service; Nginx normalizes and then finds no such route).
        for path in (PREFIX + "../go.mod", PREFIX + "%2e%2e/go.mod", PREFIX + "..%2f..%2fgo.mod",
                     PREFIX + "%2e%2e%2f%2e%2e%2fetc/passwd", PREFIX + "css/..%2f..%2f..%2fembed.go",
                     PREFIX + "..\\..\\go.mod", PREFIX + "/etc/passwd"):
            status, _, body = server.fetch("GET", path)
            assert status in (400, 404), (name, path, status)
            assert b"module " not in body and b"root:" not in body and b"package assets" not in body, (name, path)
            if name == "binary":
                json.loads(body)  # the service's JSON shape (Nginx answers a path above its root itself)
    assert service.fetch("GET", PREFIX + "%2e%2e/go.mod")[0] == 400
    status, _, body = service.fetch("POST", url("css/app.css"))
    assert status == 405
    json_error(status, body, "method_not_allowed")


@pytest.mark.slow
@pytest.mark.xdist_group("assets")
def test_a_file_added_after_the_build_is_not_served(site, running):
    service, _ = running
    late = site.project / "assets" / "public" / "late.css"
    late.write_text("added after the build\n")
    try:
        status, _, body = service.fetch("GET", url("late.css"))
        assert status == 404, "the binary read the file from disk"
        json_error(status, body, "not_found")
    finally:
        late.unlink()


@pytest.mark.slow
@pytest.mark.xdist_group("assets")
def test_the_go_embed_traps_fail_the_projects_own_tests(site, tmp_path):
    """The negative controls of assets/embed_test.go: each trap, in a copy of the project,
    makes `go test ./assets/` fail with the reason; the project as generated passes."""
    env = go_env()
    passing = run(["go", "test", "-count=1", "./assets/", "./internal/static/", "./internal/httpserver/"], site.project)
    assert "FAIL" not in passing.stdout
    directive = "//go:embed all:public"
    for broken, missing in (
        ("// go:embed all:public", "css/app.css"),  # a comment, not a directive: nothing embedded
        ("//go:embed public", "css/_partial.css"),  # without all: names starting with . or _ are left out
        ("//go:embed public/*", "css/_partial.css"),  # the same below the first level
    ):
        copy = tmp_path / f"p{abs(hash(broken))}"
        shutil.copytree(site.project, copy, ignore=shutil.ignore_patterns("bin"))
        embed = copy / "assets" / "embed.go"
        text = embed.read_text()
        assert text.count(directive + "\n") == 1
        embed.write_text(text.replace(directive + "\n", broken + "\n"))
        proc = subprocess.run(["go", "test", "-count=1", "./assets/"], cwd=copy, env=env,
                              capture_output=True, text=True, timeout=600)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, f"{broken!r} was not caught:\n{out}"
        assert "not embedded in the binary" in out and missing in out and "//go:embed all:public" in out, out
        if broken == "//go:embed public":
            assert ".keep" in out and ".well-known/security.txt" in out, out
        shutil.rmtree(copy)
    # A stale precompressed variant.
    copy = tmp_path / "stale"
    shutil.copytree(site.project, copy, ignore=shutil.ignore_patterns("bin"))
    (copy / "assets/public/css/app.css").write_bytes(CSS + b"/* edited */\n")
    proc = subprocess.run(["go", "test", "-count=1", "./assets/"], cwd=copy, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode != 0 and "css/app.css.gz does not hold the current css/app.css: run `make assets`" in proc.stdout, \
        proc.stdout + proc.stderr
