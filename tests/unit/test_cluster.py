"""Two instances in one test: two ChatServices with their own hubs and clusters, one SQLite file, one
real Redis, real HTTP to the fake upstream. What one runs, the other follows, stops and hears of."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services import events
from services.answer_stream import stream_key
from services.changes import Changed
from services.chat import ChatService, Sent
from services.cluster import NEWS, RUNNING, Cluster, instance_key, running_json
from services.generation import GenerationHub
from services.llm import openai_backend
from services.models import Message, Role, Status
from services.reaper import DIED_NOTE, Reaper
from services.remote_answer import PAUSED, Running
from services.rendered import RenderedHtml
from services.settings import Settings
from services.store import Store, close_database
from tests.fake_upstream import FakeUpstream, Reply
from tests.redis_server import RedisServer


@dataclass
class Instance:
    chat: ChatService
    cluster: Cluster


def settings_for(fake: FakeUpstream, redis_url: str) -> Settings:
    return Settings(_env_file=None, openai_base_url=f"{fake.url}/v1", openai_api_key="test-key",
                    openai_model="fake-model", checkpoint_interval_s=0.05, redis_url=redis_url,
                    instance_ttl_s=1.0, storage_secret="x" * 32)


async def make_instance(db_url: str, settings: Settings) -> Instance:
    store = Store(db_url)
    cluster = Cluster(settings.redis_url, settings)
    hub = GenerationHub(cluster)
    chat = ChatService(store, hub, openai_backend(settings), settings, RenderedHtml(store))
    cluster.attach(hub, chat.changes)
    await cluster.start()
    return Instance(chat, cluster)


async def stop_instances(*instances: Instance) -> None:
    """As at an app's shutdown: answers stopped and saved, then each leaves the cluster."""
    for inst in instances:
        await inst.chat.hub.shutdown()
        await inst.cluster.close()
        await inst.chat.backend.aclose()


@pytest.fixture
async def pair(fake_upstream: FakeUpstream, redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Instance, Instance]]:
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    settings = settings_for(fake_upstream, redis_url)
    a, b = await make_instance(db_url, settings), await make_instance(db_url, settings)
    yield a, b
    await stop_instances(a, b)
    close_database(db_url)


def slow_reply(words: int = 200) -> Reply:
    return Reply(text=" ".join(f"w{i}" for i in range(words)), interval=0.01)


async def answering(inst: Instance, fake: FakeUpstream, text: str, words: int = 2000) -> tuple[Sent, int]:
    """An answer started on `inst`, already streaming; with its message id."""
    fake.enqueue(slow_reply(words))
    sent = await inst.chat.send("me", None, text)
    await wait_for(lambda: len(sent.generation.publisher.text) > 20)
    return sent, sent.assistant_message.id or 0


