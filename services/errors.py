"""Turn upstream failures into plain sentences a user can act on (never a stack trace)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import openai
from azure.core.exceptions import ClientAuthenticationError

from services.models import Status


class StreamStalled(Exception):
    """No chunk arrived within the idle timeout."""


class MalformedChunk(Exception):
    """The upstream sent something that is not a chat completion chunk."""


class StreamDropped(Exception):
    """The stream ended (or the connection broke) before a finish reason arrived."""


class DurationExceeded(Exception):
    """The answer ran past MAX_GENERATION_S."""


@dataclass(frozen=True)
class BackendFacts:
    """What an error message needs to know to name the setting that fixes it."""

    kind: str  # "azure" | "openai" | "local"
    model: str
    key_setting: str
    model_setting: str
    keyless: bool = False


@dataclass(frozen=True)
class Failure:
    status: Status
    message: str


def _error_body(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body)
    return inner if isinstance(inner, dict) else {}


def _filtered_categories(err: dict[str, Any]) -> list[str]:
    """Azure lists the categories in innererror.content_filter_result[category].filtered."""
    inner = err.get("innererror") or {}
    result = inner.get("content_filter_result") or {}
    return sorted(name.replace("_", " ") for name, v in result.items() if isinstance(v, dict) and v.get("filtered"))


def describe_failure(exc: BaseException, facts: BackendFacts, timeout_s: float = 0) -> Failure:
    """One sentence per cause, naming the setting or the thing to check."""
    if isinstance(exc, ClientAuthenticationError):
        return Failure(
            Status.ERROR,
            "Could not get an Entra ID token for Azure OpenAI. Sign in with `az login` "
            "(or use a managed identity), or set AZURE_OPENAI_API_KEY.",
        )
    if isinstance(exc, StreamStalled):
        return Failure(Status.ERROR, f"The model stopped sending for {timeout_s:g} s, so the answer was cut off.")
    if isinstance(exc, MalformedChunk):
        return Failure(Status.ERROR, "The model server sent a response that could not be read.")
    if isinstance(exc, StreamDropped):
        return Failure(Status.ERROR, "The connection to the model server dropped before the answer was complete.")
    if isinstance(exc, DurationExceeded):
        return Failure(Status.ERROR, f"The answer took longer than {timeout_s:g} s and was ended.")
    if isinstance(exc, openai.APIStatusError):
        return _describe_status(exc, facts)
    if isinstance(exc, openai.APITimeoutError):
        return Failure(Status.ERROR, "The model server did not answer in time. Try again.")
    if isinstance(exc, openai.APIConnectionError):
        return Failure(
            Status.ERROR,
            "Could not reach the model server (connection refused or dropped). "
            "Check that it is running and reachable, then retry.",
        )
    return Failure(Status.ERROR, "Something went wrong while getting the answer. Try again.")


def failure_kind(exc: BaseException) -> str:
    """A stable word per cause of `describe_failure`, for metrics labels and logs."""
    kinds: tuple[tuple[type[BaseException], str], ...] = (
        (ClientAuthenticationError, "auth"),
        (StreamStalled, "stalled"),
        (MalformedChunk, "malformed"),
        (StreamDropped, "dropped"),
        (DurationExceeded, "too_long"),
        (openai.APITimeoutError, "timeout"),  # before its base class, APIConnectionError
        (openai.APIConnectionError, "connection"),
    )
    for kind, word in kinds:
        if isinstance(exc, kind):
            return word
    if not isinstance(exc, openai.APIStatusError):
        return "other"
    if exc.status_code in (401, 403):
        return "auth"
    if exc.status_code == 400 and "content_filter" in str(_error_body(exc)):
        return "content_filter"
    by_status = {400: "bad_request", 404: "not_found", 429: "rate_limited"}
    return by_status.get(exc.status_code, "server_error" if exc.status_code >= 500 else "other_status")


def _describe_status(exc: openai.APIStatusError, facts: BackendFacts) -> Failure:
    err = _error_body(exc)
    code = str(err.get("code") or "")
    if exc.status_code in (401, 403):
        if facts.keyless:
            return Failure(
                Status.ERROR,
                "Azure OpenAI refused the Entra ID token. Give your identity the "
                "'Cognitive Services OpenAI User' role, or set AZURE_OPENAI_API_KEY.",
            )
        verb = "rejected" if exc.status_code == 401 else "does not allow"
        return Failure(Status.ERROR, f"The model server {verb} the credentials. Check {facts.key_setting}.")
    if exc.status_code == 404:
        what = "deployment" if facts.kind == "azure" else "model"
        return Failure(
            Status.ERROR,
            f"The {what} '{facts.model}' was not found. Check {facts.model_setting} (and the endpoint).",
        )
    if exc.status_code == 429:
        return Failure(Status.ERROR, "The model is busy (rate limited). Try again in a minute.")
    if exc.status_code == 400 and (code == "content_filter" or "content_filter" in str(err.get("innererror", ""))):
        cats = _filtered_categories(err)
        which = f" ({', '.join(cats)})" if cats else ""
        return Failure(Status.FILTERED, f"Your message was blocked by the content filter{which}. Rephrase it.")
    if exc.status_code == 400:
        return Failure(Status.ERROR, f"The model server refused the request: {_short(err.get('message'))}")
    if exc.status_code >= 500:
        return Failure(Status.ERROR, f"The model server had an internal error ({exc.status_code}). Try again.")
    return Failure(Status.ERROR, f"The model server answered {exc.status_code}: {_short(err.get('message'))}")


def _short(message: object, limit: int = 200) -> str:
    text = str(message or "no details").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def storage_reason(exc: BaseException) -> str:
    """The database's own words ("database is locked"), never the statement or its parameters:
    SQLAlchemy's messages quote both, and those hold message text and owner ids."""
    return str(getattr(exc, "orig", None) or type(exc).__name__)


# Azure's 429 text: "... Please retry after 7 seconds." (some gateways drop the headers).
RETRY_AFTER_TEXT = re.compile(r"retry after (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)


def retry_after_seconds(exc: openai.APIStatusError, default: float) -> float:
    """Honour Azure's `retry-after-ms`, then `retry-after` (seconds), then the error text, else the default."""
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers.get(name, "")) * scale)
        except ValueError:
            continue
    said = RETRY_AFTER_TEXT.search(str(_error_body(exc).get("message") or ""))
    return float(said.group(1)) if said else default
