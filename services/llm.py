"""One `openai` SDK client for every backend: Azure OpenAI, OpenAI-compatible, or the embedded model.

All provider talk is `Backend.stream()`: the request, reading the answer, and turning what the
server sent into text and an `Ending`. Like simonw/llm's `execute()`, it yields the text as it
comes; what to do with it (retries, timeouts, publishing, saving) is `services/generation.py`'s.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx2
import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI, DefaultAioHttpClient
from openai._constants import DEFAULT_CONNECTION_LIMITS
from openai._vendor.httpx_aiohttp import AiohttpTransport

from services.chunks import AnswerReader, Ending
from services.errors import BackendFacts, MalformedChunk, StreamDropped
from services.settings import Settings
from services.sse import AIOHTTP_BODY, chat_chunks

AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"


class Accepted:
    """The model server took the request; from here on the answer is awaited (streamed: the
    response has begun; whole: the request is sent)."""


ACCEPTED = Accepted()
Part = str | Accepted | Ending  # what `Backend.stream` yields: text, once ACCEPTED, last the Ending


def _read(take: Callable[[dict[str, Any]], str], body: Any) -> str:
    """A chunk of an unexpected shape ends the answer as unreadable (a dict lookup on a list, say)."""
    try:
        return take(body)
    except MalformedChunk:
        raise
    except Exception as exc:
        raise MalformedChunk() from exc


@dataclass
class Backend:
    """A ready client plus what the page shows about it."""

    client: AsyncOpenAI
    model: str
    label: str
    facts: BackendFacts
    request_options: dict[str, Any] = field(default_factory=dict)
    prompt_token_limit: int | None = None  # the model's own window, when we know it is small
    token_limit_key: str = "max_tokens"  # the request field an answer's length limit goes in
    choices: list[str] = field(default_factory=list)  # models a conversation may pick; empty: only `model`
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.client.close()
        for close in self.closers:
            await close()

    async def models(self) -> list[str]:
        """The models a conversation can choose from, `model` (the default) first. An OpenAI-compatible
        server is asked once (`GET /models`); if it cannot say, only the configured model is offered."""
        if not self.choices:
            self.choices = [self.model]
            if self.facts.kind == "openai":
                with contextlib.suppress(openai.APIError, ValueError):
                    page = await self.client.models.list(timeout=5.0)
                    self.choices += sorted({m.id for m in page.data} - {self.model})
        return self.choices

    async def stream(
        self, prompt: list[dict[str, str]], stream: bool, overrides: dict[str, Any] | None = None
    ) -> AsyncIterator[Part]:
        """The answer to `prompt`: `ACCEPTED`, then its text in pieces, then its `Ending`.

        Close it (`contextlib.aclosing`) to stop: that closes the HTTP response. Raises the SDK's
        errors, `MalformedChunk` for what cannot be read, and `StreamDropped` when the transport
        breaks mid-answer. Chunks are read as plain dicts from the body (see services/sse.py), and
        `stream_options.include_usage` asks for the token counts. Not `.stream()`: that helper drops
        Azure's asynchronous-filter chunks."""
        request: dict[str, Any] = {"model": self.model, "messages": [], **self.request_options, **(overrides or {})}
        # The prompt is sent as it is (extra_body wins over the typed fields): the SDK's transform of
        # `messages` walks every message, 0.9 ms for 2 and 7.7 ms for 20 on the event loop, per send.
        # Ours are plain JSON already (stored text, or the gateway's parsed request body).
        request["extra_body"] = {**(request.get("extra_body") or {}), "messages": prompt}
        completions = self.client.chat.completions
        reader = AnswerReader()
        if not stream:
            yield ACCEPTED
            raw = await completions.with_raw_response.create(stream=False, **request)
            try:
                body = raw.http_response.json()
            except ValueError as exc:
                raise MalformedChunk() from exc
            text = _read(reader.completion, body)
            if text:
                yield text
            yield reader.ending()
            return
        opened = completions.with_streaming_response.create(
            stream=True, stream_options={"include_usage": True}, **request
        )
        async with opened as response, contextlib.aclosing(chat_chunks(response.http_response)) as chunks:
            yield ACCEPTED
            try:
                async for chunk in chunks:
                    text = _read(reader.chunk, chunk)
                    if text:
                        yield text
            except (openai.APIError, MalformedChunk):
                raise
            except Exception as exc:  # the transport broke mid-stream
                raise StreamDropped() from exc
        yield reader.ending()


