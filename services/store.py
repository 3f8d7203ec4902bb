"""Persistence for conversations and messages; every query is scoped to its owner.

Calls are synchronous SQLAlchemy run in a thread pool of the database's own (`DB_THREADS`), so a
slow disk or server never stalls the event loop that streams tokens, and a burst of markdown
rendering in the default executor never makes an answer's checkpoint wait.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, event, false, func, insert, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, create_engine, select

from services import migrations
from services.context import visible_history
from services.models import (
    UNTITLED,
    ChatDefaults,
    Conversation,
    Message,
    RenderedAnswer,
    Role,
    ShareLink,
    Status,
    User,
    utcnow,
)
from services.search import Query, SearchHit, Snippet, snippet
from services.steering import STEERING_FIELDS

T = TypeVar("T")
# Statements built once, their parameters given per call: `.values(...)` per call coerced and keyed
# every value again, as dear as the ORM flush it replaced.
_CONVERSATIONS = Conversation.__table__  # type: ignore[attr-defined]
_INSERT_CONVERSATION = insert(_CONVERSATIONS)
_TOUCH_CONVERSATION = update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("cid"))
_MESSAGES = Message.__table__  # type: ignore[attr-defined]
_INSERT_MESSAGE = insert(_MESSAGES)
_DEFAULTS = ChatDefaults.__table__  # type: ignore[attr-defined]
_OWNER_DEFAULTS = select(*(_DEFAULTS.c[name] for name in STEERING_FIELDS)).where(
    _DEFAULTS.c.owner == bindparam("owner")
)
log = logging.getLogger(__name__)

# Measured with bench/db.py (100 answers saving once a second, 5 page opens a second, on a busy
# 2-core machine): SQLite has one write lock, and a writer that finds it taken sleeps in steps of
# 1-100 ms, so more threads made saves wait longer (p50 of a save 4-36 ms with 2 threads, 8-370 ms
# with 4, 8-90 ms with 8, in 6 runs); PostgreSQL locks rows, and 8 threads did best there (p50 22-42 ms).
SQLITE_THREADS = 2
SERVER_THREADS = 8
# Connections beyond the pool for callers outside the database threads (start-up, the API key check,
# the CLI), so they never wait for a checkpoint to hand one back.
POOL_OVERFLOW = 4

# Full-text search (indexes made by migration 0006_search; only final messages are in them): the newest
# CANDIDATES matches, best first, newer first among equals. Ranking costs per match (bm25 and ts_rank have
# no top-k shortcut): measured with bench/search.py on 100,000 messages, ranking every match of a
# frequent word took SQLite 50 ms at the median; the newest matches come in id order straight from the index.
CANDIDATES = 500
_SEARCH_SQLITE = text(
    """SELECT m.id, m.conversation_id, m.role, m.content FROM (
        SELECT message_fts.rowid AS id, message_fts.rank AS score FROM message_fts
        JOIN message m ON m.id = message_fts.rowid
        WHERE message_fts MATCH :q AND m.owner = :owner AND m.status != 'streaming'
        ORDER BY message_fts.rowid DESC LIMIT :candidates
    ) hit JOIN message m ON m.id = hit.id
    ORDER BY hit.score, m.id DESC LIMIT :limit"""
)
_SEARCH_POSTGRES = text(
    """SELECT m.id, m.conversation_id, m.role, m.content FROM (
        SELECT id FROM message WHERE owner = :owner AND search_vector @@ to_tsquery('simple'::regconfig, :q)
        ORDER BY id DESC LIMIT :candidates
    ) hit JOIN message m ON m.id = hit.id
    ORDER BY ts_rank(m.search_vector, to_tsquery('simple'::regconfig, :q), 1) DESC, m.id DESC LIMIT :limit"""
)

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


def default_threads(url: str) -> int:
    return SQLITE_THREADS if url.startswith("sqlite") else SERVER_THREADS


def make_engine(url: str, pool_size: int = 0) -> Engine:
    """SQLite gets WAL and a busy timeout so page reads never wait on a checkpoint write.

    `hide_parameters`: SQLAlchemy's errors (and so our tracebacks) would otherwise quote message text
    and owner ids."""
    pool = {"pool_size": pool_size or default_threads(url), "max_overflow": POOL_OVERFLOW}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, hide_parameters=True, **pool
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # A server that cannot be reached fails a connection in seconds, not at the TCP stack's minutes.
    connect = {} if "connect_timeout" in url else {"connect_timeout": 10}
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=connect, **pool)


@dataclass
class Database:
    """One per URL in a process: its engine (migrated to head) and the threads its calls run in."""

    engine: Engine
    executor: ThreadPoolExecutor


_databases: dict[str, Database] = {}
_databases_lock = threading.Lock()


def open_database(url: str, threads: int = 0, pool_size: int = 0) -> Database:
    """The process's engine for `url`, migrated on first use; later calls share it (sizes of the first win).
    0 threads: the database's default; 0 connections: one per thread."""
    with _databases_lock:
        db = _databases.get(url)
        if db is None:
            threads = threads or default_threads(url)
            engine = make_engine(url, pool_size or threads)
            migrations.upgrade(engine)
            db = Database(engine, ThreadPoolExecutor(threads, thread_name_prefix="db"))
            _databases[url] = db
        return db


