"""OpenAPI JSON and an offline docs page that needs no script (our CSP forbids remote ones)."""

from __future__ import annotations

import re

from tests.api.conftest import Api

PATHS = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/conversations",
    "/api/v1/conversations/{conversation_id}",
    "/api/v1/conversations/{conversation_id}/messages",
    "/api/v1/conversations/{conversation_id}/export",
    "/api/v1/messages/{message_id}/stream",
    "/api/v1/messages/{message_id}/stop",
    "/api/v1/search",
    "/api/v1/conversations/{conversation_id}/settings",
    "/api/v1/conversations/{conversation_id}/share",
    "/api/v1/shared/{token}",
    "/api/v1/messages/{message_id}/edit",
    "/v1/chat/completions",
    "/v1/models",
}


def test_openapi_json_documents_every_endpoint_and_the_bearer_key(api: Api) -> None:
    with api.client() as c:
        spec = c.get("/api/openapi.json").json()
    assert set(spec["paths"]) == PATHS
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert set(spec["paths"]["/api/v1/conversations/{conversation_id}"]) == {"get", "patch", "delete"}


def test_docs_page_lists_endpoints_without_any_script_under_the_csp(api: Api) -> None:
    with api.client() as c:
        r = c.get("/api/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "<script" not in r.text.lower() and not re.search(r"https?://(?!127\.0\.0\.1)", r.text)
    for path in PATHS:
        assert f"<code>{path}</code>" in r.text
