"""The HTTP doors skip the pages' middlewares (api/doors.py) but keep what protects them."""

from __future__ import annotations

import json

from tests.api.conftest import Api


def test_api_replies_set_no_cookie_and_keep_the_security_headers(api: Api) -> None:
    """A key-authenticated client gets no session or identity cookie (the browser stack would sign one
    and make a per-user storage for every request); headers and the Host check still apply."""
    with api.client(api.alice) as c:
        for r in (c.get("/api/v1/conversations"), c.get("/healthz"), c.get("/v1/models")):
            assert r.status_code == 200, r.text
            assert "set-cookie" not in r.headers, r.url
            assert r.headers["x-content-type-options"] == "nosniff"
        assert c.get("/api/v1/conversations", headers={"Host": "attacker.example"}).status_code == 400
    with api.client() as c:  # a page load still gets its cookies
        page = c.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "set-cookie" in page.headers


def test_ndjson_is_not_gzipped_even_when_the_client_accepts_gzip(api: Api) -> None:
    """Each streamed line would be compressed and sync-flushed on its own: CPU on the loop per delta for a
    few bytes; the stream still arrives whole and in order."""
    with api.client(api.alice) as c:
        cid = c.post("/api/v1/conversations").json()["id"]
        headers = {"Accept": "application/x-ndjson", "Accept-Encoding": "gzip"}
        with c.stream("POST", f"/api/v1/conversations/{cid}/messages", json={"content": "hi"}, headers=headers) as r:
            assert r.status_code == 200
            assert "content-encoding" not in r.headers
            lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines[0]["type"] == "message" and lines[-1]["type"] == "done"
