"""systemd on a bare host (issue 14): the generated units, checked by systemd's own tools,
held to the same instances as supervisord, Nginx, Filebeat and Prometheus, and run.

There is no systemd running here (no PID 1 to start a unit), so:
- `deploy/systemd/install.sh` runs with DESTDIR (its documented staging mode) and
  `systemd-analyze verify --root` checks what it installed, the binary and Debian's own
  units included; `systemd-analyze security --offline` scores the instance unit;
- the service binary is run the way the unit says: its Environment= lines, its
  EnvironmentFile= for the instance, its ExecStart= arguments, stdout and stderr appended to
  its StandardOutput=/StandardError= files, as an unprivileged user, SIGTERM to stop;
- logrotate runs the generated rotation on real log files.
Each check is shown to fail on a typical mistake.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import deploy_tools as dt
from answer_sets import ANSWER_SETS
from conftest import ROOT, generate

sys.path.insert(0, str(ROOT / "extensions"))
import settings  # noqa: E402

# The answer sets with systemd: `full` (with supervisord too), and a service with systemd
# alone, no Nginx in front (every interface, no proxy trusted) and no database.
SETS = {
    "full": ANSWER_SETS["full"],
    "systemd-only": {"service_name": "edge-api", "with_supervisord": False, "with_systemd": True,
                     "with_nginx": False, "database": "none", "instances": 3, "http_port": 7000},
}


def derive(answers: dict) -> dict:
    full = {"project_name": "x", "owner": "acme", "http_port": 8080, "shutdown_timeout": 20, "instances": 2}
    full.update({k: dt.load_yaml(ROOT / "copier.yml")[k]["default"] for k in ("database", "redis")})
    full.update(answers)
    full.setdefault("service_name", "example-service")
    return settings.derive(full)


def unit_sections(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file: section -> key -> every value (systemd keys repeat: Environment=)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out[section] = {}
            continue
        key, value = line.split("=", 1)
        out[section].setdefault(key, []).append(value)
    return out


@pytest.fixture(scope="module", params=sorted(SETS))
def staged(request, tmp_path_factory):
    """The project of an answer set, and install.sh's files under a DESTDIR root with the
    project's built binary stood in for by an executable and Debian's units linked in."""
    name = request.param
    base = tmp_path_factory.mktemp(f"systemd-{name}")
    project = generate(base / "project", SETS[name])
    cg = derive(SETS[name])
    (project / "bin").mkdir(exist_ok=True)
    shutil.copy("/bin/true", project / "bin" / cg["binary"])
    root = base / "root"
    proc = subprocess.run(["sh", "deploy/systemd/install.sh"], cwd=project, env={**os.environ, "DESTDIR": str(root)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (root / "usr/lib/systemd").mkdir(parents=True)
    (root / "usr/lib/systemd/system").symlink_to("/lib/systemd/system")
    return name, project, cg, root


def verify(root: Path, *units: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", *units],
                          capture_output=True, text=True, timeout=60)


def exposure(root: Path, unit: str) -> tuple[float, subprocess.CompletedProcess]:
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={root}",
                           str(root / "etc/systemd/system" / unit)], capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", proc.stdout)
    assert found, proc.stdout + proc.stderr
    return float(found.group(1)), proc


def test_install_writes_the_units_and_each_instance_s_ports(staged):
    _, project, cg, root = staged
    sd = cg["systemd"]
    for rel in (f"etc/systemd/system/{sd['unit']}", f"etc/systemd/system/{sd['target']}",
                sd["logrotate"].lstrip("/"), cg["host"]["env_file"].lstrip("/"),
                cg["host"]["secrets_env_file"].lstrip("/"), cg["host"]["bin_path"].lstrip("/")):
        assert (root / rel).is_file(), rel
    assert (root / cg["host"]["env_file"].lstrip("/")).read_text() == (project / cg["host"]["team_env"]).read_text()
    for instance, path in zip(cg["host"]["instances"], sd["instance_envs"]):
        assert dt.env_file(root / path.lstrip("/")) == {
            cg["env"]["HTTP_PORT"]: str(instance["http_port"]), cg["env"]["ADMIN_PORT"]: str(instance["admin_port"])}
    # The host-only secrets are never overwritten by a second run.
    secrets = root / cg["host"]["secrets_env_file"].lstrip("/")
    secrets.write_text("X=1\n")
    subprocess.run(["sh", "deploy/systemd/install.sh"], cwd=project, env={**os.environ, "DESTDIR": str(root)},
                   check=True, capture_output=True, timeout=60)
    assert secrets.read_text() == "X=1\n"
    # Deploys manage the binary as a link to a release: install.sh leaves it alone then.
    binary = root / cg["host"]["bin_path"].lstrip("/")
    release = root / "release-binary"
    shutil.copy("/bin/true", release)
    binary.unlink()
    binary.symlink_to(os.path.relpath(release, binary.parent))  # relative: it resolves under --root too
    subprocess.run(["sh", "deploy/systemd/install.sh"], cwd=project, env={**os.environ, "DESTDIR": str(root)},
                   check=True, capture_output=True, timeout=60)
    assert binary.is_symlink() and binary.resolve() == release


def test_systemd_analyze_verify_accepts_the_units(staged, tmp_path):
    _, _, cg, root = staged
    units = [*cg["systemd"]["units"], cg["systemd"]["target"]]
    proc = verify(root, *units)
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), proc.stdout + proc.stderr
    # A typical mistake fails: an unknown key, and a binary that is not there.
    unit = root / "etc/systemd/system" / cg["systemd"]["unit"]
    good = unit.read_text()
    try:
        unit.write_text(good.replace("Restart=always", "Restart=allways"))
        bad = verify(root, cg["systemd"]["units"][0])
        assert "allways" in bad.stderr, bad.stderr  # a warning: the check above fails on any output
        unit.write_text(good)
        binary = root / cg["host"]["bin_path"].lstrip("/")
        binary.rename(binary.with_suffix(".away"))
        bad = verify(root, cg["systemd"]["units"][0])
        assert bad.returncode != 0 and "is not executable" in bad.stderr, bad.stderr
        binary.with_suffix(".away").rename(binary)
    finally:
        unit.write_text(good)


def test_the_unit_scores_ok_in_systemd_analyze_security(staged):
    _, _, cg, root = staged
    unit = cg["systemd"]["units"][0]
    score, proc = exposure(root, unit)
    limit = cg["systemd"]["security_exposure_max"]
    print(f"[systemd] {unit}: exposure {score} ({proc.stdout.strip().splitlines()[-1]})")
    assert score <= limit, proc.stdout
    assert re.search(r"\b(OK|SAFE|PERFECT)\b", proc.stdout.strip().splitlines()[-1])
    # --threshold (tenths) fails the command above the limit: how a host's CI can hold it too.
    held = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={root}",
                           f"--threshold={int(limit * 10)}", str(root / "etc/systemd/system" / unit)],
                          capture_output=True, text=True, timeout=60)
    assert held.returncode == 0, held.stdout
    # Without the sandbox the same unit scores far worse and fails the threshold.
    path = root / "etc/systemd/system" / cg["systemd"]["unit"]
    good = path.read_text()
    try:
        path.write_text(good.split("# Hardening:")[0] + "\n[Install]\nWantedBy=multi-user.target\n")
        worse, _ = exposure(root, unit)
        assert worse > limit + 3, worse
    finally:
        path.write_text(good)


def test_units_agree_with_supervisord_nginx_filebeat_and_prometheus(staged):
    name, project, cg, root = staged
    sd = cg["systemd"]
    unit = unit_sections(project / "deploy/systemd" / sd["unit"])
    svc = {k: v[-1] for k, v in unit["Service"].items() if k not in ("Environment", "SystemCallFilter")}
    env = dict(v.split("=", 1) for v in unit["Service"]["Environment"])
    assert svc["User"] == svc["Group"] == cg["host"]["user"]
    assert svc["TimeoutStopSec"] == str(cg["stop_grace_s"]) and svc["KillSignal"] == "SIGTERM"
    assert svc["Restart"] == "always" and svc["Type"] == "exec"
    assert svc["EnvironmentFile"] == sd["instance_env"]
    assert svc["StandardOutput"] == f"append:{cg['host']['log_dir']}/{cg['service']}-%i.log"
    assert svc["StandardError"] == f"append:{cg['host']['log_dir']}/{cg['service']}-%i.stderr.log"
    assert svc["LogsDirectory"] == cg["service"] and f"/var/log/{svc['LogsDirectory']}" == cg["host"]["log_dir"]
    assert svc["WorkingDirectory"] == cg["host"]["install_dir"]
    exec_start = svc["ExecStart"]
    # The memory limit is the Kubernetes container's.
    if (project / "deploy/k8s/base/workload.yaml").exists():
        workload = (project / "deploy/k8s/base/workload.yaml").read_text()
        limit_mib = re.search(r"limits:\n(?:\s+\S+: \S+\n)*?\s+memory: (\d+)Mi", workload).group(1)
        assert svc["MemoryMax"] == f"{limit_mib}M"
    # What the service runs with: the unit's fixed settings, then the instance's ports.
    ports = [dt.env_file(root / p.lstrip("/")) for p in sd["instance_envs"]]
    assert [int(p[cg["env"]["HTTP_PORT"]]) for p in ports] == cg["upstream_ports"]
    assert [int(p[cg["env"]["ADMIN_PORT"]]) for p in ports] == cg["obs"]["host_admin_ports"]
    assert [f"{cg['service']}@{p}.service" for p in cg["upstream_ports"]] == sd["units"]
    target = unit_sections(project / "deploy/systemd" / sd["target"])
    assert target["Unit"]["Wants"] == [" ".join(sd["units"])]
    # supervisord, when generated, runs the same: command, user, stop timeout, environment, logs.
    if (project / "deploy/supervisord").is_dir() and (project / f"deploy/supervisord/{cg['service']}.conf").exists():
        programs = dt.supervisord_programs(project / f"deploy/supervisord/{cg['service']}.conf")
        for (section, keys), instance, port_env in zip(programs.items(), cg["host"]["instances"], ports):
            assert keys["command"] == exec_start and keys["user"] == svc["User"]
            assert keys["stopwaitsecs"] == svc["TimeoutStopSec"] and keys["directory"] == svc["WorkingDirectory"]
            assert dt.supervisord_env(keys["environment"]) == {**env, **port_env}, section
            port = instance["http_port"]
            assert keys["stdout_logfile"] == svc["StandardOutput"].removeprefix("append:").replace("%i", str(port))
            assert keys["stderr_logfile"] == svc["StandardError"].removeprefix("append:").replace("%i", str(port))
    else:
        assert env == {cg["env"]["HTTP_HOST"]: "", cg["env"]["ADMIN_HOST"]: "127.0.0.1",
                       cg["env"]["TRUSTED_PROXIES"]: "", cg["env"]["LOG_FORMAT"]: "json"}
    # Nginx balances over exactly these ports; Prometheus scrapes these admin ports.
    upstream = project / f"deploy/nginx/{cg['service']}/upstream-host.conf"
    if upstream.exists():
        servers = re.findall(r"server 127\.0\.0\.1:(\d+)", upstream.read_text())
        assert [int(s) for s in servers] == cg["upstream_ports"]
    prom = dt.load_yaml(project / "deploy/prometheus/prometheus-host.yml")
    targets = [t for job in prom["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]]
    assert sorted(f"127.0.0.1:{p[cg['env']['ADMIN_PORT']]}" for p in ports) == sorted(
        t for t in targets if t.startswith("127.0.0.1:"))
    # Filebeat reads every instance's log and none of logrotate's copies.
    filebeat = project / "deploy/filebeat/filebeat.yml"
    if filebeat.exists():
        paths = cg["filebeat"]["paths"]
        for port in cg["upstream_ports"]:
            log = svc["StandardOutput"].removeprefix("append:").replace("%i", str(port))
            assert any(fnmatch.fnmatch(log, p) for p in paths)
            rotated = f"{sd['rotated_dir']}/{Path(log).name}.1"
            assert not any(fnmatch.fnmatch(rotated, p) for p in paths), rotated


def test_logrotate_rotates_the_instance_logs_out_of_filebeat_s_sight(staged, tmp_path):
    _, project, cg, root = staged
    sd = cg["systemd"]
    conf = (project / "deploy/systemd/logrotate.conf").read_text()
    logs = tmp_path / "log"
    logs.mkdir()
    me = pwd.getpwuid(os.getuid()).pw_name
    local = (conf.replace(cg["host"]["log_dir"], str(logs))
             .replace(f"su {cg['host']['user']} {cg['host']['user']}", f"su {me} {me}")
             .replace(f"createolddir 0750 {cg['host']['user']} {cg['host']['user']}", f"createolddir 0750 {me} {me}"))
    (tmp_path / "rotate.conf").write_text(local)
    debug = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "state"), str(tmp_path / "rotate.conf")],
                           capture_output=True, text=True, timeout=60)
    assert debug.returncode == 0 and "error" not in debug.stderr.lower(), debug.stderr
    line = json.dumps({"level": "INFO", "msg": "request", "status": 200}) + "\n"
    files = [logs / f"{cg['service']}-{p}.log" for p in cg["upstream_ports"]]
    for f in files:
        f.write_text(line * 10)
    # A process holding the file open, appending as systemd's append: does, across the rotation.
    holder = open(files[0], "a")  # noqa: SIM115 - kept open on purpose
    proc = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(tmp_path / "rotate.conf")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    holder.write(line)
    holder.close()
    rotated = logs / Path(sd["rotated_dir"]).name
    for f in files:
        assert (rotated / f"{f.name}.1").read_text() == line * 10
    assert files[0].read_text() == line and files[1].read_text() == ""
    # The copies are in a folder Filebeat's paths (moved to this temp dir) do not reach.
    paths = [p.replace(cg["host"]["log_dir"], str(logs)) for p in cg["filebeat"]["paths"]]
    assert not [p for p in rotated.iterdir() if any(fnmatch.fnmatch(str(p), g) for g in paths)]
    # A mistake logrotate itself refuses: an unknown directive.
    (tmp_path / "bad.conf").write_text(local.replace("copytruncate", "copytrunkate"))
    bad = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "state2"), str(tmp_path / "bad.conf")],
                         capture_output=True, text=True, timeout=60)
    assert "unknown option" in bad.stderr.lower() or bad.returncode != 0, bad.stderr


def _unit_command(project: Path, cg: dict, root: Path, port: int, admin: int) -> tuple[list[str], dict, Path, Path]:
    """argv, environment and the stdout/stderr files of one instance as the unit starts it,
    paths moved under `root` and the ports to free ones."""
    unit = unit_sections(project / "deploy/systemd" / cg["systemd"]["unit"])["Service"]
    env = {"PATH": "/usr/bin:/bin"}
    env.update(dict(v.split("=", 1) for v in unit["Environment"]))
    instance = cg["host"]["instances"][0]
    env.update(dt.env_file(root / unit["EnvironmentFile"][0].replace("%i", str(instance["http_port"])).lstrip("/")))
    env[cg["env"]["HTTP_PORT"]], env[cg["env"]["ADMIN_PORT"]] = str(port), str(admin)
    argv = [str(root / a.lstrip("/")) if a.startswith("/") else a for a in unit["ExecStart"][0].split()]
    out = root / unit["StandardOutput"][0].removeprefix("append:").replace("%i", str(port)).lstrip("/")
    err = root / unit["StandardError"][0].removeprefix("append:").replace("%i", str(port)).lstrip("/")
    return argv, env, out, err


@pytest.mark.slow
def test_the_binary_runs_as_the_unit_says(built, tmp_path):
    """The default answer set's binary, started with the systemd project's unit: ready on the
    instance's port, JSON lines appended to the unit's log file, SIGTERM exits 0 within the
    unit's stop timeout; a bad setting exits at once naming it in the unit's stderr file."""
    answers = {"with_systemd": True}
    project = generate(tmp_path / "project", answers)
    cg = derive(answers)
    root = dt.world_readable_tmpdir("cg-systemd-")
    try:
        (project / "bin").mkdir(exist_ok=True)
        shutil.copy2(built("default"), project / "bin" / cg["binary"])
        subprocess.run(["sh", "deploy/systemd/install.sh"], cwd=project, env={**os.environ, "DESTDIR": str(root)},
                       check=True, capture_output=True, timeout=60)
        data = root / cg["db"]["data_dir"].lstrip("/")
        nobody = pwd.getpwnam("nobody")
        os.chown(data, nobody.pw_uid, nobody.pw_gid)
        for rel in (cg["host"]["env_file"], cg["host"]["secrets_env_file"]):
            (root / rel.lstrip("/")).chmod(0o644)
        secrets = root / cg["host"]["secrets_env_file"].lstrip("/")
        secrets.write_text(f"{cg['data_deploy']['db']['url_var']}=file:{data}/{cg['service']}.db\n"
                           f"{cg['env_prefix']}_DATABASE_MIGRATE_ON_START=true\n")
        port, admin = dt.free_ports(2)
        argv, env, out, err = _unit_command(project, cg, root, port, admin)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.parent.chmod(0o777)
        with open(out, "ab") as stdout, open(err, "ab") as stderr:
            proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr, user="nobody",
                                    cwd=root, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{cg['readiness_path']}", timeout=2) as r:
                        assert r.status == 200
                        break
                except OSError:
                    assert proc.poll() is None, err.read_text()
                    assert time.monotonic() < deadline, "not ready in 30 s"
                    time.sleep(0.2)
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=2) as r:
                assert r.status == 200
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=cg["stop_grace_s"]) == 0
            print(f"[systemd] stopped {time.monotonic() - start:.2f}s after SIGTERM (TimeoutStopSec={cg['stop_grace_s']})")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert any(line.get("path") == cg["readiness_path"] and line.get("status") == 200 for line in lines), lines
        assert lines[-1]["msg"] == "stopped"
        # A bad setting in the team's file: the instance exits at once, naming it, in the unit's stderr file.
        team = root / cg["host"]["env_file"].lstrip("/")
        team.write_text(team.read_text() + f"{cg['env']['SHUTDOWN_TIMEOUT']}=soon\n")
        with open(out, "ab") as stdout, open(err, "ab") as stderr:
            bad = subprocess.run(argv, env=env, stdout=stdout, stderr=stderr, user="nobody", cwd=root, timeout=30)
        assert bad.returncode != 0
        assert cg["env"]["SHUTDOWN_TIMEOUT"] in err.read_text(), err.read_text()
    finally:
        shutil.rmtree(root, ignore_errors=True)
