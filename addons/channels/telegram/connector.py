"""The Telegram channel for Rasa: a webhook Telegram POSTs updates to, and an
output channel that reaches a customer at any time (an agent's reply, the
bridge's notices, the survey), not only while a request is open, unlike
Rasa 3.6's TelegramInput, whose output channel calls `asyncio.run` inside
the running loop.

Every update must carry `X-Telegram-Bot-Api-Secret-Token` (the `secret_token`
given to setWebhook); one without it, or with another, gets 403 and is not
read. Then the body limit (413), JSON (400), and `update_id`: Telegram
repeats an update until it gets a 2xx, so an update seen before is answered
200 and not processed again. Everything else is answered 200, refused
messages included (a flood from one customer, a voice message): a non-2xx
would only make Telegram send the same update again; the customer is told
instead.

credentials.yml:

    addons.channels.telegram.connector.TelegramInput:
      access_token: ${TELEGRAM_ACCESS_TOKEN}     # from @BotFather
      verify: ${TELEGRAM_VERIFY}                 # the bot's username, for /start@name
      webhook_secret: ${TELEGRAM_WEBHOOK_SECRET} # setWebhook's secret_token
      api_url: ${TELEGRAM_API_URL}               # empty: https://api.telegram.org
      limits:                                    # optional; keys: guard.ChannelLimits
        messages_per_minute: 60
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.channels import handoff_client
from addons.channels.environment import with_environment
from addons.channels.errors import (
    ChannelError,
    ChannelNotConfigured,
    DeliveryFailed,
    InvalidSignature,
    MalformedBody,
    RateLimited,
)
from addons.channels.guard import ChannelLimits, InboundGuard
from addons.channels.outbound import OutgoingMessage
from addons.channels.replays import recently_seen
from addons.channels.telegram.api import (
    DEFAULT_API_URL,
    BotApi,
    BotApiError,
    BotApiUnavailable,
    explain,
)
from addons.channels.telegram.notices import Notice, notice
from addons.channels.telegram.replies import (
    CHOSEN,
    ButtonPayloads,
    button_title,
    chosen_keyboard,
    render,
)
from addons.channels.telegram.updates import START_COMMAND, Kind, Update, read_update
from addons.channels.webhooks import channel_blueprint, receive_body, refusal_response

logger = logging.getLogger(__name__)

# The environment variable of each key credentials.yml may leave out.
ENVIRONMENT = {
    "access_token": "TELEGRAM_ACCESS_TOKEN",
    "verify": "TELEGRAM_VERIFY",
    "webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
    "api_url": "TELEGRAM_API_URL",
}

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CONVERSATION_PREFIX = "telegram:"
# What /start means: the greeting, started by us, not parsed from what the
# customer typed (which would let anyone send any "/intent").
GREETING_INTENT = "greet"
# The entity the domain maps to the `language` slot (addons/nlu/language.py).
LANGUAGE_ENTITY = "language"
# A flooding customer is told to slow down at most this often.
SLOW_DOWN_NOTICE_SECONDS = 60
# What the conversation says came, by language: a photo, or a file.
PHOTO_LABELS = {"zh": "[图片]", "en": "[Photo]"}
FILE_LABELS = {"zh": "[文件]", "en": "[File]"}


def conversation_id(chat_id: int) -> str:
    """A Telegram chat's conversation: prefixed, so that no other channel's
    customer id can name it by accident."""
    return f"{CONVERSATION_PREFIX}{chat_id}"


def chat_id_of(conversation: str) -> int:
    return int(conversation.removeprefix(CONVERSATION_PREFIX))


class TelegramOutput(OutputChannel):
    """Sends to a Telegram chat at any time, on the channel's one session."""

    def __init__(self, api: BotApi, payloads: ButtonPayloads) -> None:
        self.api = api
        self.payloads = payloads

    @classmethod
    def name(cls) -> str:
        return TelegramInput.name()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Sends the whole message; a failure is raised as DeliveryFailed for
        an agent's message (the agent sees it and Rasa keeps nothing) and
        logged for the bot's (the conversation goes on)."""
        outgoing = OutgoingMessage.from_rasa(message)
        try:
            for params in render(outgoing, self.payloads):
                await self.api.send_message(chat_id_of(recipient_id), **params)
        except (BotApiError, BotApiUnavailable) as error:
            if outgoing.agent:
                raise DeliveryFailed(
                    explain(error), code=getattr(error, "error_code", None)
                ) from error
            logger.warning("A bot message to %s was not delivered: %s", recipient_id, error)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


