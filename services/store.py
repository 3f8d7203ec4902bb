"""Persistence for conversations and messages; every query is scoped to its owner.

Calls are synchronous SQLAlchemy run in a worker thread (`asyncio.to_thread`) so a slow disk never
stalls the event loop that streams tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, create_engine, select

from services.models import Conversation, Message, Status, utcnow

T = TypeVar("T")


def make_engine(url: str) -> Engine:
    """SQLite gets WAL and a busy timeout so page reads never wait on a checkpoint write.

    `hide_parameters`: SQLAlchemy's errors (and so our tracebacks) would otherwise quote message text
    and owner ids."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


class Store:
    """Owner-scoped reads and writes; async methods run the SQL off the event loop."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        SQLModel.metadata.create_all(self.engine)

    async def _run(self, fn: Callable[[Session], T]) -> T:
        def job() -> T:
            with Session(self.engine, expire_on_commit=False) as session:
                return fn(session)

        return await asyncio.to_thread(job)

    def mark_streaming_interrupted(self) -> int:
        """At start-up, answers that were streaming when the process died become `interrupted`."""
        with Session(self.engine) as session:
            result = session.execute(
                update(Message)
                .where(col(Message.status) == Status.STREAMING)
                .values(status=Status.INTERRUPTED, error="The app stopped before this answer finished.")
            )
            session.commit()
            return result.rowcount or 0

    # conversations -------------------------------------------------------------------------

    async def create_conversation(self, owner: str, title: str = "New chat") -> Conversation:
        def fn(s: Session) -> Conversation:
            conv = Conversation(owner=owner, title=title)
            s.add(conv)
            s.commit()
            return conv

        return await self._run(fn)

    async def get_conversation(self, owner: str, conversation_id: str) -> Conversation | None:
        def fn(s: Session) -> Conversation | None:
            conv = s.get(Conversation, conversation_id)
            return conv if conv is not None and conv.owner == owner else None

        return await self._run(fn)

    async def list_conversations(self, owner: str, query: str = "", limit: int = 200) -> list[Conversation]:
        def fn(s: Session) -> list[Conversation]:
            stmt = select(Conversation).where(Conversation.owner == owner)
            if query:
                stmt = stmt.where(col(Conversation.title).icontains(query))
            return list(s.exec(stmt.order_by(col(Conversation.updated_at).desc()).limit(limit)))

        return await self._run(fn)

    async def touch_conversation(self, owner: str, conversation_id: str, title: str | None = None) -> None:
        def fn(s: Session) -> None:
            values: dict[str, Any] = {"updated_at": utcnow()}
            if title is not None:
                values["title"] = title
            s.execute(
                update(Conversation)
                .where(col(Conversation.id) == conversation_id, col(Conversation.owner) == owner)
                .values(**values)
            )
            s.commit()

        await self._run(fn)

    # messages ------------------------------------------------------------------------------

    async def add_message(self, message: Message) -> Message:
        def fn(s: Session) -> Message:
            s.add(message)
            s.commit()
            s.refresh(message)
            return message

        return await self._run(fn)

    async def get_message(self, owner: str, message_id: int) -> Message | None:
        def fn(s: Session) -> Message | None:
            msg = s.get(Message, message_id)
            return msg if msg is not None and msg.owner == owner else None

        return await self._run(fn)

    async def list_messages(self, owner: str, conversation_id: str) -> list[Message]:
        def fn(s: Session) -> list[Message]:
            stmt = (
                select(Message)
                .where(Message.owner == owner, Message.conversation_id == conversation_id)
                .order_by(col(Message.id))
            )
            return list(s.exec(stmt))

        return await self._run(fn)

    async def update_message(self, owner: str, message_id: int, **values: Any) -> None:
        def fn(s: Session) -> None:
            s.execute(
                update(Message)
                .where(col(Message.id) == message_id, col(Message.owner) == owner)
                .values(updated_at=utcnow(), **values)
            )
            s.commit()

        await self._run(fn)
