"""Shared fixtures: the fake upstream server and the real app as a subprocess.

Everything here is synchronous on purpose: e2e tests drive Playwright's sync API, which refuses to
run inside an asyncio loop, so no fixture in this file starts one in the main thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from services.store import close_database
from tests.fake_upstream import FakeUpstream

if TYPE_CHECKING:
    from tests.postgres import PostgresServer
    from tests.redis_server import RedisServer

# Must live in the top-level conftest (pytest rejects pytest_plugins in nested ones); only adds fixtures.
pytest_plugins = ["nicegui.testing.user_plugin"]

REPO_ROOT = Path(__file__).resolve().parent.parent
# Settings the app reads; stripped from the inherited environment so a developer's shell can't leak in.
APP_ENV_PREFIXES = ("AZURE_", "OPENAI_", "STREAMCHAT_", "AUTH_", "OIDC_")
APP_ENV_NAMES = {"DATABASE_URL", "LOCAL_MODEL_PATH", "IDLE_TIMEOUT_S", "FLUSH_INTERVAL_MS",
                 "PYTEST_CURRENT_TEST", "STORAGE_SECRET", "ALLOWED_HOSTS", "TRUSTED_PROXIES", "STATS_TOKEN",
                 "FORWARDED_ALLOW_IPS"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the item so fixtures can tell, at teardown, whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def node_failed(request: pytest.FixtureRequest) -> bool:
    node = request.node
    return any(getattr(getattr(node, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fast tests first: unit, then ui, then the browser tests, the `long` ones first among those (so
    that, run in two workers, they overlap with the rest instead of ending the run alone); browser
    tests but the smoke test are `slow`.

    Load-bearing, not cosmetic: once the session's sync Playwright starts it leaves an event loop
    running in the main thread, so every async test must have run before the first e2e test (xdist
    hands each worker its tests in this order, so that holds per worker too).
    `uv run pytest -m "not slow"` is the inner loop: every unit and ui test plus one real-browser run.
    """
    def rank(item: pytest.Item) -> int:
        parts = Path(str(item.path)).parts
        if "e2e" in parts:
            return 2 if item.get_closest_marker("long") else 3
        return 0 if "unit" in parts else 1

    for item in items:
        if rank(item) >= 2 and Path(str(item.path)).name != "test_smoke.py":
            item.add_marker(pytest.mark.slow)
    items.sort(key=rank)


TRACEBACK = "Traceback (most recent call last):"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never via a proxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- fake upstream
@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    """The session's fake server, emptied before and after each test."""
    fake_upstream_server.reset()
    yield fake_upstream_server
    fake_upstream_server.reset()


# ---------------------------------------------------------------- databases
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL per test process (each xdist worker has its own), started on first use."""
    from tests.postgres import PostgresServer  # it imports free_port from here

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """An empty database of this test's own on the session's server, dropped afterwards."""
    name = postgres_server.create_database()
    url = postgres_server.url(name)
    yield url
    close_database(url)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real Redis per test process, started on first use."""
    from tests.redis_server import RedisServer  # it imports free_port from here

    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """An empty Redis database of this test's own on the session's server."""
    return redis_server.fresh_url()


@pytest.fixture
def app_database() -> str:
    """Which database a test's app processes use; `@pytest.mark.postgres_too` runs the test on both."""
    return "sqlite"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("postgres_too"):
        metafunc.parametrize("app_database", ["sqlite", "postgres"])


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test runs twice: on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_url")
        return
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    yield url
    close_database(url)


