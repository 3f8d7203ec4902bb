"""Every error of the HTTP API and the gateway as `application/problem+json` (RFC 9457).

Under /v1 (the OpenAI-compatible gateway) the problem also carries OpenAI's `error` member, so the
official SDKs and existing tools read the message as they would from OpenAI.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse, Response

from api.doors import route_path
from services.chat import Busy, ChatError, NotFound, OverLimit, TooLong, Unavailable

T = TypeVar("T")

MEDIA_TYPE = "application/problem+json"
API_PREFIXES = ("/api/", "/v1/")
_OPENAI_TYPES = {401: "authentication_error", 404: "not_found_error", 429: "rate_limit_error"}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problems a router can answer with."""
    return {s: {"description": HTTPStatus(s).phrase, "content": {MEDIA_TYPE: {}}} for s in statuses}


class Problem(Exception):
    """Raised anywhere in a route; becomes the response. `code` is a stable word for programs."""

    def __init__(self, status: int, detail: str, code: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or HTTPStatus(status).phrase.lower().replace(" ", "_")
        self.headers = headers or {}


def of_chat_error(exc: ChatError) -> Problem:
    """The service's refusals, by kind; the message is already fit to show."""
    if isinstance(exc, OverLimit):
        return Problem(429, str(exc), "rate_limit_exceeded", headers={"Retry-After": str(exc.retry_after)})
    for kind, status in ((NotFound, 404), (Busy, 409), (TooLong, 413), (Unavailable, 503)):
        if isinstance(exc, kind):
            return Problem(status, str(exc))
    return Problem(422, str(exc), "invalid_content")


async def call(work: Awaitable[T]) -> T:
    """Runs a service call; its refusal becomes the matching problem."""
    try:
        return await work
    except ChatError as exc:
        raise of_chat_error(exc) from None


def problem_response(path: str, problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    }
    if path.startswith("/v1/"):
        kind = _OPENAI_TYPES.get(problem.status, "invalid_request_error" if problem.status < 500 else "api_error")
        body["error"] = {"message": problem.detail, "type": kind, "param": None, "code": problem.code}
    return JSONResponse(body, problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(route_path(request.scope), exc)


async def _on_invalid(request: Request, exc: Exception) -> Response:
    """FastAPI's own 422 (a path or query parameter of the wrong type) in our format, on our paths only."""
    assert isinstance(exc, RequestValidationError)
    if not route_path(request.scope).startswith(API_PREFIXES):
        return await request_validation_exception_handler(request, exc)
    where = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}" for e in exc.errors())
    return problem_response(route_path(request.scope), Problem(422, f"Invalid request ({where}).", "invalid_request"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_invalid)


async def read_json(request: Request, limit: int, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object, read no further than `limit` bytes: 413 beyond, 422 if not an object
    (an empty body is `{}` when the body is `optional`)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"The request body is over {limit:,} bytes.", "too_large")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise Problem(413, f"The request body is over {limit:,} bytes.", "too_large")
    if optional and not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Problem(422, "The request body is not valid JSON.", "malformed_json") from None
    if not isinstance(data, dict):
        raise Problem(422, "The request body must be a JSON object.", "malformed_json")
    return data
