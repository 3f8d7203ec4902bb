"""A fake Azure OpenAI / OpenAI chat-completions server for tests.

Real HTTP on 127.0.0.1 (aiohttp, its own event loop in a background thread) so the app's real
`openai` SDK client, httpx connection handling and cancellation are exercised end to end. It speaks
Azure's wire format (prompt-filter chunk, per-choice filter results, usage chunk, `[DONE]`) on every
route, records each request and how its response ended, and lets a test script faults per reply.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CATEGORIES = ("hate", "self_harm", "sexual", "violence")
AZURE_ERRORS: dict[int, dict[str, Any]] = {
    400: {"code": "BadRequest", "message": "Invalid request."},
    401: {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint. "
          "Make sure to provide a valid key for an active subscription and use a correct regional API "
          "endpoint for your resource."},
    403: {"code": "PermissionDenied", "message": "The principal lacks the required data action "
          "`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform "
          "`POST /openai/deployments/{deployment-id}/chat/completions` operation."},
    404: {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist. "
          "If you created the deployment within the last 5 minutes, please wait a moment and try again."},
    429: {"code": "429", "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
          "version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. "
          "Please retry after {retry_after} seconds."},
    500: {"code": "InternalServerError", "message": "The server had an error while processing your request. "
          "Sorry about that!"},
    503: {"code": "ServiceUnavailable", "message": "The service is temporarily unable to process your "
          "request. Please try again later."},
}


def filter_results(filtered: tuple[str, ...] = ()) -> dict[str, Any]:
    """Azure's per-category verdicts; categories in `filtered` come back filtered at medium severity."""
    return {c: {"filtered": c in filtered, "severity": "medium" if c in filtered else "safe"}
            for c in CATEGORIES}


def tokenize(text: str) -> list[str]:
    """Split into word pieces with their leading whitespace, like a BPE stream; joins back exactly."""
    return re.findall(r"\s*\S+|\s+", text)


def default_text(body: dict[str, Any] | None) -> str:
    """The reply used when nothing is queued: deterministic markdown that quotes the last user turn."""
    last = ""
    for m in reversed((body or {}).get("messages") or []):
        if m.get("role") == "user":
            content = m.get("content")
            last = content if isinstance(content, str) else " ".join(
                p.get("text", "") for p in content or [] if isinstance(p, dict))
            break
    return f"You said: *{last}*\n\n- one\n- two"


@dataclass
class Reply:
    """One scripted response. Defaults give a fast, well-formed streamed answer.

    Fault knobs (counts are content chunks already sent): `status` != 200 → Azure error body;
    `filter_after` → async content-filter stop; `drop_after` → socket closed without [DONE];
    `stall_after` → go silent until the client leaves (at most `stall_max` s); `malformed_after`
    → an invalid JSON data line; `error_after` → an in-stream `{"error": ...}` event.
    `hold` (threading.Event) blocks after the headers and prompt-filter chunk until set.

    What the model says, as recorded from OpenAI and Azure: `refusal` → streamed `delta.refusal`
    pieces (non-streamed: `message.refusal`, content null); `tool_call` → a call of that function
    and no content; `contents` → these raw values as the content of successive chunks (a number, a
    lone surrogate; non-streamed: the first one); `late_filter` → Azure's annotation chunk with these
    categories `filtered: true`, sent after the finish chunk; `retry_after_headers=False` → a 429
    that says "retry after N seconds" only in its message; `gzip` → a gzip-encoded event stream.
    """

    text: str | None = None  # None → default_text(request body)
    status: int = 200
    error: dict[str, Any] | None = None  # overrides the Azure error body for `status`
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None  # 429: sets retry-after / retry-after-ms
    prompt_filtered: tuple[str, ...] = ("violence",)  # categories for a 400 content_filter reply
    headers_delay: float = 0.0  # before the response starts (the client is still "connecting")
    first_token_delay: float = 0.0  # after the prompt-filter chunk, before the first token
    interval: float = 0.0  # between content chunks; 1/tokens-per-second
    finish_reason: str = "stop"
    model: str | None = None  # None → request's model / deployment
    azure: bool = True  # False → plain OpenAI chunks (no prompt/content filter fields)
    filter_after: int | None = None
    filtered_categories: tuple[str, ...] = ("violence",)
    drop_after: int | None = None
    stall_after: int | None = None
    stall_max: float = 30.0
    malformed_after: int | None = None
    error_after: int | None = None
    hold: threading.Event | None = None
    hold_max: float = 30.0
    refusal: str | None = None
    tool_call: str | None = None
    tool_arguments: str = '{"location": "Paris"}'
    contents: list[Any] | None = None
    late_filter: tuple[str, ...] = ()
    retry_after_headers: bool = True
    gzip: bool = False  # the event stream gzip-encoded, as some proxies send it

    @classmethod
    def fail(cls, status: int, **kw: Any) -> Reply:
        """An HTTP error reply with Azure's body for that status."""
        return cls(status=status, **kw)

    @classmethod
    def content_filter(cls, *categories: str) -> Reply:
        """Azure's 400 for a prompt blocked by the content filter."""
        return cls(status=400, prompt_filtered=categories or ("violence",))

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0, headers: bool = True) -> Reply:
        return cls(status=429, retry_after=retry_after, retry_after_headers=headers)

    @classmethod
    def calls_tool(cls, name: str) -> Reply:
        """The model answers with a function call and no text, as OpenAI does when given tools."""
        return cls(tool_call=name, finish_reason="tool_calls")

    def tokens_per_second(self, rate: float) -> Reply:
        self.interval = 1.0 / rate
        return self


