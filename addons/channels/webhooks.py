"""What the channels' Sanic routes share: the blueprint with its health
route, a body read only up to its limit and parsed as a JSON object, and the
one mapping of refusals to HTTP responses."""

from __future__ import annotations

import inspect
import json
import logging
import math
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.channels.errors import (
    AssistantUnavailable,
    AttachmentTypeNotAllowed,
    BodyTooLarge,
    BridgeUnavailable,
    ChannelError,
    ChannelNotConfigured,
    DuplicateMessage,
    InvalidSession,
    InvalidSignature,
    MalformedBody,
    NoOpenTicket,
    NotAuthorized,
    RateLimited,
)

# The one place where a refusal becomes an HTTP status; the rest are 400.
STATUS = {
    BodyTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    RateLimited: HTTPStatus.TOO_MANY_REQUESTS,
    ChannelNotConfigured: HTTPStatus.SERVICE_UNAVAILABLE,
    InvalidSignature: HTTPStatus.FORBIDDEN,
    DuplicateMessage: HTTPStatus.CONFLICT,
    NotAuthorized: HTTPStatus.UNAUTHORIZED,
    InvalidSession: HTTPStatus.UNAUTHORIZED,
    AttachmentTypeNotAllowed: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    NoOpenTicket: HTTPStatus.CONFLICT,
    BridgeUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    AssistantUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def channel_blueprint(channel: object, configured: Callable[[], bool] | None = None) -> Blueprint:
    """The channel's blueprint, named as Rasa names custom channels'
    (`custom_webhook_<Class>`), with `GET /` answering `{"status": "ok"}`,
    or "not configured" while `configured()` says so."""
    module = inspect.getmodule(channel)
    webhook = Blueprint(
        f"custom_webhook_{type(channel).__name__}", module.__name__ if module else None
    )

    @webhook.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        ok = configured is None or configured()
        return response.json({"status": "ok" if ok else "not configured"})

    return webhook


def error_response(error: ChannelError) -> HTTPResponse:
    headers = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(math.ceil(error.retry_after))
    status = STATUS.get(type(error), HTTPStatus.BAD_REQUEST)
    return response.json(error.as_dict(), status=status, headers=headers)


def refusal_response(error: ChannelError, log: logging.Logger, what: str) -> HTTPResponse:
    """`error_response`, with the refusal of `what` logged unless the
    channel is merely not configured (every request would then say so)."""
    if not isinstance(error, ChannelNotConfigured):
        log.info("Refused %s: %s", what, error.code)
    return error_response(error)


async def receive_body(request: Request, limit: int) -> bytes:
    """The request body, read only if it is at most `limit` bytes.

    Only for streaming handlers, for which Sanic has read nothing yet (it
    preloads up to 100 MB for the others): a declared Content-Length over
    the limit is refused before Sanic answers `Expect: 100-continue` (curl
    sends it for large bodies), so such a client never sends the body; with
    the limit set on the stream, Sanic stops a chunked body as soon as it
    exceeds it (and closes the connection).
    """
    if int(request.headers.get("content-length", 0)) > limit:
        raise _too_large(limit)
    if request.stream is not None:
        request.stream.request_max_size = limit
        try:
            await request.receive_body()
        except PayloadTooLarge:
            raise _too_large(limit) from None
    return request.body


def json_object(raw: bytes) -> dict[str, Any]:
    """A body that must be a JSON object; anything else is `MalformedBody`."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise MalformedBody() from None
    if not isinstance(body, dict):
        raise MalformedBody()
    return body


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"The request body is larger than {limit} bytes.", limit_bytes=limit)
