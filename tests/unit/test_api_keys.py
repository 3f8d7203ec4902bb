"""API keys on a real SQLite file and a real PostgreSQL database: shown once, stored hashed, verified, revoked,
scoped to owners."""

from __future__ import annotations

from sqlmodel import Session, select

from services.api_keys import ApiKeys
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
