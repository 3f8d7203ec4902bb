"""One real app process for every API test (package scope), on the fake upstream, with two users' keys.

The keys are made with the real CLI (`app.py api-key create`) against the app's own database file.
Each test checks that the app logged no traceback while it ran.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, AppServer, app_env, node_failed
from tests.fake_upstream import FakeUpstream

MAX_MESSAGE_CHARS = 2000


def create_key(server: AppServer, user: str) -> str:
    """The CLI's last stdout line is the key."""
    out = subprocess.run(
        [sys.executable, "app.py", "api-key", "create", "--user", user, "--name", "tests"],
        cwd=REPO_ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


@dataclass
class Api:
    """The running app, the fake upstream, and keys of two users (alice, bob)."""

    server: AppServer
    fake: FakeUpstream
    alice: str
    bob: str

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, key: str | None = None, timeout: float = 20.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout, trust_env=False)


@pytest.fixture(scope="package")
def api_app(fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data = tmp_path_factory.mktemp("api-app")
    # The suite sends more than the default per-minute limit allows; tests/api/test_limits.py has its own app.
    limits_off = {"RATE_LIMIT_PER_MIN": "0", "MAX_CONCURRENT_PER_USER": "0"}
    env = app_env(fake_upstream_server, data, {"MAX_MESSAGE_CHARS": str(MAX_MESSAGE_CHARS), **limits_off})
    server = AppServer(env, data, Path(data) / "app.log")
    server.start()
    try:
        yield Api(server, fake_upstream_server, create_key(server, "alice"), create_key(server, "bob"))
    finally:
        server.stop()


@pytest.fixture
def api(api_app: Api, fake_upstream: FakeUpstream, request: pytest.FixtureRequest) -> Iterator[Api]:
    """The shared app, with a fresh fake upstream; fails the test if the app logged a traceback meanwhile."""
    before = len(api_app.server.tracebacks())
    yield api_app
    logged = api_app.server.tracebacks()[before:]
    if node_failed(request):
        print(f"\n----- app log tail ({api_app.server.log_path}) -----\n{api_app.server.log_tail(60)}")
    if logged:
        pytest.fail("the app logged a traceback:\n\n" + "\n\n".join(logged), pytrace=False)


@dataclass(frozen=True)
class SseEvent:
    event: str
    id: str | None
    data: dict


def sse_events(response: httpx.Response) -> Iterator[SseEvent]:
    """Parse an SSE body as it arrives (comments skipped); one event per blank-line-terminated block."""
    event, event_id, data = "message", None, []
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if data:
                yield SseEvent(event, event_id, json.loads("\n".join(data)))
            event, event_id, data = "message", None, []
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "id":
            event_id = value
        elif field == "data":
            data.append(value)


def until_deltas(response: httpx.Response, n: int) -> list[SseEvent]:
    """The events up to the n-th delta; then the caller leaves (a client that disconnects mid-answer)."""
    got: list[SseEvent] = []
    for e in sse_events(response):
        got.append(e)
        if sum(x.event == "delta" for x in got) == n:
            break
    return got
