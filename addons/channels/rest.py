"""Rasa's REST channel behind the inbound guard.

Same routes, request and answers as `rasa.core.channels.rest.RestInput`;
what differs is what it refuses, each with a JSON error (see `errors.py`):
a body over `max_body_bytes` gets 413 before it is read (Sanic would read
100 MB), a flood from one sender 429 with Retry-After, everything else the
guard refuses 400.

credentials.yml:

    addons.channels.rest.RestInput:
      limits:                    # optional; keys and defaults: guard.ChannelLimits
        max_message_chars: 10000
"""

from __future__ import annotations

import copy
import inspect
import json
import math
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import rasa.utils.endpoints
import structlog
from rasa.core.channels import rest
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from addons.channels.errors import BodyTooLarge, ChannelError, MalformedBody, RateLimited
from addons.channels.guard import ChannelLimits, InboundGuard, InboundMessage

structlogger = structlog.get_logger()

# The one place where a refusal becomes an HTTP status; the rest are 400.
STATUS = {
    BodyTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    RateLimited: HTTPStatus.TOO_MANY_REQUESTS,
}


def error_response(error: ChannelError) -> HTTPResponse:
    headers = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(math.ceil(error.retry_after))
    status = STATUS.get(type(error), HTTPStatus.BAD_REQUEST)
    return response.json(error.as_dict(), status=status, headers=headers)


class RestInput(rest.RestInput):
    def __init__(self, limits: ChannelLimits | None = None) -> None:
        self.guard = InboundGuard(limits)

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(ChannelLimits.from_config((credentials or {}).get("limits")))

    async def read_body(self, request: Request) -> dict[str, Any]:
        """The JSON body, read only up to the channel's limit.

        The route streams, so Sanic has read nothing yet: a declared
        Content-Length over the limit is refused before a byte is read, and
        with the limit set on the stream Sanic stops a chunked body as soon
        as it exceeds it (then closes the connection).
        """
        limit = self.guard.limits.max_body_bytes
        too_large = BodyTooLarge(
            f"The request body is larger than {limit} bytes.", limit_bytes=limit
        )
        # Refused before Sanic answers `Expect: 100-continue` (curl sends it
        # for large bodies), so such a client never sends the body at all.
        if int(request.headers.get("content-length", 0)) > limit:
            raise too_large
        request.stream.request_max_size = limit
        try:
            await request.receive_body()
        except PayloadTooLarge:
            raise too_large from None
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):
            raise MalformedBody() from None
        if not isinstance(body, dict):
            raise MalformedBody()
        return body

    async def admit(self, request: Request) -> tuple[InboundMessage, str]:
        """The guarded message and the input channel it names."""
        body = await self.read_body(request)
        input_channel = body.get("input_channel")
        if input_channel is not None:
            self.guard.check_id(input_channel, "input_channel")
        message = self.guard.admit(body.get("sender"), body.get("message"), body.get("metadata"))
        return message, input_channel or self.name()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        module = inspect.getmodule(self)
        webhook = Blueprint(
            f"custom_webhook_{type(self).__name__}", module.__name__ if module else None
        )

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> ResponseStream | HTTPResponse:
            try:
                message, input_channel = await self.admit(request)
            except ChannelError as error:
                return error_response(error)
            text, sender_id, metadata = message.text, message.sender_id, message.metadata
            # From here on as Rasa's RestInput.receive.
            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return response.stream(
                    self.stream_response(on_new_message, text, sender_id, input_channel, metadata),
                    content_type="text/event-stream",
                )
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        text, collector, sender_id, input_channel=input_channel, metadata=metadata
                    )
                )
            except CancelledError:
                structlogger.error("rest.message.received.timeout", text=copy.deepcopy(text))
            except Exception:
                structlogger.exception("rest.message.received.failure", text=copy.deepcopy(text))
            return response.json(collector.messages)

        return webhook
