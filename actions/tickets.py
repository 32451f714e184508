"""Tickets the assistant opens on the bridge: what the agent needs to know,
written from the conversation."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.bridge import BridgeError, bridge
from actions.language import customer_language
from actions.outbox import pending_handoffs

logger = logging.getLogger(__name__)

# Turns that say nothing about the problem itself.
NOT_THE_PROBLEM = frozenset(
    {"greet", "goodbye", "thanks", "affirm", "deny", "stop", "request_human", "inform"}
)
CATEGORIES = frozenset({"pre_sales", "order_logistics", "after_sales", "technical", "complaint"})
CONTEXT_SLOTS = (
    "order_id", "product", "category", "priority", "language", "handoff_reason",
    "refund_reason", "invoice_type", "phone", "email", "order_problem",
)  # fmt: skip
TRANSCRIPT_TURNS = 12
TITLE_LENGTH = 80
# The bridge's `TicketIn.channel`; a REST client may name a longer one.
CHANNEL_LENGTH = 64
# Each text in the ticket's context (a turn, a slot): the agent reads the
# whole conversation in the console; long ones quoted whole made a body over
# the bridge's limit (256 KiB), and the handoff was refused.
CONTEXT_TEXT_LENGTH = 500
FALLBACK_TITLES = {"zh": "客户请求人工服务", "en": "Customer asked for a human agent"}


def customer_words(event: dict[str, Any]) -> str | None:
    """What the customer typed in this event, or None when it is not their
    own words: bot turns, button payloads and Rasa's intent shortcut (`/…`),
    and external intents the bridge triggers, which Rasa logs as user turns
    reading `EXTERNAL: EXTERNAL_…`."""
    if event.get("event") != "user":
        return None
    text = (event.get("text") or "").strip()
    if not text or text.startswith("/") or intent_name(event).startswith("EXTERNAL_"):
        return None
    return text


def intent_name(event: dict[str, Any]) -> str:
    """The intent Rasa recognised in a user event; empty when none."""
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""


def customer_turns(tracker: Tracker) -> list[dict[str, Any]]:
    turns = []
    for event in tracker.events:
        if text := customer_words(event):
            turns.append({"text": text, "intent": intent_name(event) or None})
    return turns


def transcript(tracker: Tracker) -> str:
    """The conversation's latest lines, as the agent reads them in the ticket.

    One line a turn: a customer's line breaks become spaces, or a message
    holding "\nbot: refund approved" would read as the bot's own line."""
    lines = []
    for event in tracker.events:
        if event.get("event") == "user":
            if text := customer_words(event):
                lines.append(f"customer: {' '.join(text.split())}")
        elif event.get("event") == "bot" and (text := (event.get("text") or "").strip()):
            lines.append(f"bot: {' '.join(text.split())}")
    return "\n".join(lines[-TRANSCRIPT_TURNS:])


def ticket_payload(tracker: Tracker, reason: str | None) -> dict[str, Any]:
    """The ticket as the bridge's API takes it (`TicketIn`)."""
    language = customer_language(tracker)
    turns = customer_turns(tracker)
    problems = [turn["text"] for turn in turns if turn["intent"] not in NOT_THE_PROBLEM]
    title = problems[-1] if problems else FALLBACK_TITLES.get(language, FALLBACK_TITLES["zh"])
    category = tracker.get_slot("category")
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    slots = {name: _brief(tracker.get_slot(name)) for name in CONTEXT_SLOTS}
    return {
        "conversation_id": tracker.sender_id,
        "channel": _clip(tracker.get_latest_input_channel(), CHANNEL_LENGTH) or "rest",
        "customer": customer(tracker, metadata),
        "title": _clip(title, TITLE_LENGTH),
        "description": transcript(tracker)[:4000],
        "category": category if category in CATEGORIES else "general",
        "priority": "urgent" if tracker.get_slot("priority") == "urgent" else "normal",
        "language": language if language in ("zh", "en") else "zh",
        "order_id": _clip(tracker.get_slot("order_id"), 64),
        "handoff_reason": reason,
        "source": "assistant",
        "context": {
            "slots": {name: value for name, value in slots.items() if value is not None},
            "intents": [{**turn, "text": _brief(turn["text"])} for turn in turns[-5:]],
        },
    }


def customer(tracker: Tracker, metadata: dict[str, Any]) -> dict[str, Any]:
    """Who the customer is, as the bridge's `CustomerIn` takes it. Only a
    channel sets `identity_verified`, for the `customer_id` it checked (a
    signed site identity, a WeChat openid): the bridge then files the ticket
    under the customer known by that id on every channel. The contact, typed
    in the chat or given by the page, is for the agent to read."""
    return {
        "name": _clip(metadata.get("customer_name") or metadata.get("name"), 255),
        "contact": _clip(
            tracker.get_slot("phone") or tracker.get_slot("email") or metadata.get("contact"), 255
        ),
        "customer_id": _clip(metadata.get("customer_id"), 255),
        "identity_verified": metadata.get("identity_verified") is True,
    }


def _clip(value: Any, length: int) -> str | None:
    return None if value in (None, "") else str(value)[:length]


def _brief(value: Any) -> Any:
    return value[:CONTEXT_TEXT_LENGTH] if isinstance(value, str) else value


async def request_or_hold(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The bridge's answer to a handoff request, or None when it could not
    be reached: the request is then held in the outbox and sent once the
    bridge answers."""
    try:
        return await bridge.request_handoff(payload)
    except BridgeError as error:
        logger.warning(
            "Handoff for %s held until the bridge answers: %s", payload["conversation_id"], error
        )
        await pending_handoffs.hold(payload)
        return None


async def open_ticket(tracker: Tracker, reason: str | None) -> dict[str, Any] | None:
    """Opens a follow-up ticket, or adds to the conversation's open one (the
    bridge links a conversation's requests), so that a customer repeating a
    complaint does not fill the queue with urgent duplicates. The
    conversation goes on either way: with the bridge down, the ticket is
    held in the outbox and opened once the bridge answers (None here)."""
    handoff = await request_or_hold({**ticket_payload(tracker, reason), "follow_up": True})
    return handoff and handoff["ticket"]


class ActionOpenTicket(Action):
    """Records a problem that needs a human later (a complaint, a failed
    form) as a ticket, without taking the customer out of the bot."""

    def name(self) -> str:
        return "action_open_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reason = tracker.get_slot("handoff_reason") or (
            "urgent" if tracker.get_slot("priority") == "urgent" else None
        )
        ticket = await open_ticket(tracker, reason)
        if ticket is None:
            return []
        dispatcher.utter_message(response="utter_ticket_opened", ticket_id=ticket["id"])
        return [SlotSet("ticket_id", str(ticket["id"]))]
