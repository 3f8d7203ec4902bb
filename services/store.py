"""Persistence for conversations and messages; every query is scoped to its owner.

Calls are synchronous SQLAlchemy run in a worker thread (`asyncio.to_thread`) so a slow disk never
stalls the event loop that streams tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, event, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, create_engine, select

from services.models import Conversation, Message, RenderedAnswer, Role, Status, utcnow

T = TypeVar("T")

# One statement for every running answer's checkpoint, executed once per tick with one row of
# parameters per answer: only while it streams, and only ever longer.
_CHECKPOINT = (
    update(Message)
    .where(
        col(Message.id) == bindparam("mid"),
        col(Message.owner) == bindparam("who"),
        col(Message.status) == Status.STREAMING,
        func.length(col(Message.content)) < bindparam("chars"),
    )
    .values(content=bindparam("text"), updated_at=bindparam("at"))
)


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

    async def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """With its messages (and, by foreign key, their cached HTML); False if it is not this owner's."""

        def fn(s: Session) -> bool:
            conv = s.get(Conversation, conversation_id)
            if conv is None or conv.owner != owner:
                return False
            s.execute(delete(Message).where(col(Message.conversation_id) == conversation_id))
            s.delete(conv)
            s.commit()
            return True

        return await self._run(fn)

    # messages ------------------------------------------------------------------------------

    async def add_message(self, message: Message) -> Message:
        def fn(s: Session) -> Message:
            s.add(message)
            s.commit()
            s.refresh(message)
            return message

        return await self._run(fn)

    async def start_turn(
        self, owner: str, conversation_id: str | None, text: str, *, title: str, model: str, create: bool
    ) -> tuple[Conversation, Message, Message, list[Message]] | None:
        """A question and its `streaming` answer row in one transaction (one thread hop instead of
        five: a send waited behind every checkpoint in the pool once per hop). The conversation is
        this owner's `conversation_id`, or with `create` a new one titled `title`; None if it is
        neither. Returns it (moved to the top), the question, the answer row, and the whole thread."""

        def fn(s: Session) -> tuple[Conversation, Message, Message, list[Message]] | None:
            conv = s.get(Conversation, conversation_id) if conversation_id else None
            if conv is None or conv.owner != owner:
                if not create:
                    return None
                conv = Conversation(owner=owner, title=title)
            conv.updated_at = utcnow()
            user = Message(conversation_id=conv.id, owner=owner, role=Role.USER, content=text)
            s.add_all([conv, user])
            s.flush()
            answer = Message(
                conversation_id=conv.id,
                owner=owner,
                role=Role.ASSISTANT,
                status=Status.STREAMING,
                reply_to=user.id,
                model=model,
            )
            s.add(answer)
            s.commit()
            mine = (col(Message.owner) == owner, col(Message.conversation_id) == conv.id)
            thread = list(s.exec(select(Message).where(*mine).order_by(col(Message.id))))
            return conv, user, answer, thread

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

    async def list_turns(
        self,
        owner: str,
        conversation_id: str,
        *,
        limit: int | None = None,
        max_chars: int | None = None,
        before: int | None = None,
        since: int | None = None,
    ) -> tuple[list[Message], bool]:
        """One page of a thread: the newest questions with id < `before` (or all from `since` on), at
        most `limit` of them and, past the first, no more than `max_chars` of text with their answers;
        each with every version of its answer, in id order; and whether older questions exist.
        Long threads are opened page by page, never read whole."""

        def fn(s: Session) -> tuple[list[Message], bool]:
            mine = (col(Message.owner) == owner, col(Message.conversation_id) == conversation_id)
            stmt = select(Message).where(*mine, col(Message.role) == Role.USER)
            if before is not None:
                stmt = stmt.where(col(Message.id) < before)
            if since is not None:
                stmt = stmt.where(col(Message.id) >= since)
            questions = list(s.exec(stmt.order_by(col(Message.id).desc()).limit(limit)))
            answers: dict[int | None, list[Message]] = {}
            if questions:
                stmt = select(Message).where(
                    *mine, col(Message.role) == Role.ASSISTANT, col(Message.reply_to).in_([q.id for q in questions])
                )
                for a in s.exec(stmt):
                    answers.setdefault(a.reply_to, []).append(a)
            page: list[Message] = []
            chars = 0
            for q in questions:  # newest first
                turn = [q, *answers.get(q.id, [])]
                chars += sum(len(m.content) for m in turn)
                if page and max_chars is not None and chars > max_chars:
                    break
                page.extend(turn)
            if not page:
                return [], False
            first = min(m.id or 0 for m in page if m.role == Role.USER)
            older = s.exec(
                select(Message.id).where(*mine, col(Message.role) == Role.USER, col(Message.id) < first).limit(1)
            ).first()
            return sorted(page, key=lambda m: m.id or 0), older is not None

        return await self._run(fn)

    # rendered answers ----------------------------------------------------------------------

    async def get_rendered(self, owner: str, message_ids: list[int]) -> dict[int, RenderedAnswer]:
        """Cached HTML of these answers, by message id (only rows of this owner)."""

        def fn(s: Session) -> dict[int, RenderedAnswer]:
            stmt = select(RenderedAnswer).where(
                col(RenderedAnswer.owner) == owner, col(RenderedAnswer.message_id).in_(message_ids)
            )
            return {r.message_id: r for r in s.exec(stmt)}

        return await self._run(fn) if message_ids else {}

    async def save_rendered(self, owner: str, rows: list[RenderedAnswer]) -> None:
        """Insert or replace cached HTML; rows not of this owner, or for messages it does not own, are dropped."""

        def fn(s: Session) -> None:
            ids = [r.message_id for r in rows]
            owned = set(s.exec(select(Message.id).where(col(Message.owner) == owner, col(Message.id).in_(ids))))
            for attempt in range(2):
                try:
                    for row in rows:
                        if row.message_id in owned and row.owner == owner:
                            s.merge(row)
                    s.commit()
                    return
                except IntegrityError:  # two tabs cached the same answer at once: the second one updates
                    s.rollback()
                    if attempt:
                        raise

        if rows:
            await self._run(fn)

    async def update_message(self, owner: str, message_id: int, *conditions: Any, **values: Any) -> bool:
        """Writes only when `conditions` hold, so a late write never takes a row back; True if it did."""

        def fn(s: Session) -> bool:
            result = s.execute(
                update(Message)
                .where(col(Message.id) == message_id, col(Message.owner) == owner, *conditions)
                .values(updated_at=utcnow(), **values)
            )
            s.commit()
            return bool(result.rowcount)

        return await self._run(fn)

    async def checkpoint_messages(self, texts: list[tuple[str, int, str]]) -> int:
        """Text so far of running answers, `(owner, message_id, text)` each, in one transaction (one
        thread hop, no ORM objects): a row is written only while it streams and only ever longer.
        Returns how many rows were written."""

        def job() -> int:
            at = utcnow()
            rows = [{"mid": mid, "who": who, "chars": len(text), "text": text, "at": at} for who, mid, text in texts]
            with self.engine.begin() as conn:
                return conn.execute(_CHECKPOINT, rows).rowcount or 0

        return await asyncio.to_thread(job) if texts else 0

    async def finish_message(self, owner: str, message_id: int, **values: Any) -> bool:
        """The final row of an answer, written once: a streaming row becomes final, never the reverse."""
        return await self.update_message(owner, message_id, col(Message.status) == Status.STREAMING, **values)
