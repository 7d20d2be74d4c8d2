"""Real PostgreSQL, MariaDB and Redis servers for the tests, from Debian packages, no containers.

Each server runs from this machine's packages (scripts/bootstrap.d/70-databases.sh) in its own
temporary directory, listening on 127.0.0.1 only, on a free port picked below the kernel's
ephemeral range (so no outgoing connection can take it while the server is stopped), with a
unix socket in the same directory that the harness uses as the administrator. Durability
settings are off for speed (fsync, doublewrite, ...); a clean stop() still keeps the data.

    with PostgresServer("app") as pg:            # initdb, start, role + database "app"
        pg.url                                   # postgres://app:PW@127.0.0.1:PORT/app?sslmode=disable
        url = pg.create_database("test_x")       # a fresh, independent database and role
        pg.query("select 1", database="app")     # psql as the superuser, over the socket
        pg.stop(); pg.start()                    # an outage; same port, data kept
    # closed: stopped and its directory removed

MariaDBServer (``mysql://USER:PW@127.0.0.1:PORT/DB``) and RedisServer
(``redis://:PW@127.0.0.1:PORT/N``, one database number per create_database) work the same.

Pytest fixtures (this module is a plugin; import it with ``pytest_plugins = ["dbservers"]``
or ``from dbservers import postgres_server, postgres_url  # noqa: F401``):

- ``postgres_server``, ``mariadb_server``, ``redis_server`` (session): one started server per
  test process (each xdist worker has its own), closed at the end of the session;
- ``postgres_url``, ``mariadb_url``, ``redis_url`` (function): a fresh database on that server
  for the test, as a URL; the server is started again first if an earlier test left it stopped.

A missing server binary fails the test (CI runs everything), saying to run scripts/bootstrap.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import ctypes
import glob
import hashlib
import itertools
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path

import pytest

BOOTSTRAP_HINT = "run scripts/bootstrap (scripts/bootstrap.d/70-databases.sh installs them)"
START_TIMEOUT = float(os.environ.get("COPIER_GIN_DB_START_TIMEOUT", "30"))
STOP_TIMEOUT = 30.0
HOST = "127.0.0.1"
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/libexec")

_PORT_IN_USE = re.compile(r"Address already in use|could not bind|Bind on TCP/IP port", re.I)
_LIVE: weakref.WeakSet[_Server] = weakref.WeakSet()


class ServerError(RuntimeError):
    """A server did not start, stop or answer; the message carries its log's tail."""


class _PortInUse(ServerError):
    pass


# ----------------------------------------------------------------------------- helpers


