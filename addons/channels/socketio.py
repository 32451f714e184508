"""The web chat channel: Rasa's socket.io channel, made to work and to belong
to its customers.

Rasa's channel gives the events and the engine.io server; on top of it:

- the transport works (`engineio_sanic`), and each polling POST or
  websocket frame is bounded by `max_body_bytes`;
- a session is a token the server signs (`web_session`): `session_request
  {session_id}` with a token this server issued resumes that conversation,
  anything else starts a fresh one, so nobody joins another customer's room;
- every message passes the inbound guard; a refused one gets
  `message_rejected` (the REST channel's error body), a flood also a polite
  notice;
- `customData` (rasa-webchat) and `metadata` reach Rasa as `metadata`, with
  the host page's identity checked (`web_identity`);
- a new session, or rasa-webchat's empty or `/get_started` first message,
  starts the conversation with the greeting (the `greet` intent, triggered
  here, the trusted side) instead of a "did not understand";
- bot and agent messages go out as one `bot_uttered` each
  (`web_messages.bot_payload`), also when the bridge sends an agent's reply
  through Rasa's API (`get_output_channel`).

Routes, under /webhooks/socketio:
  GET  /history             the conversation, for a reloaded page (Bearer session token)
  POST /attachments         a customer's file to the ticket (Bearer session token)
  POST /typing              the agent is typing (the bridge's JWT for Rasa's API)
  GET  /widget/<path>       the widget's files (addons/channels/widget)

credentials.yml:

    addons.channels.socketio.SocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
      session_secret: ${WEB_SESSION_SECRET}    # signs session tokens
      identity_secret: ${WEB_IDENTITY_SECRET}  # shared with the host site
      limits:                    # optional; keys and defaults: guard.ChannelLimits
        messages_per_minute: 60
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import jwt
from engineio.payload import Payload
from rasa.core.channels import socketio
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic_jwt.exceptions import SanicJWTException
from socketio import AsyncServer

from addons.channels import cluster, engineio_sanic, handoff_client
from addons.channels.environment import with_environment
from addons.channels.errors import (
    AssistantUnavailable,
    AttachmentTypeNotAllowed,
    BodyTooLarge,
    BridgeUnavailable,
    ChannelError,
    ChannelNotConfigured,
    InvalidMessage,
    InvalidPacket,
    InvalidSession,
    NoOpenTicket,
    NotAuthorized,
    RateLimited,
)
from addons.channels.guard import ChannelLimits, InboundGuard
from addons.channels.web_identity import customer_metadata
from addons.channels.web_messages import bot_payload, history
from addons.channels.web_session import SessionTokens, WebSession
from addons.channels.webhooks import error_response, json_object, receive_body

logger = logging.getLogger(__name__)

# The environment variable of each key credentials.yml may leave out.
ENVIRONMENT = {
    "session_secret": "WEB_SESSION_SECRET",  # the launcher makes it
    "identity_secret": "WEB_IDENTITY_SECRET",  # shared with the site that signs its users
}

REJECTED_EVENT = "message_rejected"
TYPING_EVENT = "typing"
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
# What a widget sends only to start the conversation: rasa-webchat's empty
# message, or its usual initPayload.
SESSION_START_PAYLOADS = frozenset({"", "/get_started"})
GREET_INTENT = "greet"
# The role in the bridge's JWTs for Rasa's API (handoff/rasa.py).
BRIDGE_ROLE = "admin"
LANGUAGES = frozenset({"zh", "en"})
# Rasa's own credentials keys, passed on to its channel as they are.
RASA_KEYS = (
    "user_message_evt",
    "bot_message_evt",
    "namespace",
    "session_persistence",
    "socketio_path",
    "jwt_key",
    "jwt_method",
    "metadata_key",
)

# Files a customer may send (the bridge checks again): images, PDF, text
# and office documents; a type ending in "." is a prefix.
ATTACHMENT_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.",
)
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# Room for the multipart framing around the file.
MULTIPART_OVERHEAD_BYTES = 16 * 1024
# What the conversation says came: the file itself (name, type, link) is on
# the ticket. No Latin file name, which would switch the bot to English.
ATTACHMENT_LABELS = {"image": "[图片]", "file": "[文件]"}

# The latest messages a reloaded page shows; older ones are the agent's to read.
HISTORY_LIMIT = 200

WIDGET_DIRECTORY = Path(__file__).parent / "widget"
WIDGET_CACHE_SECONDS = 3600
WIDGET_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css"}


class WebOutput(socketio.SocketIOOutput):
    """Sends each bot or agent message to its session's room as one event."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str, namespace: str | None) -> None:
        super().__init__(sio, bot_message_evt)
        self.namespace = namespace

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.sio.emit(
            self.bot_message_evt, bot_payload(message), room=recipient_id, namespace=self.namespace
        )