class _AiohttpTransport(AiohttpTransport):
    """The SDK's aiohttp transport, but a refused or dropped connection is a connection error: the
    SDK's own mapping makes every aiohttp connection error a *connect timeout*, and the user would
    read "did not answer in time" for a server that is down. A base URL with `user:password@` (a
    proxy's credentials) works as it did with httpx's own transport. The aiohttp response is left
    in the httpx response's extensions for services/sse.py to read the body from directly."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.userinfo:  # httpx made it a header already; aiohttp refuses both at once
            request.url = request.url.copy_with(userinfo=b"")
        try:
            response = await super().handle_async_request(request)
        except httpx2.TimeoutException as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
                raise httpx2.ConnectError(str(cause), request=request) from cause
            raise
        raw = getattr(response.stream, "_aiohttp_response", None)  # the vendored stream's; absent: read via httpx
        if isinstance(raw, aiohttp.ClientResponse):
            response.extensions[AIOHTTP_BODY] = raw
        return response


def http_client() -> httpx2.AsyncClient:
    """aiohttp under the SDK: its HTTP parser is C, where httpx's (h11, and anyio streams with a
    timeout scope per read) was the largest cost of reading an answer chunk by chunk, about half of
    it (bench/upstream_read.py). The SDK still makes the request and maps the errors."""
    return DefaultAioHttpClient(transport=_AiohttpTransport(limits=DEFAULT_CONNECTION_LIMITS))


def load_credential(spec: str) -> Any:
    """`module:callable` builds the credential; empty means DefaultAzureCredential (keyless)."""
    if spec:
        module_name, _, attr = spec.partition(":")
        return getattr(importlib.import_module(module_name), attr)()
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential()


def azure_backend(settings: Settings, credential: Any | None = None) -> Backend:
    """Keyless (Entra ID) unless an API key is set; classic path with an api-version, v1 without."""
    endpoint = settings.azure_openai_endpoint.rstrip("/")
    listed = [d.strip() for d in settings.azure_openai_deployments.split(",") if d.strip()]
    deployment = settings.azure_openai_deployment or (listed[0] if listed else "")
    key = settings.azure_openai_api_key
    closers: list[Callable[[], Awaitable[None]]] = []
    token_provider = None
    if not key:
        from azure.identity.aio import get_bearer_token_provider

        credential = credential if credential is not None else load_credential(settings.azure_credential)
        token_provider = get_bearer_token_provider(credential, AZURE_SCOPE)
        if hasattr(credential, "close"):
            closers.append(credential.close)
    common: dict[str, Any] = {"max_retries": 0, "timeout": 60.0, "http_client": http_client()}
    if settings.azure_openai_api_version:
        client: AsyncOpenAI = AsyncAzureOpenAI(
            azure_endpoint=endpoint,  # no azure_deployment: the request's model picks the deployment's path
            api_version=settings.azure_openai_api_version,
            api_key=key or None,
            azure_ad_token_provider=token_provider,
            **common,
        )
        path = "classic API"
    else:
        client = AsyncOpenAI(
            base_url=f"{endpoint}/openai/v1/",
            api_key=key or token_provider,
            default_headers={"api-key": key} if key else None,
            **common,
        )
        path = "v1 API"
    auth = "API key" if key else "Entra ID"
    return Backend(
        client=client,
        model=deployment,
        label=f"Azure OpenAI · {deployment} ({auth}, {path})",
        facts=BackendFacts("azure", deployment, "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT", keyless=not key),
        choices=[deployment, *(d for d in listed if d != deployment)],
        closers=closers,
    )


def openai_backend(settings: Settings) -> Backend:
    """OpenAI itself, or any server that speaks its API (Ollama, vLLM, LM Studio, llama.cpp)."""
    model = settings.openai_model or "gpt-4o-mini"
    client = AsyncOpenAI(
        base_url=settings.openai_base_url or None,
        api_key=settings.openai_api_key or "not-needed",
        max_retries=0,
        timeout=60.0,
        http_client=http_client(),
    )
    where = urlsplit(settings.openai_base_url).hostname or "OpenAI"  # never the userinfo part of a URL
    return Backend(
        client=client,
        model=model,
        label=f"{model} · {where}",
        facts=BackendFacts("openai", model, "OPENAI_API_KEY", "OPENAI_MODEL"),
    )


def local_backend(base_url: str, api_key: str, model_name: str, max_tokens: int, slot_ctx: int) -> Backend:
    """The embedded llama.cpp server on loopback, guarded by a random key.

    Each parallel slot has `slot_ctx` tokens for prompt and answer together, so the prompt must
    leave room for the answer (plus a margin: our token estimate is rough).
    """
    client = AsyncOpenAI(
        base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=120.0, http_client=http_client()
    )
    return Backend(
        client=client,
        model=model_name,
        label=f"{model_name} · embedded, offline",
        facts=BackendFacts("local", model_name, "LOCAL_MODEL_PATH", "LOCAL_MODEL_PATH"),
        # A 135M model rambles and repeats at default sampling; these keep it on topic.
        prompt_token_limit=max(256, int((slot_ctx - max_tokens) * 0.8)),
        request_options={
            "max_tokens": max_tokens,
            "temperature": 0.3,
            "top_p": 0.9,
            "extra_body": {"repeat_penalty": 1.15},
        },
    )


def provider_kind(settings: Settings) -> str:
    """Azure first, then OpenAI-compatible, then the embedded model."""
    if settings.azure_openai_endpoint:
        return "azure"
    if settings.openai_base_url or settings.openai_api_key:
        return "openai"
    return "local"
