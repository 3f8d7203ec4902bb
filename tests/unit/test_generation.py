"""Generations against the fake upstream over real HTTP, with a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import event

from services import generation
from services.chat import ChatError, ChatService, Sent
from services.generation import GenerationHub
from services.llm import azure_backend, openai_backend
from services.models import REFUSAL_NOTE, Status
from services.publisher import Event
from services.rendered import RENDERER_VERSION, RenderedHtml, digest
from services.settings import Settings
from services.store import Store
from tests.fake_credential import FakeCredential
from tests.fake_upstream import FakeUpstream, Reply


def make_chat(tmp_path: Path, settings: Settings, credential: object | None = None) -> ChatService:
    return chat_on(f"sqlite:///{tmp_path / 'chat.db'}", settings, credential)


def chat_on(db_url: str, settings: Settings, credential: object | None = None) -> ChatService:
    store = Store(db_url)
    backend = azure_backend(settings, credential) if settings.azure_openai_endpoint else openai_backend(settings)
    return ChatService(store, GenerationHub(), backend, settings, RenderedHtml(store))


def openai_settings(fake: FakeUpstream, **kw: object) -> Settings:
    return Settings(
        _env_file=None,
        openai_base_url=f"{fake.url}/v1",
        openai_api_key="test-key",
        openai_model="fake-model",
        checkpoint_interval_s=0.05,
        **kw,
    )


def long_reply() -> Reply:
    """400 words at 50 a second: still running when a test stops it."""
    return Reply(text=" ".join(f"w{i}" for i in range(400)), interval=0.02)


async def start_long_answer(fake: FakeUpstream, tmp_path: Path) -> tuple[ChatService, Sent]:
    fake.enqueue(long_reply())
    chat = make_chat(tmp_path, openai_settings(fake))
    return chat, await chat.send("me", None, "long please")


async def finish(chat: ChatService, owner: str, message_id: int):
    gen = chat.hub.get(owner, message_id)
    if gen is not None:
        await asyncio.wait_for(asyncio.shield(gen.settled), 15)
    return await chat.store.get_message(owner, message_id)


async def test_streamed_answer_is_published_in_order_and_saved(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fake_upstream.enqueue(Reply(text="Hello **world**, how are you today?", interval=0.01))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "hi there")
    events: list[Event] = []
    snapshot, _ = sent.generation.publisher.subscribe(events.append)
    row = await finish(chat, "me", sent.assistant_message.id)
    assert row.status == Status.DONE
    assert row.content == "Hello **world**, how are you today?"
    assert snapshot.text + "".join(e.delta for e in events) == row.content
    assert row.completion_tokens and row.ttft_ms is not None
    assert "streaming" in [e.phase for e in events] or snapshot.phase == "streaming"
    request = fake_upstream.requests[0]
    assert request.stream and request.body["stream_options"] == {"include_usage": True}
    assert request.messages[-1] == {"role": "user", "content": "hi there"}


async def test_a_finished_answer_is_rendered_when_its_thread_is_first_opened_then_read_from_the_cache(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(Reply(text="Saved as **HTML**."))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q")
    answer_id = sent.assistant_message.id
    await finish(chat, "me", answer_id)
    assert await chat.store.get_rendered("me", [answer_id]) == {}  # nobody opened it: no work spent
    opened = await chat.thread("me", sent.conversation.id)
    assert opened.turns[0].html is not None and "<strong>HTML</strong>" in opened.turns[0].html
    row = (await chat.store.get_rendered("me", [answer_id]))[answer_id]
    assert row.html == opened.turns[0].html
    assert (row.renderer, row.digest) == (RENDERER_VERSION, digest("Saved as **HTML**."))
    assert await chat.store.get_rendered("someone-else", [answer_id]) == {}


async def test_follow_up_carries_the_history(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fake_upstream.enqueue(Reply(text="Paris."), Reply(text="About 2 million."))
    chat = make_chat(tmp_path, openai_settings(fake_upstream, system_prompt="Be brief."))
    first = await chat.send("me", None, "Capital of France?")
    await finish(chat, "me", first.assistant_message.id)
    second = await chat.send("me", first.conversation.id, "Population?")
    await finish(chat, "me", second.assistant_message.id)
    assert fake_upstream.requests[1].messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Population?"},
    ]


async def test_non_streaming_request_delivers_the_whole_answer(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fake_upstream.enqueue(Reply(text="All at once."))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q", stream=False)
    row = await finish(chat, "me", sent.assistant_message.id)
    assert (row.status, row.content) == (Status.DONE, "All at once.")
    assert fake_upstream.requests[0].stream is False


async def test_stop_closes_the_upstream_response_and_keeps_partial_text(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat, sent = await start_long_answer(fake_upstream, tmp_path)
    gen = sent.generation
    for _ in range(200):
        if len(gen.publisher.text) > 20:
            break
        await asyncio.sleep(0.01)
    assert chat.stop("me", sent.assistant_message.id)
    row = await finish(chat, "me", sent.assistant_message.id)
    assert row.status == Status.STOPPED
    assert row.content and row.content.startswith("w0 w1")
    rec = await fake_upstream.wait_for_end_async(1)
    assert rec.disconnected_at is not None and not rec.done_sent


async def test_running_answers_are_checkpointed_together_while_they_stream(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A crash loses at most a checkpoint interval of text; every running answer is written in one
    statement per tick, not one round trip each."""
    fake_upstream.default = long_reply()
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    updates: list[int] = []

    @event.listens_for(chat.store.engine, "before_cursor_execute")
    def _count(_conn: object, _cursor: object, statement: str, params: object, _ctx: object, many: bool) -> None:
        if statement.startswith("UPDATE message"):
            updates.append(len(params) if many else 1)  # type: ignore[arg-type]

    sent = [await chat.send("me", None, f"long please {i}") for i in range(2)]
    ids = [s.assistant_message.id for s in sent]
    for _ in range(300):
        if 2 in updates:  # both answers in one statement
            break
        await asyncio.sleep(0.01)
    rows = [await chat.store.get_message("me", i) for i in ids]
    assert all(r.status == Status.STREAMING and r.content.startswith("w0") for r in rows)
    assert 2 in updates
    for s in sent:
        chat.stop("me", s.assistant_message.id)
        await finish(chat, "me", s.assistant_message.id)


