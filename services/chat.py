"""The one entry point pages (and any API) use to talk: validate, persist first, then generate."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from services import events, transfer
from services.changes import Changed, Changes
from services.checkpoints import CheckpointWriter
from services.context import (
    answer_versions,
    build_prompt,
    history_to,
    question_versions,
    shown_version,
    visible_history,
)
from services.errors import storage_reason
from services.generation import Generation, GenerationHub
from services.limits import Admission, LimitExceeded, Limits
from services.llm import Backend
from services.logs import log_context
from services.metrics import Metrics
from services.models import UNTITLED, ChatDefaults, Conversation, Message, Role, Status
from services.rendered import RenderedHtml
from services.search import MAX_QUERY_CHARS, Query, SearchHit
from services.settings import Settings
from services.steering import Steering, SteeringError, checked, request_overrides
from services.store import Store

log = logging.getLogger(__name__)

TITLE_CHARS = 60
MAX_SEARCH_RESULTS = 100
BUSY = "Wait for the current answer to finish, or press Stop."
REGISTRY_POLL_S, REGISTRY_POLLS = 0.05, 20  # see `_current_row`


class ChatError(ValueError):
    """A request we refuse, with a message fit to show as is."""


class TooLong(ChatError):
    """The message is over MAX_MESSAGE_CHARS (HTTP 413)."""


class Busy(ChatError):
    """An answer is already being generated in this conversation (HTTP 409)."""


class Unavailable(ChatError):
    """The database is locked or gone (HTTP 503)."""


class OverLimit(ChatError):
    """Over a per-user limit (HTTP 429); `retry_after` is in seconds."""

    def __init__(self, exc: LimitExceeded) -> None:
        super().__init__(str(exc))
        self.retry_after = exc.retry_after


class NotFound(ChatError):
    """No such conversation or message for this owner; another owner's ids are not found either (HTTP 404)."""


@dataclass(frozen=True)
class Sent:
    conversation: Conversation
    user_message: Message | None
    assistant_message: Message
    generation: Generation


@dataclass(frozen=True)
class Started:
    """A gateway answer: its message id (negative when not stored) and its conversation, if stored."""

    message_id: int
    conversation_id: str | None


@dataclass(frozen=True)
class Exported:
    """A file to download: its name, its text and its media type."""

    filename: str
    content: str
    media_type: str


@dataclass(frozen=True)
class Turn:
    """A question, every version of its answer (oldest first), the one shown, its HTML once finished,
    and every version of the question."""

    question: Message
    versions: list[Message]
    answer: Message | None
    html: str | None
    edits: list[Message]  # every version of the question (edits branch the thread), oldest first


@dataclass(frozen=True)
class Thread:
    """One page of a thread, oldest turn first, and whether older questions remain."""

    turns: list[Turn]
    more: bool


NO_SHARING = "Links need team sign-in (AUTH_MODE header or oidc); export the conversation to share it."
LINK_GONE = "This link was revoked or never existed."


@dataclass(frozen=True)
class Shared:
    """A conversation opened through its share link: read-only, for any signed-in user."""

    title: str
    sharer: str  # the owner's email, "" if unknown
    thread: Thread


@dataclass(frozen=True)
class UsageTotals:
    """A conversation's answers and the tokens they used, as the model server counted them."""

    answers: int
    prompt_tokens: int
    completion_tokens: int


