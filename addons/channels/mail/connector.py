"""The e-mail channel for Rasa (`email`): mail in over SMTP or an
inbound-parse webhook, answers out through the operator's SMTP relay.

Each inbound mail is one customer message: the new words of the mail
(HTML sanitised, quoted history cut), or the payload of the numbered
option the customer replied with. The bot's messages for it go out as
one reply mail; agents' messages (and the bridge's notices) reach the
customer by mail whenever they are sent, with the ticket number in the
subject. Mail from robots (auto-replies, bounces, lists) is taken and
dropped, so two robots never answer each other.

credentials.yml (each `${NAME}` empty turns its part off):

    addons.channels.mail.connector.MailInput:
      sender: ${MAIL_FROM}                      # "客服 <support@example.com>"; empty: off
      relay_host: ${MAIL_SMTP_RELAY_HOST}       # where answers are sent
      relay_port: ${MAIL_SMTP_RELAY_PORT}
      relay_username: ${MAIL_SMTP_RELAY_USERNAME}
      relay_password: ${MAIL_SMTP_RELAY_PASSWORD}
      relay_starttls: ${MAIL_SMTP_RELAY_STARTTLS}   # true / false / empty: when offered
      smtp_host: ${MAIL_SMTP_HOST}              # the receiver's interface, default 127.0.0.1
      smtp_port: ${MAIL_SMTP_PORT}              # the receiver; empty: no receiver
      smtp_tls_cert: ${MAIL_SMTP_TLS_CERT}      # PEM chain and key: the receiver offers STARTTLS
      smtp_tls_key: ${MAIL_SMTP_TLS_KEY}
      inbound_token: ${MAIL_INBOUND_TOKEN}      # the webhook's secret; empty: no webhook
      threads_db: ${MAIL_THREADS_DB}            # default var/mail-threads.db
      conversation_key: ${MAIL_CONVERSATION_KEY}  # default: made once, kept in threads_db
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from http import HTTPStatus
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.channels.environment import with_environment
from addons.channels.errors import (
    ChannelError,
    ChannelNotConfigured,
    DeliveryFailed,
    MalformedBody,
)
from addons.channels.guard import ChannelLimits, InboundGuard
from addons.channels.handoff_client import AttachmentRefused, BridgeUnavailable, upload_attachment
from addons.channels.mail.attachments import Attachment, LeftOut, safe_filename, select
from addons.channels.mail.composer import (
    base_subject,
    chosen_payload,
    compose_reply,
    language_of,
    readable,
    text,
)
from addons.channels.mail.parser import (
    InboundMail,
    MalformedMail,
    normalise_address,
    parse_inbound_form,
    parse_mime,
)
from addons.channels.mail.receiver import MailReceiver, start_receiver, tls_context
from addons.channels.mail.relay import MailRelay
from addons.channels.mail.threads import ThreadStore
from addons.channels.webhooks import error_response, receive_body

logger = logging.getLogger(__name__)

# The environment variable of each key credentials.yml may leave out.
ENVIRONMENT = {
    "sender": "MAIL_FROM",
    "relay_host": "MAIL_SMTP_RELAY_HOST",
    "relay_port": "MAIL_SMTP_RELAY_PORT",
    "relay_username": "MAIL_SMTP_RELAY_USERNAME",
    "relay_password": "MAIL_SMTP_RELAY_PASSWORD",
    "relay_starttls": "MAIL_SMTP_RELAY_STARTTLS",
    "smtp_host": "MAIL_SMTP_HOST",
    "smtp_port": "MAIL_SMTP_PORT",
    "smtp_tls_cert": "MAIL_SMTP_TLS_CERT",
    "smtp_tls_key": "MAIL_SMTP_TLS_KEY",
    "inbound_token": "MAIL_INBOUND_TOKEN",
    "threads_db": "MAIL_THREADS_DB",
    "conversation_key": "MAIL_CONVERSATION_KEY",
}

CHANNEL = "email"
DEFAULT_THREADS_DB = Path("var/mail-threads.db")
DEFAULT_RELAY_PORT = 587
DEFAULT_SMTP_HOST = "127.0.0.1"
# A mail with its attachments, base64-encoded (4/3 of their size).
DEFAULT_LIMITS = {"max_body_bytes": 25 * 1024 * 1024, "messages_per_minute": 10, "burst": 10}
ATTACHMENT_LABEL = {"zh": "[附件] {name}", "en": "[File] {name}"}


class WrongToken(ChannelError):
    code = "unauthorized"
    default_message = "The inbound webhook needs the channel's token (basic auth or ?token=)."


@dataclass(frozen=True)
class MailSettings:
    sender: Address | None
    relay: MailRelay | None
    smtp_host: str
    smtp_port: int | None
    # PEM certificate chain and key; with both, the receiver offers STARTTLS.
    smtp_tls: tuple[str, str] | None
    inbound_token: str
    threads_db: Path
    conversation_key: str
    limits: ChannelLimits

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any] | None) -> MailSettings:
        config = {key: value for key, value in (credentials or {}).items() if value != ""}
        name, address = parseaddr(str(config.get("sender") or ""))
        address = normalise_address(address) if address else None
        if config.get("sender") and address is None:
            raise ValueError(f"The e-mail channel's sender {config['sender']!r} is no address.")
        sender = Address(display_name=name, addr_spec=address) if address else None
        relay = None
        if config.get("relay_host"):
            starttls = str(config.get("relay_starttls", "")).lower()
            relay = MailRelay(
                host=str(config["relay_host"]),
                port=int(config.get("relay_port") or DEFAULT_RELAY_PORT),
                username=config.get("relay_username"),
                password=config.get("relay_password"),
                starttls={"true": True, "false": False}.get(starttls),
            )
        return cls(
            sender=sender,
            relay=relay,
            smtp_host=str(config.get("smtp_host") or DEFAULT_SMTP_HOST),
            smtp_port=int(config["smtp_port"]) if config.get("smtp_port") else None,
            smtp_tls=(
                (str(config["smtp_tls_cert"]), str(config["smtp_tls_key"]))
                if config.get("smtp_tls_cert") and config.get("smtp_tls_key")
                else None
            ),
            inbound_token=str(config.get("inbound_token") or ""),
            threads_db=Path(config.get("threads_db") or DEFAULT_THREADS_DB),
            conversation_key=str(config.get("conversation_key") or ""),
            limits=ChannelLimits.from_config({**DEFAULT_LIMITS, **(config.get("limits") or {})}),
        )


class MailInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.guard = InboundGuard(settings.limits)
        self.store: ThreadStore | None = None
        if self.on:
            self.store = ThreadStore(settings.threads_db, settings.conversation_key or None)
        self._app: Sanic | None = None
        self._server: asyncio.Server | None = None

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(MailSettings.from_credentials(with_environment(credentials, ENVIRONMENT)))

    @property
    def on(self) -> bool:
        """Mail needs an address to write from and a relay to write through."""
        return self.settings.sender is not None and self.settings.relay is not None

    def get_output_channel(self) -> OutputChannel:
        return MailOutput(self)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("mail_webhook", __name__)

        @webhook.listener("before_server_start")
        async def start(app: Sanic, _: Any) -> None:
            self._app = app
            if self.on and self.settings.smtp_port:
                self._server = await self.start_receiver(on_new_message)

        @webhook.listener("after_server_stop")
        async def stop(*_: Any) -> None:
            if self._server is not None:
                self._server.close()

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.on else "off"})

        @webhook.route("/inbound", methods=["POST"], stream=True)
        async def inbound(request: Request) -> HTTPResponse:
            try:
                mail = await self.read_webhook(request)
                outcome = await self.receive(mail, on_new_message)
            except WrongToken as error:
                return response.json(
                    error.as_dict(),
                    status=HTTPStatus.UNAUTHORIZED,
                    headers={"WWW-Authenticate": 'Basic realm="inbound mail"'},
                )
            except ChannelError as error:
                return error_response(error)
            return response.json({"status": outcome})

        return webhook

    async def start_receiver(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> asyncio.Server:
        assert self.settings.sender is not None and self.settings.smtp_port is not None

        async def deliver(raw: bytes, envelope_sender: str) -> None:
            try:
                # Parsing a large mail costs a second of CPU: not on Rasa's loop.
                mail = await asyncio.to_thread(parse_mime, raw, envelope_sender=envelope_sender)
            except ChannelError:
                raise
            except Exception as error:
                logger.info("Unreadable mail from %s: %r", envelope_sender, error)
                raise MalformedMail("The mail could not be read.") from error
            await self.receive(mail, on_new_message)

        receiver = MailReceiver(mailbox=self.settings.sender.addr_spec, deliver=deliver)
        server = await start_receiver(
            receiver,
            host=self.settings.smtp_host,
            port=self.settings.smtp_port,
            max_bytes=self.settings.limits.max_body_bytes,
            hostname=self.settings.sender.domain,
            tls=tls_context(*self.settings.smtp_tls) if self.settings.smtp_tls else None,
        )
        logger.info("Receiving mail on %s:%s", self.settings.smtp_host, self.settings.smtp_port)
        return server

    async def read_webhook(self, request: Request) -> InboundMail:
        """The mail an inbound-parse webhook POSTed, once its token is right."""
        if not self.on or not self.settings.inbound_token:
            raise ChannelNotConfigured()
        if not self._token_ok(request):
            raise WrongToken()
        await receive_body(request, self.settings.limits.max_body_bytes)
        try:
            # Sanic parses the multipart body on first access: in a thread.
            form, files = await asyncio.to_thread(lambda: (request.form, request.files))
        except Exception:
            raise MalformedBody("The body must be multipart/form-data.") from None
        if not form and not files:
            raise MalformedBody("The body must be multipart/form-data.")
        fields = {name: form.get(name) for name in form}
        attachments = [
            Attachment(safe_filename(file.name), file.type or "application/octet-stream", file.body)
            for name in files
            for file in files.getlist(name)
        ]
        try:
            return await asyncio.to_thread(parse_inbound_form, fields, attachments)
        except ChannelError:
            raise
        except Exception as error:
            raise MalformedMail("The mail could not be read.") from error

    def _token_ok(self, request: Request) -> bool:
        expected = self.settings.inbound_token.encode()
        offered = request.args.get("token", "")
        authorization = request.headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
                offered = decoded.partition(":")[2]
            except ValueError:
                return False
        return hmac.compare_digest(offered.encode(), expected)

    async def receive(
        self, mail: InboundMail, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> str:
        """Hands one mail to Rasa and answers it; says what became of it."""
        assert self.store is not None and self.settings.sender is not None
        if mail.automatic or mail.sender == self.settings.sender.addr_spec:
            logger.info("Dropped a robot's mail from %s (%s)", mail.sender, mail.automatic)
            return "ignored_automatic"
        conversation_id = self.store.conversation_id(mail.sender)
        before = await asyncio.to_thread(self.store.thread, conversation_id)
        words = self._words(mail, before.options if before else ())
        language = language_of(f"{mail.subject} {mail.text}", before.language if before else "zh")
        identity = {
            "customer_name": mail.sender_name,
            "contact": mail.sender,
            # From headers are not checked (no DKIM/SPF verdict is read).
            "identity_verified": False,
            "email": {"subject": mail.subject, "message_id": mail.message_id},
        }
        admitted = self.guard.admit(conversation_id, words, identity)
        fresh = await asyncio.to_thread(
            self.store.record_inbound,
            conversation_id,
            address=mail.sender,
            name=mail.sender_name,
            # A reply keeps the thread's subject; a new mail starts its own.
            subject=""
            if mail.in_reply_to and before and before.subject
            else base_subject(mail.subject),
            language=language,
            message_id=mail.message_id,
            references=mail.references,
        )
        if not fresh:
            logger.info("Mail %s was handled before; dropped", mail.message_id)
            return "duplicate"
        if not words and not mail.attachments:
            return "empty"
        collector = CollectingOutputChannel()
        if words:
            await on_new_message(
                UserMessage(
                    admitted.text,
                    collector,
                    conversation_id,
                    input_channel=CHANNEL,
                    metadata=admitted.metadata,
                )
            )
        notes = await self._attachments(
            conversation_id, mail, language, admitted.metadata or {}, collector, on_new_message
        )
        messages = [message for message in collector.messages if readable(message)]
        thread = await asyncio.to_thread(self.store.thread, conversation_id)
        if thread is None or not (messages or notes):
            return "received"
        reply = compose_reply(thread, messages, sender=self.settings.sender, notes=notes)
        try:
            await self._send(conversation_id, reply.message, [o.as_dict() for o in reply.options])
        except DeliveryFailed as error:
            # The customer's message is in the conversation; only the answer is lost.
            logger.warning("The answer to %s was not sent: %s", conversation_id, error)
            return "answer_not_sent"
        return "answered"

    def _words(self, mail: InboundMail, options: Any) -> str:
        """What Rasa reads: the chosen option's payload, or the new words
        (with the subject when the mail starts a thread)."""
        if options and (payload := chosen_payload(mail.text, options)):
            return payload
        subject = base_subject(mail.subject)
        if mail.in_reply_to is None and subject and subject not in mail.text:
            return f"{subject}\n{mail.text}".strip()
        return mail.text or ("" if mail.in_reply_to else subject)

    async def _attachments(
        self,
        conversation_id: str,
        mail: InboundMail,
        language: str,
        identity: dict[str, Any],
        collector: CollectingOutputChannel,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> list[str]:
        """Puts the kept files on the conversation's open ticket; during a
        live handoff the agent also sees each one in the conversation.
        Returns what the customer should be told."""
        kept, left_out = select(list(mail.attachments))
        notes: list[str] = []
        uploaded: list[dict[str, Any]] = []
        for attachment in kept:
            try:
                uploaded.append(
                    await upload_attachment(
                        conversation_id,
                        filename=attachment.filename,
                        content_type=attachment.content_type,
                        data=attachment.data,
                        channel=CHANNEL,
                    )
                )
            except AttachmentRefused as error:
                if error.code == "no_open_ticket":
                    notes = [text("files_for_agents", language)]
                    break
                left_out.append(LeftOut(attachment.filename, error.message))
            except BridgeUnavailable as error:
                logger.warning("Attachment of %s not kept: %s", conversation_id, error)
                left_out.append(LeftOut(attachment.filename, "bridge"))
        if uploaded and await self._paused(conversation_id):
            label = ATTACHMENT_LABEL.get(language, ATTACHMENT_LABEL["zh"])
            for info in uploaded:
                await on_new_message(
                    UserMessage(
                        label.format(name=info.get("name", "")),
                        collector,
                        conversation_id,
                        input_channel=CHANNEL,
                        metadata={**identity, "attachment": info},
                    )
                )
        if left_out:
            names = "、".join(item.filename for item in left_out)
            notes.append(text("left_out", language, names=names))
        return notes

    async def _paused(self, conversation_id: str) -> bool:
        """Whether an agent has the conversation (the bot is paused)."""
        if self._app is None:
            return False
        tracker = await self._app.ctx.agent.processor.get_tracker(conversation_id)
        return tracker.is_paused()

    async def deliver(self, conversation_id: str, message: Mapping[str, Any]) -> None:
        """Mails one message to the conversation's customer, outside any
        mail of theirs: an agent's reply, a notice, the survey."""
        if not self.on or self.store is None or self.settings.sender is None:
            raise DeliveryFailed(
                "The e-mail channel is not configured on this server, so the reply was not sent."
            )
        if not readable(message):
            return
        thread = await asyncio.to_thread(self.store.thread, conversation_id)
        if thread is None:
            raise DeliveryFailed(
                "No e-mail address is known for this conversation, so the reply "
                "could not be mailed; contact the customer another way."
            )
        ticket_id = message.get("ticket_id")
        reply = compose_reply(
            thread,
            [message],
            sender=self.settings.sender,
            ticket_id=int(ticket_id) if ticket_id else None,
            automatic=not message.get("agent_id"),
        )
        options = [o.as_dict() for o in reply.options] if reply.options else None
        await self._send(
            conversation_id, reply.message, options, int(ticket_id) if ticket_id else None
        )

    async def _send(
        self,
        conversation_id: str,
        message: Any,
        options: list[dict[str, str]] | None,
        ticket_id: int | None = None,
    ) -> None:
        assert self.settings.relay is not None and self.store is not None
        await self.settings.relay.send(message)
        await asyncio.to_thread(
            self.store.record_outbound,
            conversation_id,
            message["Message-ID"],
            options=options,
            ticket_id=ticket_id,
        )


class MailOutput(OutputChannel):
    """Mails each message as it comes; used outside a customer's mail
    (agents' replies through Rasa's API, the bridge's triggered intents)."""

    def __init__(self, channel: MailInput) -> None:
        self.channel = channel

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.channel.deliver(recipient_id, message)
