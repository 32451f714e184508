"""The ticket form (`form`): apps and websites open a ticket without a chat.

`POST /webhooks/form/tickets` takes JSON (apps) or multipart/form-data
(the hosted page, with files) holding `contact` (an e-mail address or a
phone number), `name`, `subject`, `description`, `category` and
`language`, and opens the ticket on the bridge with the service token.
`GET /webhooks/form/` is the hosted page (zh/en, no external assets).

- **One customer across channels.** With an e-mail contact (and the
  e-mail channel on), the ticket's conversation is that address's mail
  conversation: the receipt is mailed to the contact with the ticket
  number, the customer's reply continues the same conversation, and the
  agent's replies go out by mail. A phone contact gets a conversation of
  its own; agents call back (a reply typed in the console is refused with
  words that say so).
- **The form in the transcript.** What the customer wrote is logged in
  Rasa's conversation as their turn on the `form` channel (the bot does
  not answer it), so agents read it where they read everything else.
- **Abuse.** A token bucket per client address (`limits:`, defaults
  below; behind a reverse proxy on this host, the address it appends to
  X-Forwarded-For); a honeypot field (`website`) real people never see; a page
  token on multipart posts, so a plain cross-site HTML form cannot post
  (there is no cookie or other ambient authority to abuse); and at most a
  few receipts an hour to one address, so the form cannot be used to flood
  someone's mailbox.

Categories are the bridge's (its published OpenAPI document lists them),
read once and cached, so the form never offers one the bridge refuses.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import html
import ipaddress
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.channels.errors import ChannelError, ChannelNotConfigured, DeliveryFailed, MalformedBody
from addons.channels.guard import ChannelLimits, InboundGuard, SenderRateLimiter
from addons.channels.handoff_client import (
    AttachmentRefused,
    BridgeUnavailable,
    HandoffClient,
    upload_attachment,
)
from addons.channels.mail.attachments import Attachment, safe_filename, select
from addons.channels.mail.composer import compose_reply, language_of
from addons.channels.mail.connector import MailInput, MailOutput
from addons.channels.mail.parser import normalise_address
from addons.channels.webhooks import error_response, json_object, receive_body

logger = logging.getLogger(__name__)

CHANNEL = "form"
PAGE = Path(__file__).with_name("form.html")
# Per client address: a person sends a form or two; a script, many.
DEFAULT_LIMITS = {"max_body_bytes": 25 * 1024 * 1024, "messages_per_minute": 2, "burst": 5}
# Receipts mailed to one address.
RECEIPTS_PER_HOUR = 5
RECEIPT_BURST = 3
FIELD_LENGTHS = {"name": 100, "subject": 120, "description": 4000, "contact": 254}
HONEYPOT = "website"
TOKEN_FIELD = "form_token"
TOKEN_LIFETIME = 2 * 3600
CATEGORIES_TTL = 600
FALLBACK_CATEGORY = "general"
_PHONE = re.compile(r"\+?[0-9]{7,15}")
_PHONE_PUNCTUATION = re.compile(r"[\s()\-.]")

TEXTS: dict[str, dict[str, str]] = {
    "required": {"zh": "请填写此项。", "en": "Please fill this in."},
    "too_long": {
        "zh": "请不要超过 {limit} 个字。",
        "en": "Please keep it under {limit} characters.",
    },
    "contact": {
        "zh": "请填写有效的邮箱地址或手机号。",
        "en": "Please give a valid e-mail address or phone number.",
    },
    "category": {"zh": "请选择列表中的类别。", "en": "Please choose a category from the list."},
    "attachments": {
        "zh": "最多 5 个附件，每个不超过 10 MB：{names}",
        "en": "At most 5 files of up to 10 MB each: {names}",
    },
    "invalid": {"zh": "表单有误，请检查标出的项目。", "en": "Please check the marked fields."},
    "rejected": {"zh": "无法提交此表单。", "en": "This form cannot be sent."},
    "page_expired": {
        "zh": "页面已过期，请刷新后重新提交。",
        "en": "This page has expired; please reload it and send again.",
    },
    "bridge_down": {
        "zh": "系统暂时无法创建工单，请稍后再试，您填写的内容仍保留在页面上。",
        "en": "We cannot open tickets right now; please try again shortly. "
        "What you wrote is still on the page.",
    },
    "receipt": {
        "zh": "{name}您好，\n\n我们已收到您的问题，工单号 #{id}：\n{subject}\n\n"
        "客服会尽快通过邮件回复您。直接回复本邮件即可补充信息。",
        "en": "Hello {name},\n\nWe have your request, ticket #{id}:\n{subject}\n\n"
        "An agent will answer you by mail soon. Reply to this mail to add anything.",
    },
    "receipt_subject": {
        "zh": "[工单 #{id}] 已收到：{subject}",
        "en": "[Ticket #{id}] Received: {subject}",
    },
}


def text(key: str, language: str, **values: Any) -> str:
    texts = TEXTS[key]
    return texts.get(language, texts["zh"]).format(**values)


class InvalidForm(ChannelError):
    code = "invalid_form"
    default_message = TEXTS["invalid"]["zh"]


class FormRejected(ChannelError):
    code = "form_rejected"
    default_message = TEXTS["rejected"]["zh"]


@dataclass(frozen=True)
class TicketForm:
    contact: str  # a normalised e-mail address, or a phone number of digits and "+"
    contact_is_email: bool
    name: str | None
    subject: str
    description: str
    category: str
    language: str
    attachments: list[Attachment] = field(default_factory=list)


def read_form(
    fields: Mapping[str, Any], files: list[Attachment], categories: list[str], language: str
) -> TicketForm:
    """The form as the bridge takes it, or `InvalidForm` naming each bad field."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for name, limit in FIELD_LENGTHS.items():
        value = fields.get(name)
        value = (
            " ".join(value.split()) if isinstance(value, str) and name != "description" else value
        )
        value = value.strip() if isinstance(value, str) else ""
        if len(value) > limit:
            errors[name] = text("too_long", language, limit=limit)
        elif not value and name != "name":
            errors[name] = text("required", language)
        values[name] = value
    contact, is_email = _contact(values["contact"])
    if values["contact"] and "contact" not in errors and contact is None:
        errors["contact"] = text("contact", language)
    category = fields.get("category") or FALLBACK_CATEGORY
    if category not in categories:
        errors["category"] = text("category", language)
    kept, left_out = select(files)
    if left_out:
        names = ", ".join(item.filename for item in left_out)
        errors["attachments"] = text("attachments", language, names=names)
    if errors:
        raise InvalidForm(text("invalid", language), fields=errors)
    assert contact is not None
    return TicketForm(
        contact=contact,
        contact_is_email=is_email,
        name=values["name"] or None,
        subject=values["subject"],
        description=values["description"],
        category=category,
        language=language,
        attachments=kept,
    )


