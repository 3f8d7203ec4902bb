"""Configuration from environment variables and a `.env` file (see `.env.example`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob the app has; names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Azure OpenAI (first choice when an endpoint is set)
    azure_openai_endpoint: str = ""
    azure_openai_deployment: str = ""
    azure_openai_deployments: str = ""  # "a,b": the deployments a conversation may choose from
    azure_openai_api_key: str = Field(default="", repr=False)
    azure_openai_api_version: str = ""
    azure_credential: str = ""  # "module:callable" returning an async TokenCredential

    # OpenAI or any OpenAI-compatible server
    openai_base_url: str = ""
    openai_api_key: str = Field(default="", repr=False)
    openai_model: str = ""

    # Embedded model
    local_model_path: str = ""
    local_model_ctx: int = 8192
    local_model_threads: int = 0  # 0: let llama.cpp decide
    local_model_max_tokens: int = 512

    # Storage
    streamchat_data_dir: Path = Path("data")
    database_url: str = ""
    # Database calls run in a pool of this many threads (not the default executor, which markdown
    # rendering also uses), each holding one pooled connection: see services/store.py and bench/db.py.
    db_threads: int = Field(default=0, ge=0)  # 0: 2 for SQLite (one write lock), 8 for a server
    db_pool_size: int = Field(default=0, ge=0)  # 0: one connection per database thread
    storage_secret: str | None = Field(default=None, repr=False)  # None: generated into the data dir

    # Web security
    allowed_hosts: str = ""  # comma-separated Host names served besides localhost, 127.0.0.1, [::1]; "*": any
    # Peers (IPs, CIDRs) whose X-Forwarded-Proto/-For are believed, and in header mode AUTH_HEADER too;
    # always checked on the socket peer, never on a forwarded address.
    trusted_proxies: str = "127.0.0.1"
    stats_token: str = Field(default="", repr=False)  # lets non-loopback peers read /api/stats

    # Who is signed in (DESIGN.md "Team deployment"): browser (a signed cookie per browser), header
    # (a trusted proxy's AUTH_HEADER) or oidc (sign-in with an OpenID Connect provider, e.g. Entra ID)
    auth_mode: Literal["browser", "header", "oidc"] = "browser"
    auth_header: str = "X-Forwarded-Email"
    auth_name_header: str = ""  # optional: a header with the display name
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = Field(default="", repr=False)

    # Conversation behaviour
    system_prompt: str = "You are a helpful assistant. Answer in Markdown."
    context_token_budget: int = 3000
    max_message_chars: int = 32_000

    # Generation lifecycle
    flush_interval_ms: int = 50
    checkpoint_interval_s: float = 1.0
    idle_timeout_s: float = 60.0
    max_generation_s: float = 600.0
    max_retries: int = 2

    # Limits per user (0: no limit), see services/limits.py
    max_concurrent_per_user: int = Field(default=3, ge=0)  # answers generating at once
    rate_limit_per_min: int = Field(default=30, ge=0)  # sends, retries and regenerates in any 60 s
    max_answer_tokens: int = Field(default=0, ge=0)  # sent upstream as the answer's token limit

    # Operations
    loop_stall_log_ms: int = 0  # > 0: log event-loop stalls longer than this, with the blocking stack
    metrics_token: str = Field(default="", repr=False)  # Bearer token for /metrics; empty: no /metrics
    log_format: Literal["text", "json"] = "text"
    root_path: str = ""  # the path prefix a reverse proxy serves the app under, e.g. /chat

    # Several instances (services/cluster.py): live answers, Stop and list changes shared through Redis
    redis_url: str = Field(default="", repr=False)  # redis://host:6379/0; may hold a password
    instance_ttl_s: float = Field(default=10.0, gt=0)  # an instance silent this long is dead: its answers end

    @property
    def host_allowlist(self) -> tuple[str, ...]:
        """Loopback names always work; ALLOWED_HOSTS adds the names a deployment is reached by."""
        extra = (h.strip().lower() for h in self.allowed_hosts.split(","))
        return ("localhost", "127.0.0.1", "[::1]", *(h for h in extra if h))

    @property
    def team_mode(self) -> bool:
        """Users are rows (signed in by a proxy or OIDC), not anonymous browsers."""
        return self.auth_mode != "browser"

    def identity_problem(self) -> str | None:
        """Why the identity settings cannot work, said before serving anything; None when they can."""
        if self.auth_mode == "header":
            if "trusted_proxies" not in self.model_fields_set or not self.trusted_proxies.strip():
                return "AUTH_MODE=header needs TRUSTED_PROXIES: the addresses (CIDRs) of the proxy that sets " + (
                    self.auth_header
                )
            if "*" in self.trusted_proxies:
                return "AUTH_MODE=header: TRUSTED_PROXIES=* would let anyone claim to be anyone; list the proxy's CIDRs"
        if self.auth_mode == "oidc":
            missing = [n for n in ("oidc_issuer", "oidc_client_id", "oidc_client_secret") if not getattr(self, n)]
            if missing:
                return f"AUTH_MODE=oidc needs {', '.join(n.upper() for n in missing)}"
        return None

    def cluster_problem(self) -> str | None:
        """Why several instances cannot share this configuration; None when they can."""
        if self.redis_url and self.storage_secret is None:
            return (
                "REDIS_URL (several instances) needs STORAGE_SECRET, the same on every instance: a secret "
                "generated per instance would make each one reject the others' sign-in cookies"
            )
        return None

    @property
    def resolved_database_url(self) -> str:
        """The SQLite file lives in the data directory unless DATABASE_URL says otherwise."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.streamchat_data_dir / 'streamchat.db').resolve()}"
