"""deploy/compose.yaml and the Dockerfile, read (no Docker engine here): they parse, and they name only
settings the app has, so a renamed setting cannot silently stop applying in a deployment."""

from __future__ import annotations

import ipaddress
import re

import yaml

from services.settings import Settings
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def app_services(spec: dict) -> dict[str, dict]:
    return {name: s for name, s in spec["services"].items() if name.startswith("streamchat")}


def test_the_app_replicas_set_only_settings_the_app_has() -> None:
    apps = app_services(compose())
    assert len(apps) == 2
    known = {name.upper() for name in Settings.model_fields}
    for service in apps.values():
        env = set(service["environment"])
        assert env <= known, f"not settings: {sorted(env - known)}"
        assert {"AUTH_MODE", "TRUSTED_PROXIES", "DATABASE_URL", "REDIS_URL", "STORAGE_SECRET"} <= env
        assert "ports" not in service  # reachable only through the sign-in proxy and the load balancer
    volumes = [tuple(service["volumes"]) for service in apps.values()]
    assert len(set(volumes)) == len(volumes)  # a data directory each; what they share is in PostgreSQL and Redis


def test_the_apps_believe_the_identity_header_only_from_the_internal_network() -> None:
    spec = compose()
    subnet = spec["networks"]["internal"]["ipam"]["config"][0]["subnet"]
    for service in app_services(spec).values():
        assert service["environment"]["AUTH_MODE"] == "header"
        assert ipaddress.ip_network(service["environment"]["TRUSTED_PROXIES"]) == ipaddress.ip_network(subnet)
        assert service["networks"] == ["internal"]
    published = {name for name, s in spec["services"].items() if s.get("ports")}
    assert published == {"oauth2-proxy"}


def test_the_load_balancer_is_sticky_and_reaches_both_replicas() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    assert re.search(r"^\s*hash \$http_x_forwarded_email consistent;", conf, re.M)
    assert set(re.findall(r"server (streamchat-\d):8080;", conf)) == set(app_services(compose()))
    assert "proxy_set_header Upgrade $http_upgrade;" in conf  # websockets


def test_the_image_runs_as_a_user_from_the_locked_dependencies_with_a_health_check() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in text
    assert re.search(r"^USER (?!root\b)\w+", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*?/healthz", text, re.M)
    assert "ARG WITH_MODEL=false" in text