def _contact(value: str) -> tuple[str | None, bool]:
    if "@" in value:
        return normalise_address(value), True
    phone = _PHONE_PUNCTUATION.sub("", value)
    return (phone if _PHONE.fullmatch(phone) else None), False


def form_language(fields: Mapping[str, Any], accept_language: str) -> str:
    """The language the form's answers and mails are in."""
    if fields.get("language") in ("zh", "en"):
        return str(fields["language"])
    words = f"{fields.get('subject') or ''} {fields.get('description') or ''}"
    return language_of(words, "en" if accept_language.lower().startswith("en") else "zh")


class PageToken:
    """A signed issue time: the page's multipart posts must carry one."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock

    def issue(self) -> str:
        issued = str(int(self._clock()))
        return f"{issued}.{self._sign(issued)}"

    def valid(self, token: Any) -> bool:
        issued, _, signature = str(token or "").partition(".")
        if not issued.isdigit() or not hmac.compare_digest(signature, self._sign(issued)):
            return False
        return 0 <= self._clock() - int(issued) <= TOKEN_LIFETIME

    def _sign(self, issued: str) -> str:
        return hmac.new(self._key, issued.encode(), hashlib.sha256).hexdigest()[:32]


class FormTickets(HandoffClient):
    """The bridge calls the form makes, on the channels' bridge client."""

    def __init__(self) -> None:
        super().__init__()
        self._categories: tuple[float, list[str]] | None = None

    async def categories(self) -> list[str]:
        """The bridge's ticket categories, from its OpenAPI document."""
        if self._categories and time.monotonic() - self._categories[0] < CATEGORIES_TTL:
            return self._categories[1]
        try:
            async with self._http.get().get(f"{self.url}/api/openapi.yaml") as answer:
                document = yaml.safe_load(await answer.text())
            categories = list(document["components"]["schemas"]["Category"]["enum"])
        except (aiohttp.ClientError, TimeoutError, yaml.YAMLError, KeyError, TypeError) as error:
            logger.warning("Could not read the bridge's categories: %s", error)
            return [FALLBACK_CATEGORY]
        self._categories = (time.monotonic(), categories)
        return categories

    async def open_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        if not self.token:
            raise BridgeUnavailable("HANDOFF_API_TOKEN is not set.")
        try:
            async with self._http.get().post(f"{self.url}/api/tickets", json=ticket) as answer:
                body = await answer.json(content_type=None)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise BridgeUnavailable(f"The bridge could not be reached: {error}") from error
        if status != HTTPStatus.CREATED:
            logger.error("The bridge refused a form's ticket (%s): %s", status, body)
            raise BridgeUnavailable(f"The bridge answered {status}.")
        return body


class FormInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, limits: ChannelLimits | None = None) -> None:
        self.guard = InboundGuard(limits or ChannelLimits.from_config(DEFAULT_LIMITS))
        self.receipts = SenderRateLimiter(
            messages_per_minute=RECEIPTS_PER_HOUR / 60, burst=RECEIPT_BURST
        )
        self.tickets = FormTickets()
        secret = os.environ.get("HANDOFF_API_TOKEN", "")
        self.page_token = PageToken(hmac.new(secret.encode(), b"form-page", "sha256").digest())
        self._app: Sanic | None = None
        self._mail: MailInput | None = None

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        limits = (credentials or {}).get("limits") or {}
        return cls(ChannelLimits.from_config({**DEFAULT_LIMITS, **limits}))

    @property
    def on(self) -> bool:
        return bool(self.tickets.token)

    def get_output_channel(self) -> OutputChannel:
        return FormOutput(self._mail)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("form_webhook", __name__)

        @webhook.listener("before_server_start")
        async def start(app: Sanic, _: Any) -> None:
            self._app = app
            channels = getattr(app.ctx, "input_channels", [])
            self._mail = next((c for c in channels if isinstance(c, MailInput) and c.on), None)

        @webhook.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            if not self.on:
                return error_response(ChannelNotConfigured())
            return await self.page(request)

        @webhook.route("/tickets", methods=["POST"], stream=True)
        async def submit(request: Request) -> HTTPResponse:
            try:
                return response.json(await self.submit(request), status=HTTPStatus.CREATED)
            except ChannelError as error:
                return error_response(error)
            except BridgeUnavailable as error:
                logger.warning("A form's ticket was not opened: %s", error)
                language = "en" if _accepts_english(request) else "zh"
                body = {
                    "error": {
                        "code": "bridge_unavailable",
                        "message": text("bridge_down", language),
                    }
                }
                return response.json(body, status=HTTPStatus.SERVICE_UNAVAILABLE)

        return webhook

    async def page(self, request: Request) -> HTTPResponse:
        language = request.args.get("lang") or ("en" if _accepts_english(request) else "zh")
        language = language if language in ("zh", "en") else "zh"
        nonce = uuid.uuid4().hex
        categories = await self.tickets.categories()
        page = page_template()
        strings = PAGE_TEXTS[language]
        labels = {c: strings.get(f"category.{c}", c) for c in categories}
        options = "".join(
            f'<option value="{html.escape(c)}"{" selected" * (c == FALLBACK_CATEGORY)}>'
            f"{html.escape(label)}</option>"
            for c, label in labels.items()
        )
        values = {
            **{key: html.escape(value) for key, value in strings.items()},
            "lang": language,
            "nonce": nonce,
            "token": self.page_token.issue(),
            "categories": options,
            # Script data is not HTML-decoded: only "</script>" must not appear.
            "messages": json.dumps(strings, ensure_ascii=False).replace("<", "\\u003c"),
        }
        page = re.sub(r"\{\{([a-z_.]+)\}\}", lambda m: values.get(m.group(1), ""), page)
        headers = {
            "Content-Security-Policy": (
                f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
                "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'"
            ),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        }
        return response.html(page, headers=headers)

    async def submit(self, request: Request) -> dict[str, Any]:
        """Opens the ticket; returns what the submitter is shown."""
        if not self.on:
            raise ChannelNotConfigured()
        self.guard.admit(client_address(request), None, None)
        fields, files = await self._read(request)
        language = form_language(fields, request.headers.get("accept-language", ""))
        if fields.get(HONEYPOT):
            raise FormRejected(text("rejected", language))
        form = read_form(fields, files, await self.tickets.categories(), language)
        conversation_id = self._conversation_id(form)
        ticket = await self.tickets.open_ticket(self._ticket(form, conversation_id))
        await self._log_turn(conversation_id, form)
        stored = await self._attach(conversation_id, form)
        mailed = await self._receipt(conversation_id, form, ticket["id"])
        return {
            "ticket": {"id": ticket["id"], "reference": f"#{ticket['id']}"},
            "attachments": stored,
            "receipt_mailed": mailed,
        }

    async def _read(self, request: Request) -> tuple[dict[str, Any], list[Attachment]]:
        await receive_body(request, self.guard.limits.max_body_bytes)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            return json_object(request.body), []
        if content_type != "multipart/form-data":
            raise MalformedBody("The body must be JSON or multipart/form-data.")
        # Sanic parses the multipart body on first access: in a thread.
        form, uploaded = await asyncio.to_thread(lambda: (request.form, request.files))
        fields = {name: form.get(name) for name in form}
        if not self.page_token.valid(fields.get(TOKEN_FIELD)):
            raise FormRejected(text("page_expired", form_language(fields, "")))
        files = [
            Attachment(safe_filename(f.name), f.type or "application/octet-stream", f.body)
            for name in uploaded
            for f in uploaded.getlist(name)
            if f.name or f.body
        ]
        return fields, files

    def _conversation_id(self, form: TicketForm) -> str:
        """The contact's mail conversation, so their mail replies continue it."""
        if form.contact_is_email and self._mail is not None and self._mail.store is not None:
            return self._mail.store.conversation_id(form.contact)
        return f"form-{uuid.uuid4().hex}"

    def _ticket(self, form: TicketForm, conversation_id: str) -> dict[str, Any]:
        return {
            "conversation_id": conversation_id,
            "channel": CHANNEL,
            "customer": {"name": form.name, "contact": form.contact, "identity_verified": False},
            "title": form.subject,
            "description": form.description,
            "category": form.category,
            "language": form.language,
            "source": CHANNEL,
        }

    async def _log_turn(self, conversation_id: str, form: TicketForm) -> None:
        """The customer's words as their turn in Rasa's conversation, without
        running the bot (as Rasa's own events endpoint appends)."""
        if self._app is None:
            return
        agent = self._app.ctx.agent
        metadata = {"customer_name": form.name, "contact": form.contact, "identity_verified": False}
        async with agent.lock_store.lock(conversation_id):
            tracker = await agent.processor.fetch_tracker_with_initial_session(conversation_id)
            words = f"{form.subject}\n{form.description}"
            tracker.update(UserUttered(words, input_channel=CHANNEL, metadata=metadata))
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            await agent.processor.save_tracker(tracker)

    async def _attach(self, conversation_id: str, form: TicketForm) -> list[dict[str, Any]]:
        """Each file on the new ticket, or why the bridge did not keep it."""
        stored = []
        for attachment in form.attachments:
            try:
                info = await upload_attachment(
                    conversation_id,
                    filename=attachment.filename,
                    content_type=attachment.content_type,
                    data=attachment.data,
                    channel=CHANNEL,
                )
                stored.append({"name": info.get("name"), "stored": True})
            except (AttachmentRefused, BridgeUnavailable) as error:
                stored.append({"name": attachment.filename, "stored": False, "reason": str(error)})
        return stored

    async def _receipt(self, conversation_id: str, form: TicketForm, ticket_id: int) -> bool:
        """Mails the ticket number to an e-mail contact; a few an hour at most."""
        mail = self._mail
        if not form.contact_is_email or mail is None or mail.store is None:
            return False
        if self.receipts.acquire(form.contact):
            logger.info("Receipt for ticket %s not mailed: too many to this address", ticket_id)
            return False
        await asyncio.to_thread(
            mail.store.record_inbound,
            conversation_id,
            address=form.contact,
            name=form.name,
            subject=form.subject,
            language=form.language,
            message_id=None,
            references=(),
        )
        thread = await asyncio.to_thread(mail.store.thread, conversation_id)
        assert thread is not None and mail.settings.sender is not None
        words = text(
            "receipt", form.language, name=form.name or "", id=ticket_id, subject=form.subject
        )
        subject = text("receipt_subject", form.language, id=ticket_id, subject=form.subject)
        receipt = compose_reply(
            thread,
            [{"text": words}],
            sender=mail.settings.sender,
            ticket_id=ticket_id,
            subject=subject,
        )
        try:
            await mail.settings.relay.send(receipt.message)
        except DeliveryFailed as error:
            logger.warning("Receipt for ticket %s not mailed: %s", ticket_id, error)
            return False
        await asyncio.to_thread(
            mail.store.record_outbound,
            conversation_id,
            receipt.message["Message-ID"],
            ticket_id=ticket_id,
        )
        return True


