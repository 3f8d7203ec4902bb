"""Generations against the fake upstream over real HTTP, with a real SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.chat import ChatError, ChatService
from services.generation import GenerationHub
from services.llm import azure_backend, openai_backend
from services.models import Status
from services.publisher import Event
from services.settings import Settings
from services.store import Store
from tests.fake_credential import FakeCredential
from tests.fake_upstream import FakeUpstream, Reply


def make_chat(tmp_path: Path, settings: Settings, credential: object | None = None) -> ChatService:
    store = Store(f"sqlite:///{tmp_path / 'chat.db'}")
    backend = azure_backend(settings, credential) if settings.azure_openai_endpoint else openai_backend(settings)
    return ChatService(store, GenerationHub(), backend, settings)


def openai_settings(fake: FakeUpstream, **kw: object) -> Settings:
    return Settings(
        _env_file=None,
        openai_base_url=f"{fake.url}/v1",
        openai_api_key="test-key",
        openai_model="fake-model",
        checkpoint_interval_s=0.05,
        **kw,
    )


async def finish(chat: ChatService, owner: str, message_id: int):
    gen = chat.hub.get(owner, message_id)
    if gen is not None and gen.task is not None:
        await asyncio.wait_for(gen.task, 15)
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
    fake_upstream.enqueue(Reply(text=" ".join(f"w{i}" for i in range(400)), interval=0.02))
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "long please")
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
    unwatch = chat.hub.watch("me", lambda g: mine.append(g.message_id))
    chat.hub.watch("you", lambda g: theirs.append(g.message_id))
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
