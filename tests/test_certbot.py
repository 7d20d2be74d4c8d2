"""HTTPS certificates on a bare host (the generated docs/deployment.md, "HTTPS certificates
from Let's Encrypt"): the generated Nginx serves certbot's HTTP-01 challenge files over
plain HTTP and redirects everything else; Debian's certbot gets a real certificate from
Pebble (Let's Encrypt's ACME test server, which validates the challenge by fetching it from
that Nginx); after `certbot renew`, the generated deploy hook reloads Nginx, which then
serves the renewed certificate."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

import deploy_tools as dt
from conftest import TOOLS_BIN
from test_deploy_e2e import wait_for
from test_deploy_static import cg_for

pytestmark = [pytest.mark.slow]
NAME = "default"


def wait_listening(port: int, what: str, timeout: float = 20) -> None:
    def listening():
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_for(listening, timeout, f"{what} listening on {port}")


def served_certificate(port: int, name: str) -> dict[str, str]:
    """The issuer and serial of the certificate Nginx presents for name."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-issuer", "-serial", "-ext", "subjectAltName"],
                         input=pem, capture_output=True, text=True, check=True).stdout
    return {"issuer": re.search(r"issuer=(.*)", out)[1], "serial": re.search(r"serial=(\w+)", out)[1], "text": out}


def served_if(port: int, name: str, wanted) -> dict[str, str] | None:
    cert = served_certificate(port, name)
    return cert if wanted(cert) else None


def steps_of(project: Path) -> list[str]:
    text = (project / "docs" / "deployment.md").read_text()
    block = re.search(r"<!-- steps: certbot -->\n```sh\n(.*?)```", text, re.S)
    assert block, "docs/deployment.md has no certbot steps"
    return block[1].splitlines()


