"""Rasa's socket.io channel behind the inbound guard.

Rasa's channel is used as it is (events, rooms, `session_persistence`,
`metadata_key`, JWT); the guard is put in front of its message handler,
and its session handler is replaced by one that really joins the
session's room (see `open_session`).
A refused message reaches Rasa not at all: the client gets a
`message_rejected` event carrying the same error body as the REST channel,
and a sender who is sending too fast also gets a polite notice as a bot
message. A polling POST over `max_body_bytes` gets 413 before it is read
(Sanic would first read up to 100 MB), and engine.io refuses websocket
frames over it.

credentials.yml:

    addons.channels.socketio.SocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
      limits:                    # optional; keys and defaults: guard.ChannelLimits
        messages_per_minute: 60
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels import socketio
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request

from addons.channels import engineio_sanic
from addons.channels.errors import ChannelError, InvalidMessage, InvalidPacket, RateLimited
from addons.channels.guard import ChannelLimits, InboundGuard
from addons.channels.webhooks import error_response, receive_body

logger = logging.getLogger(__name__)

REJECTED_EVENT = "message_rejected"
# Engine.IO v4 packets a client sends over polling: close, ping, pong,
# message, upgrade, and "b" for a base64 binary message. engine.io answers
# the others (open, noop) by closing the session and waiting for a poll to
# take the close packet: a POST that never ends.
CLIENT_PACKET_TYPES = frozenset(b"12345b")
PACKET_SEPARATOR = b"\x1e"
# Customers see this as a bot message; the language of the conversation is
# not known here, so it speaks both.
SLOW_DOWN_NOTICE = (
    "您发送得太快了，请稍等几秒再发。You are sending messages too fast; please wait a few seconds."
)


class SocketIOInput(socketio.SocketIOInput):
    def __init__(self, *args: Any, limits: ChannelLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = InboundGuard(limits)

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        channel = super().from_credentials(credentials)
        assert isinstance(channel, cls)
        channel.guard = InboundGuard(ChannelLimits.from_config((credentials or {}).get("limits")))
        return channel

    def admit(self, sid: str, data: Any) -> dict[str, Any]:
        """The event's data as Rasa's handler may see it, repaired."""
        if not isinstance(data, dict):
            raise InvalidMessage("The message event must carry an object.")
        if self.session_persistence:
            sender_id = data.get("session_id")
            if not sender_id:
                return data  # Rasa's handler ignores it, with a warning
        else:
            sender_id = sid
        admitted = self.guard.admit(
            sender_id, data.get("message", ""), data.get(self.metadata_key, {})
        )
        return {**data, "message": admitted.text, self.metadata_key: admitted.metadata}

    async def reject(self, sid: str, error: ChannelError) -> None:
        assert self.sio is not None
        await self.sio.emit(REJECTED_EVENT, error.as_dict(), room=sid, namespace=self.namespace)
        if isinstance(error, RateLimited):
            await self.sio.emit(
                self.bot_message_evt, {"text": SLOW_DOWN_NOTICE}, room=sid, namespace=self.namespace
            )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        self._bound_engineio_requests(sio.eio)
        engineio_sanic.install(sio.eio)
        handle_message = sio.handlers[self.namespace or "/"][self.user_message_evt]

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def guarded_handle_message(sid: str, data: Any = None) -> None:
            try:
                admitted = self.admit(sid, data)
            except ChannelError as error:
                logger.info("Refused a socket.io message from %s: %s", sid, error.code)
                await self.reject(sid, error)
                return
            await handle_message(sid, admitted)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            await self.open_session(sid, data)

        return webhook

    async def open_session(self, sid: str, data: Any) -> None:
        """Rasa's `session_request` handler, with the session's room joined.

        Rasa 3.6 calls python-socketio's `enter_room` without awaiting it,
        and in the python-socketio we run it is a coroutine: the socket never
        joined the room its replies are sent to, so with
        `session_persistence` no answer reached the customer.
        """
        assert self.sio is not None
        session_id = (data if isinstance(data, dict) else {}).get("session_id") or uuid.uuid4().hex
        try:
            self.guard.check_id(session_id, "session_id")
        except ChannelError as error:
            logger.info("Refused a socket.io session from %s: %s", sid, error.code)
            await self.reject(sid, error)
            return
        if self.session_persistence:
            await self.sio.enter_room(sid, session_id, namespace=self.namespace)
        await self.sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

    def _bound_engineio_requests(self, engineio: Any) -> None:
        """Puts the body limit in front of engine.io's one route.

        engine.io adds its route when the blueprint is registered, from
        `engineio.handle_request`; a handler marked `is_stream` is one Sanic
        does not preload, so the limit applies before anything is read.
        """
        limit = self.guard.limits.max_body_bytes
        engineio.max_http_buffer_size = limit
        handle_request = engineio.handle_request

        async def bounded_handle_request(request: Request, *args: Any, **kwargs: Any) -> Any:
            try:
                body = await receive_body(request, limit)
                if request.method == "POST":
                    check_client_packets(body)
            except ChannelError as error:
                return error_response(error)
            return await handle_request(request, *args, **kwargs)

        bounded_handle_request.is_stream = True  # type: ignore[attr-defined]
        # An upgrade ends as a websocket, after which the handler returns
        # nothing (engineio_sanic); Sanic accepts that only from these.
        bounded_handle_request.is_websocket = True  # type: ignore[attr-defined]
        engineio.handle_request = bounded_handle_request


def check_client_packets(payload: bytes) -> None:
    """Refuses a polling payload holding a packet type no client sends."""
    for packet in payload.split(PACKET_SEPARATOR):
        if not packet or packet[0] not in CLIENT_PACKET_TYPES:
            raise InvalidPacket()
