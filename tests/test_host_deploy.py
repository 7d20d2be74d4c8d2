"""Deploys to a bare host over SSH (issue 14): deploy/host/deploy.sh, run as the host deploy
workflow runs it, against a real sshd on loopback and the bare-host stack the e2e tests build
(supervisord's instances behind the generated Nginx, tests/test_deploy_e2e.py), under bounded
load through Nginx: no request may fail during a deploy, a failed deploy or a rollback.

The host's layout lives under a temp dir (release.sh's PREFIX), the instances on free ports
(its PORTS), supervisorctl talks to the test's supervisord and the migrations run as
`nobody` (its SUPERVISORCTL and AS_SERVICE): the rest is the generated scripts as they are.
sshd pins nothing but what a host would: key login only, the host key checked against the
known_hosts file the workflow writes from its variable.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import deploy_tools as dt
from conftest import run
from test_deploy_e2e import NAME, VENV_BIN, LoadResult, answers_cg, running_stack, steady_load

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("deploy-e2e")]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """sshd on a free loopback port accepting one key for root; (port, key, known_hosts)."""
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    (port,) = dt.free_ports(1)
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\nLogLevel ERROR\n")  # as Debian's sshd_config
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory, as its package makes it
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "w"))  # noqa: SIM115
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {(d / 'host.pub').read_text().split(' ', 2)[0]} "
                     f"{(d / 'host.pub').read_text().split(' ', 2)[1]}\n")
    deadline = time.monotonic() + 10
    while subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known}", "-o",
                          "StrictHostKeyChecking=yes", "-i", str(d / "client"), "-p", str(port), "root@127.0.0.1",
                          "true"], capture_output=True).returncode != 0:
        assert time.monotonic() < deadline, (d / "sshd.log").read_text()
        time.sleep(0.2)
    yield port, d / "client", known
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def host(projects, built, sshd, request):
    """The stack with the binary where the host layout has it, and the env files where
    release.sh's migrations read them."""
    project = projects(NAME)
    bin_dir = str(Path(answers_cg()["host"]["bin_path"]).parent).lstrip("/")
    with running_stack(project, built(NAME), request, bin_dir=bin_dir) as st:
        cg = st.cg
        etc = st.pub / cg["host"]["env_file"].lstrip("/")
        etc.parent.mkdir(parents=True, exist_ok=True)
        for rel in (cg["host"]["env_file"], cg["host"]["secrets_env_file"]):
            (st.pub / rel.lstrip("/")).symlink_to(st.pub / "etc" / Path(rel).name)
        releases = st.pub / cg["host_deploy"]["releases_dir"].lstrip("/")
        releases.mkdir(parents=True)
        yield st


def build(project: Path, version: str, dst: Path) -> Path:
    """The project's binary, built with `version`, copied to dst."""
    run(["make", "build", f"VERSION={version}", "COMMIT=abc1234", "DATE=2026-01-02T03:04:05Z"], project)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(project / "bin" / dst.name, dst)
    return dst


