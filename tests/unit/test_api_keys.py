"""API keys on a real SQLite file and a real PostgreSQL database: shown once, stored hashed, verified, revoked,
scoped to owners."""

from __future__ import annotations

from sqlmodel import Session, select

from services.api_keys import VALID_FOR_S, ApiKeys
from services.models import ApiKey
from services.store import Store


def keys_in(db_url: str) -> ApiKeys:
    return ApiKeys(Store(db_url).engine)


def test_a_key_verifies_as_its_owner_and_only_its_hash_is_stored(db_url: str) -> None:
    keys = keys_in(db_url)
    key, info = keys.create("alice", "laptop")
    assert key.startswith("sc-") and len(key) > 40
    assert keys.verify(key) == "alice"
    with Session(keys.engine) as s:
        stored = s.exec(select(ApiKey)).one()
    assert key not in (stored.key_hash, stored.prefix, stored.name)
    assert stored.last_used_at is not None  # set by the verification
    assert info.prefix == key[: len(info.prefix)] and len(info.prefix) < 12


def test_wrong_revoked_and_foreign_keys_are_refused(db_url: str) -> None:
    keys = keys_in(db_url)
    alice, alice_info = keys.create("alice")
    bob, _ = keys.create("bob")
    assert keys.verify(alice[:-1] + ("A" if alice[-1] != "A" else "B")) is None
    assert keys.verify("") is None and keys.verify("Bearer " + alice) is None
    assert keys.revoke(alice_info.id, owner="bob") is False  # not bob's to revoke
    assert keys.verify(alice) == "alice"
    assert keys.revoke(alice_info.id, owner="alice") is True
    assert keys.verify(alice) is None
    assert keys.verify(bob) == "bob"
    assert [k.owner for k in keys.list("alice")] == ["alice"] and keys.list("alice")[0].revoked
    assert {k.owner for k in keys.list()} == {"alice", "bob"}


def test_two_keys_never_collide(db_url: str) -> None:
    keys = keys_in(db_url)
    made = {keys.create("o")[0] for _ in range(20)}
    assert len(made) == 20 and all(keys.verify(k) == "o" for k in made)


async def test_a_verified_key_is_believed_briefly_and_a_revocation_lands_within_that(db_url: str) -> None:
    now = [0.0]
    app = ApiKeys(Store(db_url).engine, clock=lambda: now[0])
    cli = ApiKeys(app.engine)  # another process on the same database: the operator's CLI
    key, info = cli.create("alice")
    other, other_info = cli.create("bob")
    assert await app.verify_async(key) == "alice"
    assert await app.verify_async("sc-wrong") is None
    cli.revoke(info.id)
    now[0] = VALID_FOR_S - 0.1
    assert await app.verify_async(key) == "alice"  # from memory: no database round trip per request
    now[0] = VALID_FOR_S + 0.1
    assert await app.verify_async(key) is None  # revoked elsewhere: refused within VALID_FOR_S
    assert await app.verify_async(other) == "bob"
    app.revoke(other_info.id)  # revoked in this process (the settings dialog): refused at once
    assert await app.verify_async(other) is None
