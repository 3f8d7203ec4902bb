"""A reverse proxy on loopback that serves an app under a path prefix, as nginx's
`location /chat/ { proxy_pass http://app/; }` does: it strips the prefix and passes HTTP (streamed)
and websockets on, and counts what it passed, so a test sees the page really went through it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

import aiohttp
from aiohttp import web

HOP_HEADERS = {"connection", "keep-alive", "upgrade", "transfer-encoding", "host", "content-length"}


class PrefixProxy:
    def __init__(self, upstream: str, prefix: str = "/chat") -> None:
        self.upstream, self.prefix = upstream.rstrip("/"), prefix
        self.passed: list[str] = []  # "GET /c/…", "WS /_nicegui_ws/…"
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> PrefixProxy:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}{self.prefix}"
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(port, ready), name="prefix-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or self._runner is None:
            raise RuntimeError("prefix proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def _serve(self, port: int, ready: threading.Event) -> None:
        self._loop = loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", self.prefix + "/{tail:.*}", self._pass)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
            self._runner = runner
        finally:
            ready.set()
        loop.run_forever()
        loop.close()

    async def _pass(self, request: web.Request) -> web.StreamResponse:
        path = request.raw_path[len(self.prefix) :] or "/"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            if request.headers.get("upgrade", "").lower() == "websocket":
                self.passed.append(f"WS {path}")
                return await self._websocket(request, session, path, headers)
            self.passed.append(f"{request.method} {path}")
            async with session.request(request.method, self.upstream + path, headers=headers,
                                       data=await request.read(), allow_redirects=False) as upstream:
                response = web.StreamResponse(status=upstream.status, headers={
                    k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS})
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response

    async def _websocket(self, request: web.Request, session: aiohttp.ClientSession, path: str,
                         headers: dict[str, str]) -> web.WebSocketResponse:
        headers = {k: v for k, v in headers.items() if not k.lower().startswith("sec-websocket")}
        client = web.WebSocketResponse()
        await client.prepare(request)
        async with session.ws_connect(self.upstream.replace("http", "ws", 1) + path, headers=headers) as server:

            async def pipe(src, dst) -> None:
                async for msg in src:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await dst.send_str(msg.data)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        await dst.send_bytes(msg.data)
                await dst.close()

            await asyncio.gather(pipe(client, server), pipe(server, client), return_exceptions=True)
        return client
