"""The bot's and agents' messages as Telegram messages: text split to
Telegram's length, the agent's name in bold above their words, and the
bot's buttons as an inline keyboard."""

from __future__ import annotations

import base64
import hashlib
import html
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from addons.channels.outbound import Button, OutgoingMessage

# Telegram's limits: a message's text (after entity parsing) and a button's
# callback_data.
MAX_TEXT_CHARS = 4096
MAX_CALLBACK_DATA_BYTES = 64
# callback_data of our own, never a payload: a short id for a long payload,
# and the one button left on a keyboard once the customer chose.
ID_PREFIX = "#"
CHOSEN = "#chosen"
CHOSEN_MARK = "✓"


class ButtonPayloads:
    """callback_data for button payloads, within Telegram's 64 bytes.

    A payload that fits is sent as it is; a longer one gets a short id
    derived from it, remembered here, and found again among the buttons the
    conversation was offered when another Rasa process (or this one, after a
    restart) sent it (`offered`). What a press sends on is a payload Rasa
    checks itself (addons/rasa_fixes.py takes a shortcut only if the bot
    offered it), so callback_data forged by a client gains nothing.
    """

    def __init__(self, max_payloads: int = 10_000) -> None:
        self._max = max_payloads
        self._long: OrderedDict[str, str] = OrderedDict()

    def callback_data(self, payload: str) -> str:
        if len(payload.encode()) <= MAX_CALLBACK_DATA_BYTES and not payload.startswith(ID_PREFIX):
            return payload
        key = short_id(payload)
        self._long[key] = payload
        self._long.move_to_end(key)
        if len(self._long) > self._max:
            self._long.popitem(last=False)
        return key

    def payload(self, callback_data: str, offered: Iterable[str] = ()) -> str | None:
        """The payload a press stands for: its own, or the one remembered
        for the id, or the one among `offered` the id was made from; None
        for an id of nothing the conversation was offered lately."""
        if not callback_data.startswith(ID_PREFIX):
            return callback_data
        if (payload := self._long.get(callback_data)) is not None:
            return payload
        return next((p for p in offered if short_id(p) == callback_data), None)


def short_id(payload: str) -> str:
    digest = hashlib.blake2b(payload.encode(), digest_size=12).digest()
    return ID_PREFIX + base64.urlsafe_b64encode(digest).decode()


def inline_keyboard(buttons: tuple[Button, ...], payloads: ButtonPayloads) -> dict[str, Any]:
    """One button a row: titles in Chinese or English are long."""
    return {
        "inline_keyboard": [
            [{"text": button.title, "callback_data": payloads.callback_data(button.payload)}]
            for button in buttons
        ]
    }


def chosen_keyboard(title: str) -> dict[str, Any]:
    """What replaces a keyboard once pressed: the choice, marked, inert."""
    return {"inline_keyboard": [[{"text": f"{CHOSEN_MARK} {title}", "callback_data": CHOSEN}]]}


def button_title(keyboard: dict[str, Any] | None, callback_data: str) -> str | None:
    for row in (keyboard or {}).get("inline_keyboard") or []:
        for button in row:
            if isinstance(button, dict) and button.get("callback_data") == callback_data:
                return str(button.get("text") or "")
    return None


def render(message: OutgoingMessage, payloads: ButtonPayloads) -> list[dict[str, Any]]:
    """sendMessage parameters (without chat_id), in order; the keyboard goes
    with the last part. HTML parse mode, so the agent's name can be bold and
    anything they typed stays text."""
    text = message.text
    if message.image:
        text = f"{text}\n{message.image}" if text else message.image
    if not text and not message.buttons:
        return []
    text = text or "…"  # Telegram refuses a message without text, even with buttons
    header = f"{message.agent.name}:\n" if message.agent else ""
    room = MAX_TEXT_CHARS - len(header)
    parts = [text[start : start + room] for start in range(0, len(text), room)]
    sends: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        body = html.escape(part, quote=False)
        if index == 0 and header:
            body = f"<b>{html.escape(header, quote=False)}</b>{body}"
        sends.append({"text": body, "parse_mode": "HTML"})
    if message.buttons:
        sends[-1]["reply_markup"] = inline_keyboard(message.buttons, payloads)
    return sends