async def wait_for(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def read_all(stream: AsyncIterator[events.AnswerEvent]) -> tuple[str, events.Done]:
    text = ""
    async with asyncio.timeout(20):
        async for event in stream:
            if isinstance(event, events.Snapshot | events.Delta):
                text += event.text
            elif isinstance(event, events.Done):
                return text, event
    raise AssertionError("no Done")


async def test_a_started_instance_already_hears_the_others(fake_upstream: FakeUpstream, redis_url: str,
                                                           tmp_path: Path) -> None:
    """Redis hands news only to the channel's subscribers at that moment: an instance that returned
    from `start` and subscribed a moment later missed an answer started elsewhere in that moment."""
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    inst = await make_instance(db_url, settings_for(fake_upstream, redis_url))
    other = Redis.from_url(redis_url, decode_responses=True)
    try:
        assert await other.pubsub_numsub(NEWS) == [(NEWS, 1)]
    finally:
        await other.aclose()
        await stop_instances(inst)
        close_database(db_url)


async def test_an_answer_running_on_one_instance_is_followed_on_another_exactly_once(
        pair: tuple[Instance, Instance], fake_upstream: FakeUpstream) -> None:
    a, b = pair
    fake_upstream.enqueue(slow_reply())
    sent = await a.chat.send("me", None, "count for me")
    answer_id = sent.assistant_message.id
    assert answer_id is not None
    await wait_for(lambda: len(sent.generation.publisher.text) > 50)
    text, done = await read_all(await b.chat.subscribe("me", answer_id))
    row = await a.chat.answer("me", answer_id)  # once its final row is written
    assert done.status == Status.DONE
    assert text == row.content == " ".join(f"w{i}" for i in range(200))
    assert done.usage == {"prompt_tokens": row.prompt_tokens, "completion_tokens": row.completion_tokens,
                          "total_tokens": (row.prompt_tokens or 0) + (row.completion_tokens or 0)}
    # a reader that already has part of it, on the other instance, gets the rest once
    fake_upstream.enqueue(slow_reply())
    again = await a.chat.send("me", sent.conversation.id, "again")
    again_id = again.assistant_message.id or 0
    await wait_for(lambda: len(again.generation.publisher.text) > 30)
    had = again.generation.publisher.text[:30]
    rest, _ = await read_all(await b.chat.subscribe("me", again_id, after=30))
    assert had + rest == " ".join(f"w{i}" for i in range(200))


async def test_the_other_instance_sees_it_busy_and_its_tabs_hear_it_start(
        pair: tuple[Instance, Instance], fake_upstream: FakeUpstream) -> None:
    a, b = pair
    heard: list[events.Started] = []
    unwatch = b.chat.watch_started("me", heard.append)
    fake_upstream.enqueue(slow_reply())
    sent = await a.chat.send("me", None, "hello")
    conv = sent.conversation.id
    await wait_for(lambda: bool(heard))
    assert heard[0].message_id == sent.assistant_message.id and heard[0].conversation_id == conv
    assert b.chat.busy("me", conv) and not b.chat.busy("someone-else", conv)
    assert [s.message_id for s in b.chat.running("me", conv)] == [sent.assistant_message.id]
    with pytest.raises(Exception, match="Wait for the current answer"):
        await b.chat.send("me", conv, "me too")
    await asyncio.wait_for(asyncio.shield(sent.generation.settled), 15)
    await wait_for(lambda: not b.chat.busy("me", conv))
    unwatch()


async def test_stop_on_the_other_instance_closes_the_upstream(
        pair: tuple[Instance, Instance], fake_upstream: FakeUpstream) -> None:
    a, b = pair
    _sent, answer_id = await answering(a, fake_upstream, "long")
    follower = await b.chat.subscribe("me", answer_id)
    assert not b.chat.stop("someone-else", answer_id)
    assert b.chat.stop("me", answer_id)
    text, done = await read_all(follower)
    assert done.status == Status.STOPPED
    rec = await fake_upstream.wait_for_end_async()
    assert rec.disconnected_at is not None and not rec.done_sent
    row = await a.chat.answer("me", answer_id)
    assert row.status == Status.STOPPED and row.content == text


async def test_list_changes_reach_the_other_instance(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    heard: list[Changed] = []
    b.chat.watch_conversations("me", heard.append)
    conv = await a.chat.new_conversation("me", "old title")
    await a.chat.rename("me", conv.id, "new title")
    await wait_for(lambda: bool(heard))
    assert heard == [Changed("renamed", conv.id, "new title")]


async def test_the_reaper_ends_only_answers_of_dead_instances(pair: tuple[Instance, Instance], redis_url: str) -> None:
    a, b = pair
    store = a.chat.store
    conv = await store.create_conversation("me", "t")

    async def streaming_row(content: str) -> int:
        row = await store.add_message(Message(conversation_id=conv.id, owner="me", role=Role.ASSISTANT,
                                              status=Status.STREAMING, content=content))
        assert row.id is not None
        return row.id

    dead_id, live_id = await streaming_row("Hello"), await streaming_row("Still")
    redis = Redis.from_url(redis_url, decode_responses=True)
    dead = Running("gone-instance", "me", conv.id, dead_id, 1, 0.0)
    live = Running(b.cluster.instance, "me", conv.id, live_id, 2, 0.0)
    await redis.hset(RUNNING, mapping={str(dead_id): running_json(dead), str(live_id): running_json(live)})
    await redis.xadd(stream_key(dead_id, dead.run), {"k": "d", "t": "Hello, world"})  # more than its last checkpoint
    assert await redis.exists(instance_key(b.cluster.instance))  # B heartbeats
    follower = await a.chat.subscribe("me", dead_id)  # a reader following it on a live instance
    assert await Reaper(a.cluster, store).sweep() == 1
    text, done = await read_all(follower)
    assert (text, done.status, done.error) == ("Hello, world", Status.INTERRUPTED, DIED_NOTE)
    gone, kept = await store.get_message("me", dead_id), await store.get_message("me", live_id)
    assert gone is not None and (gone.status, gone.content) == (Status.INTERRUPTED, "Hello, world")
    assert kept is not None and kept.status == Status.STREAMING
    assert await redis.hkeys(RUNNING) == [str(live_id)]
    assert await Reaper(b.cluster, store).sweep() == 0  # the other instance's sweep changes nothing more
    await redis.aclose()


async def test_with_redis_gone_the_answer_is_still_saved_and_followers_say_they_paused(
        fake_upstream: FakeUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = RedisServer().start()  # its own server: this test stops it
    db_url = f"sqlite:///{tmp_path / 'shared.db'}"
    settings = settings_for(fake_upstream, server.url())
    a, b = await make_instance(db_url, settings), await make_instance(db_url, settings)
    try:
        sent, answer_id = await answering(a, fake_upstream, "go on without Redis", 300)
        follower = await b.chat.subscribe("me", answer_id)
        assert isinstance(await anext(follower), events.Snapshot)
        server.stop()
        async with asyncio.timeout(15):
            while not (isinstance(event := await anext(follower), events.Status) and event.detail == PAUSED):
                pass
        await asyncio.wait_for(asyncio.shield(sent.generation.settled), 15)
        row = await a.chat.store.get_message("me", answer_id)
        assert row is not None and row.status == Status.DONE
        assert row.content == " ".join(f"w{i}" for i in range(300))
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
        await follower.aclose()
    finally:
        await stop_instances(a, b)
        close_database(db_url)
        server.cleanup()


async def test_a_retry_on_the_other_instance_is_followed_from_its_own_start(
        pair: tuple[Instance, Instance], fake_upstream: FakeUpstream) -> None:
    a, b = pair
    sent, answer_id = await answering(a, fake_upstream, "first run on A")
    assert b.chat.stop("me", answer_id)
    await asyncio.wait_for(asyncio.shield(sent.generation.settled), 15)
    fake_upstream.enqueue(Reply(text="second run, on B", interval=0.05))
    await wait_for(lambda: not b.chat.busy("me", sent.conversation.id))
    retried = await b.chat.retry("me", answer_id)  # same message id, another instance, another run
    text, done = await read_all(await a.chat.subscribe("me", answer_id))
    assert (text, done.status) == ("second run, on B", Status.DONE)
    await asyncio.wait_for(asyncio.shield(retried.generation.settled), 15)
