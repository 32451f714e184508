"""A mail as the channel needs it, from raw MIME or an inbound-parse webhook.

The stdlib `email` package with `policy.default` parses; everything a
sender controls is read defensively: a header that fails to decode, an
unknown or lying charset, a broken multipart, all give a usable mail or a
`MalformedMail`, never an exception from deep inside the parser.
"""

from __future__ import annotations

import email.utils
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser

from addons.channels.errors import ChannelError
from addons.channels.mail.attachments import Attachment, safe_filename
from addons.channels.mail.text import html_to_text, new_words

logger = logging.getLogger(__name__)

# Labels that mail in Chinese often carries for text that is really in a
# superset: GB18030 decodes everything GB2312 and GBK do.
CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030"}
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
# Senders that are robots: answering them makes two robots talk forever.
ROBOT_LOCAL_PARTS = frozenset(
    {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply"}
)
BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
MAX_REFERENCES = 20
# HTML read, in characters: the new words are at the top and the quoted
# history below them; reading a 2 MB newsletter whole took 4 s of CPU.
MAX_HTML_CHARS = 300_000


class MalformedMail(ChannelError):
    code = "malformed_mail"
    default_message = "The mail could not be read: it has no valid sender address."


@dataclass(frozen=True)
class InboundMail:
    sender: str  # normalised address: lower case, no display name
    sender_name: str | None
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    # What the sender newly wrote: plain text, HTML sanitised, quotes cut.
    text: str
    attachments: tuple[Attachment, ...] = ()
    # Why this mail came from a robot (auto-reply, bounce, list), else None.
    automatic: str | None = None
    recipients: tuple[str, ...] = field(default=())


def normalise_address(value: str | None) -> str | None:
    """`Alice <Alice@Example.COM>` -> `alice@example.com`, or None."""
    _, address = email.utils.parseaddr(value or "")
    address = address.strip().lower()
    return address if _ADDRESS.fullmatch(address) else None


def parse_mime(raw: bytes, *, envelope_sender: str | None = None) -> InboundMail:
    """A raw RFC 5322 message; `envelope_sender` is SMTP's MAIL FROM ("" for
    a bounce), when it came over SMTP."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    plain, html = _body_parts(message)
    return _mail(
        headers=message,
        text=_new_words(plain, html),
        attachments=tuple(_attachments(message)),
        envelope_sender=envelope_sender,
        is_report=message.get_content_type() == "multipart/report",
    )


def parse_inbound_form(
    fields: Mapping[str, str], files: list[Attachment], *, raw_field: str = "email"
) -> InboundMail:
    """The common inbound-parse webhook (SendGrid, Mailgun, Postmark style):
    `from`, `to`, `subject`, `text`, `html`, `headers` (the raw header
    block) and files; or the whole message as MIME in `email` (SendGrid's
    "raw" mode)."""
    if fields.get(raw_field):
        return parse_mime(fields[raw_field].encode("utf-8", "surrogateescape"))
    headers = HeaderParser(policy=policy.default).parsestr(fields.get("headers") or "")
    for name, key in (("From", "from"), ("To", "to"), ("Subject", "subject")):
        if fields.get(key) and not _header(headers, name):
            headers[name] = fields[key]
    text = _new_words(fields.get("text") or "", fields.get("html") or "")
    return _mail(headers=headers, text=text, attachments=tuple(files), envelope_sender=None)


def _new_words(plain: str, html: str) -> str:
    """The plain-text body's new words, else the HTML body's."""
    if plain.strip():
        return new_words(plain)
    return new_words(html_to_text(html[:MAX_HTML_CHARS])) if html else ""


def _mail(
    *,
    headers: Message,
    text: str,
    attachments: tuple[Attachment, ...],
    envelope_sender: str | None,
    is_report: bool = False,
) -> InboundMail:
    sender_name, sender_address = email.utils.parseaddr(_header(headers, "From"))
    sender = normalise_address(sender_address)
    if sender is None:
        raise MalformedMail()
    references = tuple(_MESSAGE_ID.findall(_header(headers, "References")))[-MAX_REFERENCES:]
    in_reply_to = _MESSAGE_ID.findall(_header(headers, "In-Reply-To"))
    message_id = _MESSAGE_ID.findall(_header(headers, "Message-ID"))
    recipients = tuple(
        address
        for _, value in email.utils.getaddresses([_header(headers, "To"), _header(headers, "Cc")])
        if (address := normalise_address(value))
    )
    return InboundMail(
        sender=sender,
        sender_name=" ".join(sender_name.split()) or None,
        subject=" ".join(_header(headers, "Subject").split()),
        message_id=message_id[0] if message_id else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=references,
        text=text,
        attachments=attachments,
        automatic=_robot(headers, sender, envelope_sender, is_report),
        recipients=recipients,
    )


def _robot(
    headers: Message, sender: str, envelope_sender: str | None, is_report: bool
) -> str | None:
    """Why this mail was sent by a machine (RFC 3834 and common practice)."""
    auto_submitted = _header(headers, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    if _header(headers, "Precedence").strip().lower() in BULK_PRECEDENCE:
        return "Precedence: " + _header(headers, "Precedence").strip().lower()
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "List-Id"):
        if _header(headers, name):
            return name
    if envelope_sender == "":
        return "empty envelope sender (a bounce)"
    if is_report:
        return "delivery report"
    if sender.split("@")[0] in ROBOT_LOCAL_PARTS:
        return f"robot sender {sender}"
    return None


def _header(message: Message, name: str) -> str:
    """A header's decoded text, or "" when it is missing or cannot be read."""
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except Exception:  # the email package raises many kinds on broken headers
        logger.info("Unreadable %s header in an inbound mail", name)
        return ""


def _body_parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies, each "" when absent."""
    texts = []
    for subtype in ("plain", "html"):
        try:
            part = message.get_body(preferencelist=(subtype,))
        except Exception:
            part = None
        texts.append(_decoded(part) if part is not None else "")
    return texts[0], texts[1]


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "utf-8").lower()
    charset = CHARSET_ALIASES.get(charset, charset)
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset label
        return payload.decode("utf-8", errors="replace")


def _attachments(message: EmailMessage) -> list[Attachment]:
    """Files the sender attached; images embedded in the HTML (signatures,
    logos: inline with a Content-ID) are not."""
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            disposition = part.get_content_disposition()
            filename = part.get_filename()
        except Exception:
            continue
        if disposition == "inline" and part.get("Content-ID"):
            continue
        if disposition != "attachment" and not filename:
            continue
        data = part.get_payload(decode=True)
        found.append(
            Attachment(
                filename=safe_filename(filename),
                content_type=part.get_content_type(),
                data=data if isinstance(data, bytes) else b"",
            )
        )
    return found