def which(*names: str) -> str | None:
    """The first of names found on PATH or in the sbin directories (mariadbd lives in /usr/sbin)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


def ident(name: str, limit: int = 48) -> str:
    """A safe SQL identifier from any name (a test's node name, say): lowercase [a-z0-9_], short
    enough for PostgreSQL (63) and MariaDB (64) names, kept distinct for long names by a hash."""
    out = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "db"
    if not out[0].isalpha():
        out = "d_" + out
    if len(out) > limit:
        out = out[: limit - 9].rstrip("_") + "_" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return out


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The servers bind with SO_REUSEADDR too: a port in TIME_WAIT is free for them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def pick_port() -> int:
    """A free loopback port below the ephemeral range when there is room, else any free one.

    Below the ephemeral range no client socket (nor any other test's bind-to-0 free port) can
    take the port while the server is stopped for an outage test; the random choice keeps
    parallel test processes apart, and start() retries with another port if one still races.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low > 16000:
        for _ in range(50):
            port = random.randint(15000, low - 1)
            if _port_free(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _tmp_parent() -> str:
    """A parent for the servers' directories: short (unix socket paths are limited to ~107
    bytes) and traversable by other users (PostgreSQL runs as `postgres` when we are root)."""
    parent = tempfile.gettempdir()
    if len(parent) > 40:
        return "/tmp"
    path = Path(parent)
    for part in [path, *path.parents]:
        if part.stat().st_mode & 0o001 == 0:
            return "/tmp"
    return parent


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(empty log)"


OWNER_FILE = "dbservers.owner"


def _sweep_leftovers(parent: str) -> None:
    """Remove server directories left by test processes that were killed (their servers died
    with them, see _die_with_parent): those whose owner pid is gone."""
    for owner in glob.glob(os.path.join(parent, "cg-*-*", OWNER_FILE)):
        try:
            pid = int(Path(owner).read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(Path(owner).parent, ignore_errors=True)
        except PermissionError:
            pass


def _die_with_parent(sig: int):
    """preexec_fn: the server gets sig when the test process dies without closing it."""
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec():
        libc.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG

    return preexec


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.close()


# ----------------------------------------------------------------------------- base


class _Server(abc.ABC):
    """Common lifecycle: a directory, a process, readiness polling, stop/start, close."""

    kind = "server"
    stop_signal = signal.SIGTERM
    death_signal = signal.SIGTERM
    _counter = itertools.count(1)

    def __init__(self, name: str = "app", *, port: int | None = None, extra_args: tuple[str, ...] = ()):
        self.name = ident(name)
        self.user = self.name
        self.database = self.name
        self.password = secrets.token_hex(12)
        self.port: int | None = port
        self._fixed_port = port is not None
        self.extra_args = tuple(extra_args)
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self._ready_once = False
        self._names: set[str] = set()

    # --- what a subclass provides (each server class implements the abstract ones)
    @classmethod
    @abc.abstractmethod
    def binaries(cls) -> dict[str, str | None]:
        """The server's and its client's executables, None where missing."""

    def _initialize(self) -> None:
        """Create the data directory (first start only)."""

    @abc.abstractmethod
    def _command(self) -> list[str]:
        """The server's command line."""

    def _popen_kwargs(self) -> dict:
        return {}

    @abc.abstractmethod
    def _ready(self) -> bool:
        """Whether the server answers its client."""

    def _setup(self) -> None:
        """First start, once ready: the main database and user."""

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The URL of the server's main database."""

    # --- availability
    @classmethod
    def missing(cls) -> list[str]:
        """What this machine lacks to run the server (empty when it can)."""
        return [name for name, path in cls.binaries().items() if path is None]

    @classmethod
    def available(cls) -> bool:
        return not cls.missing()

    @classmethod
    def require(cls) -> None:
        """Fail the test (never skip) when the server cannot run here."""
        missing = cls.missing()
        if missing:
            pytest.fail(f"{cls.__name__} needs {', '.join(missing)}, not found: {BOOTSTRAP_HINT}", pytrace=False)

    # --- lifecycle
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> _Server:
        """Start the server (the first time: create it, its database and user); no-op if running.

        Again after stop(), on the same port with the same data.
        """
        if self.running:
            return self
        missing = self.missing()
        if missing:
            raise ServerError(f"{type(self).__name__} needs {', '.join(missing)}: {BOOTSTRAP_HINT}")
        if self.dir is None:
            parent = _tmp_parent()
            _sweep_leftovers(parent)
            self.dir = Path(tempfile.mkdtemp(prefix=f"cg-{self.kind}-", dir=parent))
            (self.dir / OWNER_FILE).write_text(f"{os.getpid()}\n")
            self.log_path = self.dir / f"{self.kind}.log"
            _LIVE.add(self)
            self._initialize()
        retries = 3 if not self._fixed_port and not self._ready_once else 1
        for attempt in range(retries):
            if self.port is None or (attempt and not self._fixed_port):
                self.port = pick_port()
            try:
                self._launch()
                break
            except _PortInUse:
                if attempt == retries - 1:
                    raise
        if not self._ready_once:
            self._ready_once = True
            self._setup()
        return self

    def _launch(self) -> None:
        assert self.dir is not None and self.log_path is not None
        with open(self.log_path, "ab") as log:
            log.write(f"=== dbservers: starting {self.kind} on {HOST}:{self.port}\n".encode())
            log.flush()
            offset = log.tell()
            kwargs = self._popen_kwargs()
            if threading.current_thread() is threading.main_thread():
                kwargs["preexec_fn"] = _die_with_parent(self.death_signal)
            self.proc = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True, env=self._env(), **kwargs,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            code = self.proc.poll()
            if code is not None:
                self.proc = None
                with open(self.log_path, "rb") as log:
                    log.seek(offset)
                    this_start = log.read().decode(errors="replace")
                error = _PortInUse if _PORT_IN_USE.search(this_start) else ServerError
                raise error(f"{self.kind} exited with {code} while starting on {HOST}:{self.port}; "
                            f"log {self.log_path}:\n{_tail(self.log_path)}")
            if self._ready():
                return
            if time.monotonic() > deadline:
                self._kill()
                raise ServerError(f"{self.kind} was not ready on {HOST}:{self.port} after {START_TIMEOUT:.0f} s; "
                                  f"log {self.log_path}:\n{_tail(self.log_path)}")
            time.sleep(0.05)

    def _probe(self, cmd: list[str]) -> subprocess.CompletedProcess | None:
        """Run a readiness probe; None when it hangs (a port that accepts but never answers)."""
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  env=self._env(), timeout=3)
        except subprocess.TimeoutExpired:
            return None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MYSQL", "REDIS"))}
        env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
        return env

    def stop(self) -> None:
        """Stop the server quickly and cleanly (open connections are cut); its data is kept."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill()
                raise ServerError(f"{self.kind} did not stop within {STOP_TIMEOUT:.0f} s; "
                                  f"log {self.log_path}:\n{_tail(self.log_path)}") from None
        self.proc = None

    def _kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self.stop()
        except ServerError:
            pass
        finally:
            self._kill()
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
            _LIVE.discard(self)

    @contextlib.contextmanager
    def outage(self):
        """with server.outage(): ... -- the server is down inside, up again (same port) after."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def __enter__(self) -> _Server:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.name} {HOST}:{self.port} {state} {self.dir}>"

    def _unique(self, name: str | None) -> str:
        """A database/user name not used yet on this server."""
        base = ident(name or f"db_{next(self._counter)}", limit=40)
        out = base
        while out in self._names or out == self.name:
            out = f"{base}_{secrets.token_hex(3)}"
        self._names.add(out)
        return out

    def _run(self, cmd: list[str], what: str, input: str | None = None, timeout: float = 60) -> str:
        proc = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout,
                              env=self._env(), cwd=self.dir)
        if proc.returncode != 0:
            raise ServerError(f"{what}: {' '.join(cmd)} exited {proc.returncode}\n"
                              f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}\n"
                              f"--- server log {self.log_path}\n{_tail(self.log_path, 15)}")
        return proc.stdout


# ----------------------------------------------------------------------------- PostgreSQL


class _SQLServer(_Server):
    """A server of SQL databases: each database has its own user and password."""

    @abc.abstractmethod
    def _create(self, name: str, password: str) -> None:
        """Create database name with a user of the same name and this password."""

    @abc.abstractmethod
    def url_for(self, name: str, password: str | None = None) -> str:
        """The URL of database name for its user."""

    @property
    def url(self) -> str:
        return self.url_for(self.name)

    def create_database(self, name: str | None = None) -> str:
        """A new database with a user of its own (all privileges on it only) and a password; its URL."""
        self.start()
        db = self._unique(name)
        password = secrets.token_hex(12)
        self._create(db, password)
        return self.url_for(db, password)


class PostgresServer(_SQLServer):
    """PostgreSQL from Debian's postgresql package (/usr/lib/postgresql/<version>/bin).

    PostgreSQL refuses to run as root: when we are root, initdb and postgres run as the
    `postgres` user (the package creates it) and the directory belongs to it. The superuser
    `postgres` logs in over the unix socket without a password (trust); TCP needs a password
    (scram-sha-256), as in production.
    """

    kind = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: sessions are cut, data is kept
    death_signal = signal.SIGQUIT  # "immediate" shutdown

    @classmethod
    def bindir(cls) -> Path | None:
        if os.environ.get("PG_BINDIR"):
            return Path(os.environ["PG_BINDIR"])
        found = glob.glob("/usr/lib/postgresql/*/bin/postgres")
        if found:
            newest = max(found, key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parent.parent.name)] or [0])
            return Path(newest).parent
        initdb = shutil.which("initdb")
        return Path(initdb).parent if initdb else None

    @classmethod
    def binaries(cls) -> dict[str, str | None]:
        bindir = cls.bindir()
        out = {}
        for name in ("initdb", "postgres", "pg_isready", "psql"):
            path = bindir / name if bindir else None
            out[name] = str(path) if path and os.access(path, os.X_OK) else None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
                out["user postgres"] = "postgres"
            except KeyError:
                out["user postgres"] = None
        return out

    @classmethod
    def version(cls) -> str:
        return subprocess.run([cls.binaries()["postgres"], "--version"], capture_output=True, text=True).stdout.strip()

    def _popen_kwargs(self) -> dict:
        if os.geteuid() == 0:
            return {"user": "postgres", "group": "postgres", "extra_groups": []}
        return {}

    def _initialize(self) -> None:
        assert self.dir is not None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self._admin_password = secrets.token_hex(12)
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self._admin_password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        try:
            self._run_as_owner([
                self.binaries()["initdb"], "-D", str(self.data_dir), "-U", "postgres", f"--pwfile={pwfile}",
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                "--no-sync", "--no-instructions",
            ], "initdb")
        finally:
            pwfile.unlink(missing_ok=True)

    def _run_as_owner(self, cmd: list[str], what: str) -> str:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=self._env(), cwd=self.dir,
                              **self._popen_kwargs())
        if proc.returncode != 0:
            raise ServerError(f"{what} exited {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n"
                              f"--- stderr\n{proc.stderr[-3000:]}")
        return proc.stdout

    @property
    def data_dir(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.dir is not None
        return self.dir

    def _command(self) -> list[str]:
        settings = {
            "listen_addresses": HOST,
            "unix_socket_directories": str(self.socket_dir),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_connections": "100",
            "huge_pages": "off",
            "logging_collector": "off",
            "timezone": "UTC",
        }
        cmd = [self.binaries()["postgres"], "-D", str(self.data_dir), "-p", str(self.port)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd + list(self.extra_args)

    def _ready(self) -> bool:
        proc = self._probe([self.binaries()["pg_isready"], "-q", "-h", HOST, "-p", str(self.port), "-t", "1"])
        return proc is not None and proc.returncode == 0

    def query(self, *sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser over the unix socket, each argument in its own transaction;
        return psql's unaligned, tuples-only output."""
        cmd = [self.binaries()["psql"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres", "-d", database]
        for statement in sql:
            cmd += ["-c", statement]
        return self._run(cmd, "psql")

    def _create(self, name: str, password: str) -> None:
        self.query(
            f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'",
            f'CREATE DATABASE "{name}" OWNER "{name}"',
            f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC',  # only its owner (and the superuser) connects
        )

    def _setup(self) -> None:
        self._create(self.name, self.password)

    def url_for(self, name: str, password: str | None = None) -> str:
        return f"postgres://{name}:{password or self.password}@{HOST}:{self.port}/{name}?sslmode=disable"



# ----------------------------------------------------------------------------- MariaDB


class MariaDBServer(_SQLServer):
    """MariaDB (MySQL protocol) from Debian's mariadb-server package.

    Runs as the current user (`--user=root` when we are root, which mariadbd otherwise
    refuses). `root@localhost` has no password and is reached over the unix socket only;
    TCP users need a password. utf8mb4 with MariaDB 11's default collation, as the compose
    image runs.
    """

    kind = "mariadb"

    @classmethod
    def binaries(cls) -> dict[str, str | None]:
        return {
            "mariadbd": which("mariadbd", "mysqld"),
            "mariadb-install-db": which("mariadb-install-db", "mysql_install_db"),
            "mariadb": which("mariadb", "mysql"),
            "mariadb-admin": which("mariadb-admin", "mysqladmin"),
        }

    @classmethod
    def version(cls) -> str:
        return subprocess.run([cls.binaries()["mariadbd"], "--version"], capture_output=True, text=True).stdout.strip()

    @property
    def data_dir(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    @property
    def socket_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "mariadb.sock"

    @staticmethod
    def _os_user() -> str:
        return pwd.getpwuid(os.geteuid()).pw_name

    def _initialize(self) -> None:
        self._run([
            self.binaries()["mariadb-install-db"], "--no-defaults", f"--datadir={self.data_dir}",
            f"--user={self._os_user()}", "--auth-root-authentication-method=normal", "--skip-test-db",
            "--skip-name-resolve",
        ], "mariadb-install-db", timeout=120)

    def _command(self) -> list[str]:
        assert self.dir is not None
        return [
            self.binaries()["mariadbd"], "--no-defaults",  # first: never read /etc/mysql
            f"--datadir={self.data_dir}", f"--user={self._os_user()}",
            f"--port={self.port}", f"--bind-address={HOST}", f"--socket={self.socket_path}",
            f"--pid-file={self.dir / 'mariadb.pid'}", f"--tmpdir={self.dir}",
            "--skip-name-resolve", "--skip-log-bin", "--performance-schema=0",
            "--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0", "--innodb-buffer-pool-size=32M",
            "--innodb-use-native-aio=0", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_uca1400_ai_ci", "--default-time-zone=+00:00",
            *self.extra_args,
        ]

    def _ready(self) -> bool:
        # ping answers 0 as soon as the server accepts TCP connections (even "access denied").
        proc = self._probe([self.binaries()["mariadb-admin"], "--no-defaults", "--protocol=tcp", f"--host={HOST}",
                            f"--port={self.port}", "--user=ping", "--connect-timeout=1", "ping"])
        return proc is not None and proc.returncode == 0

    def query(self, sql: str, database: str | None = None) -> str:
        """Run SQL as root over the unix socket; return the tab-separated rows without headers."""
        cmd = [self.binaries()["mariadb"], "--no-defaults", f"--socket={self.socket_path}", "--user=root",
               "--batch", "--skip-column-names", "-e", sql]
        return self._run(cmd + ([database] if database else []), "mariadb")

    def _create(self, name: str, password: str) -> None:
        self.query(
            f"CREATE DATABASE `{name}`; CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'; "
            f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{name}'@'%';"
        )

    def _setup(self) -> None:
        # install-db also creates password-less root@127.0.0.1, @::1 and @<hostname>: only the
        # socket's root@localhost stays.
        others = [h for h in self.query("SELECT Host FROM mysql.user WHERE User='root'").split() if h != "localhost"]
        if others:
            self.query("DROP USER " + ", ".join(f"'root'@'{h}'" for h in others))
        self._create(self.name, self.password)

    def url_for(self, name: str, password: str | None = None) -> str:
        return f"mysql://{name}:{password or self.password}@{HOST}:{self.port}/{name}"



# ----------------------------------------------------------------------------- Redis


class RedisServer(_Server):
    """Redis from Debian's redis-server package, with a password (requirepass).

    Databases are numbers: the server's own URL uses 0, each create_database() the next unused
    number (flushed), up to 255. A clean stop() saves the data (RDB) and start() loads it.
    """

    kind = "redis"
    DATABASES = 256

    def __init__(self, name: str = "app", **kwargs):
        super().__init__(name, **kwargs)
        self._next_db = 1

    @classmethod
    def binaries(cls) -> dict[str, str | None]:
        return {"redis-server": which("redis-server"), "redis-cli": which("redis-cli")}

    @classmethod
    def version(cls) -> str:
        proc = subprocess.run([cls.binaries()["redis-server"], "--version"], capture_output=True, text=True)
        return proc.stdout.strip()

    @property
    def socket_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "redis.sock"

    def _initialize(self) -> None:
        assert self.dir is not None
        (self.dir / "data").mkdir()
        (self.dir / "redis.conf").write_text(
            f"bind {HOST}\nprotected-mode yes\ndaemonize no\nlogfile \"\"\n"
            f"dir {self.dir / 'data'}\nunixsocket {self.socket_path}\nunixsocketperm 700\n"
            f"requirepass {self.password}\ndatabases {self.DATABASES}\n"
            # A save point makes a clean shutdown (SIGTERM) write the RDB that start() loads.
            "save 3600 1\nappendonly no\n"
        )

    def _command(self) -> list[str]:
        assert self.dir is not None
        return [self.binaries()["redis-server"], str(self.dir / "redis.conf"), "--port", str(self.port),
                *self.extra_args]

    def cli(self, *args: str, db: int = 0) -> str:
        """redis-cli over TCP with the password; its output."""
        return self._run([self.binaries()["redis-cli"], "-h", HOST, "-p", str(self.port), "--no-auth-warning",
                          "-a", self.password, "-n", str(db), *args], "redis-cli")

    def _ready(self) -> bool:
        proc = self._probe([self.binaries()["redis-cli"], "-h", HOST, "-p", str(self.port), "--no-auth-warning",
                            "-a", self.password, "ping"])
        return proc is not None and proc.stdout.strip() == "PONG"  # not while "LOADING"

    def url_for(self, db: int = 0) -> str:
        return f"redis://:{self.password}@{HOST}:{self.port}/{db}"

    @property
    def url(self) -> str:
        return self.url_for(0)

    def create_database(self, name: str | None = None) -> str:
        """The next unused database number, emptied; its URL (name is only informative here)."""
        self.start()
        if self._next_db >= self.DATABASES:
            raise ServerError(f"redis: all {self.DATABASES - 1} extra databases are in use")
        db, self._next_db = self._next_db, self._next_db + 1
        self.cli("FLUSHDB", db=db)
        return self.url_for(db)


# ----------------------------------------------------------------------------- pytest fixtures


def _session(cls: type[_Server]):
    cls.require()
    server = cls("app")
    try:
        server.start()
    except ServerError as exc:
        server.close()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server():
    """A started PostgresServer for this test process (database and user `app`)."""
    yield from _session(PostgresServer)


@pytest.fixture(scope="session")
def mariadb_server():
    """A started MariaDBServer for this test process (database and user `app`)."""
    yield from _session(MariaDBServer)


@pytest.fixture(scope="session")
def redis_server():
    """A started RedisServer for this test process (database 0)."""
    yield from _session(RedisServer)


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh PostgreSQL database (own role) for this test: its URL."""
    return postgres_server.create_database(request.node.name)


@pytest.fixture
def mariadb_url(mariadb_server, request) -> str:
    """A fresh MariaDB database (own user) for this test: its URL."""
    return mariadb_server.create_database(request.node.name)


@pytest.fixture
def redis_url(redis_server, request) -> str:
    """A fresh (empty) Redis database number for this test: its URL."""
    return redis_server.create_database(request.node.name)
