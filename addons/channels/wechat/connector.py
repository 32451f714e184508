"""The WeChat Official Account (公众号) channel: Rasa's side of WeChat's
server configuration (服务器配置).

WeChat POSTs each follower's message to `/webhooks/wechat/webhook` and
waits 5 seconds for the answer. The bot's answer goes back in the HTTP
response (a passive reply) when it is ready within `passive_reply_seconds`;
otherwise WeChat gets `success` at once and the answer follows through the
customer-service message API (客服消息), as do the agents' messages
(`get_output_channel`). WeChat retries an unanswered message up to three
times, 5 seconds apart: each delivery is handled once (by MsgId, or sender
and time for events), and a retry gets the first delivery's answer.

credentials.yml:

    addons.channels.wechat.connector.WeChatInput:
      token: ${WECHAT_TOKEN}                   # 服务器配置 Token
      app_id: ${WECHAT_APP_ID}                 # AppID
      app_secret: ${WECHAT_APP_SECRET}         # AppSecret, for the access token
      encoding_aes_key: ${WECHAT_ENCODING_AES_KEY}  # empty: plaintext mode
      api_base_url: ${WECHAT_API_BASE_URL}     # empty: https://api.weixin.qq.com
      accept_plaintext: ${WECHAT_ACCEPT_PLAINTEXT}  # in safe mode, also plaintext
      # passive_reply_seconds: 4.5
      # max_clock_skew_seconds: 300
      # limits: {messages_per_minute: 60}      # keys: guard.ChannelLimits
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import redis.asyncio as redis
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.events import SubscribeEvent, SubscribeScanEvent
from wechatpy.messages import BaseMessage, ImageMessage, VoiceMessage

from addons.channels import cluster
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
from addons.channels.handoff_client import AttachmentRefused, BridgeUnavailable, upload_attachment
from addons.channels.replays import recently_seen
from addons.channels.webhooks import error_response, receive_body
from addons.channels.wechat import crypto, parser, replies
from addons.channels.wechat.client import (
    DEFAULT_API_BASE_URL,
    CustomerServiceClient,
    WeChatAPIError,
)

if TYPE_CHECKING:
    from rasa.core.agent import Agent

logger = logging.getLogger(__name__)

# The environment variable of each key credentials.yml may leave out.
ENVIRONMENT = {
    "token": "WECHAT_TOKEN",
    "app_id": "WECHAT_APP_ID",
    "app_secret": "WECHAT_APP_SECRET",
    "encoding_aes_key": "WECHAT_ENCODING_AES_KEY",
    "accept_plaintext": "WECHAT_ACCEPT_PLAINTEXT",
    "api_base_url": "WECHAT_API_BASE_URL",
}

CHANNEL = "wechat"
# What WeChat takes as "received, nothing to reply now" (an empty body works too).
SUCCESS = "success"
# The intent a new follower's welcome runs, as a button or a first "你好" would.
GREET_INTENT = "greet"
# WeChat retries for about 15 seconds; a delivery is remembered a while longer.
RETRY_MEMORY_SECONDS = 60.0
MAX_REMEMBERED_DELIVERIES = 100_000
# The bridge refuses larger files itself; this bounds what is downloaded.
MAX_PICTURE_BYTES = 10 * 1024 * 1024
# What a picture is to the bot and the agent (who sees the file on the ticket).
PICTURE_MARKER = "[图片]"
# The bridge's code for a picture sent while no ticket is open.
NO_OPEN_TICKET = "no_open_ticket"
TRUE_WORDS = frozenset({"true", "yes", "1", "on"})


@dataclass(frozen=True)
class WeChatSettings:
    """One Official Account's server configuration; the one home of the defaults."""

    token: str = ""
    app_id: str = ""
    app_secret: str = ""
    # Empty: plaintext mode. Set: safe mode (安全模式).
    encoding_aes_key: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL
    # In safe mode, also accept plaintext messages: for the switch from
    # plaintext to safe mode, when WeChat sends both for a while.
    accept_plaintext: bool = False
    # WeChat waits 5 s; the answer must be on its way before that.
    passive_reply_seconds: float = 4.5
    # How far a request's timestamp may be from our clock (replay window).
    max_clock_skew_seconds: float = 300.0

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any]) -> Self:
        """Settings from credentials.yml and the environment (`ENVIRONMENT`)."""
        defaults = cls()
        number = {
            name: float(credentials.get(name) or getattr(defaults, name))
            for name in ("passive_reply_seconds", "max_clock_skew_seconds")
        }
        if not 0 < number["passive_reply_seconds"] < 5:
            raise ValueError("WeChat's passive_reply_seconds must be between 0 and 5.")
        return cls(
            token=str(credentials.get("token") or ""),
            app_id=str(credentials.get("app_id") or ""),
            app_secret=str(credentials.get("app_secret") or ""),
            encoding_aes_key=str(credentials.get("encoding_aes_key") or ""),
            api_base_url=str(credentials.get("api_base_url") or DEFAULT_API_BASE_URL),
            accept_plaintext=str(credentials.get("accept_plaintext") or "").lower() in TRUE_WORDS,
            **number,
        )

    @property
    def configured(self) -> bool:
        return bool(self.token and self.app_id and self.app_secret)


