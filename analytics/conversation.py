"""Folds one customer's tracker events into conversations and messages.

A conversation is one Rasa session: a `session_started` event begins the
next one. Pure logic over event dicts; the ingester feeds it rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FALLBACK_ACTIONS = frozenset(
    {"action_clarify", "action_core_fallback", "action_default_fallback", "utter_rephrase"}
)
FALLBACK_INTENTS = frozenset({"nlu_fallback"})
OUT_OF_SCOPE_INTENTS = frozenset({"out_of_scope"})
HANDOFF_ACTION = "action_request_human"
# An FAQ answer below this confidence is a clarifying question, not an answer
# (actions/faq.py's ANSWER_CONFIDENCE).
FAQ_ANSWER_CONFIDENCE = 0.5
TRACKED_SLOTS = ("language", "category", "priority", "handoff_reason")
TEXT_LIMIT = 500


@dataclass
class Message:
    """A customer's message (the bot's and agents' are only counted)."""

    conversation: str
    at: float
    intent: str | None = None
    confidence: float | None = None
    faq_key: str | None = None
    faq_confidence: float | None = None
    text: str | None = None
    fallback: bool = False
    unanswered: bool = False
    response_seconds: float | None = None


@dataclass
class Conversation:
    key: str
    sender_id: str
    started_at: float
    ended_at: float
    channel: str | None = None
    language: str | None = None
    category: str | None = None
    priority: str = "normal"
    customer_messages: int = 0
    bot_messages: int = 0
    agent_messages: int = 0
    handoff: bool = False
    handoff_reason: str | None = None
    escalated: bool = False
    abandoned: bool = False
    fallbacks: int = 0
    messages: list[Message] = field(default_factory=list)


class ConversationFolder:
    """Feed it one sender's events in order; it yields finished conversations."""

    def __init__(self, sender_id: str) -> None:
        self.sender_id = sender_id
        self._current: Conversation | None = None
        # The latest customer message until the bot's first action on it,
        # and until the bot's first reply to it.
        self._awaiting_action: Message | None = None
        self._awaiting_reply: Message | None = None
        self._active_loop: str | None = None
        self._paused = False
        self._agent_since_pause = False
        self._reason_pending = False

    def feed(
        self, event_id: int, kind: str, at: float, event: dict[str, Any]
    ) -> Iterator[Conversation]:
        if kind == "session_started":
            if self._current is not None and self._has_messages(self._current):
                yield self._finish()
            return
        conversation = self._current or self._start(event_id, at)
        conversation.ended_at = max(conversation.ended_at, at)
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(conversation, at, event)

    def close(self) -> Iterator[Conversation]:
        if self._current is not None and self._has_messages(self._current):
            yield self._finish()
        self._current = None

    # --- event handlers -------------------------------------------------------

    def _on_user(self, conversation: Conversation, at: float, event: dict[str, Any]) -> None:
        parse = event.get("parse_data") or {}
        intent = parse.get("intent") or {}
        name = intent.get("name")
        if name and name.startswith("EXTERNAL_"):
            return
        faq = parse.get("faq") or {}
        message = Message(
            conversation=conversation.key,
            at=at,
            intent=name,
            confidence=_number(intent.get("confidence")),
            faq_key=faq.get("key") if name == "faq" else None,
            faq_confidence=_number(faq.get("confidence")) if name == "faq" else None,
            text=(event.get("text") or "")[:TEXT_LIMIT],
            fallback=name in FALLBACK_INTENTS,
        )
        message.unanswered = (
            message.fallback
            or name in OUT_OF_SCOPE_INTENTS
            or (name == "faq" and (message.faq_confidence or 0) < FAQ_ANSWER_CONFIDENCE)
        )
        conversation.channel = conversation.channel or event.get("input_channel")
        conversation.customer_messages += 1
        conversation.messages.append(message)
        self._awaiting_action = self._awaiting_reply = message

    def _on_bot(self, conversation: Conversation, at: float, event: dict[str, Any]) -> None:
        metadata = event.get("metadata") or {}
        if metadata.get("agent_id") is not None:
            conversation.agent_messages += 1
            self._agent_since_pause = True
        else:
            conversation.bot_messages += 1
            if self._awaiting_reply is not None:
                self._awaiting_reply.response_seconds = max(at - self._awaiting_reply.at, 0.0)
                self._awaiting_reply = None

    def _on_action(self, conversation: Conversation, at: float, event: dict[str, Any]) -> None:
        name = event.get("name")
        if name in (None, "action_listen", "action_session_start", "action_extract_slots"):
            return
        message = self._awaiting_action
        if message is not None:
            if name in FALLBACK_ACTIONS:
                message.fallback = message.unanswered = True
            if message.fallback:
                conversation.fallbacks += 1
            self._awaiting_action = None
        if name == HANDOFF_ACTION:
            conversation.handoff = True
            self._reason_pending = True

    def _on_slot(self, conversation: Conversation, at: float, event: dict[str, Any]) -> None:
        name, value = event.get("name"), event.get("value")
        if name == "language" and value:
            conversation.language = value
        elif name == "category" and value:
            conversation.category = value
        elif name == "priority" and value == "urgent":
            conversation.priority = "urgent"
        elif name == "handoff_reason" and value and self._reason_pending:
            conversation.handoff_reason = value
            self._reason_pending = False

    def _on_active_loop(self, conversation: Conversation, at: float, event: dict[str, Any]) -> None:
        self._active_loop = event.get("name")

    def _on_pause(self, conversation: Conversation, at: float, event: dict[str, Any]) -> None:
        conversation.escalated = True
        self._paused, self._agent_since_pause = True, False

    def _on_resume(self, conversation: Conversation, at: float, event: dict[str, Any]) -> None:
        self._paused = False

    # --- helpers ----------------------------------------------------------------

    def _start(self, event_id: int, at: float) -> Conversation:
        self._current = Conversation(
            key=f"{self.sender_id}#{event_id}", sender_id=self.sender_id, started_at=at, ended_at=at
        )
        self._awaiting_action = self._awaiting_reply = None
        self._active_loop = None
        self._paused = self._agent_since_pause = self._reason_pending = False
        return self._current

    def _finish(self) -> Conversation:
        conversation = self._current
        assert conversation is not None
        if conversation.handoff and conversation.handoff_reason is None:
            conversation.handoff_reason = "asked"
        # Left mid-form, or left while waiting for an agent who never wrote.
        conversation.abandoned = bool(self._active_loop) or (
            self._paused and not self._agent_since_pause
        )
        self._current = None
        return conversation

    @staticmethod
    def _has_messages(conversation: Conversation) -> bool:
        return bool(conversation.customer_messages or conversation.bot_messages)


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
