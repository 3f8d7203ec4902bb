"""Builds the service graph once per process: settings → store → backend → hub → chat."""

from __future__ import annotations

import gc
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from services.api_keys import ApiKeys
from services.chat import ChatService
from services.cluster import Cluster
from services.generation import GenerationHub
from services.limits import SharedLimits, answer_token_key, answer_token_option
from services.llm import Backend, azure_backend, local_backend, openai_backend, provider_kind
from services.local_model import LocalServer, start_local_server
from services.loop_monitor import LoopMonitor
from services.reaper import Reaper
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
    loop_monitor: LoopMonitor
    api_keys: ApiKeys
    local: LocalServer | None = field(default=None, repr=False)
    cluster: Cluster | None = None

    async def start_cluster(self) -> None:
        if self.cluster is not None:
            await self.cluster.start(Reaper(self.cluster, self.store).run)

    async def close(self) -> None:
        await self.loop_monitor.stop()
        await self.hub.shutdown()
        if self.cluster is not None:
            await self.cluster.close()
        await self.backend.aclose()
        if self.local is not None:
            self.local.stop()


def make_backend(settings: Settings) -> tuple[Backend, LocalServer | None]:
    """The provider's client, asking for at most MAX_ANSWER_TOKENS per answer when that is set."""
    kind = provider_kind(settings)
    if kind in ("azure", "openai"):
        backend = azure_backend(settings) if kind == "azure" else openai_backend(settings)
        backend.request_options.update(answer_token_option(settings, kind))
        backend.token_limit_key = answer_token_key(settings, kind)
        return backend, None
    local = start_local_server(settings.local_model_path, settings.local_model_ctx, settings.local_model_threads)
    max_tokens = min(filter(None, (settings.local_model_max_tokens, settings.max_answer_tokens)), default=0)
    backend = local_backend(local.base_url, local.api_key, local.model_name, max_tokens, local.slot_ctx)
    return backend, local


def build_context(settings: Settings) -> AppContext:
    """With REDIS_URL, answers left `streaming` are the reaper's (services/reaper.py): they may be
    running on another instance. Alone, this instance knows they died with it."""
    store = Store(settings.resolved_database_url, settings.db_threads, settings.db_pool_size)
    cluster = Cluster(settings.redis_url, settings) if settings.redis_url else None
    recovered = store.mark_streaming_interrupted() if cluster is None else 0
    if recovered:
        log.info("marked %d unfinished answer(s) as interrupted", recovered)
    backend, local = make_backend(settings)
    hub = GenerationHub(cluster)
    rendered = RenderedHtml(store)
    limits = SharedLimits.for_cluster(cluster, settings) if cluster is not None else None
    chat = ChatService(store, hub, backend, settings, rendered, limits)
    if cluster is not None:
        cluster.attach(hub, chat.changes)
    monitor = LoopMonitor(settings.loop_stall_log_ms)
    api_keys = ApiKeys(store.engine)
    return AppContext(settings, store, backend, hub, chat, rendered, monitor, api_keys, local, cluster)


def warm_up(ctx: AppContext) -> None:
    """Before serving, the work that otherwise stalled the event loop in the first answer: the SDK
    imports its chat resources and builds their pydantic models on first use (~300 ms here), and
    full garbage collections walked the whole start-up heap (~180 ms), which freezing takes out
    of their way (it is never garbage: modules, classes, routes)."""
    _ = ctx.backend.client.chat.completions
    gc.collect()
    gc.freeze()


MIN_SECRET_BYTES = 32


def storage_secret(settings: Settings) -> str:
    """Stable across restarts (else every browser would lose its conversations), never in code.

    Raises ValueError for a configured secret too short to resist guessing: with it, anyone could
    sign an identity cookie for someone else's owner id."""
    if settings.storage_secret is not None:
        secret = settings.storage_secret
    else:
        secret = _generated_secret(settings.streamchat_data_dir / ".storage_secret")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"STORAGE_SECRET must be at least {MIN_SECRET_BYTES} bytes (it has {len(secret.encode())}); "
            "make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`, "
            "or leave it unset to have one generated into the data directory"
        )
    return secret


def _generated_secret(path: Path) -> str:
    """Created 0600 in one step (no moment where another user could read it), then kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def make_data_dir_private(data_dir: Path) -> None:
    """0700 for the data directory, 0600 for what it holds (database, -wal/-shm, secret, preferences).

    New files get these modes from the process umask (set in app.py); this fixes data directories
    created by older versions, which were 0755 with a world-readable database."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for path in data_dir.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)
