"""The mails the channel writes: answers in the customer's thread.

Buttons cannot be clicked in a mail, so they become a numbered list and
the customer answers with the number; `chosen_payload` maps that number
back to the button's payload, which Rasa then accepts as a click (only
offered payloads are, see addons/rasa_fixes.py). When every payload is
itself a number (the CSAT scores 5..1), the number shown is the payload,
so "5" means 5 whichever order the buttons came in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from addons.channels.mail.threads import Thread

_TICKET_TAG = re.compile(r"\[(?:工单|Ticket)\s*#\d+\]\s*", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|回复|答复|转发)\s*[:：]\s*)+", re.IGNORECASE)
_CHOICE = re.compile(r"[(\[（]?\s*(\d{1,2})\s*[)\]）.。、]?")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

TEXTS: dict[str, dict[str, str]] = {
    "choose": {
        "zh": "请直接回复对应的数字进行选择。",
        "en": "Reply with the number of your choice.",
    },
    "ticket": {"zh": "[工单 #{id}]", "en": "[Ticket #{id}]"},
    "agent": {"zh": "—— 人工客服 {name}", "en": "— {name}, customer service"},
    "files_for_agents": {
        "zh": "附件只有人工客服能看到；现在没有为您处理中的工单，请用文字描述您的问题。",
        "en": "Attachments are seen by our agents only, and no ticket of yours is open "
        "right now; please describe the problem in words.",
    },
    "left_out": {
        "zh": "以下附件未能接收（仅接受图片、PDF、Office 文档，"
        "单个不超过 10 MB，最多 5 个）：{names}",
        "en": "These attachments were not accepted (images, PDF and Office documents only, "
        "10 MB each, at most 5): {names}",
    },
    "default_subject": {"zh": "您的咨询", "en": "Your enquiry"},
}


def text(key: str, language: str, **values: Any) -> str:
    texts = TEXTS[key]
    return texts.get(language, texts["zh"]).format(**values)


def language_of(words: str, default: str = "zh") -> str:
    """zh when the words hold Chinese characters, en when they hold only
    Latin letters; `default` for neither."""
    if _CJK.search(words):
        return "zh"
    return "en" if re.search(r"[A-Za-z]", words) else default


@dataclass(frozen=True)
class Option:
    key: str
    title: str
    payload: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "title": self.title, "payload": self.payload}


def readable(message: Mapping[str, Any]) -> bool:
    """Whether a message has anything a mail can show (a message carrying
    only a `custom` payload for the web widget has not)."""
    return bool(message.get("text") or _buttons(message) or message.get("image"))


def _buttons(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A message's buttons (or quick replies) that can be offered."""
    buttons = message.get("buttons") or message.get("quick_replies") or []
    return [
        b
        for b in buttons
        if isinstance(b, Mapping) and isinstance(b.get("payload"), str) and b.get("title")
    ]


def numbered_options(buttons: Iterable[Mapping[str, Any]]) -> list[Option]:
    """Options keyed 1..n, or by their payloads when all are numbers."""
    buttons = list(buttons)
    payloads = [b["payload"].strip() for b in buttons]
    by_payload = all(p.isdigit() and len(p) <= 2 for p in payloads) and len(set(payloads)) == len(
        payloads
    )
    options = []
    for index, button in enumerate(buttons, start=1):
        key = button["payload"].strip() if by_payload else str(index)
        title = str(button["title"]).strip()
        if title.startswith(key + " "):  # "5 非常满意" shown as "5. 非常满意"
            title = title[len(key) :].strip()
        options.append(Option(key, title, button["payload"]))
    return options


def chosen_payload(words: str, options: Iterable[Mapping[str, str]]) -> str | None:
    """The payload of the option a reply such as "2", "２。" or "(2)" picks."""
    match = _CHOICE.fullmatch(unicodedata.normalize("NFKC", words).strip())
    if not match:
        return None
    key = str(int(match.group(1)))
    return next((option["payload"] for option in options if option["key"] == key), None)


def base_subject(subject: str) -> str:
    """The subject without "Re:"/"回复：" prefixes and our ticket tag."""
    previous = None
    while previous != subject:
        previous = subject
        subject = _REPLY_PREFIX.sub("", _TICKET_TAG.sub("", subject)).strip()
    return subject


def reply_subject(thread: Thread, ticket_id: int | None) -> str:
    subject = base_subject(thread.subject) or text("default_subject", thread.language)
    tag = text("ticket", thread.language, id=ticket_id) + " " if ticket_id else ""
    return f"{tag}Re: {subject}"


@dataclass(frozen=True)
class Reply:
    """A reply mail and the options it offered."""

    message: EmailMessage
    options: list[Option]


def compose_reply(
    thread: Thread,
    messages: list[Mapping[str, Any]],
    *,
    sender: Address,
    notes: Iterable[str] = (),
    ticket_id: int | None = None,
    automatic: bool = True,
    subject: str | None = None,
) -> Reply:
    """One mail answering the customer's latest mail with the bot's (or an
    agent's) messages, threaded under it. `automatic` marks it as an
    auto-reply (RFC 3834), so the customer's own robots do not answer it;
    an agent's reply is a person's and is not marked. `subject` replaces
    the "Re: …" one (a first mail of ours, such as a form's receipt)."""
    offered = [(index, b) for index, m in enumerate(messages) for b in _buttons(m)]
    options = numbered_options(button for _, button in offered)
    paragraphs: list[str] = []
    for index, message in enumerate(messages):
        if message.get("text"):
            paragraphs.append(str(message["text"]).strip())
        pairs = zip(options, offered, strict=True)
        lines = [f"{option.key}. {option.title}" for option, (i, _) in pairs if i == index]
        if lines:
            paragraphs.append("\n".join(lines))
        for key in ("image", "attachment"):
            if isinstance(message.get(key), str):
                paragraphs.append(message[key])
        if message.get("agent_name"):
            paragraphs.append(text("agent", thread.language, name=message["agent_name"]))
    if options:
        paragraphs.append(text("choose", thread.language))
    paragraphs.extend(notes)

    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = Address(display_name=thread.name or "", addr_spec=thread.address)
    mail["Subject"] = subject or reply_subject(thread, ticket_id or thread.ticket_id)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.domain or None)
    if thread.last_message_id:
        mail["In-Reply-To"] = thread.last_message_id
    if thread.references:
        mail["References"] = " ".join(thread.references)
    mail["Auto-Submitted"] = "auto-replied" if automatic else "no"
    # Asks Exchange and Outlook not to send out-of-office answers to us.
    mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content("\n\n".join(paragraphs) + "\n")
    return Reply(mail, options)