class TelegramInput(InputChannel):
    def __init__(
        self,
        *,
        access_token: str = "",
        verify: str = "",
        webhook_secret: str = "",
        api_url: str = "",
        limits: ChannelLimits | None = None,
    ) -> None:
        self.access_token = access_token
        self.verify = verify
        self.webhook_secret = webhook_secret
        self.api = BotApi(token=access_token, api_url=api_url or DEFAULT_API_URL)
        self.payloads = ButtonPayloads()
        self.guard = InboundGuard(limits)
        self.updates_seen = recently_seen("telegram.updates")
        self.slow_down_told = recently_seen(
            "telegram.slow_down", ttl_seconds=SLOW_DOWN_NOTICE_SECONDS
        )
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = with_environment(credentials, ENVIRONMENT)
        return cls(
            access_token=credentials.get("access_token") or "",
            verify=credentials.get("verify") or "",
            webhook_secret=credentials.get("webhook_secret") or "",
            api_url=credentials.get("api_url") or "",
            limits=ChannelLimits.from_config(credentials.get("limits")),
        )

    @property
    def configured(self) -> bool:
        return bool(self.access_token and self.webhook_secret)

    def get_output_channel(self) -> OutputChannel:
        return TelegramOutput(self.api, self.payloads)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = channel_blueprint(self, lambda: self.configured)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            try:
                update = await self.read(request)
            except ChannelError as error:
                return refusal_response(error, logger, "a Telegram update")
            if update is None:
                return response.json({"status": "ignored"})
            if not await self.updates_seen.first_time(update.update_id):
                return response.json({"status": "duplicate"})
            # Rasa's agent, which only /start needs (Rasa's server sets it).
            agent: Agent | None = getattr(request.app.ctx, "agent", None)
            try:
                await self.handle(update, on_new_message, agent)
            except Exception:
                logger.exception("Telegram update %s failed.", update.update_id)
            return response.json({"status": "ok"})

        return webhook

    async def read(self, request: Request) -> Update | None:
        """The update, checked in order of cost: secret, size, JSON."""
        if not self.configured:
            raise ChannelNotConfigured()
        secret = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(secret.encode(), self.webhook_secret.encode()):
            raise InvalidSignature(f"The {SECRET_HEADER} header is missing or wrong.")
        raw = await receive_body(request, self.guard.limits.max_body_bytes)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise MalformedBody() from None
        return read_update(body, self.verify)

    async def handle(
        self,
        update: Update,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        agent: Agent | None,
    ) -> None:
        sender_id = conversation_id(update.chat_id)
        language = update.customer.language
        try:
            metadata = self.guard.admit(sender_id, update.text, update.customer.identity()).metadata
        except RateLimited:
            if await self.slow_down_told.first_time(sender_id):
                await self.tell(update.chat_id, notice(Notice.SLOW_DOWN, language))
            if update.callback_query_id:
                await self.answer(update)
            return
        except ChannelError as error:
            logger.info("Refused a Telegram message from %s: %s", sender_id, error.code)
            return
        metadata = {**(metadata or {}), **({"edited": True} if update.edited else {})}
        match update.kind:
            case Kind.TEXT:
                await self.submit(on_new_message, update, update.text or "", metadata)
            case Kind.START:
                await self.start(agent, update, metadata)
            case Kind.BUTTON:
                await self.press(on_new_message, update, metadata, agent)
            case Kind.FILE:
                await self.attach(on_new_message, update, metadata)
            case Kind.SPOKEN:
                await self.tell(update.chat_id, notice(Notice.TYPE_INSTEAD, language))
            case Kind.UNSUPPORTED:
                await self.tell(update.chat_id, notice(Notice.UNSUPPORTED, language))

    async def submit(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        update: Update,
        text: str,
        metadata: dict[str, Any],
    ) -> None:
        self._in_background(self.api.send_chat_action(update.chat_id))
        await on_new_message(
            UserMessage(
                text,
                self.get_output_channel(),
                conversation_id(update.chat_id),
                input_channel=self.name(),
                metadata=metadata,
            )
        )

    async def start(self, agent: Agent | None, update: Update, metadata: dict[str, Any]) -> None:
        """The greeting as Rasa's trigger_intent runs an intent (the events
        are those of `trigger_external_user_uttered`), with this channel and
        the customer's identity on the user event, so replies find their way
        back here, and their Telegram's language as the conversation's. A
        paused conversation (a live handoff) logs it and stays silent, as
        for any message."""
        sender_id = conversation_id(update.chat_id)
        output = self.get_output_channel()
        if agent is None or agent.processor is None or agent.domain is None:
            raise RuntimeError("/start needs Rasa's agent with a model loaded.")
        processor = agent.processor
        async with agent.lock_store.lock(sender_id):
            tracker = await processor.fetch_tracker_and_update_session(sender_id, output, metadata)
            tracker.update(
                UserUttered(
                    START_COMMAND,
                    intent={"name": GREETING_INTENT, "confidence": 1.0},
                    # The greeting in the language of the customer's Telegram.
                    entities=[{"entity": LANGUAGE_ENTITY, "value": update.customer.language}],
                    input_channel=self.name(),
                    metadata=metadata,
                ),
                agent.domain,
            )
            tracker = await processor.run_action_extract_slots(output, tracker)
            await processor._run_prediction_loop(output, tracker)
            await processor.save_tracker(tracker)

    async def press(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        update: Update,
        metadata: dict[str, Any],
        agent: Agent | None,
    ) -> None:
        """Answers the press (Telegram shows a spinner until then), marks the
        choice on the keyboard so it cannot be pressed twice, and sends its
        payload on as the customer's message."""
        await self.answer(update)
        data = update.callback_data
        if not data or data == CHOSEN:
            return
        payload = self.payloads.payload(data)
        if payload is None:  # sent by another Rasa process, or before a restart
            offered = await offered_payloads(agent, conversation_id(update.chat_id))
            payload = self.payloads.payload(data, offered)
        if payload is None:
            await self.tell(update.chat_id, notice(Notice.BUTTON_EXPIRED, update.customer.language))
            return
        title = button_title(update.keyboard, data) or payload
        try:
            await self.api.edit_message_reply_markup(
                update.chat_id, update.message_id, chosen_keyboard(title)
            )
        except (BotApiError, BotApiUnavailable) as error:
            logger.info("Could not mark the chosen button for %s: %s", update.chat_id, error)
        await self.submit(on_new_message, update, payload, metadata)

    async def attach(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        update: Update,
        metadata: dict[str, Any],
    ) -> None:
        """A photo or document goes to the ticket of a handoff; the agent
        sees it, and the conversation a line saying what came."""
        file = update.file
        assert file is not None
        language = update.customer.language
        try:
            data = await self.api.download(file.file_id)
            stored = await handoff_client.upload_attachment(
                conversation_id(update.chat_id),
                filename=file.file_name,
                content_type=file.content_type,
                data=data,
                channel=self.name(),
            )
        except handoff_client.AttachmentRefused as refusal:
            if refusal.code == "no_open_ticket":
                await self.tell(update.chat_id, notice(Notice.FILES_FOR_AGENTS, language))
            else:
                text = notice(Notice.FILE_REFUSED, language, reason=refusal.message)
                await self.tell(update.chat_id, text)
            return
        except (handoff_client.BridgeUnavailable, BotApiError, BotApiUnavailable) as error:
            logger.warning("A file from %s did not reach the bridge: %s", update.chat_id, error)
            await self.tell(update.chat_id, notice(Notice.FILE_NOT_DELIVERED, language))
            return
        # A photo's name is made up (Telegram gives none), and Latin file
        # names in the text would switch the bot's language: it is named
        # only in the attachment.
        if update.file_is_photo:
            text = PHOTO_LABELS[language]
        else:
            text = f"{FILE_LABELS[language]} {stored.get('name') or file.file_name}"
        if update.text:
            text = f"{text}\n{update.text}"
        await self.submit(on_new_message, update, text, {**metadata, "attachment": stored})

    async def answer(self, update: Update) -> None:
        assert update.callback_query_id is not None
        try:
            await self.api.answer_callback_query(update.callback_query_id)
        except (BotApiError, BotApiUnavailable) as error:
            logger.info("Could not answer a button press of %s: %s", update.chat_id, error)

    async def tell(self, chat_id: int, text: str) -> None:
        """The channel's own notice to the customer; a failure is only logged."""
        try:
            await self.api.send_message(chat_id, text)
        except (BotApiError, BotApiUnavailable) as error:
            logger.info("A notice to %s was not delivered: %s", chat_id, error)

    def _in_background(self, coroutine: Awaitable[Any]) -> None:
        async def quietly() -> None:
            try:
                await coroutine
            except (BotApiError, BotApiUnavailable) as error:
                logger.debug("Telegram typing action failed: %s", error)

        task = asyncio.create_task(quietly())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


# How far back a pressed button is looked for among what the bot offered.
OFFERED_LOOKBACK = 20


async def offered_payloads(agent: Agent | None, sender_id: str) -> list[str]:
    """The payloads of the buttons the conversation's latest bot messages
    offered, newest first, from the tracker store all Rasa processes share."""
    if agent is None or agent.tracker_store is None:
        return []
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is None:
        return []
    payloads: list[str] = []
    bot_messages = [event for event in reversed(tracker.events) if isinstance(event, BotUttered)]
    for message in bot_messages[:OFFERED_LOOKBACK]:
        for button in (message.data or {}).get("buttons") or []:
            if isinstance(button, dict) and isinstance(button.get("payload"), str):
                payloads.append(button["payload"])
    return payloads
