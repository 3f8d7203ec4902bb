"""Seed a long conversation into a real database file with the app's own Store (tests and bench).

Sync callers (Playwright tests run an event loop in the main thread) get a worker thread of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.context import visible_history
from services.models import Conversation, Message
from services.store import Store


def owner_of(db_url: str, conversation_id: str) -> str:
    """Whose conversation it is (a browser's identity is only known to the app, so ask its database)."""
    store = Store(db_url)
    with Session(store.engine) as session:
        conv = session.get(Conversation, conversation_id)
        assert conv is not None, f"no conversation {conversation_id}"
        owner = conv.owner
    store.engine.dispose()
    return owner


def seed_turns(
    db_url: str,
    owner: str,
    conversation_id: str,
    turns: int,
    answer: Callable[[int], list[str]],
    question: Callable[[int], str] = lambda i: f"question {i:03d}",
) -> None:
    """Append `turns` question/answer pairs; `answer(i)` lists the versions of answer i (oldest first)."""

    async def seed() -> None:
        store = Store(db_url)
        start = datetime.now(UTC) - timedelta(days=1)
        shown = visible_history(await store.list_messages(owner, conversation_id))
        parent = next((m.id for m in reversed(shown) if m.role == "user"), None)  # each follows the one before
        for i in range(turns):
            at = start + timedelta(seconds=i)
            q = await store.add_message(
                Message(
                    conversation_id=conversation_id,
                    owner=owner,
                    role="user",
                    content=question(i),
                    created_at=at,
                    parent_id=parent,
                )
            )
            parent = q.id
            for text in answer(i):
                await store.add_message(
                    Message(
                        conversation_id=conversation_id,
                        owner=owner,
                        role="assistant",
                        content=text,
                        reply_to=q.id,
                        model="seeded",
                        created_at=at,
                    )
                )
        store.engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, seed()).result()
