"""Pure pieces of the identity cookie, the Host allowlist, the CSP, log redaction and data at rest."""

from __future__ import annotations

import base64
import hashlib
import logging
import stat
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api.security import content_security_policy, host_allowed
from services.identity import IdentityCodec
from services.logs import RedactUserinfo
from services.runtime import make_data_dir_private, storage_secret
from services.settings import Settings
from services.store import make_engine

SECRET = "s" * 32
TWO_YEARS_S = 2 * 365 * 24 * 3600


def test_identity_cookie_is_read_back_whatever_its_age() -> None:
    codec = IdentityCodec(SECRET)
    old = codec.issue("owner-1", now=1_000_000_000 - TWO_YEARS_S)
    assert codec.read(old) == "owner-1"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # signature
        lambda c: "owner-2" + c[c.index(".") :],  # someone else's id with this cookie's signature
        lambda c: "garbage",
        lambda c: "",
    ],
)
def test_tampered_identity_cookie_is_unreadable(mangle) -> None:
    codec = IdentityCodec(SECRET)
    assert codec.read(mangle(codec.issue("owner-1"))) is None


def test_identity_cookie_from_another_secret_is_unreadable() -> None:
    assert IdentityCodec("t" * 32).read(IdentityCodec(SECRET).issue("owner-1")) is None


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("localhost", True),
        ("localhost:8080", True),
        ("127.0.0.1:9", True),
        ("[::1]:8080", True),
        ("[::1]", True),
        ("attacker.example", False),
        ("localhost.attacker.example", False),
        ("127.0.0.1.nip.io:80", False),
        ("", False),
    ],
)
def test_default_hosts_are_loopback_names_only(host: str, ok: bool) -> None:
    assert host_allowed(host, Settings(_env_file=None).host_allowlist) is ok


def test_allowed_hosts_setting_adds_names_and_subdomain_patterns() -> None:
    allowed = Settings(_env_file=None, allowed_hosts="chat.example.com, *.corp.example").host_allowlist
    assert host_allowed("Chat.Example.com:443", allowed)
    assert host_allowed("a.corp.example", allowed)
    assert not host_allowed("corp.example.evil", allowed)
    assert host_allowed("localhost:8080", allowed)


def test_csp_allows_exactly_the_inline_scripts_of_the_page() -> None:
    page = b'<script type="importmap">{"a":1}</script><script src="/x.js"></script><script>go()</script>'
    policy = content_security_policy(page)
    for body in (b'{"a":1}', b"go()"):
        assert f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'" in policy
    assert policy.count("sha256-") == 2
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "frame-src 'none'"):
        assert directive in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_log_filter_removes_url_userinfo_from_messages_and_tracebacks() -> None:
    try:
        raise ConnectionError("cannot reach https://bob:hunter2@llm.example/v1")
    except ConnectionError:
        record = logging.LogRecord(
            "httpx",
            logging.INFO,
            __file__,
            1,
            'HTTP Request: %s "%s"',
            ("POST", "http://bob:hunter2@127.0.0.1/v1/chat"),
            None,
        )
        record.exc_info = sys.exc_info()
    RedactUserinfo().filter(record)
    handler_output = logging.Formatter("%(message)s").format(record)
    assert "hunter2" not in handler_output
    assert "http://***@127.0.0.1/v1/chat" in handler_output


def test_database_errors_do_not_quote_parameters(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn, pytest.raises(OperationalError) as caught:
        conn.execute(text("INSERT INTO nowhere VALUES (:v)"), {"v": "my private message"})
    assert "my private message" not in str(caught.value)


@pytest.mark.parametrize("secret", ["", "short", "x" * 31])
def test_short_storage_secret_is_refused(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        storage_secret(Settings(_env_file=None, streamchat_data_dir=tmp_path, storage_secret=secret))


def test_generated_secret_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, streamchat_data_dir=tmp_path / "data")
    first = storage_secret(settings)
    assert stat.S_IMODE((tmp_path / "data" / ".storage_secret").stat().st_mode) == 0o600
    assert len(first) >= 32 and storage_secret(settings) == first


def test_old_world_readable_data_dir_is_made_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "nicegui").mkdir(parents=True)
    for name in ("streamchat.db", "streamchat.db-wal", "nicegui/storage-user-x.json"):
        (data / name).write_text("x")
        (data / name).chmod(0o644)
    data.chmod(0o755)
    make_data_dir_private(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "nicegui").stat().st_mode) == 0o700
    for name in ("streamchat.db", "streamchat.db-wal", "nicegui/storage-user-x.json"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