def close_database(url: str) -> None:
    """Finish queued calls, close the connections and forget the engine (tests drop databases after this)."""
    with _databases_lock:
        db = _databases.pop(url, None)
    if db is not None:
        db.executor.shutdown(wait=True)
        db.engine.dispose()


class Store:
    """Owner-scoped reads and writes; async methods run the SQL off the event loop."""

    def __init__(self, url: str, threads: int = 0, pool_size: int = 0) -> None:
        self.db = open_database(url, threads, pool_size)
        self.engine = self.db.engine

    async def schema_problem(self, timeout_s: float = 3.0) -> str | None:
        """None when the database answers and its migrations are at head; else what is wrong (for /readyz).
        Queued with the other database calls on purpose: a database too busy to answer is not ready."""

        def job() -> str | None:
            with self.engine.connect() as conn:
                at = migrations.current(conn)
            want = migrations.heads()
            if set(at) == set(want):
                return None
            return f"schema at {', '.join(at) or 'no revision'}, this code needs {', '.join(want)}"

        try:
            return await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(self.db.executor, job), timeout_s)
        except TimeoutError:
            return f"no answer within {timeout_s:g} s"
        except Exception as exc:  # unreachable, refused, wrong password: the kind is enough for a probe
            log.warning("readiness: database check failed: %s", type(exc).__name__)
            return f"not reachable ({type(exc).__name__})"

    async def _run(self, fn: Callable[[Session], T]) -> T:
        def job() -> T:
            with Session(self.engine, expire_on_commit=False) as session:
                return fn(session)

        call = contextvars.copy_context().run  # log context travels with the call, as with to_thread
        return await asyncio.get_running_loop().run_in_executor(self.db.executor, call, job)

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

    async def streaming_answers(self) -> list[tuple[str, int]]:
        """Every owner's answers still `streaming` (owner, id): for the reaper of several instances."""

        def fn(s: Session) -> list[tuple[str, int]]:
            rows = s.execute(select(Message.owner, Message.id).where(col(Message.status) == Status.STREAMING))
            return [(owner, int(mid)) for owner, mid in rows]

        return await self._run(fn)

    # conversations -------------------------------------------------------------------------

    async def create_conversation(
        self, owner: str, title: str = UNTITLED, *, with_defaults: bool = True
    ) -> Conversation:
        def fn(s: Session) -> Conversation:
            conv = _new_conversation(s, owner, title) if with_defaults else Conversation(owner=owner, title=title)
            s.connection().execute(_INSERT_CONVERSATION, conv.model_dump())
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
            if query:  # lower() LIKE on both databases; `%` and `_` typed in the box are literal
                stmt = stmt.where(col(Conversation.title).icontains(query, autoescape=True))
            # Equal times (a coarse clock, a bulk import) fall back to creation, then id: the same order everywhere.
            newest = (col(Conversation.updated_at).desc(), col(Conversation.created_at).desc(), col(Conversation.id))
            return list(s.exec(stmt.order_by(*newest).limit(limit)))

        return await self._run(fn)

    async def search(self, owner: str, query: Query, limit: int = 20) -> list[SearchHit]:
        """This owner's conversations whose title has the words (newest first), then their finished
        messages that do (best first), at most `limit` in all; see services/search.py for what matches."""

        def fn(s: Session) -> list[SearchHit]:
            newest = col(Conversation.updated_at).desc()
            mine = select(Conversation.id, Conversation.title).where(col(Conversation.owner) == owner)
            titles: dict[str, str] = dict(s.exec(mine.order_by(newest)).all())
            # Titles are short and few per owner: matched here, with the same rules as the snippets.
            hits = [
                SearchHit(cid, title, None, None, Snippet(""), snippet(title, query).marks)
                for cid, title in titles.items()
                if query.matches(title)
            ][:limit]
            for mid, cid, role, content in self._search_messages(s, owner, query, limit - len(hits)):
                title = titles.get(cid, "")
                hits.append(SearchHit(cid, title, mid, role, snippet(content, query), snippet(title, query).marks))
            return hits

        return await self._run(fn) if query and limit > 0 else []

    def _search_messages(self, s: Session, owner: str, query: Query, limit: int) -> list[Any]:
        dialect = self.engine.dialect.name
        if limit <= 0:
            return []
        if query.substring or dialect not in ("sqlite", "postgresql"):
            stmt = select(Message.id, Message.conversation_id, Message.role, Message.content).where(
                col(Message.owner) == owner,
                col(Message.status) != Status.STREAMING,
                *(col(Message.content).icontains(w, autoescape=True) for w in query.words),
            )
            return list(s.exec(stmt.order_by(col(Message.id).desc()).limit(limit)))
        sql, q = (_SEARCH_SQLITE, query.fts5()) if dialect == "sqlite" else (_SEARCH_POSTGRES, query.tsquery())
        return list(s.execute(sql, {"q": q, "owner": owner, "limit": limit, "candidates": CANDIDATES}))

    async def update_conversation(self, owner: str, conversation_id: str, **values: Any) -> bool:
        """Title or pin; `updated_at` stays, so renaming or pinning never moves it to "Today". True if it did."""

        def fn(s: Session) -> bool:
            result = s.execute(
                update(Conversation)
                .where(col(Conversation.id) == conversation_id, col(Conversation.owner) == owner)
                .values(**values)
            )
            s.commit()
            return bool(result.rowcount)

        return await self._run(fn)

    async def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """With its messages, their cached HTML and its share link; False if it is not this owner's."""

        def fn(s: Session) -> bool:
            conv = s.get(Conversation, conversation_id)
            if conv is None or conv.owner != owner:
                return False
            ids = select(Message.id).where(col(Message.conversation_id) == conversation_id)
            s.execute(delete(RenderedAnswer).where(col(RenderedAnswer.message_id).in_(ids)))
            s.execute(delete(Message).where(col(Message.conversation_id) == conversation_id))
            s.execute(delete(ShareLink).where(col(ShareLink.conversation_id) == conversation_id))
            s.delete(conv)
            s.commit()
            return True

        return await self._run(fn)

    async def import_conversations(self, owner: str, items: list[tuple[Conversation, list[Message]]]) -> list[str]:
        """Each conversation with its messages, all in one transaction: a failure imports nothing.

        Conversations and messages get new ids; an answer's `reply_to` and a question's `parent_id` come
        in as positions in that conversation's list and are mapped to the new ids."""

        def fn(s: Session) -> list[str]:
            created: list[str] = []
            for conv, messages in items:
                conv.owner = owner
                s.add(conv)
                s.flush()
                new_ids: list[int | None] = []
                for msg in messages:
                    msg.owner, msg.conversation_id = owner, conv.id
                    msg.reply_to = new_ids[msg.reply_to] if msg.reply_to is not None else None
                    msg.parent_id = new_ids[msg.parent_id] if msg.parent_id is not None else None
                    s.add(msg)
                    s.flush()
                    new_ids.append(msg.id)
                created.append(conv.id)
            s.commit()
            return created

        return await self._run(fn)

    # share links (team modes) ---------------------------------------------------------------

    async def share_link(self, owner: str, conversation_id: str, *, create: bool) -> str | None:
        """The conversation's link token; with `create`, a new one if it has none. None if it has none
        (or is not this owner's)."""

        def fn(s: Session) -> str | None:
            conv = s.get(Conversation, conversation_id)
            if conv is None or conv.owner != owner:
                return None
            link = s.exec(select(ShareLink).where(col(ShareLink.conversation_id) == conversation_id)).first()
            if link is None and create:
                link = ShareLink(token=secrets.token_urlsafe(24), conversation_id=conversation_id, owner=owner)
                s.add(link)
                s.commit()
            return link.token if link is not None else None

        return await self._run(fn)

    async def revoke_share_link(self, owner: str, conversation_id: str) -> bool:
        def fn(s: Session) -> bool:
            mine = (col(ShareLink.owner) == owner, col(ShareLink.conversation_id) == conversation_id)
            result = s.execute(delete(ShareLink).where(*mine))
            s.commit()
            return bool(result.rowcount)

        return await self._run(fn)

    async def shared(self, token: str) -> tuple[Conversation, str] | None:
        """The conversation a live link opens, and its owner's email ("" for a user without a row)."""

        def fn(s: Session) -> tuple[Conversation, str] | None:
            link = s.get(ShareLink, token)
            conv = s.get(Conversation, link.conversation_id) if link is not None else None
            if link is None or conv is None or conv.owner != link.owner:
                return None
            user = s.get(User, link.owner)
            return conv, user.email if user is not None else ""

        return await self._run(fn)

    async def get_defaults(self, owner: str) -> ChatDefaults:
        def fn(s: Session) -> ChatDefaults:
            return s.get(ChatDefaults, owner) or ChatDefaults(owner=owner)

        return await self._run(fn)

    async def save_defaults(self, defaults: ChatDefaults) -> None:
        def fn(s: Session) -> None:
            s.merge(defaults)
            s.commit()

        await self._run(fn)

    async def usage_totals(self, owner: str, conversation_id: str) -> tuple[int, int, int]:
        """Answers, prompt tokens and completion tokens over the whole conversation (every version)."""

        def fn(s: Session) -> tuple[int, int, int]:
            row = s.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(Message.prompt_tokens), 0),
                    func.coalesce(func.sum(Message.completion_tokens), 0),
                ).where(
                    col(Message.owner) == owner,
                    col(Message.conversation_id) == conversation_id,
                    col(Message.role) == Role.ASSISTANT,
                )
            ).one()
            return int(row[0]), int(row[1]), int(row[2])

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
        self,
        owner: str,
        conversation_id: str | None,
        text: str,
        *,
        title: str,
        model: str,
        create: bool,
        edit_of: int | None = None,
    ) -> tuple[Conversation, Message, Message, list[Message]] | None:
        """A question and its `streaming` answer row in one transaction (one thread hop instead of
        five: a send waited behind every checkpoint in the pool once per hop). The conversation is
        this owner's `conversation_id`, or with `create` a new one titled `title`; None if it is
        neither. The question follows the visible thread's last one, or with `edit_of` is a new
        version of that question of this conversation (None if it is not one). Returns the
        conversation (moved to the top), the question, the answer row, and the whole thread."""

        def fn(s: Session) -> tuple[Conversation, Message, Message, list[Message]] | None:
            conv = s.get(Conversation, conversation_id) if conversation_id else None
            fresh = conv is None or conv.owner != owner
            if fresh:
                if not create:
                    return None
                conv = _new_conversation(s, owner, title)
            assert conv is not None
            mine = (col(Message.owner) == owner, col(Message.conversation_id) == conv.id)
            thread = list(s.exec(select(Message).where(*mine).order_by(col(Message.id))))
            s.expunge_all()  # the rows are written below in Core: the ORM's unit of work was most of a send's cost
            if edit_of is None:
                parent = next((m.id for m in reversed(visible_history(thread)) if m.role == Role.USER), None)
            else:
                old = next((m for m in thread if m.id == edit_of and m.role == Role.USER), None)
                if old is None:
                    return None
                parent = old.parent_id
            if not thread and conv.title == UNTITLED:
                conv.title = title  # started empty (from its settings, say): named by its first message
            conv.updated_at = utcnow()
            conn = s.connection()
            if fresh:
                conn.execute(_INSERT_CONVERSATION, conv.model_dump())
            else:
                conn.execute(_TOUCH_CONVERSATION, {"cid": conv.id, "title": conv.title, "updated_at": conv.updated_at})
            user = _inserted(
                conn, Message(conversation_id=conv.id, owner=owner, role=Role.USER, content=text, parent_id=parent)
            )
            answer = Message(
                conversation_id=conv.id,
                owner=owner,
                role=Role.ASSISTANT,
                status=Status.STREAMING,
                reply_to=user.id,
                model=conv.model or model,
            )
            _inserted(conn, answer)
            s.commit()
            return conv, user, answer, [*thread, user, answer]

        return await self._run(fn)

    async def pick(self, owner: str, message_id: int) -> bool:
        """Show this version (of a question or an answer) from now on, also after a reload."""
        return await self.update_message(owner, message_id, picked_at=utcnow())

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
        chosen: Collection[int] = (),
    ) -> tuple[list[Message], bool]:
        """One page of the visible thread (services/context.py, with the versions in `chosen` shown): its
        newest questions with id < `before` (or all from `since` on), at most `limit` of them and, past
        the first, no more than `max_chars` of text with their answers; each with every version of
        itself and of its answer, in id order; and whether older questions exist on the thread.
        The tree is read without text (ids and links only); only the page's rows are read whole."""

        def fn(s: Session) -> tuple[list[Message], bool]:
            mine = (col(Message.owner) == owner, col(Message.conversation_id) == conversation_id)
            links = (Message.id, Message.role, Message.parent_id, Message.reply_to)
            stamps = (Message.created_at, Message.picked_at)
            stmt = select(*links, *stamps).where(*mine)
            tree = [Message(**row._asdict()) for row in s.exec(stmt)]  # type: ignore[call-overload]
            path = [m.id for m in visible_history(tree, chosen) if m.role == Role.USER and m.id is not None]
            window = [i for i in path if (before is None or i < before) and (since is None or i >= since)]
            picked = window[::-1][:limit] if limit is not None else window[::-1]
            if not picked:
                return [], False
            parents = [m.parent_id for m in tree if m.id in set(picked)]
            asks = (col(Message.role) == Role.USER) & (
                col(Message.parent_id).in_([p for p in parents if p is not None])
                | (col(Message.parent_id).is_(None) if None in parents else false())
            )
            replies = (col(Message.role) == Role.ASSISTANT) & col(Message.reply_to).in_(picked)
            rows = {m.id: m for m in s.exec(select(Message).where(*mine, asks | replies))}
            by_parent: dict[int | None, list[Message]] = {}
            by_question: dict[int | None, list[Message]] = {}
            for m in rows.values():
                if m.role == Role.USER:
                    by_parent.setdefault(m.parent_id, []).append(m)
                else:
                    by_question.setdefault(m.reply_to, []).append(m)
            page: list[Message] = []
            chars = 0
            first = picked[0]
            for qid in picked:  # newest first
                q = rows[qid]
                turn = [*by_parent.get(q.parent_id, []), *by_question.get(qid, [])]
                chars += len(q.content) + sum(len(m.content) for m in by_question.get(qid, []))
                if page and max_chars is not None and chars > max_chars:
                    break
                page.extend(turn)
                first = qid
            return sorted(page, key=lambda m: m.id or 0), path[0] < first

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
            mine = update(_MESSAGES).where(_MESSAGES.c.id == message_id, _MESSAGES.c.owner == owner, *conditions)
            result = s.connection().execute(mine, {"updated_at": utcnow(), **values})  # Core: no ORM bulk-update pass
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


def _inserted(conn: Connection, msg: Message) -> Message:
    """`msg` written with one Core INSERT, its id set from the database."""
    msg.id = conn.execute(_INSERT_MESSAGE, msg.model_dump(exclude={"id"})).inserted_primary_key[0]
    return msg


def _new_conversation(s: Session, owner: str, title: str) -> Conversation:
    """A conversation starts with its owner's defaults (services/steering.py)."""
    defaults = s.connection().execute(_OWNER_DEFAULTS, {"owner": owner}).first()
    return Conversation(owner=owner, title=title, **(defaults._asdict() if defaults is not None else {}))