def deploy(st, sshd, *args: str, hosts: str | None = None, known: Path | None = None,
           ready_wait: int = 60) -> subprocess.CompletedProcess:
    port, key, known_hosts = sshd
    remote = {
        "PREFIX": str(st.pub),
        "PORTS": " ".join(str(p) for p in st.ports),
        "MANAGER": "supervisord",
        "SUPERVISORCTL": f"{VENV_BIN / 'supervisorctl'} -c {st.pub / 'supervisor' / 'supervisord.conf'}",
        "AS_SERVICE": "runuser -u nobody --",
        "READY_WAIT": str(ready_wait),
    }
    env = {
        "PATH": os.environ["PATH"],
        "DEPLOY_HOSTS": hosts or f"root@127.0.0.1:{port}",
        "DEPLOY_SSH_KEY_FILE": str(key),
        "DEPLOY_KNOWN_HOSTS_FILE": str(known or known_hosts),
        "DEPLOY_REMOTE_ENV": " ".join(f"{k}={shlex.quote(v)}" for k, v in remote.items()),
    }
    proc = subprocess.run(["sh", str(st.project / "deploy/host/deploy.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=600)
    print(f"[host-deploy] deploy.sh {' '.join(args)} -> {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


def versions(st) -> list[str]:
    """The build version each instance reports, asked directly as release.sh does."""
    out = []
    for port in st.ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{st.cg['version_path']}", timeout=5) as r:
            out.append(json.loads(r.read())["version"])
    return out


def under_load(st, action, tag: str):
    """Run action() while GETs go through Nginx steadily and POSTs create products; return
    (action's result, the GET load, the POST failures)."""
    stop = threading.Event()
    box: dict = {}
    loader = threading.Thread(target=lambda: box.setdefault(
        "r", steady_load(st, 100_000, 60.0, 4, 300, tag, stop=stop)))
    posts: list = []
    sent = [0]

    def poster():
        conn = st.https()
        i = 0
        while not stop.is_set():
            i += 1
            body = f'{{"sku":"{tag}-{i}","name":"Deploy {i}","price_cents":{i}}}'
            try:
                conn.request("POST", "/api/v1/products", body=body,
                             headers={"Content-Type": "application/json", "X-Request-ID": f"{tag}-p{i}"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 201:
                    posts.append((i, resp.status))
            except Exception as exc:  # noqa: BLE001 - a failed request, counted
                posts.append((i, repr(exc)))
                conn.close()
                conn = st.https()
            sent[0] += 1
            time.sleep(0.05)
        conn.close()

    post_thread = threading.Thread(target=poster)
    loader.start()
    post_thread.start()
    time.sleep(1)
    try:
        result = action()
        time.sleep(1)
    finally:
        stop.set()
        loader.join(timeout=60)
        post_thread.join(timeout=60)
    load: LoadResult = box["r"]
    st.reports[f"load {tag}"] = f"{load.sent} GETs, {len(load.failed)} failed; {sent[0]} POSTs, {len(posts)} failed"
    return result, load, posts, sent[0]


def test_rolling_deploys_and_rollbacks_fail_no_request(host, sshd, projects, tmp_path):
    st = host
    cg = st.cg
    project = projects(NAME)
    name = cg["binary"]
    bin_link = st.pub / cg["host"]["bin_path"].lstrip("/")
    releases = st.pub / cg["host_deploy"]["releases_dir"].lstrip("/")
    v1 = build(project, "1.0.0", tmp_path / "v1" / name)
    v2 = build(project, "2.0.0", tmp_path / "v2" / name)

    # First deploy: the installed binary becomes a link to release 1.0.0.
    first = deploy(st, sshd, "activate", "1.0.0", str(v1))
    assert first.returncode == 0, first.stderr
    assert bin_link.is_symlink() and os.readlink(bin_link) == str(releases / "1.0.0" / name)
    assert versions(st) == ["1.0.0"] * len(st.ports)

    # 2.0.0 under load: every instance restarted on it, not one request failed.
    t0 = time.monotonic()
    proc, load, posts, nposts = under_load(st, lambda: deploy(st, sshd, "activate", "2.0.0", str(v2)), "dep2")
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert versions(st) == ["2.0.0"] * len(st.ports)
    assert os.readlink(releases / "previous") == str(releases / "1.0.0" / name)
    assert load.sent > 200 and not load.failed, load.failed[:10]
    assert nposts > 50 and not posts, posts[:10]
    st.reports["deploy 2.0.0"] = f"{len(st.ports)} instances restarted in {took:.0f}s under load: {st.reports['load dep2']}"

    # Rollback under load: back to 1.0.0 everywhere.
    proc, load, posts, nposts = under_load(st, lambda: deploy(st, sshd, "rollback"), "rb")
    assert proc.returncode == 0, proc.stderr
    assert versions(st) == ["1.0.0"] * len(st.ports)
    assert load.sent > 200 and not load.failed, load.failed[:10]
    assert not posts, posts[:10]

    # A release whose instances do not start: the first instance is not ready in time, the host
    # goes back to 1.0.0 by itself, deploy.sh fails; still no request failed.
    broken = tmp_path / "v3" / name
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\n"
                      'case "$1" in version) echo \'{"version":"3.0.0"}\'; exit 0 ;; migrate) exit 0 ;; esac\n'
                      'echo "invalid configuration: a setting this release needs is missing" >&2; exit 1\n')
    broken.chmod(0o755)
    proc, load, posts, _ = under_load(st, lambda: deploy(st, sshd, "activate", "3.0.0", str(broken), ready_wait=8), "bad")
    assert proc.returncode != 0 and "3.0.0 was not activated" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert versions(st) == ["1.0.0"] * len(st.ports)
    assert os.readlink(bin_link) == str(releases / "1.0.0" / name)
    assert os.readlink(releases / "previous") == str(releases / "2.0.0" / name), "a failed release is never 'before'"
    assert not load.failed and not posts, (load.failed[:5], posts[:5])

    # Two hosts, the second unreachable: the first, already on 2.0.0, is rolled back to 1.0.0.
    port = sshd[0]
    (dead,) = dt.free_ports(1)
    proc = deploy(st, sshd, "activate", "2.0.0", str(v2), hosts=f"root@127.0.0.1:{port},root@127.0.0.1:{dead}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"root@127.0.0.1:{dead} failed" in out and "went back" in out, out
    assert versions(st) == ["1.0.0"] * len(st.ports)

    # A host whose key is not the pinned one is refused before anything is sent.
    wrong = tmp_path / "wrong_known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    wrong.write_text(f"[127.0.0.1]:{port} " + " ".join((tmp_path / "other.pub").read_text().split()[:2]) + "\n")
    before = sorted(p.name for p in releases.iterdir())
    proc = deploy(st, sshd, "activate", "4.0.0", str(v2), known=wrong)
    assert proc.returncode != 0 and "Host key verification failed" in proc.stderr, proc.stderr
    assert sorted(p.name for p in releases.iterdir()) == before and versions(st) == ["1.0.0"] * len(st.ports)

    # Bad input is refused with a message, nothing sent.
    for args, message in ((("activate", "../x", str(v2)), "VERSION must be"),
                          (("activate", "5.0.0", str(tmp_path / "missing")), "no binary at"),
                          (("promote",), "usage:")):
        proc = deploy(st, sshd, *args)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    proc = subprocess.run(["sh", str(st.project / "deploy/host/deploy.sh"), "rollback"],
                          env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "DEPLOY_HOSTS is empty" in proc.stderr
    print("[host-deploy] " + "; ".join(f"{k}: {v}" for k, v in st.reports.items()))


def test_the_sudo_rules_parse_and_allow_only_restarts_and_migrations(projects):
    project = projects(NAME)
    sudoers = project / "deploy/host/sudoers"
    assert subprocess.run(["visudo", "-cf", str(sudoers)], capture_output=True).returncode == 0
    text = sudoers.read_text()
    bad = sudoers.with_name("sudoers.bad")
    bad.write_text(text.replace("NOPASSWD:", "NOPASSWD"))
    assert subprocess.run(["visudo", "-cf", str(bad)], capture_output=True).returncode != 0
    bad.unlink()
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    commands = " ".join(rules)
    for word in ("ALL = (ALL)", "NOPASSWD: ALL", "/bin/sh", "bash"):
        assert word not in commands, word