@dataclass(frozen=True)
class Inbound:
    """A message that passed the signature checks, and how it came."""

    message: BaseMessage
    sealed: bool  # safe mode: the passive reply is sealed too


class WeChatOutput(OutputChannel):
    """Sends to a follower through 客服消息.

    While its turn may still be answered passively it only collects; once
    `push_collected` is called it sends what it collected and then each
    message as it comes, in order.
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(
        self,
        client: CustomerServiceClient,
        options: replies.OfferedOptions,
        *,
        collecting: bool = False,
    ) -> None:
        self.client = client
        self.options = options
        self.collected: list[replies.Outgoing] | None = [] if collecting else None
        # A bot's turn that went late only logs a failed send: raising would
        # stop Rasa mid-turn and lose the turn's events.
        self.raise_failures = not collecting
        self._sending = asyncio.Lock()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        outgoing = replies.render(message)
        if not outgoing.text:
            return
        self.options.offer(recipient_id, outgoing.choices)
        if self.collected is not None:
            self.collected.append(outgoing)
            return
        async with self._sending:
            await self._deliver(recipient_id, outgoing)

    async def push_collected(self, recipient_id: str) -> None:
        """Sends from now on, starting with what was collected."""
        collected, self.collected = self.collected or [], None
        async with self._sending:
            for outgoing in collected:
                await self._deliver(recipient_id, outgoing)

    async def _deliver(self, recipient_id: str, outgoing: replies.Outgoing) -> None:
        try:
            await self.client.send_text(recipient_id, outgoing.text)
        except WeChatAPIError as error:
            if self.raise_failures:
                raise DeliveryFailed(error.plain_words, code=error.errcode) from error
            logger.warning("WeChat did not take a message for %s: %s", recipient_id, error)


class Turn:
    """The handling of one delivery, which WeChat's retries of it share."""

    def __init__(self, openid: str, output: WeChatOutput, work: Awaitable[None], deadline: float):
        self.openid = openid
        self.output = output
        self.deadline = deadline
        self.started = time.monotonic()
        self.task = asyncio.ensure_future(work)
        self.task.add_done_callback(_log_failure)
        self._pushing: asyncio.Task | None = None

    async def answer(self) -> str | None:
        """The passive reply's text, or None when the answer goes (or went)
        through 客服消息: ready in time, the answer is given passively (to a
        retry too); late or too long for one reply, it is pushed, once."""
        loop = asyncio.get_running_loop()
        remaining = self.deadline - loop.time()
        if not self.task.done() and remaining > 0:
            await asyncio.wait({self.task}, timeout=remaining)
        if self.output.collected is not None and self.task.done():
            text = replies.passive_text(self.output.collected)
            if text is not None or not self.output.collected:
                return text
        if self._pushing is None:
            self._pushing = asyncio.create_task(self.output.push_collected(self.openid))
            self._pushing.add_done_callback(_log_failure)
        return None


