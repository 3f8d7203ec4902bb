"""/healthz, keys from the real CLI, and 401 problems for missing, wrong and revoked keys."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from services.api_keys import VALID_FOR_S
from tests.api.conftest import Api, create_key
from tests.conftest import REPO_ROOT


def cli(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "app.py", "api-key", *args],
        cwd=REPO_ROOT,
        env=api.server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_healthz_is_ok_without_a_key_and_for_any_host_header(api: Api) -> None:
    with api.client() as c:
        r = c.get("/healthz")
        assert (r.status_code, r.json()) == (200, {"status": "ok"})
        # Health checkers address the instance by IP; the Host check still guards everything else.
        assert c.get("/healthz", headers={"Host": "10.1.2.3:8080"}).status_code == 200
        assert c.get("/api/v1/conversations", headers={"Host": "attacker.example"}).status_code == 400


def test_readyz_is_ready_on_the_sqlite_file_without_a_key_for_any_host(api: Api) -> None:
    with api.client() as c:
        r = c.get("/readyz", headers={"Host": "10.1.2.3:8080"})
        assert (r.status_code, r.json()) == (200, {"status": "ready"})


def test_missing_and_wrong_keys_get_401_problems(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer sc-not-a-key"}, {"Authorization": f"Basic {api.alice}"}):
        with httpx.Client(base_url=api.url, headers=headers, trust_env=False) as c:
            r = c.get("/api/v1/conversations")
            assert r.status_code == 401
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["www-authenticate"] == "Bearer"
            problem = r.json()
            assert problem["status"] == 401 and problem["title"] == "Unauthorized" and problem["detail"]


@pytest.mark.slow  # three CLI processes
def test_cli_lists_without_the_key_and_a_revoked_key_stops_working(api: Api) -> None:
    key = create_key(api.server, "carol")
    with api.client(key) as c:
        assert c.get("/api/v1/conversations").status_code == 200
    listing = cli(api, "list", "--user", "carol")
    assert listing.returncode == 0 and key not in listing.stdout and "carol" in listing.stdout
    key_id = listing.stdout.strip().splitlines()[-1].split("\t")[0]
    assert cli(api, "revoke", key_id).returncode == 0
    # The app believes a verified key for VALID_FOR_S; a revocation from another process lands within that.
    deadline = time.monotonic() + VALID_FOR_S + 5
    with api.client(key) as c:
        while (status := c.get("/api/v1/conversations").status_code) == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert status == 401
    assert key not in api.server.log_text()