class InOrder:
    """One turn at a time per key, in the order the turns were asked for
    (asyncio's lock wakes its waiters first come, first served)."""

    def __init__(self) -> None:
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        lock, waiting = self._turns.get(key) or (asyncio.Lock(), 0)
        self._turns[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            lock, waiting = self._turns[key]
            if waiting == 1:
                del self._turns[key]
            else:
                self._turns[key] = (lock, waiting - 1)


class SocketIOInput(socketio.SocketIOInput):
    def __init__(
        self,
        *args: Any,
        limits: ChannelLimits | None = None,
        session_secret: str = "",
        identity_secret: str = "",
        max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.guard = InboundGuard(limits)
        self.in_order = InOrder()
        self.sessions = SessionTokens(session_secret)
        self.identity_secret = identity_secret
        self.max_attachment_bytes = max_attachment_bytes

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = with_environment(credentials, ENVIRONMENT)
        return cls(
            **{key: credentials[key] for key in RASA_KEYS if key in credentials},
            limits=ChannelLimits.from_config(credentials.get("limits")),
            session_secret=credentials.get("session_secret") or "",
            identity_secret=credentials.get("identity_secret") or "",
            max_attachment_bytes=int(
                credentials.get("max_attachment_bytes") or MAX_ATTACHMENT_BYTES
            ),
        )

    def get_output_channel(self) -> OutputChannel | None:
        if self.sio is None:
            return super().get_output_channel()  # warns, as Rasa does
        return WebOutput(self.sio, self.bot_message_evt, self.namespace)

    # --- Sessions -----------------------------------------------------------

    def session_of(self, sid: str, data: dict[str, Any]) -> WebSession:
        """The session a message belongs to: its token's, or the socket's own
        when sessions are not kept (`session_persistence: false`)."""
        if not self.session_persistence:
            return WebSession(token=sid, sender_id=sid)
        session = self.sessions.open(data.get("session_id"))
        if session is None:
            raise InvalidSession()
        return session

    async def open_session(self, sid: str, data: Any) -> None:
        """Confirms the presented session if it is ours, else a fresh one,
        and joins the socket to its room; a fresh one starts with the greeting.

        Rasa 3.6 called python-socketio's `enter_room` without awaiting it (a
        coroutine in the version we run): the socket never joined the room
        its replies were sent to.
        """
        assert self.sio is not None
        data = data if isinstance(data, dict) else {}
        metadata = self.metadata(data)  # refused before any session is confirmed
        if self.session_persistence:
            session = self.sessions.open(data.get("session_id"))
            resumed = session is not None
            session = session or self.sessions.issue()
            for room in self.sio.rooms(sid, namespace=self.namespace):
                if room != sid:  # a socket is in one session at a time
                    await self.sio.leave_room(sid, room, namespace=self.namespace)
            await self.sio.enter_room(sid, session.sender_id, namespace=self.namespace)
        else:
            session, resumed = WebSession(token=sid, sender_id=sid), False
        await self.sio.emit(
            "session_confirm",
            {"session_id": session.token, "resumed": resumed},
            room=sid,
            namespace=self.namespace,
        )
        if not resumed:
            await self.start_conversation(sid, session, metadata)

    async def start_conversation(
        self, sid: str, session: WebSession, metadata: dict[str, Any]
    ) -> None:
        """Greets a conversation that has not started yet; otherwise nothing.

        The greeting is the `greet` intent triggered here, as Rasa's
        trigger_intent endpoint does, in the customer's language when the
        widget says it. A customer's own "/greet" stays text
        (addons/rasa_fixes.py): only the channel may trigger intents.
        """
        agent = self.sio.get_environ(sid, namespace=self.namespace)["sanic.request"].app.ctx.agent
        output = self.get_output_channel()
        language = metadata.get("language")
        entities = {"language": language} if language in LANGUAGES else {}
        async with agent.lock_store.lock(session.sender_id):
            tracker = await agent.processor.fetch_tracker_and_update_session(
                session.sender_id, output, metadata
            )
            if any(isinstance(event, UserUttered) for event in tracker.events):
                return
            await agent.processor.trigger_external_user_uttered(
                GREET_INTENT, entities, tracker, output
            )

    # --- Messages -----------------------------------------------------------

    def metadata(self, data: dict[str, Any]) -> dict[str, Any]:
        """`customData` and `metadata` as Rasa's metadata, with the identity."""
        client: dict[str, Any] = {}
        for key in ("customData", self.metadata_key):
            client.update(self.guard.metadata(data.get(key)) or {})
        return customer_metadata(client, self.identity_secret)

    async def receive(
        self,
        sid: str,
        data: Any,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        if not isinstance(data, dict):
            raise InvalidMessage("The message event must carry an object.")
        session = self.session_of(sid, data)
        admitted = self.guard.admit(session.sender_id, data.get("message", ""), None)
        metadata = self.metadata(data)
        assert self.sio is not None
        # Nothing above waits, so messages take their turn in the order they
        # came: python-socketio handles each in a task of its own, and the
        # emits below wait on Redis when several processes share the chat.
        async with self.in_order.turn(session.sender_id):
            if self.session_persistence:
                await self.sio.enter_room(sid, session.sender_id, namespace=self.namespace)
            if (admitted.text or "").strip() in SESSION_START_PAYLOADS:
                await self.start_conversation(sid, session, metadata)
                return
            await self.say(session.sender_id, admitted.text, metadata, on_new_message)

    async def say(
        self,
        sender_id: str,
        text: str | None,
        metadata: dict[str, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        """Passes a customer's message to Rasa, showing the bot typing meanwhile."""
        await self.typing(sender_id, who="bot", typing=True)
        try:
            await on_new_message(
                UserMessage(
                    text,
                    self.get_output_channel(),
                    sender_id,
                    input_channel=self.name(),
                    metadata=metadata,
                )
            )
        finally:
            await self.typing(sender_id, who="bot", typing=False)

    async def typing(self, room: str, *, who: str, typing: bool, name: str | None = None) -> None:
        assert self.sio is not None
        await self.sio.emit(
            TYPING_EVENT,
            {"who": who, "typing": typing, "name": name},
            room=room,
            namespace=self.namespace,
        )

    async def reject(self, sid: str, error: ChannelError) -> None:
        assert self.sio is not None
        await self.sio.emit(REJECTED_EVENT, error.as_dict(), room=sid, namespace=self.namespace)
        notice = {RateLimited: SLOW_DOWN_NOTICE, AssistantUnavailable: error.message}.get(
            type(error)
        )
        if notice:
            await self.sio.emit(
                self.bot_message_evt, {"text": notice}, room=sid, namespace=self.namespace
            )

    # --- HTTP routes --------------------------------------------------------

    def bearer_session(self, request: Request) -> WebSession:
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        session = self.sessions.open(token.strip()) if scheme.lower() == "bearer" else None
        if session is None:
            raise InvalidSession()
        return session

    async def check_bridge_jwt(self, request: Request) -> None:
        """The bridge's JWT, checked as Rasa's HTTP API checks it: by Rasa's
        sanic-jwt, with the secret Rasa was started with (`--jwt-secret`;
        the launcher keeps RASA_JWT_SECRET out of Rasa's environment), and
        the role that API requires of the bridge."""
        if not request.app.config.get("USE_JWT"):
            raise ChannelNotConfigured("Agent typing needs Rasa's API with --jwt-secret.")
        auth = request.app.ctx.auth
        try:
            authenticated = await auth.is_authenticated(request)
            payload = await auth.extract_payload(request) if authenticated else {}
        except (SanicJWTException, jwt.PyJWTError):
            raise NotAuthorized() from None
        if (payload.get("user") or {}).get("role") != BRIDGE_ROLE:
            raise NotAuthorized()

    async def conversation(self, request: Request) -> list[dict[str, Any]]:
        session = self.bearer_session(request)
        tracker = await request.app.ctx.agent.tracker_store.retrieve_full_tracker(session.sender_id)
        if tracker is None:
            return []
        return history(event.as_dict() for event in tracker.events)[-HISTORY_LIMIT:]

    async def agent_typing(self, request: Request) -> None:
        await self.check_bridge_jwt(request)
        body = await self.json_body(request)
        conversation_id = self.guard.check_id(body.get("conversation_id"), "conversation_id")
        name = body.get("agent_name")
        await self.typing(
            conversation_id,
            who="agent",
            typing=bool(body.get("typing")),
            name=name if isinstance(name, str) else None,
        )

    async def json_body(self, request: Request) -> dict[str, Any]:
        return json_object(await receive_body(request, self.guard.limits.max_body_bytes))

    async def attachment(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> dict[str, Any]:
        """Keeps a customer's file on their ticket, then tells Rasa what came."""
        session = self.bearer_session(request)
        await receive_body(request, self.max_attachment_bytes + MULTIPART_OVERHEAD_BYTES)
        # Sanic parses the multipart body on first use; up to 10 MB of it
        # would hold Rasa's event loop, so it is parsed in a thread.
        upload = (await asyncio.to_thread(lambda: request.files) or {}).get("file")
        if upload is None:
            raise InvalidMessage("The form needs a file field named 'file'.")
        if len(upload.body) > self.max_attachment_bytes:
            raise BodyTooLarge(
                f"The file is larger than {self.max_attachment_bytes} bytes.",
                limit_bytes=self.max_attachment_bytes,
            )
        content_type = (upload.type or "").split(";")[0].strip().lower()
        if not attachment_type_allowed(content_type):
            raise AttachmentTypeNotAllowed(
                f"Files of type {content_type or 'unknown'} cannot be sent.",
                allowed=ATTACHMENT_TYPES,
            )
        text = ATTACHMENT_LABELS["image" if content_type.startswith("image/") else "file"]
        self.guard.admit(session.sender_id, text, None)
        try:
            stored = await handoff_client.upload_attachment(
                session.sender_id,
                filename=upload.name or "attachment",
                content_type=content_type,
                data=upload.body,
                channel=self.name(),
            )
        except handoff_client.AttachmentRefused as refused:
            raise attachment_refusal(refused) from None
        except handoff_client.BridgeUnavailable:
            raise BridgeUnavailable() from None
        await self.say(session.sender_id, text, {"attachment": stored}, on_new_message)
        return stored

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        cluster.share_socketio_events(sio)
        self._bound_engineio_requests(sio.eio)
        engineio_sanic.install(sio.eio)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            try:
                await self.receive(sid, data, on_new_message)
            except ChannelError as error:
                logger.info("Refused a socket.io message from %s: %s", sid, error.code)
                await self.reject(sid, error)
            except Exception:
                # A server Rasa needs is away: the customer learns the
                # message was not taken, rather than waiting for a reply.
                logger.exception("A socket.io message from %s could not be handled", sid)
                await self.reject(sid, AssistantUnavailable())

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            try:
                await self.open_session(sid, data)
            except ChannelError as error:
                logger.info("Refused a socket.io session from %s: %s", sid, error.code)
                await self.reject(sid, error)

        @webhook.route("/history", methods=["GET"])
        async def replay(request: Request) -> HTTPResponse:
            try:
                return response.json({"messages": await self.conversation(request)})
            except ChannelError as error:
                return error_response(error)

        @webhook.route("/typing", methods=["POST"], stream=True)
        async def typing(request: Request) -> HTTPResponse:
            try:
                await self.agent_typing(request)
            except ChannelError as error:
                return error_response(error)
            return response.json({"status": "ok"})

        @webhook.route("/attachments", methods=["POST"], stream=True)
        async def attachments(request: Request) -> HTTPResponse:
            try:
                stored = await self.attachment(request, on_new_message)
            except ChannelError as error:
                return error_response(error)
            return response.json({"attachment": stored})

        @webhook.route("/widget/<path:path>", methods=["GET"])
        async def widget(request: Request, path: str) -> HTTPResponse:
            return await widget_file(request, path)

        return webhook

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
    """Refuses a polling payload holding a packet type no client sends, or
    more packets than engine.io decodes: it answered those "ok" and dropped
    every message in them."""
    packets = payload.split(PACKET_SEPARATOR)
    if len(packets) > Payload.max_decode_packets:
        raise InvalidPacket(
            f"A payload holds at most {Payload.max_decode_packets} packets.",
            limit_packets=Payload.max_decode_packets,
        )
    for packet in packets:
        if not packet or packet[0] not in CLIENT_PACKET_TYPES:
            raise InvalidPacket()


def attachment_type_allowed(content_type: str) -> bool:
    return any(
        content_type.startswith(allowed) if allowed.endswith(".") else content_type == allowed
        for allowed in ATTACHMENT_TYPES
    )


def attachment_refusal(refused: handoff_client.AttachmentRefused) -> ChannelError:
    """The bridge's refusal as the channel's own error."""
    if refused.code == "no_open_ticket":
        return NoOpenTicket(
            "文件只有人工客服能看到，请先转人工再发送。"
            "Files are seen by our agents only: please ask for an agent first."
        )
    if refused.code == "attachment_too_large":
        return BodyTooLarge(refused.message)
    if refused.code == "attachment_type_not_allowed":
        return AttachmentTypeNotAllowed(refused.message)
    return ChannelError(refused.message)


async def widget_file(request: Request, path: str) -> HTTPResponse:
    """A file of the widget, never one outside its folder; cached an hour,
    revalidated by ETag."""
    root = WIDGET_DIRECTORY.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return response.json({"error": {"code": "not_found", "message": "No such file."}}, 404)
    stat = target.stat()
    etag = (
        '"' + hashlib.sha256(f"{stat.st_mtime_ns}:{stat.st_size}".encode()).hexdigest()[:16] + '"'
    )
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={WIDGET_CACHE_SECONDS}",
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return HTTPResponse(status=304, headers=headers)
    content_type = WIDGET_TYPES.get(target.suffix) or (
        mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    )
    if content_type.startswith("text/") or content_type == "application/json":
        content_type += "; charset=utf-8"
    return await response.file(target, mime_type=content_type, headers=headers)
