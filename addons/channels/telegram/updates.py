"""Telegram updates read into what the connector acts on.

Only private chats are served: a customer-service conversation belongs to
one person, and in a group the bot would answer everyone's questions in
front of everyone. Updates of other kinds (channel posts, membership
changes, group messages) are read as None and acknowledged unprocessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from addons.channels.errors import MalformedBody

START_COMMAND = "/start"
# Kinds of message the bot cannot hear: the customer is asked to type.
SPOKEN = ("voice", "audio", "video_note")


class Kind(StrEnum):
    TEXT = "text"
    START = "start"  # /start: the customer opened the bot
    BUTTON = "button"  # a press on an inline-keyboard button (callback query)
    FILE = "file"  # a photo or a document
    SPOKEN = "spoken"
    UNSUPPORTED = "unsupported"  # stickers, locations, polls...


@dataclass(frozen=True)
class Customer:
    user_id: int
    first_name: str = ""
    last_name: str = ""
    language_code: str | None = None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def language(self) -> str:
        """zh or en, for the channel's own notices; Chinese unless the
        customer's Telegram speaks another language."""
        code = (self.language_code or "zh").lower()
        return "zh" if code.startswith("zh") else "en"

    def identity(self) -> dict[str, Any]:
        """Message metadata for the ticket: Telegram vouches for the user id."""
        return {
            "customer_id": str(self.user_id),
            "customer_name": self.name or None,
            "identity_verified": True,
        }


@dataclass(frozen=True)
class TelegramFile:
    file_id: str
    file_name: str
    content_type: str
    size: int | None


@dataclass(frozen=True)
class Update:
    update_id: int
    kind: Kind
    chat_id: int
    customer: Customer
    # The message written (or edited), or the one whose keyboard was pressed.
    message_id: int
    text: str | None = None
    edited: bool = False
    callback_query_id: str | None = None
    callback_data: str | None = None
    # The keyboard the pressed button belongs to, to tell its title.
    keyboard: dict[str, Any] | None = None
    file: TelegramFile | None = None
    # A photo (Telegram recompresses it, and gives it no name) rather than a document.
    file_is_photo: bool = False


def read_update(body: Any, bot_username: str = "") -> Update | None:
    """The update, or None for one the channel does not serve.

    An edited message is read like a new one (with `edited` set): the bot
    answers the corrected words, and during a handoff the agent sees them.
    """
    if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
        raise MalformedBody("The body must be a Telegram update: a JSON object with an update_id.")
    update_id = body["update_id"]
    try:
        if isinstance(body.get("callback_query"), dict):
            return _callback(update_id, body["callback_query"])
        for key in ("message", "edited_message"):
            if isinstance(body.get(key), dict):
                return _message(update_id, body[key], key == "edited_message", bot_username)
    except (KeyError, TypeError, ValueError):
        raise MalformedBody("The Telegram update lacks a chat or a sender.") from None
    return None


def _customer(user: dict[str, Any]) -> Customer:
    return Customer(
        user_id=int(user["id"]),
        first_name=str(user.get("first_name") or ""),
        last_name=str(user.get("last_name") or ""),
        language_code=user.get("language_code"),
    )


def _private_chat_id(message: dict[str, Any]) -> int | None:
    chat = message["chat"]
    return int(chat["id"]) if chat.get("type") == "private" else None


def _callback(update_id: int, query: dict[str, Any]) -> Update | None:
    message = query.get("message") or {}
    if not message or _private_chat_id(message) is None:
        return None
    return Update(
        update_id=update_id,
        kind=Kind.BUTTON,
        chat_id=_private_chat_id(message),
        customer=_customer(query["from"]),
        message_id=int(message["message_id"]),
        callback_query_id=str(query["id"]),
        callback_data=query.get("data"),
        keyboard=message.get("reply_markup"),
    )


def _message(
    update_id: int, message: dict[str, Any], edited: bool, bot_username: str
) -> Update | None:
    chat_id = _private_chat_id(message)
    if chat_id is None or not isinstance(message.get("from"), dict):
        return None
    fields = {
        "update_id": update_id,
        "chat_id": chat_id,
        "customer": _customer(message["from"]),
        "message_id": int(message["message_id"]),
        "edited": edited,
    }
    text = message.get("text")
    if isinstance(text, str):
        command = text.strip().split(maxsplit=1)[0] if text.strip() else ""
        if command in (START_COMMAND, f"{START_COMMAND}@{bot_username}") and not edited:
            return Update(kind=Kind.START, **fields)
        return Update(kind=Kind.TEXT, text=text, **fields)
    file = _file(message)
    if file:
        return Update(
            kind=Kind.FILE,
            file=file,
            file_is_photo=bool(message.get("photo")),
            text=message.get("caption"),
            **fields,
        )
    if any(key in message for key in SPOKEN):
        return Update(kind=Kind.SPOKEN, **fields)
    return Update(kind=Kind.UNSUPPORTED, **fields)


def _file(message: dict[str, Any]) -> TelegramFile | None:
    if message.get("photo"):
        # Telegram sends each photo in several sizes, the largest last.
        photo = message["photo"][-1]
        return TelegramFile(
            file_id=str(photo["file_id"]),
            file_name=f"photo-{message['message_id']}.jpg",
            content_type="image/jpeg",
            size=photo.get("file_size"),
        )
    document = message.get("document")
    if isinstance(document, dict):
        return TelegramFile(
            file_id=str(document["file_id"]),
            file_name=str(document.get("file_name") or f"file-{message['message_id']}"),
            content_type=str(document.get("mime_type") or "application/octet-stream"),
            size=document.get("file_size"),
        )
    return None
