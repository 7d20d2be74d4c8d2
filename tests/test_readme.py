"""Full tier: the README's first command generates a service from the defaults and runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest
from conftest import ROOT, free_port, go_env


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_opens_with_the_two_commands():
    assert readme_commands() == ["scripts/try", "scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^scripts/test$", ci, re.M), "CI must run the README's test command"


@pytest.mark.slow
def test_try_generates_and_runs_the_default_service(tmp_path):
    port = free_port()
    env = dict(go_env(), EXAMPLE_SERVICE_HTTP_PORT=str(port))
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "try"), str(tmp_path / "svc")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=2) as resp:
                    body = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(1)
        assert body == {"status": "ok"}, proc.poll() is not None and proc.communicate()
        assert (tmp_path / "svc" / "cmd" / "example-service" / "main.go").is_file()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert '"msg":"stopped"' in out, (out[-2000:], err[-2000:])
