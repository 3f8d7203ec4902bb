"""`failure_kind`: one stable label per cause `describe_failure` names, for streamchat_upstream_errors_total."""

from __future__ import annotations

import httpx
import openai
import pytest
from azure.core.exceptions import ClientAuthenticationError

from services.errors import DurationExceeded, MalformedChunk, StreamDropped, StreamStalled, failure_kind
from tests.unit.test_errors import status_error

REQUEST = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
FILTERED = {"error": {"code": "content_filter", "message": "blocked"}}


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ClientAuthenticationError("no token"), "auth"),
        (StreamStalled(), "stalled"),
        (MalformedChunk(), "malformed"),
        (StreamDropped(), "dropped"),
        (DurationExceeded(), "too_long"),
        (openai.APITimeoutError(REQUEST), "timeout"),
        (openai.APIConnectionError(request=REQUEST), "connection"),
        (status_error(401, {}), "auth"),
        (status_error(403, {}), "auth"),
        (status_error(404, {}), "not_found"),
        (status_error(429, {}), "rate_limited"),
        (status_error(400, FILTERED), "content_filter"),
        (status_error(400, {"error": {"message": "bad"}}), "bad_request"),
        (status_error(503, {}), "server_error"),
        (status_error(409, {}), "other_status"),
        (RuntimeError("?"), "other"),
    ],
)
def test_each_cause_has_its_own_label(exc: BaseException, kind: str) -> None:
    assert failure_kind(exc) == kind
