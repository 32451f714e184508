"""Rasa's REST channel behind the inbound guard.

Same routes, request and answers as `rasa.core.channels.rest.RestInput`;
what differs is what it refuses, each with a JSON error (see `errors.py`):
a body over `max_body_bytes` gets 413 before it is read (Sanic would read
100 MB), a flood from one sender 429 with Retry-After, everything else the
guard refuses 400.

Two things Rasa's REST channel takes from any client are not taken here,
since a REST client is whoever can reach the route:
- metadata keys only the server writes (`metadata.SERVER_KEYS`): a client
  sending `identity_verified: true` with someone's `customer_id` would have
  its ticket filed under that customer and read their history. It may still
  name its customer by `customer_name` and `contact`, which tickets show as
  the unverified facts they are;
- an `input_channel` other than `rest` (400): Rasa sends agents' replies
  through a conversation's latest input channel, so naming `wechat` would
  have them sent to WeChat with this sender id as an openid.

credentials.yml:

    addons.channels.rest.RestInput:
      limits:                    # optional; keys and defaults: guard.ChannelLimits
        max_message_chars: 10000
"""

from __future__ import annotations

import copy
import dataclasses
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

import rasa.utils.endpoints
import structlog
from rasa.core.channels import rest
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from addons.channels.errors import (
    AssistantUnavailable,
    ChannelError,
    InvalidInputChannel,
    InvalidMessage,
    InvalidSenderId,
)
from addons.channels.guard import ChannelLimits, InboundGuard, InboundMessage
from addons.channels.metadata import client_metadata
from addons.channels.webhooks import channel_blueprint, error_response, json_object, receive_body

structlogger = structlog.get_logger()

# Who the customer is, as a REST client may say it: shown, never verified.
UNVERIFIED_CUSTOMER_KEYS = frozenset({"customer_name", "contact"})


class RestInput(rest.RestInput):
    def __init__(self, limits: ChannelLimits | None = None) -> None:
        self.guard = InboundGuard(limits)

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(ChannelLimits.from_config((credentials or {}).get("limits")))

    async def read_body(self, request: Request) -> dict[str, Any]:
        """The JSON body; the route streams, so nothing over the limit is read."""
        return json_object(await receive_body(request, self.guard.limits.max_body_bytes))

    async def admit(self, request: Request) -> InboundMessage:
        """The guarded message, with what only the server says taken out."""
        body = await self.read_body(request)
        if body.get("input_channel") not in (None, self.name()):
            raise InvalidInputChannel(
                f"The input_channel must be left out or be '{self.name()}': "
                "a REST client cannot speak on another channel.",
                field="input_channel",
            )
        if body.get("sender") is None:
            # Rasa would put it in its one "default" conversation, shared by
            # every client that sends no sender: strangers would read each
            # other's orders in the bot's answers.
            raise InvalidSenderId("The body needs a sender: the customer's own id.", field="sender")
        if body.get("message") is None:
            # Rasa would take it as a message without text and fail in NLU.
            raise InvalidMessage("The body needs a message: a string.")
        message = self.guard.admit(body["sender"], body["message"], body.get("metadata"))
        if message.metadata is None:
            return message
        metadata = client_metadata(message.metadata, keep=UNVERIFIED_CUSTOMER_KEYS)
        return dataclasses.replace(message, metadata=metadata)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = channel_blueprint(self)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> ResponseStream | HTTPResponse:
            try:
                message = await self.admit(request)
            except ChannelError as error:
                return error_response(error)
            text, sender_id, metadata = message.text, message.sender_id, message.metadata
            input_channel = self.name()
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
                if not collector.messages:
                    # Rasa answers 200 with nothing: the client could not
                    # tell an outage from a silent bot, nor know to resend.
                    return error_response(AssistantUnavailable())
            return response.json(collector.messages)

        return webhook
