"""API keys: created once (the plain key is shown then and never again), stored as SHA-256, revocable.

A key is `sc-` + 32 random bytes (URL-safe base64), so a hash is as good as a password hash here:
nobody can guess such a key, and a fast hash keeps verification off the request's critical path.
Verification looks the key up by its hash and compares in constant time; keys are never logged.
A valid key is remembered for `VALID_FOR_S` seconds, so a stream of requests does not each take a
database round trip through the thread pool: a revocation here takes effect at once, one from
another process (the CLI, another instance) within those seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.models import ApiKey, utcnow
from services.settings import Settings
from services.store import Store

PREFIX = "sc-"
SHOWN_CHARS = 10  # of the key, kept so a list can tell keys apart ("sc-AbCdEfG")
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key
VALID_FOR_S = 5.0  # a verified key is believed this long without asking the database again
MAX_REMEMBERED = 10_000  # past this many remembered keys, the expired ones are dropped


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key after its creation: never the key itself."""

    id: int
    owner: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


def _info(row: ApiKey) -> KeyInfo:
    assert row.id is not None
    return KeyInfo(row.id, row.owner, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked)


class ApiKeys:
    """Synchronous calls (the CLI has no event loop); `verify_async` runs off the loop for requests."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self._clock = clock
        self._valid: dict[str, tuple[str, float]] = {}  # key hash -> (owner, believed until)

    @classmethod
    def open(cls, settings: Settings) -> ApiKeys:
        """For the CLI: the app's database (migrated to head), without the rest of the app."""
        return cls(Store(settings.resolved_database_url, settings.db_threads, settings.db_pool_size).engine)

    def create(self, owner: str, name: str = "") -> tuple[str, KeyInfo]:
        """Returns the plain key (its only appearance) and what is kept about it."""
        if not owner.strip():
            raise ValueError("a key needs an owner")
        key = PREFIX + secrets.token_urlsafe(32)
        row = ApiKey(owner=owner, name=name, key_hash=key_hash(key), prefix=key[:SHOWN_CHARS])
        with Session(self.engine, expire_on_commit=False) as s:
            s.add(row)
            s.commit()
            s.refresh(row)
        return key, _info(row)

    def list(self, owner: str | None = None) -> list[KeyInfo]:
        """One owner's keys, or everyone's (the operator's CLI), oldest first."""
        stmt = select(ApiKey).order_by(col(ApiKey.id))
        if owner is not None:
            stmt = stmt.where(col(ApiKey.owner) == owner)
        with Session(self.engine) as s:
            return [_info(r) for r in s.exec(stmt)]

    def revoke(self, key_id: int, owner: str | None = None) -> bool:
        """True if the key existed (and belongs to `owner`, when given); revoking twice is fine."""
        with Session(self.engine) as s:
            row = s.get(ApiKey, key_id)
            if row is None or (owner is not None and row.owner != owner):
                return False
            row.revoked = True
            s.add(row)
            s.commit()
            self._valid.pop(row.key_hash, None)
            return True

    def verify(self, key: str) -> str | None:
        """The owner of a valid, unrevoked key; None otherwise."""
        if not key.startswith(PREFIX):
            return None
        digest = key_hash(key)
        with Session(self.engine) as s:
            row = s.exec(select(ApiKey).where(col(ApiKey.key_hash) == digest)).first()
            if row is None or row.revoked or not hmac.compare_digest(row.key_hash, digest):
                return None
            now = utcnow()
            used = row.last_used_at
            if used is None or now - used.replace(tzinfo=used.tzinfo or UTC) > TOUCH_EVERY:
                row.last_used_at = now
                s.add(row)
                s.commit()
            return row.owner

    async def verify_async(self, key: str) -> str | None:
        """`verify`, off the loop, or from memory for a key verified in the last `VALID_FOR_S` seconds."""
        digest = key_hash(key)
        now = self._clock()
        owner, until = self._valid.get(digest, ("", 0.0))
        if owner and now < until:
            return owner
        who = await asyncio.to_thread(self.verify, key)
        if who is None:
            self._valid.pop(digest, None)
        else:
            if len(self._valid) > MAX_REMEMBERED:
                self._valid = {h: v for h, v in self._valid.items() if v[1] > now}
            self._valid[digest] = (who, now + VALID_FOR_S)
        return who