@dataclass
class Recorded:
    """One request as the fake saw it, plus how its response ended (times are time.monotonic())."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any] | None
    received_at: float
    reply: Reply | None = None
    status: int | None = None
    chunks_sent: int = 0  # content chunks (tokens) written
    first_chunk_at: float | None = None
    chunk_times: list[float] = field(default_factory=list)  # time.time() (epoch) as each content chunk is sent
    done_sent: bool = False  # `data: [DONE]` written
    disconnected_at: float | None = None  # client closed the connection before we finished
    finished_at: float | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return (self.body or {}).get("messages") or []

    @property
    def stream(self) -> bool:
        return bool((self.body or {}).get("stream"))


class FakeUpstream:
    """The server. Start once per session; `reset()` between tests; script with `enqueue()`."""

    def __init__(self) -> None:
        self.url = ""
        self.port = 0
        self.requests: list[Recorded] = []
        self.default = Reply()  # used when the queue is empty; reset() restores it
        self.models = ["fake-model"]  # what GET /v1/models lists; reset() restores it
        self._queue: collections.deque[Reply] = collections.deque()
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # ---- control (called from the test thread) ----
    def start(self, timeout: float = 10.0) -> FakeUpstream:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fake-upstream", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or self._runner is None:
            raise RuntimeError("fake upstream did not start")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop and self._runner:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            with contextlib.suppress(Exception):
                fut.result(timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(timeout)

    def enqueue(self, *replies: Reply) -> None:
        """Replies for the next requests, in order; later requests get `self.default`."""
        self._queue.extend(replies)

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self.requests.clear()
            self.default = Reply()
            self.models = ["fake-model"]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until predicate() holds (re-checked on every server event); TimeoutError if not."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                seen = [(r.path, r.status, r.chunks_sent) for r in self.requests]
                raise TimeoutError(f"fake upstream: condition not met in {timeout} s; requests: {seen}")

    def wait_for_request(self, n: int = 1, timeout: float = 10.0) -> Recorded:
        """Wait until at least n requests arrived; returns the n-th."""
        self.wait_until(lambda: len(self.requests) >= n, timeout)
        return self.requests[n - 1]

    def wait_for_end(self, n: int = 1, timeout: float = 10.0) -> Recorded:
        """Wait until the n-th response finished (completed, dropped or client disconnected)."""
        self.wait_until(lambda: len(self.requests) >= n and self.requests[n - 1].finished_at is not None,
                        timeout)
        return self.requests[n - 1]

    def azure_env(self, *, api_version: str | None = "2024-10-21", api_key: str | None = "test-azure-key",
                  deployment: str = "fake-deploy", credential: str | None = None) -> dict[str, str | None]:
        """App env overrides pointing at this fake as Azure (classic path if api_version, else v1).

        None values mean "unset". Keyless: `credential="tests.fake_credential:ok_credential"`.
        """
        return {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None, "OPENAI_MODEL": None,
                "AZURE_OPENAI_ENDPOINT": self.url, "AZURE_OPENAI_DEPLOYMENT": deployment,
                "AZURE_OPENAI_API_VERSION": api_version, "AZURE_OPENAI_API_KEY": api_key,
                "AZURE_CREDENTIAL": credential}

    async def wait_for_request_async(self, n: int = 1, timeout: float = 10.0) -> Recorded:
        return await asyncio.to_thread(self.wait_for_request, n, timeout)

    async def wait_for_end_async(self, n: int = 1, timeout: float = 10.0) -> Recorded:
        return await asyncio.to_thread(self.wait_for_end, n, timeout)

    # ---- server thread ----
    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _serve(self, ready: threading.Event) -> None:
        self._loop = loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        app.router.add_post("/openai/v1/chat/completions", self._chat)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/openai/v1/models", self._models)
        # handler_cancellation: a client disconnect cancels the handler at once, so we record it.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            self._runner = runner
        finally:
            ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [
            {"id": model, "object": "model", "created": 0, "owned_by": "fake"} for model in self.models]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        rec = Recorded(request.method, request.path, dict(request.query),
                       {k.lower(): v for k, v in request.headers.items()}, body, time.monotonic())
        rec.reply = reply = self._queue.popleft() if self._queue else self.default
        with self._cond:
            self.requests.append(rec)
            self._cond.notify_all()
        try:
            if reply.headers_delay:
                await asyncio.sleep(reply.headers_delay)
            if reply.status != 200:
                return self._error(rec, reply)
            if body is None or not body.get("messages"):
                return self._error(rec, Reply(status=400, error={
                    "code": "BadRequest", "message": "'messages' is a required property"}))
            model = reply.model or body.get("model") or request.match_info.get("deployment") or "gpt-4o"
            text = default_text(body) if reply.text is None else reply.text
            if body.get("stream"):
                return await self._stream(request, rec, reply, body, model, text)
            return await self._complete(rec, reply, body, model, text)
        except (asyncio.CancelledError, ConnectionError):
            rec.disconnected_at = time.monotonic()
            raise
        finally:
            rec.finished_at = time.monotonic()
            self._notify()

    def _error(self, rec: Recorded, reply: Reply) -> web.Response:
        err = dict(reply.error or AZURE_ERRORS.get(reply.status, {"code": str(reply.status),
                                                                   "message": "Error"}))
        headers = dict(reply.headers)
        if reply.status == 429:
            ra = 1.0 if reply.retry_after is None else reply.retry_after
            err["message"] = err["message"].replace("{retry_after}", f"{ra:g}")
            if reply.retry_after_headers:
                headers.setdefault("retry-after", str(max(1, round(ra))))
                headers.setdefault("retry-after-ms", str(int(ra * 1000)))
        if reply.status == 400 and reply.error is None:
            err = {"message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                   "management policy. Please modify your prompt and retry.", "type": None,
                   "param": "prompt", "code": "content_filter", "status": 400,
                   "innererror": {"code": "ResponsibleAIPolicyViolation",
                                  "content_filter_result": filter_results(reply.prompt_filtered)}}
        rec.status = reply.status
        return web.json_response({"error": err}, status=reply.status, headers=headers)

    @staticmethod
    def _usage(body: dict[str, Any], n: int) -> dict[str, int]:
        prompt = sum(len(tokenize(str(m.get("content") or ""))) + 4 for m in body.get("messages") or [])
        return {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}

    async def _complete(self, rec: Recorded, reply: Reply, body: dict[str, Any], model: str,
                        text: str) -> web.Response:
        await self._hold(reply)
        message: dict[str, Any] = {"content": text, "refusal": None, "role": "assistant"}
        if reply.contents:
            message["content"] = reply.contents[0]
        if reply.refusal is not None:
            message.update(content=None, refusal=reply.refusal)
        if reply.tool_call is not None:
            message.update(content=None, tool_calls=[self._tool_call(reply, reply.tool_arguments)])
        choice: dict[str, Any] = {"finish_reason": reply.finish_reason, "index": 0, "logprobs": None,
                                  "message": message}
        out: dict[str, Any] = {"choices": [choice], "created": int(time.time()), "id": "chatcmpl-fake",
                               "model": model, "object": "chat.completion", "system_fingerprint": "fp_fake",
                               "usage": self._usage(body, len(tokenize(text)))}
        if reply.azure:
            choice["content_filter_results"] = filter_results()
            out["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": filter_results()}]
        rec.status = 200
        rec.done_sent = True
        return web.json_response(out, headers=reply.headers)

    @staticmethod
    def _tool_call(reply: Reply, arguments: str) -> dict[str, Any]:
        return {"index": 0, "id": "call_fake", "type": "function",
                "function": {"name": reply.tool_call, "arguments": arguments}}

    def _deltas(self, reply: Reply, text: str) -> list[dict[str, Any]]:
        """The pieces the answer is streamed in: content, refusal, or a tool call's arguments."""
        if reply.contents is not None:
            return [{"content": c} for c in reply.contents]
        if reply.refusal is not None:
            return [{"refusal": piece} for piece in tokenize(reply.refusal)]
        if reply.tool_call is not None:
            first = {"content": None, "tool_calls": [self._tool_call(reply, "")]}
            return [first] + [{"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                              for piece in tokenize(reply.tool_arguments)]
        return [{"content": tok} for tok in tokenize(text)]

    async def _hold(self, reply: Reply) -> None:
        """Poll rather than block a worker thread, so a client that leaves cancels us at once."""
        deadline = time.monotonic() + reply.hold_max
        while reply.hold is not None and not reply.hold.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _stream(self, request: web.Request, rec: Recorded, reply: Reply, body: dict[str, Any],
                      model: str, text: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache", **reply.headers})
        if reply.gzip:
            resp.enable_compression(web.ContentCoding.gzip)
        await resp.prepare(request)
        rec.status = 200
        created = int(time.time())

        async def send(data: dict[str, Any] | str) -> None:
            payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
            await resp.write(f"data: {payload}\n\n".encode())

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, cfr: dict | None = None) -> dict:
            c: dict[str, Any] = {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
            if reply.azure:
                c["content_filter_results"] = {} if cfr is None else cfr
            return {"choices": [c], "created": created, "id": "chatcmpl-fake", "model": model,
                    "object": "chat.completion.chunk", "system_fingerprint": "fp_fake"}

        if reply.azure:
            await send({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                        "prompt_filter_results": [{"prompt_index": 0,
                                                   "content_filter_results": filter_results()}]})
        await self._hold(reply)
        if reply.first_token_delay:
            await asyncio.sleep(reply.first_token_delay)
        await send(chunk({"content": "", "refusal": None, "role": "assistant"}))
        deltas = self._deltas(reply, text)
        # A plain content chunk is pre-encoded around a placeholder (same bytes as json.dumps of the
        # whole chunk): the load benchmark streams thousands per second from this process.
        head, tail = json.dumps(chunk({"content": "\0"}, cfr=filter_results() if reply.azure else None),
                                separators=(",", ":")).split('"\\u0000"')
        for i, delta in enumerate(deltas):
            if i == reply.drop_after:
                request.transport.close()  # abrupt: chunked body never terminated, no [DONE]
                return resp
            if i == reply.stall_after:
                await self._stall(request, reply)
                return resp
            if i == reply.malformed_after:
                await send('{"choices": [{"delta": {"content": "broken')
            if i == reply.error_after:
                await send({"error": {"code": "InternalServerError", "message": "The server had an error "
                                      "while processing your request. Sorry about that!"}})
                await resp.write_eof()
                return resp
            if i == reply.filter_after:
                off = sum(len(str(d.get("content") or "")) for d in deltas[:i])
                await send({"choices": [{"content_filter_offsets": {"check_offset": 0, "start_offset": 0,
                                                                    "end_offset": off},
                                         "content_filter_results": filter_results(reply.filtered_categories),
                                         "finish_reason": "content_filter", "index": 0}],
                            "created": 0, "id": "", "model": "", "object": ""})
                break
            if i and reply.interval:
                await asyncio.sleep(reply.interval)
            rec.chunk_times.append(time.time())  # epoch, comparable with a browser's clock (benchmarks)
            if delta.keys() == {"content"} and isinstance(delta["content"], str):
                await resp.write(f"data: {head}{json.dumps(delta['content'])}{tail}\n\n".encode())
            else:
                await send(chunk(delta, cfr=filter_results() if reply.azure else None))
            rec.chunks_sent += 1
            if rec.first_chunk_at is None:
                rec.first_chunk_at = time.monotonic()
            self._notify()
        else:
            await send(chunk({}, finish=reply.finish_reason))
            if reply.late_filter:
                await send({"choices": [{"content_filter_offsets": {"check_offset": 0, "start_offset": 0,
                                                                    "end_offset": len(text)},
                                         "content_filter_results": filter_results(reply.late_filter),
                                         "finish_reason": None, "index": 0}],
                            "created": 0, "id": "", "model": "", "object": ""})
        if (body.get("stream_options") or {}).get("include_usage"):
            await send({"choices": [], "created": created, "id": "chatcmpl-fake", "model": model,
                        "object": "chat.completion.chunk", "system_fingerprint": "fp_fake",
                        "usage": self._usage(body, rec.chunks_sent)})
        await send("[DONE]")
        rec.done_sent = True
        await resp.write_eof()
        return resp

    async def _stall(self, request: web.Request, reply: Reply) -> None:
        """Go silent; the handler is cancelled (and the disconnect recorded) when the client leaves."""
        deadline = time.monotonic() + reply.stall_max
        while time.monotonic() < deadline and request.transport is not None \
                and not request.transport.is_closing():
            await asyncio.sleep(0.02)
        if request.transport is not None:
            request.transport.close()
