"""Users as rows against a real SQLite file: stable ids, OIDC subjects, and the claim of a browser's data."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.api_keys import ApiKeys
from services.models import Message, Role
from services.settings import Settings
from services.store import Store
from services.users import Users


def store_in(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_the_same_person_keeps_one_id_through_email_case_and_renames(tmp_path: Path) -> None:
    users = Users(store_in(tmp_path).engine)
    alice = users.sign_in(" Alice@Example.com ", "Alice")
    assert alice.email == "alice@example.com" and alice.label == "Alice"
    assert users.sign_in("alice@example.com").id == alice.id  # no name sent: the known one stays
    assert users.sign_in("alice@example.com").name == "Alice"
    assert users.sign_in("bob@example.com").id != alice.id
    with pytest.raises(ValueError):
        users.sign_in("   ")


def test_an_oidc_subject_is_the_key_and_is_bound_once(tmp_path: Path) -> None:
    users = Users(store_in(tmp_path).engine)
    made_by_operator = users.sign_in("bob@contoso.example")  # e.g. by `claim` before bob ever signed in
    first = users.sign_in("bob@contoso.example", "Bob", subject="iss|bob")
    assert first.id == made_by_operator.id  # the row gets its subject on the first OIDC sign-in
    renamed = users.sign_in("robert@contoso.example", "Bob", subject="iss|bob")
    assert renamed.id == first.id and renamed.email == "robert@contoso.example"
    users.sign_in("carol@contoso.example", subject="iss|carol")
    with pytest.raises(ValueError, match="another signed-in account"):
        users.sign_in("carol@contoso.example", subject="iss|mallory")  # same email, another subject


def test_claim_moves_a_browsers_conversations_messages_and_keys_and_nothing_else(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    users, keys = Users(store.engine), ApiKeys(store.engine)

    async def seed() -> tuple[str, str]:
        mine = await store.create_conversation("browser-1", "mine")
        other = await store.create_conversation("browser-2", "someone else's")
        await store.add_message(Message(conversation_id=mine.id, owner="browser-1", role=Role.USER, content="hi"))
        return mine.id, other.id

    mine, other = asyncio.run(seed())
    keys.create("browser-1", "script")
    moved = users.claim("browser-1", "alice@example.com")
    assert moved == {"conversation": 1, "message": 1, "rendered_answer": 0, "api_key": 1}
    alice = users.find("alice@example.com")
    assert alice is not None
    assert [c.id for c in asyncio.run(store.list_conversations(alice.id, ""))] == [mine]
    assert [c.id for c in asyncio.run(store.list_conversations("browser-2", ""))] == [other]
    assert [k.owner for k in keys.list()] == [alice.id]
    assert users.claim("browser-1", "alice@example.com") == dict.fromkeys(moved, 0)  # nothing left


def test_header_mode_needs_explicit_trusted_proxies_and_oidc_its_three_settings() -> None:
    assert Settings(_env_file=None).identity_problem() is None  # browser mode: nothing needed
    assert "TRUSTED_PROXIES" in (Settings(_env_file=None, auth_mode="header").identity_problem() or "")
    assert "anyone" in (Settings(_env_file=None, auth_mode="header", trusted_proxies="*").identity_problem() or "")
    assert Settings(_env_file=None, auth_mode="header", trusted_proxies="10.0.0.0/8").identity_problem() is None
    problem = Settings(_env_file=None, auth_mode="oidc", oidc_issuer="https://x").identity_problem() or ""
    assert "OIDC_CLIENT_ID" in problem and "OIDC_CLIENT_SECRET" in problem