@pytest.fixture
def acme(tmp_path):
    """Pebble and its DNS, which answers 127.0.0.1 for every name; the port Pebble fetches
    challenges from is given later (it is the test Nginx's HTTP port)."""
    procs: list[subprocess.Popen] = []

    def start(http_port: int) -> str:
        dns, mgmt, listen, pmgmt = dt.free_ports(4)
        procs.append(subprocess.Popen(
            [str(TOOLS_BIN / "pebble-challtestsrv"), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-dnsserver", f"127.0.0.1:{dns}", "-management", f"127.0.0.1:{mgmt}",
             "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        dt.self_signed_cert(tmp_path / "pebble", cn="localhost")
        config = tmp_path / "pebble" / "config.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"127.0.0.1:{listen}", "managementListenAddress": f"127.0.0.1:{pmgmt}",
            "certificate": str(tmp_path / "pebble" / "fullchain.pem"),
            "privateKey": str(tmp_path / "pebble" / "privkey.pem"),
            "httpPort": http_port, "tlsPort": dt.free_ports(1)[0], "externalAccountBindingRequired": False,
        }}))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        procs.append(subprocess.Popen(
            [str(TOOLS_BIN / "pebble"), "-config", str(config), "-dnsserver", f"127.0.0.1:{dns}"],
            stdout=open(tmp_path / "pebble.log", "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True))
        wait_listening(listen, "pebble")
        return f"https://127.0.0.1:{listen}/dir"

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def test_certbot_gets_and_renews_the_certificate_nginx_serves(projects, acme, tmp_path):
    project = projects(NAME)
    cg = cg_for(NAME)
    name = cg["nginx"]["server_name"]
    steps = steps_of(project)
    # The documented steps are the ones done below, with this machine's paths.
    for expected in (f"certbot certonly --webroot -w {cg['nginx']['acme_webroot']} -d {name} ",
                     f"ln -sf {cg['nginx']['certbot_live']}/fullchain.pem /etc/nginx/tls/fullchain.pem",
                     f"ln -sf {cg['nginx']['certbot_live']}/privkey.pem /etc/nginx/tls/privkey.pem",
                     f"install -D -m 0755 deploy/nginx/certbot-deploy-hook.sh {cg['nginx']['certbot_hook']}"):
        assert any(line.startswith(expected) for line in steps), (expected, steps)

    pub = dt.world_readable_tmpdir("cg-certbot-")
    nginx = None
    try:
        webroot = pub / "letsencrypt"
        webroot.mkdir()
        http_port, https_port = dt.free_ports(2)
        conf = dt.nginx_prefix(project, pub / "nginx", "nginx.conf", http_port=http_port, https_port=https_port,
                               acme_dir=webroot)
        assert dt.nginx_test(conf).returncode == 0
        nginx = subprocess.Popen(["nginx", "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_listening(https_port, "nginx")
        # `nginx` as the hook and the docs call it: this Nginx, with its prefix and config.
        wrapper = pub / "bin" / "nginx"
        wrapper.parent.mkdir()
        wrapper.write_text(f"#!/bin/sh\nexec {shutil.which('nginx')} -p {conf.parent} -c {conf} \"$@\"\n")
        wrapper.chmod(0o755)
        env = dict(os.environ, PATH=f"{wrapper.parent}:{os.environ['PATH']}")

        # The HTTP server: challenge files as plain text, anything else redirected.
        challenge = webroot / cg["nginx"]["acme_prefix"].strip("/") / "probe-token"
        challenge.parent.mkdir(parents=True)
        challenge.write_text("probe-token.key-authorization")
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        conn.request("GET", f"{cg['nginx']['acme_prefix']}probe-token", headers={"Host": name})
        resp = conn.getresponse()
        assert (resp.status, resp.read(), resp.getheader("Content-Type")) == (
            200, b"probe-token.key-authorization", "text/plain")
        conn.request("GET", f"{cg['nginx']['acme_prefix']}missing", headers={"Host": name})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 404
        conn.request("GET", "/.well-known/other", headers={"Host": name})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 308 and resp.getheader("Location") == f"https://{name}/.well-known/other"
        challenge.unlink()
        assert "Pebble" not in served_certificate(https_port, name)["issuer"], "starts on the self-signed pair"

        server = acme(http_port)
        le = pub / "letsencrypt-config"
        certbot = ["certbot", "--server", server, "--config-dir", str(le), "--work-dir", str(pub / "le-work"),
                   "--logs-dir", str(pub / "le-logs"), "--non-interactive"]
        certbot_env = dict(env, REQUESTS_CA_BUNDLE=str(tmp_path / "pebble" / "fullchain.pem"))
        got = subprocess.run([*certbot, "certonly", "--webroot", "-w", str(webroot), "-d", name, "--agree-tos",
                              "-m", "ops@example.com"], env=certbot_env, capture_output=True, text=True, timeout=300)
        assert got.returncode == 0, got.stdout + got.stderr + (tmp_path / "pebble.log").read_text()[-3000:]

        live = le / "live" / name
        tls = conf.parent / "tls"
        for pem in ("fullchain.pem", "privkey.pem"):
            (tls / pem).unlink()
            (tls / pem).symlink_to(live / pem)
        hook = le / "renewal-hooks" / "deploy" / Path(cg["nginx"]["certbot_hook"]).name
        hook.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / "deploy" / "nginx" / "certbot-deploy-hook.sh", hook)
        subprocess.run(["nginx", "-t", "-q"], env=env, check=True)
        subprocess.run(["nginx", "-s", "reload"], env=env, check=True)
        first = wait_for(lambda: served_if(https_port, name, lambda c: "Pebble" in c["issuer"]),
                         10, "Nginx serving the certificate Pebble issued")
        assert f"DNS:{name}" in first["text"]

        # A renewal of another name leaves Nginx alone.
        other = subprocess.run([str(hook)], env=dict(env, RENEWED_DOMAINS="other.example.org"),
                               capture_output=True, text=True, check=True)
        assert other.stdout == ""

        # Run without a terminal, `renew` first sleeps up to 8 minutes (spreading a fleet's
        # renewals, as certbot.timer wants): not here.
        renewed = subprocess.run([*certbot, "renew", "--force-renewal", "--no-random-sleep-on-renew"], env=certbot_env, capture_output=True,
                                 text=True, timeout=300)
        assert renewed.returncode == 0, renewed.stdout + renewed.stderr
        assert "Nginx reloaded with the renewed certificate" in renewed.stdout + renewed.stderr, renewed.stdout
        second = wait_for(lambda: served_if(https_port, name, lambda c: c["serial"] != first["serial"]),
                          10, "Nginx serving the renewed certificate, not the one from before the renewal")
        assert "Pebble" in second["issuer"]
    finally:
        if nginx is not None and nginx.poll() is None:
            os.killpg(nginx.pid, signal.SIGTERM)
            nginx.wait(timeout=30)
        shutil.rmtree(pub, ignore_errors=True)