# ---------------------------------------------------------------- the app as a subprocess
class AppServer:
    """`python app.py` on a free port with its own data dir; stdout/stderr go to `log_path`."""

    def __init__(self, env: dict[str, str], data_dir: Path, log_path: Path, port: int | None = None,
                 ready_timeout: float = 60.0, ready_path: str = "/") -> None:
        self.env = env
        self.ready_path = ready_path  # "/healthz" where "/" needs a sign-in (AUTH_MODE header|oidc)
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = port or free_port()
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_shown = False  # the log tail is already in a failure message

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> AppServer:
        cmd = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port), "--no-browser"]
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start {time.strftime('%H:%M:%S')}: {' '.join(cmd)}\n".encode())
            log.flush()
            # Own process group, so stop()/kill9() also reach anything the app spawns.
            self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        """Poll GET ready_path until it answers 200; fail fast (with the log) if the process dies."""
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        last: object = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                self.log_shown = True
                raise RuntimeError(f"app exited with {self.proc.returncode}\n{self.log_tail()}")
            try:
                with _DIRECT.open(self.url + self.ready_path, timeout=2) as r:
                    if r.status == 200:
                        return
                    last = r.status
            except (urllib.error.URLError, OSError) as e:
                last = e
            time.sleep(0.1)
        self.log_shown = True
        raise TimeoutError(f"app not ready at {self.url} after {timeout or self.ready_timeout} s "
                           f"(last: {last})\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it hasn't exited within `timeout`. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(5)
        self._signal(signal.SIGKILL)  # stragglers in the group, if any
        return self.proc.returncode

    def kill9(self) -> None:
        """Crash it: SIGKILL the whole group, no shutdown hooks."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.proc.wait(5)

    def restart(self, wait: bool = True) -> AppServer:
        """Same port, same data dir, same env."""
        self.stop()
        return self.start(wait=wait)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def tracebacks(self) -> list[str]:
        """Every traceback in the log, each up to and including its exception line."""
        found: list[str] = []
        lines = self.log_text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("{") and TRACEBACK in line:  # LOG_FORMAT=json: the traceback is the "exc" field
                with contextlib.suppress(ValueError):
                    found.append(str(json.loads(line).get("exc") or line))
                    continue
            if not line.startswith(TRACEBACK):
                continue
            end = i + 1
            while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
                end += 1  # frames are indented; the exception line is the first that is not
            found.append("\n".join(lines[i : end + 1]))
        return found


def app_env(fake: FakeUpstream, data_dir: Path,
            overrides: dict[str, str | None] | None = None) -> dict[str, str]:
    """Inherited env minus app settings and PYTEST_CURRENT_TEST, plus test settings; None removes a key."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(APP_ENV_PREFIXES) and k not in APP_ENV_NAMES}
    env.update({"STREAMCHAT_DATA_DIR": str(data_dir), "OPENAI_BASE_URL": f"{fake.url}/v1",
                "OPENAI_API_KEY": "test-key", "OPENAI_MODEL": "fake-model", "PYTHONUNBUFFERED": "1",
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


StartApp = Callable[..., AppServer]


@pytest.fixture
def app_server(fake_upstream: FakeUpstream, tmp_path: Path, app_database: str,
               request: pytest.FixtureRequest) -> Iterator[StartApp]:
    """Factory: `app_server(env_overrides=None, *, data_dir=None, wait=True, ready_path="/") -> AppServer`.

    With `app_database == "postgres"` every server of the test shares one fresh PostgreSQL database
    (a restart finds its data) instead of a SQLite file in its data dir.

    Every server started is stopped at teardown; on failure its log tail is printed. A traceback in
    any server's log fails the test (at teardown), with the traceback in the message: an exception
    the user never sees is still a bug.
    """
    started: list[AppServer] = []
    database: dict[str, str | None] = {}
    if app_database == "postgres":
        database["DATABASE_URL"] = request.getfixturevalue("postgres_url")

    def start(env: dict[str, str | None] | None = None, *, data_dir: Path | None = None,
              wait: bool = True, ready_timeout: float = 60.0, ready_path: str = "/") -> AppServer:
        n = len(started)
        ddir = data_dir or tmp_path / f"data{n or ''}"
        ddir.mkdir(parents=True, exist_ok=True)
        server = AppServer(app_env(fake_upstream, ddir, {**database, **(env or {})}), ddir,
                           tmp_path / f"app{n or ''}.log", ready_timeout=ready_timeout, ready_path=ready_path)
        started.append(server)
        return server.start(wait=wait)

    yield start
    for server in started:
        server.stop()
        if node_failed(request) and not server.log_shown:
            print(f"\n----- app log tail ({server.log_path}) -----\n{server.log_tail(80)}")
    logged = [f"{server.log_path}:\n{tb}" for server in started for tb in server.tracebacks()]
    if logged:
        pytest.fail("the app logged a traceback:\n\n" + "\n\n".join(logged), pytrace=False)
