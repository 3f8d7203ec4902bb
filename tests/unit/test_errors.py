"""Error mapping: each upstream failure becomes one plain sentence naming what to fix."""

from __future__ import annotations

import sqlite3

import httpx2
import openai
import pytest
from azure.core.exceptions import ClientAuthenticationError
from sqlalchemy.exc import OperationalError

from services.errors import (
    BackendFacts,
    StreamDropped,
    StreamStalled,
    describe_failure,
    retry_after_seconds,
    storage_reason,
)
from services.models import Status

AZURE = BackendFacts("azure", "gpt-4o", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT")
AZURE_KEYLESS = BackendFacts("azure", "gpt-4o", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT", keyless=True)
OPENAI = BackendFacts("openai", "llama3", "OPENAI_API_KEY", "OPENAI_MODEL")


def status_error(code: int, body: dict, headers: dict | None = None) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(code, request=request, headers=headers or {}, json=body)
    cls = {
        401: openai.AuthenticationError,
        403: openai.PermissionDeniedError,
        404: openai.NotFoundError,
        429: openai.RateLimitError,
        400: openai.BadRequestError,
    }.get(code, openai.InternalServerError)
    return cls("failed", response=response, body=body)


def test_wrong_key_names_the_key_setting() -> None:
    failure = describe_failure(status_error(401, {"error": {"code": "401", "message": "Access denied"}}), AZURE)
    assert failure.status == Status.ERROR
    assert "AZURE_OPENAI_API_KEY" in failure.message


def test_keyless_forbidden_explains_the_role() -> None:
    failure = describe_failure(status_error(403, {"error": {"code": "PermissionDenied"}}), AZURE_KEYLESS)
    assert "Cognitive Services OpenAI User" in failure.message


def test_unknown_deployment_and_model_are_named() -> None:
    body = {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."}}
    assert "deployment 'gpt-4o'" in describe_failure(status_error(404, body), AZURE).message
    assert "model 'llama3'" in describe_failure(status_error(404, body), OPENAI).message
    assert "OPENAI_MODEL" in describe_failure(status_error(404, body), OPENAI).message


def test_prompt_filter_lists_the_categories_that_fired() -> None:
    body = {
        "error": {
            "code": "content_filter",
            "message": "The response was filtered",
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "hate": {"filtered": False, "severity": "safe"},
                    "violence": {"filtered": True, "severity": "high"},
                    "self_harm": {"filtered": True, "severity": "medium"},
                },
            },
        }
    }
    failure = describe_failure(status_error(400, body), AZURE)
    assert failure.status == Status.FILTERED
    assert "self harm, violence" in failure.message
    assert "hate" not in failure.message


@pytest.mark.parametrize(
    ("exc", "needle"),
    [
        (status_error(429, {"error": {"code": "429"}}), "rate limited"),
        (status_error(503, {"error": {"code": "503"}}), "internal error (503)"),
        (openai.APIConnectionError(request=httpx2.Request("POST", "http://127.0.0.1:9")), "Could not reach"),
        (StreamStalled(), "stopped sending for 60 s"),
        (StreamDropped(), "dropped"),
        (ClientAuthenticationError("DefaultAzureCredential failed"), "az login"),
        (RuntimeError("Traceback (most recent call last)"), "Something went wrong"),
    ],
)
def test_each_failure_has_a_plain_message_without_internals(exc: BaseException, needle: str) -> None:
    message = describe_failure(exc, AZURE, timeout_s=60).message
    assert needle in message
    assert "Traceback" not in message


def test_retry_after_prefers_milliseconds_then_seconds_then_default() -> None:
    assert retry_after_seconds(status_error(429, {}, {"retry-after-ms": "1500", "retry-after": "9"}), 4) == 1.5
    assert retry_after_seconds(status_error(429, {}, {"retry-after": "3"}), 4) == 3
    assert retry_after_seconds(status_error(429, {}), 4) == 4


def test_retry_after_is_read_from_azures_message_when_no_header_says_it() -> None:
    body = {
        "error": {
            "code": "429",
            "message": "Requests ... have exceeded token rate limit of your current "
            "OpenAI S0 pricing tier. Please retry after 7 seconds.",
        }
    }
    assert retry_after_seconds(status_error(429, body), 4) == 7
    assert retry_after_seconds(status_error(429, body, {"retry-after": "2"}), 4) == 2  # a header wins
    assert retry_after_seconds(status_error(429, {"error": {"message": "Slow down."}}), 4) == 4


def test_storage_failures_are_logged_without_the_statement_or_its_parameters() -> None:
    exc = OperationalError("UPDATE message SET content=?", ("my secret answer",), sqlite3.OperationalError("locked"))
    assert "secret" not in str(exc.orig) and "secret" in str(exc)  # SQLAlchemy's own text quotes them
    assert storage_reason(exc) == "locked"
    assert storage_reason(ValueError("x")) == "ValueError"