async def test_an_answer_kept_only_in_memory_writes_nothing(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fake_upstream.enqueue(long_reply())
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    statements: list[str] = []

    @event.listens_for(chat.store.engine, "before_cursor_execute")
    def _record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    started = await chat.complete("me", [{"role": "user", "content": "q"}], stream=True, store=False)
    gen = chat.hub.get("me", started.message_id)
    for _ in range(300):
        if len(gen.publisher.text) > 100:  # past a few checkpoint intervals
            break
        await asyncio.sleep(0.01)
    chat.stop("me", started.message_id)
    await asyncio.wait_for(asyncio.shield(gen.settled), 5)
    assert gen.publisher.status == Status.STOPPED and statements == []


async def test_rate_limit_is_retried_with_a_visible_countdown(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fake_upstream.enqueue(Reply.rate_limited(retry_after=1.0), Reply(text="Finally."))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q")
    events: list[Event] = []
    sent.generation.publisher.subscribe(events.append)
    row = await finish(chat, "me", sent.assistant_message.id)
    assert (row.status, row.content) == (Status.DONE, "Finally.")
    assert any(e.phase == "retrying" and "Rate limited — retrying in 1 s" in e.detail for e in events)
    assert len(fake_upstream.requests) == 2


@pytest.mark.parametrize(
    ("reply", "status", "needle", "partial"),
    [
        (Reply(text="one two three four five", filter_after=3), Status.FILTERED, "content filter", True),
        (Reply(text="one two three four five", drop_after=3), Status.ERROR, "dropped", True),
        (Reply(text="one two three four five", stall_after=2, stall_max=5), Status.ERROR, "stopped sending", True),
        (Reply(text="one two three four five", malformed_after=2), Status.ERROR, "could not be read", True),
        (Reply.fail(401), Status.ERROR, "OPENAI_API_KEY", False),
        (Reply.fail(404), Status.ERROR, "model 'fake-model' was not found", False),
        (Reply.content_filter("violence", "hate"), Status.FILTERED, "hate, violence", False),
    ],
)
async def test_faults_end_with_a_plain_message_keeping_partial_text(
    fake_upstream: FakeUpstream, tmp_path: Path, reply: Reply, status: Status, needle: str, partial: bool
) -> None:
    fake_upstream.enqueue(reply)
    chat = make_chat(tmp_path, openai_settings(fake_upstream, idle_timeout_s=0.5, max_retries=0))
    sent = await chat.send("me", None, "q")
    row = await finish(chat, "me", sent.assistant_message.id)
    assert row.status == status
    assert needle in row.error
    assert bool(row.content) is partial
    if partial:
        assert row.content.startswith("one")


async def test_connection_refused_is_reported(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, openai_base_url="http://127.0.0.1:9/v1", openai_api_key="k", max_retries=0)
    chat = make_chat(tmp_path, settings)
    sent = await chat.send("me", None, "q")
    row = await finish(chat, "me", sent.assistant_message.id)
    assert row.status == Status.ERROR and "Could not reach" in row.error


def azure_settings(fake: FakeUpstream, **kw: object) -> Settings:
    base = {"azure_openai_endpoint": fake.url, "azure_openai_deployment": "fake-deploy"}
    return Settings(_env_file=None, **{**base, **kw})


@pytest.mark.parametrize(
    ("api_version", "path"),
    [("2024-10-21", "/openai/deployments/fake-deploy/chat/completions"), ("", "/openai/v1/chat/completions")],
    ids=["classic", "v1"],
)
async def test_azure_api_key_goes_in_the_api_key_header(
    fake_upstream: FakeUpstream, tmp_path: Path, api_version: str, path: str
) -> None:
    settings = azure_settings(fake_upstream, azure_openai_api_key="az-key", azure_openai_api_version=api_version)
    chat = make_chat(tmp_path, settings)
    sent = await chat.send("me", None, "q")
    assert (await finish(chat, "me", sent.assistant_message.id)).status == Status.DONE
    rec = fake_upstream.requests[0]
    assert rec.path == path
    assert rec.headers["api-key"] == "az-key"
    assert rec.query.get("api-version", "") == api_version
    assert rec.body["model"] == "fake-deploy"


@pytest.mark.parametrize("api_version", ["2024-10-21", ""])
async def test_azure_keyless_sends_the_entra_token(
    fake_upstream: FakeUpstream, tmp_path: Path, api_version: str
) -> None:
    credential = FakeCredential()
    chat = make_chat(tmp_path, azure_settings(fake_upstream, azure_openai_api_version=api_version), credential)
    sent = await chat.send("me", None, "q")
    assert (await finish(chat, "me", sent.assistant_message.id)).status == Status.DONE
    rec = fake_upstream.requests[0]
    assert rec.headers["authorization"] == "Bearer fake-entra-token"
    assert "api-key" not in rec.headers
    assert credential.calls and credential.calls[0] == ("https://cognitiveservices.azure.com/.default",)


async def test_azure_keyless_without_a_token_says_how_to_sign_in(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    chat = make_chat(tmp_path, azure_settings(fake_upstream), FakeCredential(fail=True))
    sent = await chat.send("me", None, "q")
    row = await finish(chat, "me", sent.assistant_message.id)
    assert row.status == Status.ERROR and "az login" in row.error and "AZURE_OPENAI_API_KEY" in row.error
    assert fake_upstream.requests == []


async def test_empty_and_oversized_messages_are_refused_before_anything_is_saved(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream, max_message_chars=100))
    with pytest.raises(ChatError, match="Type a message"):
        await chat.send("me", None, "   \n ")
    with pytest.raises(ChatError, match="101 characters; the limit is 100"):
        await chat.send("me", None, "x" * 101)
    assert await chat.store.list_conversations("me") == []


async def test_answer_running_past_the_maximum_duration_is_ended(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fake_upstream.enqueue(Reply(text=" ".join(["slow"] * 200), interval=0.02))
    chat = make_chat(tmp_path, openai_settings(fake_upstream, max_generation_s=0.5))
    sent = await chat.send("me", None, "q")
    row = await finish(chat, "me", sent.assistant_message.id)
    assert row.status == Status.ERROR and "longer than 0.5 s" in row.error
    assert row.content.startswith("slow")
    rec = await fake_upstream.wait_for_end_async(1)
    assert rec.disconnected_at is not None  # the upstream response was closed, not left running


async def test_hub_forgets_finished_generations_and_their_subscribers(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q")
    sent.generation.publisher.subscribe(lambda _e: None)
    assert chat.hub.stats() == {"generations": 1, "subscribers": 1, "watchers": 0}
    await finish(chat, "me", sent.assistant_message.id)
    assert chat.hub.stats() == {"generations": 0, "subscribers": 0, "watchers": 0}
    assert chat.hub.get("someone-else", sent.assistant_message.id) is None


async def test_hub_tells_only_the_owners_watchers_that_an_answer_started(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    mine: list[int] = []
    theirs: list[int] = []
    unwatch = chat.hub.watch("me", lambda s: mine.append(s.message_id))
    chat.hub.watch("you", lambda s: theirs.append(s.message_id))
    first = await chat.send("me", None, "q")
    assert mine == [first.assistant_message.id] and theirs == []
    await finish(chat, "me", first.assistant_message.id)
    unwatch()
    second = await chat.send("me", first.conversation.id, "again")
    await finish(chat, "me", second.assistant_message.id)
    assert mine == [first.assistant_message.id]  # unwatched: told nothing more
    assert chat.hub.stats()["watchers"] == 1  # only "you" is left


async def test_a_small_model_window_trims_history_below_the_configured_budget(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream, context_token_budget=100_000))
    chat.backend.prompt_token_limit = 120  # like the embedded model's per-slot window
    conv_id = None
    for i in range(3):
        sent = await chat.send("me", conv_id, f"question {i} " + "x" * 200)
        conv_id = sent.conversation.id
        await finish(chat, "me", sent.assistant_message.id)
    last = fake_upstream.requests[-1].messages
    assert last[0]["role"] == "system" and last[-1]["content"].startswith("question 2")
    assert not any(m["content"].startswith("question 0") for m in last)


async def test_a_nul_in_a_message_or_an_answer_is_kept_as_a_replacement_character(
    fake_upstream: FakeUpstream, db_url: str
) -> None:
    """PostgreSQL refuses NUL in text; both databases store U+FFFD (what CommonMark shows for NUL anyway)."""
    fake_upstream.enqueue(Reply(text="before\x00after, a long enough answer to be checkpointed", interval=0.01))
    chat = chat_on(db_url, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "pasted\x00binary")
    row = await finish(chat, "me", sent.assistant_message.id)
    assert (row.status, row.content) == (Status.DONE, "before\ufffdafter, a long enough answer to be checkpointed")
    [conv] = await chat.store.list_conversations("me")
    assert "\x00" not in conv.title
    question = await chat.store.get_message("me", sent.user_message.id)
    assert question.content == "pasted\ufffdbinary"


# ---- one answer per conversation (#7 finding 4) -------------------------------------------


async def test_two_tabs_sending_at_once_start_one_upstream_request(fake_upstream: FakeUpstream, db_url: str) -> None:
    fake_upstream.enqueue(Reply(text="First answer."))
    chat = chat_on(db_url, openai_settings(fake_upstream))
    first = await chat.send("me", None, "start")
    await finish(chat, "me", first.assistant_message.id)
    fake_upstream.default = long_reply()
    conv = first.conversation.id
    results = await asyncio.gather(
        chat.send("me", conv, "from tab one"), chat.send("me", conv, "from tab two"), return_exceptions=True
    )
    started = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(started) == 1 and len(refused) == 1
    assert isinstance(refused[0], ChatError) and "press Stop" in str(refused[0])
    await fake_upstream.wait_for_request_async(2)
    assert chat.stop("me", started[0].assistant_message.id)
    row = await finish(chat, "me", started[0].assistant_message.id)
    assert row.status == Status.STOPPED
    assert len(fake_upstream.requests) == 2  # the first answer, then exactly one of the two
    questions = [m.content for m in await chat.store.list_messages("me", conv) if m.role == "user"]
    assert len(questions) == 2  # the refused message was not stored either


async def test_two_retries_of_one_answer_run_once_and_stop_stops_it(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(Reply.fail(500))
    chat = make_chat(tmp_path, openai_settings(fake_upstream, max_retries=0))
    sent = await chat.send("me", None, "q")
    answer_id = sent.assistant_message.id
    assert (await finish(chat, "me", answer_id)).status == Status.ERROR
    fake_upstream.default = long_reply()
    results = await asyncio.gather(chat.retry("me", answer_id), chat.retry("me", answer_id), return_exceptions=True)
    assert sum(isinstance(r, ChatError) for r in results) == 1
    await fake_upstream.wait_for_request_async(2)
    assert chat.hub.stats()["generations"] == 1
    assert chat.stop("me", answer_id)
    row = await finish(chat, "me", answer_id)
    assert row.status == Status.STOPPED
    assert len(fake_upstream.requests) == 2 and chat.hub.stats()["generations"] == 0


# ---- every path ends final (#7 findings 6 and 7) ------------------------------------------


async def test_a_second_cancel_during_the_final_save_still_ends_the_answer(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat, sent = await start_long_answer(fake_upstream, tmp_path)
    gen = sent.generation
    await fake_upstream.wait_for_request_async(1)
    gen.stop()
    assert gen.task is not None
    await asyncio.sleep(0)  # the first cancel lands; the task is now ending
    gen.task.cancel()  # a second one, as a shutdown or a second Stop would send
    row = await finish(chat, "me", sent.assistant_message.id)
    assert gen.publisher.final and gen.publisher.status == Status.STOPPED
    assert row.status == Status.STOPPED


async def test_an_answer_stopped_before_its_task_began_is_final_and_saved(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q")
    sent.generation.stop()  # before the task ran a single step
    row = await finish(chat, "me", sent.assistant_message.id)
    assert sent.generation.publisher.final and row.status == Status.STOPPED
    assert chat.hub.stats()["generations"] == 0 and fake_upstream.requests == []


async def test_a_failing_subscriber_cannot_leave_the_answer_streaming(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(Reply(text="Still saved.", interval=0.01))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q")

    def broken(_event: Event) -> None:
        raise RuntimeError("a page that fails")

    sent.generation.publisher.subscribe(broken)
    row = await finish(chat, "me", sent.assistant_message.id)
    assert (row.status, row.content) == (Status.DONE, "Still saved.")


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_numbers_and_lone_surrogates_are_shown_not_fatal(
    fake_upstream: FakeUpstream, tmp_path: Path, stream: bool
) -> None:
    contents = ["Answer: ", 123, " then \ud800 end."] if stream else [123]
    fake_upstream.enqueue(Reply(contents=contents))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q", stream=stream)
    row = await finish(chat, "me", sent.assistant_message.id)
    assert row.status == Status.DONE
    assert row.content == ("Answer: 123 then \ufffd end." if stream else "123")


async def test_a_chunk_that_cannot_be_shown_ends_the_answer_keeping_its_text(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(Reply(contents=["Kept so far.", {"not": "text"}, "never"]))
    chat = make_chat(tmp_path, openai_settings(fake_upstream, max_retries=0))
    sent = await chat.send("me", None, "q")
    row = await finish(chat, "me", sent.assistant_message.id)
    assert (row.status, row.content) == (Status.ERROR, "Kept so far.")
    assert "could not be read" in row.error


# ---- what the model said, shown honestly (#7 finding 8) -----------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_a_refusal_is_the_answer_marked_declined(
    fake_upstream: FakeUpstream, tmp_path: Path, stream: bool
) -> None:
    fake_upstream.enqueue(Reply(refusal="I'm sorry, I cannot help with that."))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q", stream=stream)
    row = await finish(chat, "me", sent.assistant_message.id)
    assert (row.status, row.content, row.error) == (Status.DONE, "I'm sorry, I cannot help with that.", REFUSAL_NOTE)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_a_tool_call_without_text_names_the_tool(
    fake_upstream: FakeUpstream, tmp_path: Path, stream: bool
) -> None:
    fake_upstream.enqueue(Reply.calls_tool("get_weather"))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q", stream=stream)
    row = await finish(chat, "me", sent.assistant_message.id)
    assert (row.status, row.content, row.finish_reason) == (Status.ERROR, "", "tool_calls")
    assert "tool this app does not offer (get_weather)" in row.error


async def test_a_filter_verdict_after_the_stop_chunk_marks_the_answer_filtered(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(Reply(text="Something borderline.", late_filter=("violence",)))
    chat = make_chat(tmp_path, azure_settings(fake_upstream, azure_openai_api_key="k", azure_openai_api_version="x"))
    sent = await chat.send("me", None, "q")
    row = await finish(chat, "me", sent.assistant_message.id)
    assert (row.status, row.content) == (Status.FILTERED, "Something borderline.")
    assert "content filter flagged this answer (violence)" in row.error


async def test_a_429_that_names_its_wait_only_in_the_message_is_honoured(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(Reply.rate_limited(retry_after=2, headers=False), Reply(text="Done waiting."))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "q")
    events: list[Event] = []
    sent.generation.publisher.subscribe(events.append)
    row = await finish(chat, "me", sent.assistant_message.id)
    assert row.content == "Done waiting."
    assert "retry-after" not in fake_upstream.requests[0].reply.headers
    assert any("retrying in 2 s" in e.detail for e in events)  # the default backoff would say 1 s


# ---- storage faults (#7 finding 5) ---------------------------------------------------------


def lock_database(path: Path) -> sqlite3.Connection:
    """Another process's write transaction: every write of ours waits for it, then fails."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def short_busy_timeout(store: Store) -> None:
    """Writes give up after 0.2 s instead of 10 s, so a locked database fails fast in tests."""

    @event.listens_for(store.engine, "connect")
    def _fast(dbapi_conn: object, _record: object) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=200")  # type: ignore[attr-defined]

    store.engine.dispose()


async def test_a_locked_database_keeps_the_answer_in_memory_and_saves_it_later(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    hold = threading.Event()
    fake_upstream.enqueue(Reply(text="The whole answer, every word of it.", interval=0.01, hold=hold))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    short_busy_timeout(chat.store)
    sent = await chat.send("me", None, "q")
    gen, answer_id = sent.generation, sent.assistant_message.id
    await fake_upstream.wait_for_request_async(1)
    lock = lock_database(tmp_path / "chat.db")
    saved: asyncio.Queue[bool] = asyncio.Queue()
    gen.watch_saved(saved.put_nowait)
    hold.set()
    assert await asyncio.wait_for(saved.get(), 10) is False  # told, instead of a silent failure
    assert gen.publisher.final and gen.publisher.status == Status.DONE  # the page is not left on Stop
    row = await chat.store.get_message("me", answer_id)
    assert row.status == Status.STREAMING  # the database really has not got it yet ...
    assert chat.hub.get("me", answer_id) is gen  # ... so the hub keeps the whole text for a reload
    assert gen.publisher.text == "The whole answer, every word of it."
    assert not chat.busy("me", sent.conversation.id)  # and the conversation is free again
    with pytest.raises(ChatError, match="database is busy or unavailable"):
        await chat.send("me", sent.conversation.id, "while locked")
    lock.rollback()
    lock.close()
    assert await asyncio.wait_for(saved.get(), 10) is True
    row = await finish(chat, "me", answer_id)
    assert (row.status, row.content) == (Status.DONE, "The whole answer, every word of it.")
    assert chat.hub.get("me", answer_id) is None


async def test_a_burst_of_buffered_chunks_lets_other_tasks_run(
    fake_upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK hands out chunks already read without suspending; the generation yields to the loop
    after YIELD_AFTER_S of them (0 here: after every chunk), so pages and other answers keep running."""
    monkeypatch.setattr(generation, "YIELD_AFTER_S", 0.0)
    fake_upstream.enqueue(Reply(text=" ".join(f"w{i:04}" for i in range(2000)), interval=0))  # one burst
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "all at once")
    grew: list[int] = []

    async def other_task() -> None:
        seen = 0
        while not sent.generation.done:
            await asyncio.sleep(0)
            now = len(sent.generation.publisher.full_text)
            grew.append(now - seen)
            seen = now

    other = asyncio.create_task(other_task())
    row = await finish(chat, "me", sent.assistant_message.id)
    await other
    assert row.status == Status.DONE and len(row.content) == 2000 * 6 - 1
    assert max(grew) <= 2 * len(" w0000"), f"{max(grew)} characters arrived while other tasks waited"


async def test_a_thread_read_while_its_answer_is_being_saved_shows_the_saved_answer(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    """The rows are read while the answer streams; its final row is written (and the hub lets it go)
    before the read returns: the reader gets the saved answer, not a `streaming` row nobody follows."""
    fake_upstream.enqueue(Reply(text="A quick answer.", interval=0.01))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "hi")
    read = chat.store.list_messages

    async def read_then_it_is_saved(owner: str, conversation_id: str) -> list:
        rows = await read(owner, conversation_id)
        assert rows[-1].status == Status.STREAMING
        await asyncio.wait_for(asyncio.shield(sent.generation.settled), 10)
        return rows

    chat.store.list_messages = read_then_it_is_saved  # type: ignore[method-assign]
    _conv, messages = await chat.conversation("me", sent.conversation.id)
    assert (messages[-1].content, messages[-1].status) == ("A quick answer.", Status.DONE)
