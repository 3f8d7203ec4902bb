"""Configuration from environment variables and a `.env` file (see `.env.example`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob the app has; names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Azure OpenAI (first choice when an endpoint is set)
    azure_openai_endpoint: str = ""
    azure_openai_deployment: str = ""
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
    storage_secret: str = Field(default="", repr=False)

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

    @property
    def resolved_database_url(self) -> str:
        """The SQLite file lives in the data directory unless DATABASE_URL says otherwise."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.streamchat_data_dir / 'streamchat.db').resolve()}"
