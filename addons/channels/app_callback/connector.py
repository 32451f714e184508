"""The app channel for Rasa (`input_channel` "app").

`POST /webhooks/app/webhook`, signed (see signing.py), body:

    {"sender": "<the app's user id>", "message": "<text or a button's payload>",
     "message_id": "<optional, the app's id, for its retries>",
     "customer": {"name": "...", "contact": "<phone or e-mail>"},   (optional)
     "metadata": {...}}                                             (optional)

is answered 202 at once; the bot's answers, and later the agent's, go to the
callback URL (delivery.py) as

    {"delivery_id", "recipient_id", "sender": "bot"|"agent",
     "agent": {"name", "avatar"}|null, "text", "buttons": [{"title", "payload"}],
     "image", "handoff_state": "connected"|"transferred"|"released"|"resolved"|null,
     "timestamp"}

Refusals, in order of cost: 503 not configured, 413 body too large, 403
signature missing, wrong or stale, 409 a request or `message_id` already
taken (a replay, or the app's retry of a message we have), 400 not JSON or
no sender/message, 429 (Retry-After) a flood from one sender. The app signed
the request, so the sender is its verified user id.

credentials.yml:

    addons.channels.app_callback.connector.AppCallbackInput:
      url: ${APP_CALLBACK_URL}        # where the bot's and agents' messages go
      secret: ${APP_CALLBACK_SECRET}  # signs both ways
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.channels.app_callback.delivery import CallbackDelivery, CallbackFailed
from addons.channels.app_callback.signing import HEADER, REPLAY_WINDOW_SECONDS, verify
from addons.channels.environment import with_environment
from addons.channels.errors import (
    ChannelError,
    ChannelNotConfigured,
    DeliveryFailed,
    DuplicateMessage,
    InvalidMessage,
    InvalidSenderId,
    MalformedBody,
)
from addons.channels.guard import ChannelLimits, InboundGuard, InboundMessage
from addons.channels.outbound import OutgoingMessage
from addons.channels.replays import recently_seen
from addons.channels.webhooks import channel_blueprint, json_object, receive_body, refusal_response

logger = logging.getLogger(__name__)

# The environment variable of each key credentials.yml may leave out.
ENVIRONMENT = {"url": "APP_CALLBACK_URL", "secret": "APP_CALLBACK_SECRET"}


class AppCallbackOutput(OutputChannel):
    def __init__(self, delivery: CallbackDelivery) -> None:
        self.delivery = delivery

    @classmethod
    def name(cls) -> str:
        return AppCallbackInput.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        outgoing = OutgoingMessage.from_rasa(message)
        payload = {
            "recipient_id": recipient_id,
            "sender": outgoing.sender.value,
            "agent": (
                {"name": outgoing.agent.name, "avatar": outgoing.agent.avatar}
                if outgoing.agent
                else None
            ),
            "text": outgoing.text,
            "buttons": [
                {"title": button.title, "payload": button.payload} for button in outgoing.buttons
            ],
            "image": outgoing.image,
            "handoff_state": outgoing.handoff_state,
            "timestamp": outgoing.timestamp,
        }
        try:
            await self.delivery.send(payload, retry=outgoing.agent is None)
        except CallbackFailed as failure:
            if outgoing.agent:
                raise DeliveryFailed(
                    f"{failure.message} The customer did not get this message; send it again.",
                    code=failure.status,
                ) from failure
            # The bot's message the app refused for good: logged by delivery.

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


class AppCallbackInput(InputChannel):
    def __init__(
        self, *, url: str = "", secret: str = "", limits: ChannelLimits | None = None
    ) -> None:
        self.secret = secret
        self.delivery = CallbackDelivery(url=url, secret=secret)
        self.guard = InboundGuard(limits)
        self.requests_seen = recently_seen("app.requests", ttl_seconds=2 * REPLAY_WINDOW_SECONDS)
        self.messages_seen = recently_seen("app.messages")
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    def name(cls) -> str:
        return "app"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = with_environment(credentials, ENVIRONMENT)
        return cls(
            url=credentials.get("url") or "",
            secret=credentials.get("secret") or "",
            limits=ChannelLimits.from_config(credentials.get("limits")),
        )

    @property
    def configured(self) -> bool:
        return bool(self.delivery.url and self.secret)

    def get_output_channel(self) -> OutputChannel:
        return AppCallbackOutput(self.delivery)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = channel_blueprint(self, lambda: self.configured)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            try:
                message = await self.admit(request)
            except ChannelError as error:
                return refusal_response(error, logger, "an app message")
            task = asyncio.create_task(self.process(on_new_message, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return response.json({"status": "accepted"}, status=202)

        return webhook

    async def admit(self, request: Request) -> InboundMessage:
        if not self.configured:
            raise ChannelNotConfigured()
        raw = await receive_body(request, self.guard.limits.max_body_bytes)
        signature = verify(self.secret, request.headers.get(HEADER), raw)
        if not await self.requests_seen.first_time(signature):
            raise DuplicateMessage("This signed request was already received.")
        body = json_object(raw)
        sender, text = body.get("sender"), body.get("message")
        if sender is None:
            raise InvalidSenderId("The body needs a sender: the app's user id.", field="sender")
        if text is None:
            raise InvalidMessage("The body needs a message: a string.")
        self.guard.check_id(sender, "sender")
        message_key = (sender, str(body["message_id"])) if body.get("message_id") else None
        if message_key and not await self.messages_seen.first_time(message_key):
            raise DuplicateMessage(f"Message {body['message_id']} was already received.")
        try:
            return self.guard.admit(sender, text, self._metadata(body, sender))
        except ChannelError:
            # Refused, not taken: the app may send it again.
            await self.requests_seen.forget(signature)
            if message_key:
                await self.messages_seen.forget(message_key)
            raise

    @staticmethod
    def _metadata(body: dict[str, Any], sender: Any) -> dict[str, Any]:
        """The app's metadata plus the identity it vouches for by signing."""
        metadata = body.get("metadata") or {}
        customer = body.get("customer") or {}
        if not isinstance(metadata, dict) or not isinstance(customer, dict):
            raise MalformedBody("metadata and customer must be JSON objects.")
        identity = {
            "customer_id": sender,
            "customer_name": customer.get("name"),
            "contact": customer.get("contact"),
            "identity_verified": True,
        }
        return {**metadata, **{key: value for key, value in identity.items() if value is not None}}

    async def process(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: InboundMessage
    ) -> None:
        try:
            await on_new_message(
                UserMessage(
                    message.text,
                    self.get_output_channel(),
                    message.sender_id,
                    input_channel=self.name(),
                    metadata=message.metadata,
                )
            )
        except Exception:
            logger.exception("An app message from %s failed.", message.sender_id)
