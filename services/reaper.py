"""Ends the answers of instances that died (kill -9, a lost machine): on every instance, every few seconds.

An answer in the registry whose instance's heartbeat key expired becomes `interrupted`, with the
text its stream holds when that is more than the last checkpoint. The write is conditional (only a
`streaming` row changes), so when several instances sweep at once one of them writes, once. Answers
of live instances, this one's included, are never touched: an instance that starts leaves the
others alone.

A row left `streaming` that no instance registered (its instance died between writing the row and
registering it, or while Redis was down) is ended when two slow sweeps, `ORPHAN_EVERY` sweeps
apart, found it so.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from services.answer_stream import KEEP_S, ended_entries, stream_key
from services.cluster import NEWS, RUNNING, Cluster, ended_news, instance_key, running_of
from services.models import Status
from services.remote_answer import Running
from services.store import Store

log = logging.getLogger(__name__)

DIED_NOTE = "The server writing this answer stopped before it finished."
ORPHAN_EVERY = 15


class Reaper:
    def __init__(self, cluster: Cluster, store: Store) -> None:
        self.cluster = cluster
        self.store = store
        self._sweeps = 0
        self._orphans: set[int] = set()  # unregistered streaming rows seen by the last slow sweep

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except (RedisError, OSError, SQLAlchemyError) as exc:  # the heartbeat already said Redis is down
                log.debug("reaper sweep skipped: %s", exc)
            await asyncio.sleep(self.cluster.ttl_s / 4)

    async def sweep(self) -> int:
        """One pass; returns how many answers it ended."""
        redis = self.cluster.redis
        entries = await redis.hgetall(RUNNING)
        registry = [running_of(m, v) for m, v in entries.items()]
        instances = sorted({r.instance for r in registry} - {self.cluster.instance})
        pipe = redis.pipeline(transaction=False)
        for instance in instances:
            pipe.exists(instance_key(instance))
        alive = dict(zip(instances, await pipe.execute(), strict=True))
        self.cluster.remote = {r.message_id: r for r in registry if r.instance != self.cluster.instance}
        dead = [r for r in registry if r.instance in alive and not alive[r.instance]]
        ended = [r for r in dead if await self.end(r)]
        if self._sweeps % ORPHAN_EVERY == 0:
            ended += await self._orphaned({r.message_id for r in registry})
        self._sweeps += 1
        return len(ended)

    async def _orphaned(self, registered: set[int]) -> list[int]:
        rows = await self.store.streaming_answers()
        candidates = {m: o for o, m in rows if m not in registered and m not in self.cluster.owned}
        ended = [m for m, o in candidates.items() if m in self._orphans and await self.end(Running("", o, "", m, 0, 0))]
        self._orphans = set(candidates) - set(ended)
        return ended

    async def end(self, running: Running) -> bool:
        """Interrupted, with the most text known; readers everywhere told through its stream."""
        redis = self.cluster.redis
        key = stream_key(running.message_id, running.run)
        streamed = "".join(f.get("t", "") for _i, f in await redis.xrange(key) if f.get("k") == "d")
        row = await self.store.get_message(running.owner, running.message_id)
        values = {"status": Status.INTERRUPTED, "error": DIED_NOTE}
        if row is not None and len(streamed) > len(row.content) and streamed.startswith(row.content):
            values["content"] = streamed
        changed = row is not None and await self.store.finish_message(running.owner, running.message_id, **values)
        pipe = redis.pipeline(transaction=False)
        if changed:
            for fields in ended_entries(Status.INTERRUPTED, DIED_NOTE):
                pipe.xadd(key, fields)  # type: ignore[arg-type]
            pipe.expire(key, KEEP_S)
            log.info("answer %s: its server stopped heartbeating; marked interrupted", running.message_id)
        pipe.hdel(RUNNING, str(running.message_id))
        pipe.publish(NEWS, ended_news(running.instance, running.message_id))
        await pipe.execute()
        return bool(changed)
