"""What Rasa hands an output channel, read in one place for every channel.

Rasa calls `send_response(recipient_id, message)` with `BotUttered.message()`:
`{text, buttons, image, ..., timestamp, **metadata}`. A message an agent wrote
carries `agent_id`, `agent_name`, `agent_avatar`, `ticket_id`, `message_id`;
the bridge's courtesy notices carry `handoff_state`. Channels that speak to a
platform outside a request (Telegram, app callbacks) need all of it at once,
which Rasa's split into `send_text_message`/`send_text_with_buttons` loses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self


class Sender(StrEnum):
    BOT = "bot"
    AGENT = "agent"


@dataclass(frozen=True)
class Agent:
    name: str
    avatar: str | None


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class OutgoingMessage:
    text: str
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    # Set only on what a person wrote in the console.
    agent: Agent | None = None
    # "connected", "released" or "resolved" on the bridge's notices.
    handoff_state: str | None = None
    timestamp: float | None = None

    @classmethod
    def from_rasa(cls, message: Mapping[str, Any]) -> Self:
        agent = None
        if message.get("agent_id") is not None:
            agent = Agent(
                name=str(message.get("agent_name") or "").strip() or "Agent",
                avatar=message.get("agent_avatar") or None,
            )
        buttons = tuple(
            Button(title=str(button.get("title") or button["payload"]), payload=button["payload"])
            for button in [*(message.get("buttons") or []), *(message.get("quick_replies") or [])]
            if isinstance(button, dict) and isinstance(button.get("payload"), str)
        )
        timestamp = message.get("timestamp")
        return cls(
            text=str(message.get("text") or ""),
            buttons=buttons,
            image=message.get("image") or None,
            agent=agent,
            handoff_state=message.get("handoff_state") or None,
            timestamp=float(timestamp) if isinstance(timestamp, int | float) else None,
        )

    @property
    def sender(self) -> Sender:
        return Sender.AGENT if self.agent else Sender.BOT