def make_title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class ChatService:
    """Owns the rules; the store owns rows; the hub owns running answers."""

    def __init__(
        self,
        store: Store,
        hub: GenerationHub,
        backend: Backend,
        settings: Settings,
        rendered: RenderedHtml | None = None,
        limits: Limits | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.backend = backend
        self.settings = settings
        self.rendered = rendered
        self.checkpoints = CheckpointWriter(store, settings.checkpoint_interval_s)
        self.limits = limits or Limits.from_settings(settings)
        self.metrics = metrics or Metrics()
        self._starting: set[tuple[str, str]] = set()  # (owner, conversation) between check and registration
        self._unstored = itertools.count(-1, -1)  # ids of answers kept only in memory (gateway, store:false)
        self.changes = Changes()

    def validate(self, text: str) -> str:
        if not text.strip():
            raise ChatError("Type a message first.")
        limit = self.settings.max_message_chars
        if len(text) > limit:
            raise TooLong(
                f"Your message is {len(text):,} characters; the limit is {limit:,}. Shorten it or split it up."
            )
        return text.strip("\n")

    async def send(
        self, owner: str, conversation_id: str | None, text: str, stream: bool = True, *, create: bool = True
    ) -> Sent:
        """The user's message is committed before anything goes upstream, so it is never lost.
        An unknown conversation is started afresh, or with `create=False` (the API) is `NotFound`.
        It continues the visible branch."""
        return await self._turn(owner, conversation_id, text, stream, create=create)

    async def edit(self, owner: str, message_id: int, text: str, stream: bool = True) -> Sent:
        """A new version of a question and an answer to it: a new branch from that point, shown from now
        on; what followed the old version stays in the old branch. Checked and refused like a send."""
        msg = await self.store.get_message(owner, message_id)
        if msg is None or msg.role != Role.USER:
            raise NotFound("That message no longer exists.")
        return await self._turn(owner, msg.conversation_id, text, stream, create=False, edit_of=message_id)

    async def pick(self, owner: str, message_id: int) -> None:
        """Show this version of a question or an answer (and so its branch) from now on."""
        with self._storage("The choice could not be saved"):
            if not await self.store.pick(owner, message_id):
                raise NotFound("That message no longer exists.")

    async def _turn(
        self,
        owner: str,
        conversation_id: str | None,
        text: str,
        stream: bool,
        *,
        create: bool,
        edit_of: int | None = None,
    ) -> Sent:
        text = self.validate(text)
        title = make_title(text)
        reserved = self._reserved(owner, conversation_id) if conversation_id else contextlib.nullcontext()
        async with self._admitted(owner) as admission:
            with self._storage("Your message could not be saved"), reserved:
                turn = await self.store.start_turn(
                    owner, conversation_id, text, title=title, model=self.backend.model, create=create, edit_of=edit_of
                )
                if turn is None:
                    raise NotFound("That conversation does not exist.")
                conv, user, assistant, thread = turn
                gen = await self._generate(owner, conv, assistant, stream, thread)
                admission.hold(gen.task)
        return Sent(conv, user, assistant, gen)

    async def retry(self, owner: str, message_id: int, stream: bool = True) -> Sent:
        """Re-run a failed, stopped or interrupted answer in place."""
        async with self._admitted(owner) as admission:
            with self._storage("The answer could not be restarted"):
                msg, conv = await self._own_answer(owner, message_id)
                with self._reserved(owner, conv.id):
                    if self.hub.get(owner, message_id) is not None:  # finished, but its final row is not written yet
                        raise ChatError("This answer is still being saved. Try again in a moment.")
                    values = {"content": "", "status": Status.STREAMING, "error": "", "finish_reason": ""}
                    await self.store.update_message(owner, message_id, **values)
                    msg.content, msg.status, msg.error = "", Status.STREAMING, ""
                    gen = await self._generate(owner, conv, msg, stream)
                admission.hold(gen.task)
        return Sent(conv, None, msg, gen)

    async def regenerate(self, owner: str, message_id: int, stream: bool = True) -> Sent:
        """A new version of an answer; the earlier ones stay reachable."""
        async with self._admitted(owner) as admission:
            with self._storage("The new version could not be started"):
                msg, conv = await self._own_answer(owner, message_id)
                assert msg.reply_to is not None
                with self._reserved(owner, conv.id):
                    assistant, gen = await self._answer(owner, conv, msg.reply_to, stream)
                admission.hold(gen.task)
        return Sent(conv, None, assistant, gen)

    def stop(self, owner: str, message_id: int) -> bool:
        """Stops the answer wherever it runs (another instance sees the request within a few ms)."""
        gen = self.hub.get(owner, message_id)
        if gen is None:
            return self.hub.cluster is not None and self.hub.cluster.stop(owner, message_id)
        if gen.done:
            return False
        gen.stop()
        return True

    def busy(self, owner: str, conversation_id: str) -> bool:
        """An answer is running, or one is being started, in this conversation (here or, as far as this
        instance has heard, on another)."""
        running = any(not g.done for g in self.hub.for_conversation(owner, conversation_id))
        elsewhere = self.hub.cluster is not None and self.hub.cluster.running_elsewhere(owner, conversation_id)
        return running or bool(elsewhere) or (owner, conversation_id) in self._starting

    @contextlib.contextmanager
    def _reserved(self, owner: str, conversation_id: str) -> Iterator[None]:
        """One answer at a time per conversation, held from the check to the hub's registration.

        The check and the reservation happen in one step (no await between them), so a second tab
        or a second Retry arriving while the first is still writing rows is refused, not doubled."""
        if self.busy(owner, conversation_id):
            raise Busy(BUSY)
        self._starting.add((owner, conversation_id))
        try:
            yield
        finally:
            self._starting.discard((owner, conversation_id))

    @contextlib.asynccontextmanager
    async def _admitted(self, owner: str) -> AsyncIterator[Admission]:
        """Within the owner's limits (see services/limits.py), checked before anything is written."""
        try:
            with log_context(user_id=owner):
                async with self.limits.admit(owner) as admission:
                    yield admission
        except LimitExceeded as exc:
            self.metrics.refusals.inc()
            raise OverLimit(exc) from None

    @contextlib.contextmanager
    def _storage(self, what: str) -> Iterator[None]:
        """A database that is locked or gone becomes a sentence the page can show as is."""
        try:
            yield
        except SQLAlchemyError as exc:
            log.warning("%s: %s", what, storage_reason(exc))
            raise Unavailable(f"{what}: the database is busy or unavailable. Try again in a moment.") from exc

    async def _own_answer(self, owner: str, message_id: int) -> tuple[Message, Conversation]:
        msg = await self.store.get_message(owner, message_id)
        conv = await self.store.get_conversation(owner, msg.conversation_id) if msg is not None else None
        if msg is None or conv is None or msg.role != Role.ASSISTANT:
            raise NotFound("That answer no longer exists.")
        return msg, conv

    async def _answer(
        self, owner: str, conv: Conversation, reply_to: int | None, stream: bool
    ) -> tuple[Message, Generation]:
        assistant = await self._answer_row(owner, conv.id, reply_to, conv.model)
        return assistant, await self._generate(owner, conv, assistant, stream)

    async def _answer_row(
        self, owner: str, conversation_id: str, reply_to: int | None, model: str | None = None
    ) -> Message:
        """The answer's row, `streaming`, written before anything goes upstream."""
        return await self.store.add_message(
            Message(
                conversation_id=conversation_id,
                owner=owner,
                role=Role.ASSISTANT,
                status=Status.STREAMING,
                reply_to=reply_to,
                model=model or self.backend.model,
            )
        )

    async def _generate(
        self, owner: str, conv: Conversation, assistant: Message, stream: bool, thread: list[Message] | None = None
    ) -> Generation:
        """The prompt is the conversation's system prompt and the branch up to the question this answer
        replies to (from `thread`, the conversation's messages, when the caller has just read them); the
        conversation's model, temperature and length limit go with it."""
        history = thread if thread is not None else await self.store.list_messages(owner, conv.id)
        upto = history_to(history, assistant.reply_to) if assistant.reply_to is not None else []
        budget = min(self.settings.context_token_budget, self.backend.prompt_token_limit or 1 << 30)
        steering = Steering.of(conv)
        system_prompt = steering.system_prompt if steering.system_prompt is not None else self.settings.system_prompt
        prompt = build_prompt(system_prompt, upto, budget)
        assert assistant.id is not None
        overrides = request_overrides(steering, self.backend.token_limit_key)
        return self._start(owner, conv.id, assistant.id, prompt, stream, overrides)

    def _start(
        self,
        owner: str,
        conversation_id: str,
        message_id: int,
        prompt: list[dict[str, str]],
        stream: bool,
        overrides: dict[str, Any] | None = None,
    ) -> Generation:
        """Hands the answer to the hub; a stored one (positive id) has its HTML cached once saved."""
        gen = Generation(
            owner=owner,
            conversation_id=conversation_id,
            message_id=message_id,
            backend=self.backend,
            prompt=prompt,
            stream=stream,
            store=self.store,
            settings=self.settings,
            checkpoints=self.checkpoints if message_id > 0 else None,
            overrides=overrides,
        )
        with log_context(user_id=owner, conversation_id=conversation_id, message_id=message_id):
            self.hub.start(gen)  # the answer's task keeps these ids in its log lines
        self.metrics.track(gen)
        return gen

    # reads, deletes and event streams for every client: pages, the HTTP API, the gateway ----

    async def conversations(self, owner: str, limit: int = 200, *, query: str = "") -> list[Conversation]:
        """Newest first; with `query`, only titles that contain it."""
        return await self.store.list_conversations(owner, query, limit=limit)

    async def search(self, owner: str, text: str, limit: int = 20) -> list[SearchHit]:
        """Titles and finished messages of this owner with the words of `text` (see services/search.py):
        any text is a valid query, one with no words finds nothing; only an oversized one is refused."""
        if len(text) > MAX_QUERY_CHARS:
            raise ChatError(f"Search for at most {MAX_QUERY_CHARS} characters; this has {len(text):,}.")
        if not 1 <= limit <= MAX_SEARCH_RESULTS:
            raise ChatError(f"Ask for 1 to {MAX_SEARCH_RESULTS} results.")
        with self._storage("The search failed"):
            return await self.store.search(owner, Query.parse(text), limit)

    async def locate(self, owner: str, message_id: int) -> tuple[str, int] | None:
        """A message's conversation and the question of its turn (its own id for a question), so a page
        can open the thread at that turn; None if it is not this owner's."""
        msg = await self.store.get_message(owner, message_id)
        if msg is None or msg.id is None:
            return None
        return msg.conversation_id, msg.reply_to if msg.role == Role.ASSISTANT and msg.reply_to else msg.id

    async def new_conversation(self, owner: str, title: str = "", steering: Steering | None = None) -> Conversation:
        """With the owner's defaults, or with `steering` (checked before anything is written)."""
        checked_steering = await self._checked(steering) if steering is not None else None
        with self._storage("The conversation could not be created"):
            conv = await self.store.create_conversation(owner, make_title(title) or UNTITLED)
            if checked_steering is not None:
                await self.store.update_conversation(owner, conv.id, **checked_steering.values())
                conv.sqlmodel_update(checked_steering.values())
            return conv

    async def conversation(self, owner: str, conversation_id: str) -> tuple[Conversation, list[Message]]:
        """The thread as its owner sees it (the newest version of each answer), running answers with
        the text published so far, so `len(content)` is a valid offset to resume from."""
        conv = await self.store.get_conversation(owner, conversation_id)
        if conv is None:
            raise NotFound("That conversation does not exist.")
        messages = await self._current(owner, visible_history(await self.store.list_messages(owner, conversation_id)))
        return conv, [self._live(owner, m) for m in messages]

    async def _current(self, owner: str, messages: list[Message]) -> list[Message]:
        """Rows read as `streaming` whose answer is not in the hub: running on another instance (then
        followed here too, so `follow` and `subscribe` find it like a local one), or ended and saved while
        the rows were being read (then read again: the hub had already let it go)."""
        current = []
        for m in messages:
            if m.status == Status.STREAMING and m.id is not None and self.hub.get(owner, m.id) is None:
                m = await self._current_row(owner, m)
            current.append(m)
        return current

    async def _current_row(self, owner: str, row: Message) -> Message:
        """The row again, until it is no longer `streaming` or its answer is followed here. A streaming
        row is written a few ms before its instance registers the answer, so with several instances
        this looks a few times (bounded; a row whose instance died unregistered is the reaper's)."""
        assert row.id is not None
        cluster = self.hub.cluster
        looks = REGISTRY_POLLS if cluster is not None else 1
        for look in range(1, looks + 1):
            if cluster is not None and await cluster.follow(owner, row.id) is not None:
                return row
            if self.hub.get(owner, row.id) is not None:
                return row
            row = await self.store.get_message(owner, row.id) or row
            if row.status != Status.STREAMING or look == looks:
                return row
            await asyncio.sleep(REGISTRY_POLL_S)
        return row

    async def thread(
        self,
        owner: str,
        conversation_id: str,
        *,
        before: int | None = None,
        since: int | None = None,
        limit: int | None = None,
        max_chars: int | None = None,
        chosen: Mapping[int, int] | None = None,
    ) -> Thread:
        """A page of the thread as a reader sees it (see `Store.list_turns` for `before`, `since`, `limit`
        and `max_chars`): each question with the version of its answer `chosen` maps it to, else the
        newest, and that version's HTML if it is finished (rendered off the loop when not cached).
        Running answers keep their stored text: follow them for the rest. Raises `NotFound`."""
        picked = set(chosen.values()) if chosen else set()
        messages, more = await self.store.list_turns(
            owner, conversation_id, limit=limit, max_chars=max_chars, before=before, since=since, chosen=picked
        )
        if not messages and await self.store.get_conversation(owner, conversation_id) is None:
            raise NotFound("That conversation does not exist.")
        messages = await self._current(owner, messages)
        versions, edits = answer_versions(messages), question_versions(messages)
        questions = [q for group in edits.values() if (q := shown_version(group, picked)) and q.id is not None]
        questions.sort(key=lambda q: q.id or 0)
        shown = [shown_version(versions.get(q.id or 0, []), picked) for q in questions]
        html = await self.rendered.html_for(owner, [a for a in shown if a]) if self.rendered is not None else {}
        turns = [
            Turn(
                q,
                versions.get(q.id or 0, []),
                a,
                html.get(a.id) if a is not None and a.id is not None else None,
                edits.get(q.parent_id, [q]),
            )
            for q, a in zip(questions, shown, strict=True)
        ]
        return Thread(turns, more)

    # share links (team modes) ---------------------------------------------------------------

    async def share(self, owner: str, conversation_id: str) -> str:
        """The conversation's read-only link token, made on the first call. Browser-mode users are
        anonymous cookies: nobody else could be let in, so there, sharing is exporting."""
        if not self.settings.team_mode:
            raise ChatError(NO_SHARING)
        with self._storage("The link could not be made"):
            token = await self.store.share_link(owner, conversation_id, create=True)
        if token is None:
            raise NotFound("That conversation does not exist.")
        return token

    async def share_token(self, owner: str, conversation_id: str) -> str | None:
        """The live link's token, if the conversation has one."""
        if not self.settings.team_mode:
            return None
        return await self.store.share_link(owner, conversation_id, create=False)

    async def unshare(self, owner: str, conversation_id: str) -> bool:
        """The link stops working at once, for everyone; False if there was none."""
        with self._storage("The link could not be revoked"):
            return await self.store.revoke_share_link(owner, conversation_id)

    async def shared(self, token: str) -> Shared:
        """What a link opens, for any signed-in user: the visible thread as its owner sees it now.
        A revoked link and one that never existed are the same `NotFound`."""
        found = await self.store.shared(token) if self.settings.team_mode and 0 < len(token) <= 64 else None
        if found is None:
            raise NotFound(LINK_GONE)
        conv, sharer = found
        return Shared(conv.title, sharer, await self.thread(conv.owner, conv.id))

    # how a conversation is answered (services/steering.py) ------------------------------------

    async def steering(self, owner: str, conversation_id: str) -> Steering:
        conv = await self.store.get_conversation(owner, conversation_id)
        if conv is None:
            raise NotFound("That conversation does not exist.")
        return Steering.of(conv)

    async def steer(self, owner: str, conversation_id: str, steering: Steering) -> Steering:
        """From the next answer on; answers already given keep what they were made with."""
        steering = await self._checked(steering)
        with self._storage("The conversation settings could not be saved"):
            if not await self.store.update_conversation(owner, conversation_id, **steering.values()):
                raise NotFound("That conversation does not exist.")
        return steering

    async def defaults(self, owner: str) -> Steering:
        """This owner's settings for new conversations."""
        return Steering.of(await self.store.get_defaults(owner))

    async def save_defaults(self, owner: str, steering: Steering) -> Steering:
        steering = await self._checked(steering)
        with self._storage("The defaults could not be saved"):
            await self.store.save_defaults(ChatDefaults(owner=owner, **steering.values()))
        return steering

    async def usage_totals(self, owner: str, conversation_id: str) -> UsageTotals:
        with self._storage("The usage could not be read"):
            return UsageTotals(*await self.store.usage_totals(owner, conversation_id))

    async def models(self) -> list[str]:
        """What a conversation can be answered by, the default first."""
        return await self.backend.models()

    @property
    def answer_cap(self) -> int:
        """The server-wide limit on an answer's tokens (MAX_ANSWER_TOKENS, the embedded model's own); 0: none."""
        return int(self.backend.request_options.get(self.backend.token_limit_key) or 0)

    async def _checked(self, steering: Steering) -> Steering:
        try:
            return checked(steering, models=await self.models(), answer_cap=self.answer_cap)
        except SteeringError as exc:
            raise ChatError(str(exc)) from None

    async def delete_conversation(self, owner: str, conversation_id: str, *, stop: bool = False) -> None:
        """Refused (`Busy`) while an answer is being generated in it, unless `stop`: then that answer is
        stopped and its final row written first. Deleting under a running answer would leave it
        writing to rows that are gone."""
        if stop:
            running = self.hub.for_conversation(owner, conversation_id)
            for gen in running:
                gen.stop()
            if running:  # asyncio.wait never cancels what it waits on
                await asyncio.wait([g.settled for g in running], timeout=10)
        with self._storage("The conversation could not be deleted"), self._reserved(owner, conversation_id):
            if not await self.store.delete_conversation(owner, conversation_id):
                raise NotFound("That conversation does not exist.")
        self.changes.notify(owner, Changed("deleted", conversation_id))

    # the workspace: rename, pin, export, import ---------------------------------------------

    def watch_conversations(self, owner: str, callback: Callable[[Changed], None]) -> Callable[[], None]:
        """Tell a page when this owner's conversations are renamed, pinned, deleted or imported in any tab."""
        return self.changes.watch(owner, callback)

    async def rename(self, owner: str, conversation_id: str, title: str) -> str:
        """The title as stored (spaces collapsed); an empty or oversized one is refused, nothing changed."""
        clean = " ".join(title.split())
        if not clean:
            raise ChatError("Type a title.")
        if len(clean) > transfer.MAX_TITLE_CHARS:
            raise ChatError(
                f"A title can have at most {transfer.MAX_TITLE_CHARS} characters; this one has {len(clean):,}."
            )
        with self._storage("The title could not be saved"):
            if not await self.store.update_conversation(owner, conversation_id, title=clean):
                raise NotFound("That conversation does not exist.")
        self.changes.notify(owner, Changed("renamed", conversation_id, clean))
        return clean

    async def pin(self, owner: str, conversation_id: str, pinned: bool = True) -> None:
        with self._storage("The conversation could not be pinned"):
            if not await self.store.update_conversation(owner, conversation_id, pinned=pinned):
                raise NotFound("That conversation does not exist.")
        self.changes.notify(owner, Changed("pinned", conversation_id))

    async def export(self, owner: str, conversation_ids: list[str], fmt: str = "json") -> Exported:
        """One conversation as Markdown, or any number as one JSON file that `import_conversations` reads."""
        found: list[tuple[Conversation, list[Message]]] = []
        for conversation_id in conversation_ids:
            conv = await self.store.get_conversation(owner, conversation_id)
            if conv is None:
                raise NotFound("That conversation does not exist.")
            found.append((conv, await self.store.list_messages(owner, conversation_id)))
        if fmt == "markdown" and len(found) == 1:
            conv, messages = found[0]
            return Exported(
                transfer.filename(conv.title, "md"), transfer.export_markdown(conv, messages), "text/markdown"
            )
        if fmt != "json" or not found:
            raise ChatError("Choose one conversation for Markdown, or export as JSON.")
        now = datetime.now(UTC)
        name = transfer.filename(found[0][0].title, "json") if len(found) == 1 else f"streamchat-{now:%Y-%m-%d}.json"
        content = transfer.export_json([transfer.to_exported(c, m) for c, m in found], now)
        return Exported(name, content, "application/json")

    async def import_conversations(self, owner: str, data: bytes) -> int:
        """All conversations of an export file, or (bad file, full disk) none of them. Returns how many."""
        try:
            items = transfer.parse_import(data)
        except transfer.BadImport as exc:
            raise ChatError(str(exc)) from None
        if not items:
            raise ChatError("The file holds no conversations.")
        with self._storage("The conversations could not be imported"):
            await self.store.import_conversations(owner, items)
        self.changes.notify(owner, Changed("imported"))
        return len(items)

    async def subscribe(
        self, owner: str, message_id: int, after: int = 0, idle_s: float | None = None
    ) -> AsyncIterator[events.AnswerEvent | None]:
        """The answer's events from character `after` on (see services/events.py): live while it runs,
        replayed from its row once it ended; with `idle_s`, None after each `idle_s` seconds of silence.
        Raises `NotFound` at once, before any event."""
        after = max(0, after)
        gen = self.hub.get(owner, message_id)
        if gen is None:
            msg = await self.store.get_message(owner, message_id)
            if msg is None or msg.role != Role.ASSISTANT:
                raise NotFound("That answer does not exist.")
            [msg] = await self._current(owner, [msg])
            gen = self.hub.get(owner, message_id)
            if gen is None:
                return events.replay(msg, after)
        return events.follow(gen, after, idle_s)

    def follow(self, owner: str, message_id: int, listener: events.Listener) -> events.Following | None:
        """For pages: an answer still in the hub by callback (see `events.listen`). None once it ended
        and its final row is written: the thread, read again, shows it."""
        gen = self.hub.get(owner, message_id)
        return None if gen is None else events.listen(gen, listener)

    def watch_started(self, owner: str, callback: Callable[[events.Started], None]) -> Callable[[], None]:
        """Tell a page whenever an answer of this owner starts, in any tab or through the API, so it can
        follow it live. The callback runs inside the start, so it must only schedule work. Returns the
        unwatch function."""
        return self.hub.watch(owner, callback)

    def running(self, owner: str, conversation_id: str) -> list[events.Started]:
        """Answers in this conversation still in the hub: running, or ended with their final row unwritten."""
        here = [events.started_of(g) for g in self.hub.for_conversation(owner, conversation_id)]
        known = {s.message_id for s in here}
        cluster = self.hub.cluster
        elsewhere = cluster.running_elsewhere(owner, conversation_id) if cluster is not None else []
        there = [r.started for r in elsewhere if r.message_id not in known]
        return here + there

    @property
    def model_label(self) -> str:
        """Which model answers, as the page shows it."""
        return self.backend.label

    async def not_ready(self) -> dict[str, str]:
        """What keeps this instance from serving, by part ({} when ready), for /readyz."""
        problems = {"database": await self.store.schema_problem()}
        if self.hub.cluster is not None:
            problems["redis"] = await self.hub.cluster.problem()
        return {part: problem for part, problem in problems.items() if problem}

    def stats(self) -> dict[str, int]:
        """Counts for operators and the leak check: answers in the hub, their subscribers, page watchers."""
        return {**self.hub.stats(), "list_watchers": self.changes.count()}

    async def answer(self, owner: str, message_id: int, wait_s: float = 10.0) -> Message:
        """An ended answer as stored, once its final row is written (from memory while it cannot be)."""
        gen = self.hub.get(owner, message_id)
        if gen is not None:
            await asyncio.wait([gen.settled], timeout=wait_s)  # asyncio.wait never cancels what it waits on
        msg = await self.store.get_message(owner, message_id)
        if msg is None:
            raise NotFound("That answer does not exist.")
        return self._live(owner, msg)

    def _live(self, owner: str, msg: Message) -> Message:
        """A row whose answer is still in the hub gets the hub's text and, once ended, its status.
        Rows from the store are detached copies, so this changes nothing stored."""
        gen = self.hub.get(owner, msg.id or 0) if msg.status == Status.STREAMING else None
        if gen is not None:
            msg.content = gen.publisher.text
            if gen.done:
                msg.status, msg.error = gen.publisher.status, gen.publisher.detail
        return msg

    async def complete(self, owner: str, messages: list[dict[str, str]], *, stream: bool, store: bool) -> Started:
        """The OpenAI-compatible gateway: the caller's messages are the prompt, as given. Stored, they
        become a conversation of their own (system messages are not shown in a thread); not stored,
        the answer lives only in memory, under a negative id, while it runs."""
        for m in messages:
            if len(m["content"]) > self.settings.max_message_chars:
                raise TooLong(f"A message is over the limit of {self.settings.max_message_chars:,} characters.")
        async with self._admitted(owner) as admission:
            if not store:
                message_id = next(self._unstored)
                admission.hold(self._start(owner, "", message_id, messages, stream).task)
                return Started(message_id, None)
            return await self._complete_stored(owner, messages, stream, admission)

    async def _complete_stored(
        self, owner: str, messages: list[dict[str, str]], stream: bool, admission: Admission
    ) -> Started:
        with self._storage("The request could not be saved"):
            question = next((m["content"] for m in reversed(messages) if m["role"] == Role.USER), "")
            title = make_title(question) or "API request"
            conv = await self.store.create_conversation(owner, title, with_defaults=False)  # the caller steers
            reply_to: int | None = None
            for m in messages:
                if m["role"] in (Role.USER, Role.ASSISTANT):
                    row = Message(conversation_id=conv.id, owner=owner, role=m["role"], content=m["content"])
                    row.reply_to = reply_to if m["role"] == Role.ASSISTANT else None
                    row.parent_id = reply_to if m["role"] == Role.USER else None
                    row = await self.store.add_message(row)
                    reply_to = row.id if row.role == Role.USER else reply_to
            assistant = await self._answer_row(owner, conv.id, reply_to)
        assert assistant.id is not None
        admission.hold(self._start(owner, conv.id, assistant.id, messages, stream).task)
        return Started(assistant.id, conv.id)