class FormOutput(OutputChannel):
    """Agents' replies on a form's ticket: by mail to an e-mail contact."""

    def __init__(self, mail: MailInput | None) -> None:
        self.mail = mail

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if self.mail is None or recipient_id.startswith("form-"):
            raise DeliveryFailed(
                "This ticket came from the form without an e-mail address (or e-mail is "
                "off on this server), so replies cannot reach the customer; contact them "
                "by the phone number on the ticket."
            )
        await MailOutput(self.mail).send_response(recipient_id, message)


@functools.cache
def page_template() -> str:
    return PAGE.read_text(encoding="utf-8")


def client_address(request: Request) -> str:
    """Who is submitting: the peer, or, when the peer is a reverse proxy on
    this host (loopback), the address that proxy appended last to
    X-Forwarded-For (earlier entries are the client's own claims)."""
    peer = request.ip or "unknown"
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
    try:
        if forwarded and ipaddress.ip_address(peer).is_loopback:
            return str(ipaddress.ip_address(forwarded))
    except ValueError:
        pass
    return peer.replace("%", "_")


def _accepts_english(request: Request) -> bool:
    return request.headers.get("accept-language", "").lower().startswith("en")


PAGE_TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "提交工单",
        "intro": "留下联系方式和问题，客服会通过邮件或电话回复您。",
        "switch": "English",
        "switch_lang": "en",
        "contact": "邮箱或手机号",
        "contact_hint": "我们会通过它回复您",
        "name": "称呼（选填）",
        "category": "问题类别",
        "subject": "标题",
        "description": "问题描述",
        "attachments": "附件（选填，最多 5 个，每个不超过 10 MB）",
        "send": "提交",
        "sending": "正在提交…",
        "done": "已提交，您的工单号是",
        "done_mail": "确认邮件已发送到您的邮箱。",
        "again": "再提交一个问题",
        "rate_limited": "提交得太频繁了，请 {seconds} 秒后再试。",
        "network": "网络出错，请检查网络后重试。",
        "category.pre_sales": "售前咨询",
        "category.order_logistics": "订单与物流",
        "category.after_sales": "售后服务",
        "category.technical": "技术问题",
        "category.complaint": "投诉",
        "category.general": "其他",
    },
    "en": {
        "title": "Open a ticket",
        "intro": "Leave your contact and your question; our team answers by mail or phone.",
        "switch": "中文",
        "switch_lang": "zh",
        "contact": "E-mail or phone number",
        "contact_hint": "We answer you there",
        "name": "Name (optional)",
        "category": "Category",
        "subject": "Subject",
        "description": "Your question",
        "attachments": "Files (optional, up to 5, 10 MB each)",
        "send": "Send",
        "sending": "Sending…",
        "done": "Sent. Your ticket number is",
        "done_mail": "A confirmation is on its way to your mailbox.",
        "again": "Send another",
        "rate_limited": "Too many forms sent; please try again in {seconds} seconds.",
        "network": "The network failed; please check it and try again.",
        "category.pre_sales": "Before buying",
        "category.order_logistics": "Orders and delivery",
        "category.after_sales": "Returns and after-sales",
        "category.technical": "Technical problem",
        "category.complaint": "Complaint",
        "category.general": "Something else",
    },
}
