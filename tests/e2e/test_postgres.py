"""An app on a real PostgreSQL: /readyz in both states, and one API stream (issue #9)."""

from __future__ import annotations

import json

import httpx
import psycopg
import pytest
from sqlalchemy import make_url

from services.migrations import heads
from tests.api.conftest import create_key
from tests.conftest import AppServer
from tests.fake_upstream import FakeUpstream, Reply


def readyz(app: AppServer) -> httpx.Response:
    return httpx.get(f"{app.url}/readyz", timeout=10, trust_env=False)


def admin(url: str, sql: str) -> None:
    """As the server's superuser, on the `postgres` database (never the one under test)."""
    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]  (our own database name)


@pytest.fixture
def app_database() -> str:
    return "postgres"


def test_readyz_says_which_part_is_not_ready_and_recovers(app_server, postgres_url: str) -> None:
    app = app_server()
    r = readyz(app)
    assert (r.status_code, r.json()) == (200, {"status": "ready"})
    name = make_url(postgres_url).database

    admin(postgres_url, f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
    admin(postgres_url, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    r = readyz(app)
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_ready" and "database: not reachable" in r.json()["detail"]

    admin(postgres_url, f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")
    assert readyz(app).status_code == 200  # back in rotation without a restart

    with psycopg.connect(make_url(postgres_url).set(drivername="postgresql").render_as_string(False)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00d'")  # a newer release migrated ahead
    r = readyz(app)
    assert r.status_code == 503
    assert f"database: schema at f00d, this code needs {heads()[0]}" in r.json()["detail"]


def test_an_api_stream_on_postgres_is_saved_whole(app_server, fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="Streamed from Postgres, word by word.", interval=0.01))
    app = app_server()
    key = create_key(app, "alice")
    with httpx.Client(base_url=app.url, headers={"Authorization": f"Bearer {key}"}, timeout=20, trust_env=False) as c:
        cid = c.post("/api/v1/conversations", json={}).json()["id"]
        text, done = "", None
        with c.stream("POST", f"/api/v1/conversations/{cid}/messages", json={"content": "Hi\x00there"},
                      headers={"Accept": "application/x-ndjson"}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                event = json.loads(line)
                if event["type"] == "delta":
                    text += event["text"]
                elif event["type"] == "done":
                    done = event
        assert done is not None and done["status"] == "done" and text == "Streamed from Postgres, word by word."
        messages = c.get(f"/api/v1/conversations/{cid}").json()["messages"]
    assert [(m["role"], m["content"], m["status"]) for m in messages] == [
        ("user", "Hi\ufffdthere", "done"),
        ("assistant", "Streamed from Postgres, word by word.", "done"),
    ]
