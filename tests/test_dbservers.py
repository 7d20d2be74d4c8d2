"""The database test harness itself (tests/dbservers.py): real servers start, answer their
clients with the URLs the services get, go down and come back on the same port with their
data, give each test its own database, and fail loudly when they cannot run."""

from __future__ import annotations

import socket
import subprocess
from urllib.parse import urlsplit

import pytest

import dbservers
from dbservers import MariaDBServer, PostgresServer, RedisServer, ServerError, ident
from dbservers import mariadb_server, mariadb_url, postgres_server, postgres_url, redis_server, redis_url  # noqa: F401

KINDS = ["postgres", "mariadb", "redis"]


def real(test):
    """Real servers: full tier, per engine, in one xdist group (so that, once loadgroup groups
    again, only one worker starts them; see pytest-xdist#1386)."""
    test = pytest.mark.parametrize("kind", KINDS)(test)
    return pytest.mark.slow(pytest.mark.xdist_group("dbservers")(test))


def client(url: str, statement: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run one statement with the engine's own command-line client, connecting by url."""
    u = urlsplit(url)
    if u.scheme == "postgres":
        cmd = [PostgresServer.binaries()["psql"], "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", statement]
    elif u.scheme == "mysql":
        cmd = [MariaDBServer.binaries()["mariadb"], "--no-defaults", "--protocol=tcp", f"--host={u.hostname}",
               f"--port={u.port}", f"--user={u.username}", f"--password={u.password}", "--batch",
               "--skip-column-names", "--connect-timeout=3", u.path.lstrip("/"), "-e", statement]
    else:  # not redis-cli -u: redis-cli 7.0 sends the empty user name of `redis://:PW@` to AUTH
        cmd = [RedisServer.binaries()["redis-cli"], "-h", u.hostname, "-p", str(u.port), "--no-auth-warning",
               "-a", u.password, "-n", u.path.lstrip("/"), *statement.split()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def ok(url: str, statement: str) -> str:
    proc = client(url, statement)
    # redis-cli exits 0 on server errors: they come as "(error) ..." or "ERR ..." on stdout.
    assert proc.returncode == 0 and not proc.stdout.startswith(("ERR", "NOAUTH", "WRONGPASS")), (
        f"{statement!r} on {url}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout.strip()


def fails(url: str, statement: str) -> str:
    proc = client(url, statement)
    failed = proc.returncode != 0 or proc.stdout.startswith(("ERR", "NOAUTH", "WRONGPASS"))
    assert failed, f"{statement!r} on {url} succeeded: {proc.stdout}"
    return proc.stdout + proc.stderr


def with_password(url: str, password: str) -> str:
    u = urlsplit(url)
    netloc = f"{u.username or ''}:{password}@{u.hostname}:{u.port}"
    return u._replace(netloc=netloc).geturl()


# Statements per engine: write a marker, read it back, check a table is absent.
WRITE = {
    "postgres": "create table marker (v text); insert into marker values ('kept')",
    "mariadb": "create table marker (v varchar(10)); insert into marker values ('kept')",
    "redis": "SET marker kept",
}
READ = {"postgres": "select v from marker", "mariadb": "select v from marker", "redis": "GET marker"}
PING = {"postgres": "select 1", "mariadb": "select 1", "redis": "PING"}


@pytest.fixture
def server(kind, request):
    return request.getfixturevalue(f"{kind}_server")


# ----------------------------------------------------------------------------- fast tier


def test_ident_makes_safe_short_unique_names():
    assert ident("test_outage[postgres]") == "test_outage_postgres"
    assert ident("9lives") == "d_9lives"
    long_a, long_b = ident("x" * 100 + "a"), ident("x" * 100 + "b")
    assert len(long_a) <= 48 and long_a != long_b


@pytest.mark.parametrize("cls", [PostgresServer, MariaDBServer, RedisServer])
def test_missing_binaries_fail_and_say_to_run_bootstrap(cls, monkeypatch, tmp_path):
    monkeypatch.setenv("PG_BINDIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(dbservers, "SBIN_DIRS", ())
    assert not cls.available()
    with pytest.raises(pytest.fail.Exception, match="scripts/bootstrap"):
        next(dbservers._session(cls))  # what the session fixtures do: fail, never skip
    with pytest.raises(ServerError, match="scripts/bootstrap"):
        cls().start()


def test_directories_of_killed_test_processes_are_swept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    mine, gone = tmp_path / "cg-redis-mine", tmp_path / "cg-redis-gone"
    for directory, pid in ((mine, 1), (gone, dead.pid)):  # pid 1 is alive
        directory.mkdir()
        (directory / dbservers.OWNER_FILE).write_text(f"{pid}\n")
    dbservers._sweep_leftovers(str(tmp_path))
    assert mine.exists() and not gone.exists()


def test_the_servers_are_installed():
    """Not a skip anywhere: without the packages the suite fails here first."""
    for cls in (PostgresServer, MariaDBServer, RedisServer):
        assert cls.available(), f"{cls.__name__} lacks {cls.missing()}: {dbservers.BOOTSTRAP_HINT}"


# ----------------------------------------------------------------------------- real servers


@real
def test_server_answers_its_client_with_the_contract_url(kind, server):
    u = urlsplit(server.url)
    assert u.scheme == {"postgres": "postgres", "mariadb": "mysql", "redis": "redis"}[kind]
    assert (u.hostname, u.port, u.password) == ("127.0.0.1", server.port, server.password)
    if kind == "postgres":
        assert (u.username, u.path, u.query) == ("app", "/app", "sslmode=disable")
    elif kind == "mariadb":
        assert (u.username, u.path, u.query) == ("app", "/app", "")
    else:
        assert (u.username, u.path) == ("", "/0")
    assert ok(server.url, PING[kind]) in ("1", "PONG")
    fails(with_password(server.url, "wrong"), PING[kind])  # a password is required


@real
def test_stop_cuts_connections_and_start_comes_back_on_the_same_port_with_the_data(kind, server):
    url = server.create_database("outage")
    ok(url, WRITE[kind])
    port = server.port
    server.stop()
    assert not server.running
    fails(url, PING[kind])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "nothing listens while stopped"
    server.start()
    assert server.port == port and server.running
    assert ok(url, READ[kind]) == "kept"
    with server.outage():  # the same, as a context manager
        fails(url, PING[kind])
    assert ok(url, READ[kind]) == "kept"


@real
def test_create_database_gives_independent_databases(kind, server, request):
    first = request.getfixturevalue(f"{kind}_url")  # the per-test fixture
    second = server.create_database(request.node.name)  # the same name again: still a new one
    assert first != second
    ok(first, WRITE[kind])
    assert ok(first, READ[kind]) == "kept"
    if kind == "redis":
        assert ok(second, READ[kind]) == ""  # nil: another database number
        assert ok(second, "DBSIZE") == "0"
    else:
        fails(second, READ[kind])  # no such table there
        # and the second database's user cannot reach the first database
        other = urlsplit(second)._replace(path=urlsplit(first).path).geturl()
        fails(other, READ[kind])


@pytest.mark.slow
def test_a_server_that_cannot_start_reports_its_log():
    server = RedisServer(extra_args=("--no-such-directive", "x"))
    with pytest.raises(ServerError) as err:
        server.start()
    server.close()
    assert "exited" in str(err.value) and "no-such-directive" in str(err.value)


@pytest.mark.slow
def test_first_start_moves_off_a_taken_port_and_close_removes_everything(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # bound, not listening: probes are refused at once
        busy = taken.getsockname()[1]
        # A fixed port that is taken: a clear error, no silent move.
        with pytest.raises(ServerError, match="Address already in use"):
            with RedisServer(port=busy):
                pass
        # A picked port that another process takes first: start() picks another.
        ports = iter([busy])
        real_pick = dbservers.pick_port
        monkeypatch.setattr(dbservers, "pick_port", lambda: next(ports, None) or real_pick())
        with RedisServer() as server:
            assert server.port != busy and ok(server.url, "PING") == "PONG"
            directory, proc = server.dir, server.proc
        assert not directory.exists() and proc.poll() is not None