def _log_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("A WeChat message failed.", exc_info=task.exception())


class PassiveAnswers:
    """The passive reply each delivery got, kept in Redis for a retry of it
    that reaches another Rasa process (the first answer may have been lost
    on its way to WeChat, which is why WeChat retries). With one process
    there is no other to ask: nothing is kept."""

    POLL_SECONDS = 0.1

    def __init__(self, redis_url: str | None) -> None:
        self._client = redis.Redis.from_url(redis_url) if redis_url else None
        self._prefix = f"{cluster.key_prefix()}.wechat.answer:"

    async def keep(self, key: str, text: str | None) -> None:
        if self._client is not None:
            await self._client.set(self._prefix + key, text or "", ex=int(RETRY_MEMORY_SECONDS))

    async def wait_for(self, key: str, timeout: float) -> str | None:
        """The answer the first delivery got, once it has one (None for
        "success": it was, or will be, pushed)."""
        if self._client is None:
            return None
        deadline = asyncio.get_running_loop().time() + timeout
        while (answer := await self._client.get(self._prefix + key)) is None:
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(self.POLL_SECONDS)
        return answer.decode() or None


class WeChatInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, settings: WeChatSettings, limits: ChannelLimits | None = None) -> None:
        self.settings = settings
        self.guard = InboundGuard(limits)
        self.safe_mode = (
            crypto.SafeMode(
                token=settings.token,
                encoding_aes_key=settings.encoding_aes_key,
                app_id=settings.app_id,
            )
            if settings.configured and settings.encoding_aes_key
            else None
        )
        self.client = CustomerServiceClient(
            app_id=settings.app_id,
            app_secret=settings.app_secret,
            api_base_url=settings.api_base_url,
        )
        self.options = replies.OfferedOptions()
        self._turns: OrderedDict[str, Turn] = OrderedDict()
        # Deliveries taken by any Rasa process, and the passive answers they
        # got (Redis with several).
        self.deliveries = recently_seen("wechat.deliveries", ttl_seconds=RETRY_MEMORY_SECONDS)
        self.answers = PassiveAnswers(cluster.redis_url())

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            WeChatSettings.from_credentials(with_environment(credentials, ENVIRONMENT)),
            ChannelLimits.from_config(credentials.get("limits")),
        )

    def get_output_channel(self) -> OutputChannel:
        """Where the bridge's agent messages go: 客服消息, failures raised."""
        return WeChatOutput(self.client, self.options)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"{CHANNEL}_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.settings.configured})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            """WeChat's URL check when the server configuration is saved."""
            try:
                self.check_request(request)
            except ChannelError as error:
                return error_response(error)
            return response.text(request.args.get("echostr", ""))

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            try:
                inbound = await self.read(request)
            except ChannelError as error:
                logger.info("Refused a WeChat request: %s", error.message)
                return error_response(error)
            key = parser.dedupe_key(inbound.message)
            try:
                turn = await self.turn_for(key, inbound, request.app.ctx, on_new_message)
            except RateLimited:
                return self.reply(inbound, replies.SLOW_DOWN)
            except ChannelError as error:
                # Refused by the guard: WeChat would retry a 4xx and then tell
                # the follower the account is broken, so the follower is told why.
                logger.info("Refused a WeChat message: %s", error.code)
                return self.reply(inbound, replies.NOT_ACCEPTED)
            if turn is None:  # another process has it: its passive answer, if any
                answer = await self.answers.wait_for(key, self.settings.passive_reply_seconds)
                return self.reply(inbound, answer)
            answer = await turn.answer()
            await self.answers.keep(key, answer)
            return self.reply(inbound, answer)

        return webhook

    def check_request(self, request: Request) -> None:
        """The query's signature and timestamp, as on every WeChat request."""
        if not self.settings.configured:
            raise ChannelNotConfigured()
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        crypto.check_signature(self.settings.token, args.get("signature"), timestamp, nonce)
        crypto.check_timestamp(timestamp, self.settings.max_clock_skew_seconds)

    async def read(self, request: Request) -> Inbound:
        """The signed message of a POST, opened if sealed."""
        self.check_request(request)
        body = await receive_body(request, self.guard.limits.max_body_bytes)
        args = request.args
        match args.get("encrypt_type") or "raw":
            case "aes":
                if self.safe_mode is None:
                    raise MalformedBody("Safe mode is not configured: no EncodingAESKey is set.")
                xml = self.safe_mode.open(
                    parser.encrypted_part(body),
                    msg_signature=args.get("msg_signature"),
                    timestamp=args.get("timestamp", ""),
                    nonce=args.get("nonce", ""),
                )
                return Inbound(parser.parse_message(xml), sealed=True)
            case "raw":
                if self.safe_mode is not None and not self.settings.accept_plaintext:
                    raise InvalidSignature("This account is in safe mode: plaintext is refused.")
                return Inbound(parser.parse_message(body), sealed=False)
        raise MalformedBody("Unknown encrypt_type.")

    async def turn_for(
        self,
        key: str,
        inbound: Inbound,
        app_context: Any,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> Turn | None:
        """The delivery's turn: the one already running for a retry, or a
        new one once the guard admits the message; None for a retry that
        reached another Rasa process than its first delivery, which answers
        it (pushed through 客服消息 when late)."""
        if (turn := self._turns.get(key)) is not None:
            logger.info("WeChat retried %s; answering from its first delivery.", key)
            return turn
        if not await self.deliveries.first_time(key):
            logger.info("WeChat retried %s; another process answers it.", key)
            return None
        message = inbound.message
        openid = self.guard.check_id(message.source, "FromUserName")
        text = parser.customer_text(message)
        admitted = self.guard.admit(openid, text, identity(openid))
        output = WeChatOutput(self.client, self.options, collecting=True)
        work = self.handle(
            message, admitted.text, admitted.metadata or {}, output, app_context, on_new_message
        )
        deadline = asyncio.get_running_loop().time() + self.settings.passive_reply_seconds
        turn = Turn(openid, output, work, deadline)
        self._remember(key, turn)
        return turn

    async def handle(
        self,
        message: BaseMessage,
        text: str | None,
        metadata: dict[str, Any],
        output: WeChatOutput,
        app_context: Any,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        """What a follower's message leads to; every answer goes to `output`.
        `app_context` is Sanic's, where Rasa keeps its agent."""
        openid = message.source

        async def say(notice: str) -> None:
            await output.send_response(openid, {"text": notice})

        if text is not None:
            text = await self.chosen(openid, text, app_context)
        elif isinstance(message, SubscribeEvent | SubscribeScanEvent):
            await welcome(app_context.agent, openid, output, metadata)
            return
        elif isinstance(message, ImageMessage):
            text, metadata, notice = await self.picture(message, metadata)
            if notice:
                await say(notice)
                return
        elif isinstance(message, VoiceMessage):
            await say(replies.VOICE_NOT_RECOGNISED)
            return
        elif message.type == "event":
            return  # notifications (unsubscribe, menu views...), not words
        else:  # video, file, UnknownMessage...
            await say(replies.UNSUPPORTED)
            return
        await on_new_message(
            UserMessage(text, output, openid, input_channel=CHANNEL, metadata=metadata)
        )

    async def chosen(self, openid: str, text: str, app_context: Any) -> str:
        """What the follower's text chooses among the options offered them."""
        if self.options.remembers(openid):
            return self.options.read(openid, text)
        if not text.strip().isdigit():
            return text
        # Offered by another Rasa process (or before a restart): the options
        # are the last ones the conversation's tracker shows.
        choices = await offered_options(getattr(app_context, "agent", None), openid)
        return choices.get(text.strip(), text)

    async def picture(
        self, message: ImageMessage, metadata: dict[str, Any]
    ) -> tuple[str, dict[str, Any], str | None]:
        """The text and metadata a picture reaches the agent with, or a
        notice for the customer when it cannot."""
        openid = message.source
        try:
            data, content_type = await self.client.download(message.image, MAX_PICTURE_BYTES)
            extension = content_type.rpartition("/")[2] or "jpg"
            filename = f"wechat-{message._data.get('MsgId') or int(time.time())}.{extension}"
            attachment = await upload_attachment(
                openid, filename=filename, content_type=content_type, data=data, channel=CHANNEL
            )
        except AttachmentRefused as refusal:
            if refusal.code == NO_OPEN_TICKET:
                return "", metadata, replies.PICTURES_FOR_AGENTS
            logger.info("The bridge refused a WeChat picture of %s: %s", openid, refusal.message)
            return "", metadata, replies.PICTURE_NOT_PASSED
        except (BridgeUnavailable, WeChatAPIError) as error:
            logger.warning("A WeChat picture of %s was not passed on: %s", openid, error)
            return "", metadata, replies.PICTURE_NOT_PASSED
        # Chinese only and without the file's name: NLU would read an ASCII
        # name as English and switch the conversation's language.
        return PICTURE_MARKER, {**metadata, "attachment": attachment}, None

    def reply(self, inbound: Inbound, text: str | None) -> HTTPResponse:
        """The HTTP answer: a passive reply (sealed in safe mode), or `success`."""
        if text is None:
            return response.text(SUCCESS)
        xml = replies.text_reply(inbound.message, text)
        if inbound.sealed:
            assert self.safe_mode is not None
            xml = self.safe_mode.seal(xml)
        return response.text(xml, content_type="application/xml")

    def _remember(self, key: str, turn: Turn) -> None:
        self._turns[key] = turn
        while self._turns:
            oldest = next(iter(self._turns.values()))
            too_old = time.monotonic() - oldest.started > RETRY_MEMORY_SECONDS
            if not too_old and len(self._turns) <= MAX_REMEMBERED_DELIVERIES:
                break
            self._turns.popitem(last=False)


async def offered_options(agent: Agent | None, openid: str) -> dict[str, str]:
    """The numbered options of the bot's last message with buttons since the
    follower last wrote, rendered as they were sent (`replies.render`)."""
    if agent is None or agent.tracker_store is None:
        return {}
    tracker = await agent.tracker_store.retrieve(openid)
    for event in reversed(tracker.events if tracker else []):
        if isinstance(event, UserUttered):
            return {}
        if isinstance(event, BotUttered) and (event.data or {}).get("buttons"):
            return replies.render({"text": event.text, **event.data}).choices
    return {}


def identity(openid: str) -> dict[str, Any]:
    """Who the customer is: WeChat vouches for the openid, so it is verified."""
    return {"customer_id": openid, "identity_verified": True}


async def welcome(
    agent: Agent, openid: str, output: OutputChannel, metadata: dict[str, Any]
) -> None:
    """Greets a new follower as the greet intent does, triggered as Rasa's
    trigger_intent endpoint does it (under the conversation's lock): the
    follower typed nothing, so nothing is parsed, and a conversation in a
    handoff is left to its agent."""
    async with agent.lock_store.lock(openid):
        tracker = await agent.processor.fetch_tracker_and_update_session(openid, output, metadata)
        if tracker.is_paused():
            return
        await agent.trigger_intent(GREET_INTENT, [], output, tracker)
