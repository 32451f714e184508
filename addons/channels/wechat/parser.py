"""WeChat's XML, read safely.

wechatpy's `parse_message` turns the XML into its typed messages and events
(with the same registries, and `UnknownMessage` for anything new), but it
reads the XML with xmltodict on plain expat, which would expand entities a
DTD declares. So every document is first read by defusedxml with DTDs
forbidden: a document with a DOCTYPE (external entities, entity bombs) or
that is not well-formed is refused before wechatpy sees it. The body's size
is bounded before this, where it is read (`webhooks.receive_body`).
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.messages import BaseMessage, LinkMessage, LocationMessage, TextMessage, VoiceMessage
from wechatpy.parser import parse_message as wechatpy_parse_message

from addons.channels.errors import MalformedBody

ROOT_TAG = "xml"


def read_document(xml: bytes | str) -> Element:
    """The `<xml>` root of a WeChat document, or `MalformedBody`."""
    try:
        root = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException:
        raise MalformedBody("XML with a DOCTYPE or entities is not accepted.") from None
    except (ParseError, ValueError):
        raise MalformedBody("The body is not well-formed XML.") from None
    if root.tag != ROOT_TAG:
        raise MalformedBody("The body is not a WeChat message (<xml> root).")
    return root


def encrypted_part(xml: bytes) -> str:
    """The `<Encrypt>` of a safe-mode envelope."""
    encrypted = read_document(xml).findtext("Encrypt")
    if not encrypted:
        raise MalformedBody("The safe-mode message has no <Encrypt>.")
    return encrypted


def parse_message(xml: bytes | str) -> BaseMessage:
    """The typed wechatpy message or event of a plaintext WeChat document."""
    root = read_document(xml)
    if not root.findtext("MsgType") or not root.findtext("FromUserName"):
        raise MalformedBody("The message has no MsgType or FromUserName.")
    try:
        return wechatpy_parse_message(xml.decode() if isinstance(xml, bytes) else xml)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise MalformedBody("The message's fields do not have WeChat's shape.") from None


def customer_text(message: BaseMessage) -> str | None:
    """What the customer said, as text for the bot and the agent (markers in
    Chinese: an English word in them could switch the conversation's
    language); None for
    a message with no words (an image, a voice WeChat could not recognise,
    a type we do not read)."""
    match message:
        case TextMessage():
            return message.content
        case VoiceMessage():
            return (message.recognition or "").strip() or None
        case LocationMessage():
            place = f"({message.location_x}, {message.location_y})"
            return f"[位置] {message.label or ''} {place}"
        case LinkMessage():
            link = f"{message.title or ''} {message.url or ''}\n{message.description or ''}"
            return f"[链接] {link.strip()}"
    return None


def dedupe_key(message: BaseMessage) -> str:
    """What WeChat's retries of one delivery share: the MsgId of a message,
    the sender and creation time of an event (events have no MsgId)."""
    raw = message._data  # the fields as they came, before wechatpy converts them
    if raw.get("MsgId"):
        return f"{raw.get('FromUserName')}:msg:{raw['MsgId']}"
    return f"{raw.get('FromUserName')}:event:{raw.get('CreateTime')}"
