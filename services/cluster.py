"""Several instances behind a sticky load balancer, sharing the database and Redis (`REDIS_URL`).

An answer is owned by the instance that started it: only there does it read the upstream. That
instance writes its events to a Redis Stream per message (services/answer_stream.py), keeps it in
the registry (a hash: message id → `Running`) and heartbeats a key of its own. One pub/sub channel
carries the news: an answer started or ended, "stop this answer" for its owner, a conversation list
changed. A tab or API reader on any instance follows an answer running elsewhere through a
`RemoteAnswer`; the reaper (services/reaper.py) ends the answers of instances that stopped
heartbeating.

Redis is for live views only; the database stays the truth. With Redis down, answers go on and are
saved, tabs on the owning instance see them as always, and readers elsewhere say they paused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.answer_stream import DRAIN_S, PREFIX, AnswerWriter
from services.changes import Changed, Changes
from services.live_answer import LiveAnswer
from services.models import Status
from services.remote_answer import RemoteAnswer, Running
from services.settings import Settings

if TYPE_CHECKING:
    from services.generation import GenerationHub

log = logging.getLogger(__name__)

NEWS = f"{PREFIX}news"
RUNNING = f"{PREFIX}running"
FOLLOW_GRACE_S = 120.0  # a reader follows at most MAX_GENERATION_S plus this (reaping, saving)
LISTEN_WAIT_S = 2.0  # how long `start` waits to be subscribed to the news before going on without


def instance_key(instance: str) -> str:
    return f"{PREFIX}instance:{instance}"


def ended_news(instance: str, message_id: int) -> bytes:
    """Tells every instance an answer runs no more (its final row is written)."""
    return orjson.dumps({"k": "ended", "i": instance, "m": message_id})


def running_json(r: Running) -> str:
    return orjson.dumps([r.instance, r.owner, r.conversation_id, r.run, r.started_at]).decode()


def running_of(message_id: str | int, value: str) -> Running:
    instance, owner, conversation_id, run, started_at = orjson.loads(value)
    return Running(instance, owner, conversation_id, int(message_id), run, started_at)


class Cluster:
    """This instance's part: what it owns, what it follows, and the news between instances."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.redis = Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5)
        self.instance = secrets.token_hex(6)
        self.ttl_s = settings.instance_ttl_s
        self.max_follow_s = settings.max_generation_s + FOLLOW_GRACE_S
        self.remote: dict[int, Running] = {}  # answers other instances run, from the news and the registry
        self.owned: dict[int, Running] = {}  # answers this instance runs, until their final row is shared
        self._writers: dict[int, AnswerWriter] = {}
        self._mirrors: dict[int, RemoteAnswer] = {}
        self._opening: dict[int, asyncio.Task[RemoteAnswer | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self.reachable = True
        self._listening = asyncio.Event()  # subscribed to the news at least once
        self.hub: GenerationHub | None = None
        self.changes: Changes | None = None

    def attach(self, hub: GenerationHub, changes: Changes) -> None:
        self.hub, self.changes = hub, changes
        changes.relay = self.relay

    async def start(self, *loops: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Heartbeat and news, plus the caller's loops (the reaper). Returns once subscribed to the news,
        so an answer another instance starts right after is heard (a publish reaches only subscribers);
        on an unreachable Redis, after LISTEN_WAIT_S: it never fails."""
        for loop in (self._heartbeat, self._listen, *loops):
            self._loops.append(asyncio.get_running_loop().create_task(loop(), name=f"cluster-{loop.__name__}"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), LISTEN_WAIT_S)

    async def close(self) -> None:
        """After the hub stopped this instance's answers: their last entries out, then leave."""
        await asyncio.gather(*(w.drain() for w in list(self._writers.values())), return_exceptions=True)
        if self._tasks:  # their registry updates and news (an answer saved just now leaving the registry)
            await asyncio.wait(list(self._tasks), timeout=DRAIN_S)
        for task in self._loops:
            task.cancel()
        for mirror in list(self._mirrors.values()):
            mirror.close()
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(instance_key(self.instance))
        await self.redis.aclose()

    async def problem(self) -> str | None:
        """For /readyz: None when Redis answers."""
        try:
            async with asyncio.timeout(3):
                await self.redis.ping()
        except (RedisError, OSError, TimeoutError) as exc:
            return f"not reachable ({type(exc).__name__})"
        return None

    # the owner's side ------------------------------------------------------------------------

    def publish(self, gen: LiveAnswer) -> None:
        """Share a stored answer this instance just started: its events, its place in the registry, the news."""
        running = Running(self.instance, gen.owner, gen.conversation_id, gen.message_id, gen.run, gen.started_at)
        writer = AnswerWriter(self.redis, gen, self._written)
        gen.publisher.subscribe(writer.on_event)  # the publisher drops it after the final event
        gen.watch_saved(writer.on_saved)
        self.owned[gen.message_id] = running
        self._writers[gen.message_id] = writer
        news = orjson.dumps({"k": "started", "i": self.instance, "m": gen.message_id, "r": running_json(running)})
        self._spawn(self._send(lambda p: p.hset(RUNNING, str(gen.message_id), running_json(running)), news))

    def _written(self, gen: LiveAnswer) -> None:
        """Its final row is written and its last entry shared: it leaves the registry."""
        self._writers.pop(gen.message_id, None)
        self.owned.pop(gen.message_id, None)
        news = ended_news(self.instance, gen.message_id)
        self._spawn(self._send(lambda p: p.hdel(RUNNING, str(gen.message_id)), news))

    async def _send(self, change: Callable[[Any], Any], news: bytes) -> None:
        pipe = self.redis.pipeline(transaction=False)
        change(pipe)
        pipe.publish(NEWS, news)
        with contextlib.suppress(RedisError, OSError):  # the heartbeat says Redis is down, once
            await pipe.execute()

    # readers on any instance ----------------------------------------------------------------

    def mirror(self, owner: str, message_id: int) -> RemoteAnswer | None:
        found = self._mirrors.get(message_id)
        return found if found is not None and found.owner == owner else None

    def mirrors(self, owner: str, conversation_id: str) -> list[RemoteAnswer]:
        return [m for m in self._mirrors.values() if m.owner == owner and m.conversation_id == conversation_id]

    def running_elsewhere(self, owner: str, conversation_id: str) -> list[Running]:
        """Still running on another instance, as far as this one knows (an ended answer a reader here
        follows is not, though its final row may still be on its way)."""
        return [
            r
            for r in self.remote.values()
            if r.owner == owner and r.conversation_id == conversation_id and not self._ended_here(r.message_id)
        ]

    def _ended_here(self, message_id: int) -> bool:
        mirror = self._mirrors.get(message_id)
        return mirror is not None and mirror.done

    async def follow(self, owner: str, message_id: int) -> RemoteAnswer | None:
        """A copy of this owner's answer running on another instance, caught up and following; None if
        no other instance runs it (it ended, or it is not this owner's). For a row read as `streaming`."""
        if (found := self.mirror(owner, message_id)) is not None:
            return found
        opening = self._opening.get(message_id)
        if opening is None:
            running = self.remote.get(message_id) or await self._registered(message_id)
            if running is None or running.owner != owner or running.instance == self.instance:
                return None
            opening = asyncio.get_running_loop().create_task(self._open(running), name=f"follow-{message_id}")
            self._opening[message_id] = opening
            opening.add_done_callback(lambda _t: self._opening.pop(message_id, None))
        mirror = await asyncio.shield(opening)
        return mirror if mirror is not None and mirror.owner == owner else None

    async def _registered(self, message_id: int) -> Running | None:
        try:
            value = await self.redis.hget(RUNNING, str(message_id))
        except (RedisError, OSError):
            return None
        return running_of(message_id, value) if value else None

    async def _open(self, running: Running) -> RemoteAnswer | None:
        mirror = RemoteAnswer(running, self.redis, self._request_stop, self.max_follow_s)
        try:
            await mirror.catch_up()
        except (RedisError, OSError) as exc:
            log.warning("cannot follow answer %s from another instance (Redis: %s)", running.message_id, exc)
            return None
        if mirror.settled.done():  # ended and saved meanwhile: the row has it all
            return None
        self._mirrors[running.message_id] = mirror
        mirror.follow_on(self._forget)
        return mirror

    def _forget(self, mirror: RemoteAnswer) -> None:
        """Its final row is written: it runs nowhere any more, whenever the news of it comes."""
        if self._mirrors.get(mirror.message_id) is mirror:
            del self._mirrors[mirror.message_id]
        if (known := self.remote.get(mirror.message_id)) is not None and known.run == mirror.run:
            del self.remote[mirror.message_id]

    def stop(self, owner: str, message_id: int) -> bool:
        """Ask the instance running this owner's answer to stop it; False if none does."""
        running = self.remote.get(message_id)
        if running is None or running.owner != owner:
            return False
        self._request_stop(running, Status.STOPPED)
        return True

    def _request_stop(self, running: Running, status: Status) -> None:
        news = {"k": "stop", "i": running.instance, "o": running.owner, "m": running.message_id, "s": str(status)}
        self._spawn(self._publish(news))

    def relay(self, owner: str, change: Changed) -> None:
        """A conversation-list change made here, for the tabs of this owner on the other instances."""
        news = {"k": "changed", "i": self.instance, "o": owner, "kind": change.kind}
        self._spawn(self._publish(news | {"c": change.conversation_id, "t": change.title}))

    async def _publish(self, news: dict[str, Any]) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.publish(NEWS, orjson.dumps(news))

    # news ------------------------------------------------------------------------------------

    def _on_news(self, news: dict[str, Any]) -> None:
        kind, here = news.get("k"), news.get("i") == self.instance
        message_id = int(news.get("m") or 0)
        if kind == "started" and not here:
            running = running_of(message_id, news["r"])
            self.remote[message_id] = running
            if self.hub is not None and self.hub.watched(running.owner):
                self._spawn(self._tell_tabs(running))
        elif kind == "ended":
            self.remote.pop(message_id, None)
        elif kind == "stop" and here and self.hub is not None:
            gen = self.hub.local(news["o"], message_id)
            if gen is not None:
                gen.stop(Status(news["s"]))
        elif kind == "changed" and not here and self.changes is not None:
            self.changes.notify_here(news["o"], Changed(news["kind"], news.get("c"), news.get("t") or ""))

    async def _tell_tabs(self, running: Running) -> None:
        """Tabs of this owner here follow an answer another instance started, as one started here (one
        that already ended still changed their conversation list)."""
        await self.follow(running.owner, running.message_id)
        if self.hub is not None:
            self.hub.tell_watchers(running.owner, running.started)

    async def _listen(self) -> None:
        """News, re-subscribed after Redis comes back (the registry is re-read: news may have been missed)."""
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(NEWS)
                await self._reload_registry()
                self._listening.set()
                async for message in pubsub.listen():
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        self._on_news(orjson.loads(message["data"]))
            except (RedisError, OSError):
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    async def _reload_registry(self) -> None:
        entries = await self.redis.hgetall(RUNNING)
        found = (running_of(m, v) for m, v in entries.items())
        self.remote = {r.message_id: r for r in found if r.instance != self.instance}

    async def _heartbeat(self) -> None:
        """Alive for `ttl_s` more, and the answers it runs re-registered (a restarted Redis forgot them)."""
        while True:
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(instance_key(self.instance), "1", px=int(self.ttl_s * 1000))
            if self.owned:
                pipe.hset(RUNNING, mapping={str(m): running_json(r) for m, r in self.owned.items()})
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                if self.reachable:
                    log.warning("Redis unreachable (%s): live answers are not shared until it is back", exc)
                self.reachable = False
            else:
                if not self.reachable:
                    log.info("Redis reachable again: live answers are shared")
                self.reachable = True
            await asyncio.sleep(self.ttl_s / 5)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
