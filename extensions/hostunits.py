"""The bare host's process managers and its deploys: systemd units, log rotation, and the
rolling restart that deploys a new binary over SSH.

supervisord (deploy/supervisord) and systemd (deploy/systemd) run the same instances: the
same ports (the upstream Nginx balances over), admin ports, user, env files, log files
(the ones Filebeat reads) and stop timeout, all from settings.one_host(). This module adds
what only systemd and the deploy script need. Nothing here depends on Copier.
"""

from __future__ import annotations

from typing import Any, Mapping

# Resource limits of each instance. The memory limit is the Kubernetes container's
# (deploy/k8s/base/workload.yaml, 256Mi): the service reads it from its cgroup and holds
# its heap under GO_MEMORY_LIMIT_PERCENT of it; Go (1.25+) sizes GOMAXPROCS from CPUQuota.
MEMORY_MAX_MIB = 256
CPU_QUOTA_PERCENT = 100
LIMIT_NOFILE = 65536
TASKS_MAX = 512
# systemd restarts a failed instance after RESTART_SEC; more than START_LIMIT_BURST starts
# in START_LIMIT_INTERVAL_S leave it failed (a bad setting should not restart forever).
RESTART_SEC = 2
START_LIMIT_BURST = 5
START_LIMIT_INTERVAL_S = 60
# systemd-analyze security's exposure score the unit must not exceed (0 best, 10 worst;
# "OK" is up to 4.9): the tests hold the rendered unit to it.
SECURITY_EXPOSURE_MAX = 2.0
# logrotate: rotated copies go to a folder Filebeat's globs do not match (copytruncate
# makes a new file of lines Filebeat already shipped), as many as supervisord keeps.
ROTATED_DIR = "rotated"

# Deploys over SSH (deploy/host/): each host keeps its releases, `current` points at the
# one that runs; KEEP_RELEASES stay for rollbacks.
RELEASES_DIR = "releases"
KEEP_RELEASES = 5
DEPLOY_USER = "deploy"
# The host deploy workflow's settings, per GitHub environment: the hosts and their pinned
# public keys are variables (not secret), the SSH key a secret.
HOSTS_VAR = "HOST_DEPLOY_HOSTS"
KNOWN_HOSTS_VAR = "HOST_DEPLOY_KNOWN_HOSTS"
SSH_KEY_SECRET = "HOST_DEPLOY_SSH_KEY"
# How long the deploy waits for a restarted instance to answer /readyz, directly and
# through Nginx, before it gives up and rolls that host back.
READY_WAIT_S = 60


def systemd(cg: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Values of deploy/systemd/ (cg is derive()'s output so far)."""
    service = cg["service"]
    host = cg["host"]
    return {
        "enabled": bool(answers.get("with_systemd", False)),
        "unit": f"{service}@.service",
        "target": f"{service}.target",
        "units": [f"{service}@{i['http_port']}.service" for i in host["instances"]],
        "unit_dir": "/etc/systemd/system",
        # Each instance's ports, read by the template unit as EnvironmentFile=...-%i.env.
        "instance_env": f"/etc/{service}/instance-%i.env",
        "instance_envs": [f"/etc/{service}/instance-{i['http_port']}.env" for i in host["instances"]],
        "logrotate": f"/etc/logrotate.d/{service}",
        "rotated_dir": f"{host['log_dir']}/{ROTATED_DIR}",
        "memory_max": f"{MEMORY_MAX_MIB}M",
        "cpu_quota": f"{CPU_QUOTA_PERCENT}%",
        "limit_nofile": LIMIT_NOFILE,
        "tasks_max": TASKS_MAX,
        "restart_sec": RESTART_SEC,
        "start_limit_burst": START_LIMIT_BURST,
        "start_limit_interval_s": START_LIMIT_INTERVAL_S,
        "security_exposure_max": SECURITY_EXPOSURE_MAX,
    }


def managers(answers: Mapping[str, Any]) -> list[str]:
    """The host's process managers this project generates, supervisord first."""
    out = ["supervisord"] if answers.get("with_supervisord", True) else []
    return out + (["systemd"] if answers.get("with_systemd", False) else [])


def team_env_source(service: str, answers: Mapping[str, Any]) -> str:
    """The team's committed host settings (installed as host.env_file): supervisord's file
    when supervisord is generated (it came first), else systemd's."""
    folder = "supervisord" if answers.get("with_supervisord", True) else "systemd"
    return f"deploy/{folder}/{service}.env"


def deploy(cg: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Values of deploy/host/ (the rolling deploy over SSH)."""
    service = cg["service"]
    host = cg["host"]
    install = host["install_dir"]
    nginx = bool(answers.get("with_nginx", True))
    return {
        "releases_dir": f"{install}/{RELEASES_DIR}",
        # host.bin_path is a link to the running release's binary; `previous` to the one before.
        "previous": f"{install}/{RELEASES_DIR}/previous",
        "keep": KEEP_RELEASES,
        "user": DEPLOY_USER,
        "ready_wait_s": READY_WAIT_S,
        # After an instance is ready, Nginx may still count the failures of its restart for
        # fail_timeout: the next instance restarts once that has passed, so that Nginx always
        # has an instance it will use.
        "settle_s": cg["nginx"]["fail_timeout_s"] if nginx else 0,
        "sudoers": f"/etc/sudoers.d/{service}-deploy",
        # supervisorctl's and systemctl's names of each instance, in the order they restart.
        "supervisord_names": [f"{host['program']}:{i['program']}" for i in host["instances"]],
        "systemd_names": [f"{service}@{i['http_port']}.service" for i in host["instances"]],
        "ports": [i["http_port"] for i in host["instances"]],
        "hosts_var": HOSTS_VAR,
        "known_hosts_var": KNOWN_HOSTS_VAR,
        "key_secret": SSH_KEY_SECRET,
    }
