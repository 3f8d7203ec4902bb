"""Builds the service graph once per process: settings → store → backend → hub → chat."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from services.chat import ChatService
from services.generation import GenerationHub
from services.llm import Backend, azure_backend, local_backend, openai_backend, provider_kind
from services.local_model import LocalServer, start_local_server
from services.rendered import RenderedHtml
from services.settings import Settings
from services.store import Store

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """Everything a page needs, passed explicitly instead of through globals."""

    settings: Settings
    store: Store
    backend: Backend
    hub: GenerationHub
    chat: ChatService
    rendered: RenderedHtml
    local: LocalServer | None = field(default=None, repr=False)

    async def close(self) -> None:
        await self.hub.shutdown()
        await self.backend.aclose()
        if self.local is not None:
            self.local.stop()


def make_backend(settings: Settings) -> tuple[Backend, LocalServer | None]:
    kind = provider_kind(settings)
    if kind == "azure":
        return azure_backend(settings), None
    if kind == "openai":
        return openai_backend(settings), None
    local = start_local_server(settings.local_model_path, settings.local_model_ctx, settings.local_model_threads)
    backend = local_backend(
        local.base_url, local.api_key, local.model_name, settings.local_model_max_tokens, local.slot_ctx
    )
    return backend, local


def build_context(settings: Settings) -> AppContext:
    store = Store(settings.resolved_database_url)
    recovered = store.mark_streaming_interrupted()
    if recovered:
        log.info("marked %d unfinished answer(s) as interrupted", recovered)
    backend, local = make_backend(settings)
    hub = GenerationHub()
    chat = ChatService(store, hub, backend, settings)
    return AppContext(settings, store, backend, hub, chat, RenderedHtml(store), local)


def storage_secret(settings: Settings) -> str:
    """Stable across restarts (else every browser would lose its conversations), never in code."""
    if settings.storage_secret:
        return settings.storage_secret
    path = settings.streamchat_data_dir / ".storage_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()
