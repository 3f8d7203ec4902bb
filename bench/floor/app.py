"""The floor under bench/load.py: the cheapest relay that does what the benchmark asks of streamchat.

    uv run python bench/load.py --app bench/floor [--streams 100 ...]

One file (and the app's loop monitor), one raw ASGI callable on the app's own server stack (uvicorn
on uvloop + httptools, what NiceGUI's ``ui.run`` gets with loop/http "auto" here), aiohttp with one
kept-alive ClientSession to the upstream, orjson for every JSON. No framework, middleware, database,
per-token logging, pages or pings: only the routes load.py uses. The server CPU per token it
measures is what the *work itself* costs on this machine (accept the request, read the upstream's
SSE, parse each chunk, batch, frame and write SSE), so the real app's figure can be read as
"floor + what our features cost".

Behaviour kept as the real app has it, because the benchmark's numbers depend on it:
- batching like ``services/publisher.BatchingPublisher``: the first token is written at once, then
  at most one delta per 50 ms counted from the end of the previous flush (a timer, not "on the next
  token"), and a final flush before ``done``. Fewer, bigger writes would make a cheaper, wrong floor;
- the upstream is read by its own task and the client written by the request's, as the app decouples
  generation from listeners (a listener that is slow or gone does not hold the upstream read);
- the SSE framing of ``api/v1/wire.py``: ``message``, then ``id: <offset>`` + ``delta`` (offset =
  characters of the answer up to the end of this delta, which load.py checks for doubled text),
  then ``done`` ``{status, ttft_ms, duration_ms}``;
- ``GET /api/stats`` with ``loop.ticks`` and ``loop.over_ms``: load.py reads them around every
  phase, so the floor runs the app's own ``services/loop_monitor.LoopMonitor`` (its 10 ms heartbeat
  is part of the idle rate load.py subtracts).
Cheaper than the app on purpose (it is a floor): no access log (the app's uvicorn has it on, filtered at
level warning), no ``stream_options.include_usage`` (one chunk fewer per answer), no websocket protocol.

    python app.py --host 127.0.0.1 --port 8090      # serve (bench/run.py's Server also adds --no-browser)
    python app.py api-key create --user load        # prints the one key this app accepts
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: its loop monitor
from services.loop_monitor import LoopMonitor

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

KEYS = {"sc-floor-bench-key": "load"}  # key → user: the one key `api-key create` hands out
FLUSH_S = 0.050  # the app's FLUSH_INTERVAL_MS default
CONVERSATIONS = "/api/v1/conversations"
DONE = b"[DONE]"

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]
OK_BODY = orjson.dumps({"status": "ok"})


class State:
    """What lives for the process: the upstream session, the conversations, the loop monitor."""

    def __init__(self) -> None:
        self.base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
        self.upstream_headers = {"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', 'not-needed')}",
                                 "Content-Type": "application/json"}
        self.model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
        self.session: aiohttp.ClientSession | None = None
        self.conversations: dict[str, str] = {}  # id → owner
        self.ids = itertools.count(1)
        self.monitor = LoopMonitor()

    async def start(self) -> None:
        # The SDK's aiohttp transport as the app configures it: 1000 connections, keep-alive 5 s.
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=5.0)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        self.monitor.start()

    async def stop(self) -> None:
        await self.monitor.stop()
        if self.session is not None:
            await self.session.close()

    def stats(self) -> bytes:
        return orjson.dumps({"loop": self.monitor.stats()})


STATE = State()


class Answer:
    """One answer: the upstream task adds tokens, this batches them into SSE frames for the writer.

    The batching is BatchingPublisher's (add/flush with a timer); frames wait in `out` until the
    request's coroutine, woken through a future, writes them (all that queued, in one write)."""

    __slots__ = ("_last_flush", "_loop", "_pending", "_timer", "_waiter", "ended", "offset", "out", "t0",
                 "ttft_ms")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._pending: list[str] = []
        self._last_flush = -1e9
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.out: list[bytes] = []
        self.offset = 0  # characters of the answer flushed so far
        self.ended = False
        self.t0 = time.monotonic()
        self.ttft_ms: float | None = None

    def add(self, token: str) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = (time.monotonic() - self.t0) * 1000
        self._pending.append(token)
        if self._timer is not None:
            return
        wait = self._last_flush + FLUSH_S - self._loop.time()
        if wait <= 0:
            self.flush()
        else:
            self._timer = self._loop.call_later(wait, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        delta = "".join(self._pending)
        self._pending.clear()
        self.offset += len(delta)
        self.out.append(b"id: %d\nevent: delta\ndata: %b\n\n" % (self.offset, orjson.dumps({"text": delta})))
        self._wake()
        self._last_flush = self._loop.time()

    def close(self, status: str, error: str = "") -> None:
        """The final flush and the `done` frame; later calls do nothing."""
        if self.ended:
            return
        self.flush()
        done: dict[str, Any] = {"status": status}
        if error:
            done["error"] = error
        done["ttft_ms"] = None if self.ttft_ms is None else round(self.ttft_ms)
        done["duration_ms"] = round((time.monotonic() - self.t0) * 1000)
        self.out.append(b"event: done\ndata: %b\n\n" % orjson.dumps(done))
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> None:
        """Until there is something to write (returns at once if there is)."""
        if not self.out:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


async def read_upstream(answer: Answer, content: str) -> None:
    """POST the question, read the SSE body's `data:` lines, add each chunk's `choices[0].delta.content`."""
    assert STATE.session is not None
    body = orjson.dumps({"model": STATE.model, "messages": [{"role": "user", "content": content}], "stream": True})
    status, error = "error", "the upstream's stream ended without [DONE]"
    try:
        async with STATE.session.post(f"{STATE.base_url}/chat/completions", data=body,
                                      headers=STATE.upstream_headers) as resp:
            if resp.status != 200:
                error = f"upstream HTTP {resp.status}"
                return
            rest = b""
            async for block in resp.content.iter_any():
                if answer.ended:  # after [DONE]: read to the end, so the connection is kept alive
                    continue
                *lines, rest = (rest + block).split(b"\n")
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == DONE:
                        answer.close("done")
                        break
                    choices = orjson.loads(data).get("choices")
                    if choices:
                        piece = (choices[0].get("delta") or {}).get("content")
                        if piece:
                            answer.add(piece)
    except (aiohttp.ClientError, ValueError, AttributeError, TypeError) as exc:  # refused, dropped, bad JSON
        error = f"{type(exc).__name__}: {exc}"
    finally:
        answer.close(status, error)  # no-op after [DONE]


# ------------------------------------------------------------------------------------------ HTTP
async def respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


def owner_of(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return KEYS.get(value[7:].decode("latin-1")) if value.startswith(b"Bearer ") else None
    return None


async def send_message(scope: Scope, receive: Receive, send: Send, owner: str, conversation_id: str) -> None:
    """SSE: `message`, the batched deltas as they come, `done`."""
    if STATE.conversations.get(conversation_id) != owner:
        return await respond(send, 404, b'{"detail":"no such conversation"}')
    try:
        content = orjson.loads(await read_body(receive)).get("content")
    except (orjson.JSONDecodeError, AttributeError):
        content = None
    if not isinstance(content, str):
        return await respond(send, 422, b'{"detail":"`content` must be a string."}')
    answer = Answer()
    reader = asyncio.get_running_loop().create_task(read_upstream(answer, content))
    first = orjson.dumps({"message_id": next(STATE.ids), "conversation_id": conversation_id})
    try:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        await send({"type": "http.response.body", "body": b"event: message\ndata: %b\n\n" % first, "more_body": True})
        while True:
            await answer.wait()
            body = b"".join(answer.out)
            answer.out.clear()
            await send({"type": "http.response.body", "body": body, "more_body": not answer.ended})
            if answer.ended:
                break
        await reader  # drains the upstream body after [DONE]: that connection goes back to the pool
    finally:
        if not reader.done():
            reader.cancel()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The routes load.py uses, matched by hand."""
    kind = scope["type"]
    if kind == "lifespan":
        return await lifespan(receive, send)
    if kind != "http":
        return
    path, method = scope["path"], scope["method"]
    if method == "GET":
        if path == "/healthz":
            return await respond(send, 200, OK_BODY)
        if path == "/":
            return await respond(send, 200, b'{"app":"streamchat floor"}')
        if path == "/api/stats":
            return await respond(send, 200, STATE.stats())
        return await respond(send, 404, b'{"detail":"Not Found"}')
    if method != "POST" or not path.startswith(CONVERSATIONS):
        return await respond(send, 404, b'{"detail":"Not Found"}')
    owner = owner_of(scope)
    if owner is None:
        return await respond(send, 401, b'{"detail":"API key missing or unknown"}')
    if path == CONVERSATIONS:
        await read_body(receive)  # `{}` or `{"title"}`: not kept
        conversation_id = f"c{next(STATE.ids)}"
        STATE.conversations[conversation_id] = owner
        return await respond(send, 201, orjson.dumps({"id": conversation_id}))
    conversation_id, _, tail = path[len(CONVERSATIONS) + 1 :].partition("/")
    if tail != "messages":
        return await respond(send, 404, b'{"detail":"Not Found"}')
    return await send_message(scope, receive, send, owner, conversation_id)


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await STATE.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await STATE.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


# ------------------------------------------------------------------------------------------- CLI
def main(argv: list[str]) -> None:
    if argv[:2] == ["api-key", "create"]:  # as app.py's operator command: the key is the last line
        parser = argparse.ArgumentParser(prog="app.py api-key create")
        parser.add_argument("--user", required=True)
        parser.parse_args(argv[2:])
        print(next(iter(KEYS)))
        return
    parser = argparse.ArgumentParser(description="streamchat floor: the cheapest relay bench/load.py can measure")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--no-browser", action="store_true", help="accepted as app.py does (bench/run.py passes it)")
    args = parser.parse_args(argv)
    # loop/http as NiceGUI's ui.run resolves "auto" here; named so a missing uvloop/httptools fails loudly.
    uvicorn.run(app, host=args.host, port=args.port, loop="uvloop", http="httptools", ws="none", lifespan="on",
                log_level="warning", access_log=False, proxy_headers=False)


if __name__ == "__main__":
    main(sys.argv[1:])
