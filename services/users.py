"""Users as rows (AUTH_MODE header|oidc): signed in by email or OIDC subject, owning rows by a stable id.

Browser mode has no user rows: a browser's owner id is its cookie's. `claim` moves such a browser's
conversations, messages and API keys to a user when a deployment switches to team sign-in.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.models import ApiKey, Conversation, Message, RenderedAnswer, User, utcnow

MAX_EMAIL_CHARS = 320
SEEN_EVERY_S = 60.0  # last_seen_at is written at most this often per user
SIGNED_IN = "signed_in"  # request.state key: the SignedIn of a request in AUTH_MODE header|oidc


@dataclass(frozen=True)
class SignedIn:
    """Who a request acts for: `id` scopes every query; `email` and `name` are shown in the header."""

    id: str
    email: str
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or self.email


def normalized_email(raw: str) -> str:
    """Lower-cased and stripped; ValueError for what no identity provider would send."""
    email = raw.strip().lower()
    if not email or len(email) > MAX_EMAIL_CHARS or not email.isprintable() or " " in email:
        raise ValueError("not a usable email or login name")
    return email


def _signed_in(row: User) -> SignedIn:
    return SignedIn(row.id, row.email, row.name)


class Users:
    """Synchronous calls for the CLI; `sign_in_async` for requests, cached so a page load costs no query."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._seen: dict[tuple[str, str, str | None], tuple[SignedIn, float]] = {}

    def sign_in(self, email: str, name: str = "", subject: str | None = None) -> SignedIn:
        """The user with this OIDC subject, else this email (creating it); email, name and last seen updated.

        A row found by email gets the subject on its first OIDC sign-in (a user made by `claim` or in
        header mode); a row already bound to another subject is a different person: ValueError."""
        email = normalized_email(email)
        for attempt in range(2):  # a concurrent first sign-in may insert the same email: read it then
            try:
                return self._upsert(email, name.strip(), subject)
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _upsert(self, email: str, name: str, subject: str | None) -> SignedIn:
        with Session(self.engine, expire_on_commit=False) as s:
            row = s.exec(select(User).where(col(User.subject) == subject)).first() if subject else None
            if row is None:
                row = s.exec(select(User).where(col(User.email) == email)).first()
                if row is not None and subject and row.subject not in (None, subject):
                    raise ValueError(f"{email} is already the email of another signed-in account")
            if row is None:
                row = User(email=email, name=name, subject=subject)
            else:
                row.email, row.subject, row.last_seen_at = email, row.subject or subject, utcnow()
                row.name = name or row.name
            s.add(row)
            s.commit()
            return _signed_in(row)

    async def sign_in_async(self, email: str, name: str = "", subject: str | None = None) -> SignedIn:
        """As `sign_in`, writing at most once a minute per user; the rest come from memory."""
        key = (email.strip().lower(), name.strip(), subject)
        cached = self._seen.get(key)
        if cached is not None and time.monotonic() - cached[1] < SEEN_EVERY_S:
            return cached[0]
        who = await asyncio.to_thread(self.sign_in, email, name, subject)
        self._seen[key] = (who, time.monotonic())
        return who

    def find(self, email: str) -> SignedIn | None:
        with Session(self.engine) as s:
            row = s.exec(select(User).where(col(User.email) == normalized_email(email))).first()
            return _signed_in(row) if row is not None else None

    def claim(self, browser_id: str, email: str) -> dict[str, int]:
        """Give everything a browser owned (browser mode) to the user with this email, made if new.

        Returns how many rows of each kind moved; all or nothing, in one transaction."""
        if not browser_id.strip():
            raise ValueError("a browser id is needed (the Account dialog shows it)")
        user = self.sign_in(email)
        moved: dict[str, int] = {}
        with Session(self.engine) as s:
            for table in (Conversation, Message, RenderedAnswer, ApiKey):
                result = s.execute(update(table).where(col(table.owner) == browser_id.strip()).values(owner=user.id))
                moved[table.__tablename__] = result.rowcount or 0  # type: ignore[attr-defined]
            s.commit()
        return moved
