"""What the console shows of a conversation, read from Rasa's tracker: the
turns (with the intents the bot recognised) and the slots that matter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handoff.clock import from_timestamp, isoformat
from handoff.errors import NotFound, RasaUnavailable

if TYPE_CHECKING:
    from handoff.rasa import RasaClient
    from handoff.tickets.models import Ticket

# Slots the console shows first; the rest follow unless internal.
KEY_SLOTS = ("order_id", "category", "priority", "language", "handoff_reason", "product")
SAVED_SPEAKERS = frozenset({"customer", "bot"})
INTERNAL_SLOTS = frozenset({"requested_slot", "session_started_metadata", "misunderstood_in_a_row"})
# Tickets whose conversation Rasa holds: the assistant's handoffs, and the
# form's, whose words the form logs there and whose contact's later mails
# continue it (addons/channels/form.py). Others (opened over the API) have
# only what the ticket says.
TRACKED_SOURCES = frozenset({"assistant", "form"})


async def read_conversation(rasa: RasaClient, ticket: Ticket) -> dict[str, Any]:
    """The turns and slots the console shows for a ticket, from Rasa's
    tracker. With Rasa unreachable, what the bridge itself holds: the lines
    the assistant wrote into the ticket at handoff and the slots it sent,
    flagged so the console says so and asks again."""
    tracker: dict[str, Any] = {}
    if ticket.source in TRACKED_SOURCES:
        try:
            tracker = await rasa.tracker(ticket.conversation_id)
        except (RasaUnavailable, NotFound) as error:
            return {
                "transcript": saved_turns(ticket.description or ""),
                "slots": dict((ticket.context or {}).get("slots") or {}),
                "assistant_unreachable": True,
                "rasa_error": error.message,
            }
    return {
        "transcript": turns(tracker),
        "slots": slots(tracker),
        "assistant_unreachable": False,
        "rasa_error": None,
    }


def saved_turns(description: str) -> list[dict[str, Any]]:
    """Turns from a ticket description the assistant wrote (`customer: …`,
    `bot: …` lines, see actions.tickets.transcript); other lines continue the
    turn before them, or stand as the description they are."""
    result: list[dict[str, Any]] = []
    for line in description.splitlines():
        speaker, _, text = line.partition(": ")
        if speaker in SAVED_SPEAKERS and text:
            result.append({"sender": speaker, "text": text, "at": None, "saved": True})
        elif result:
            result[-1]["text"] += "\n" + line
        elif line.strip():
            result.append({"sender": "customer", "text": line, "at": None, "saved": True})
    return result


def turns(tracker: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        if kind == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            name = intent.get("name") or ""
            if _external(name):
                continue
            result.append(
                {
                    "sender": "customer",
                    "message_id": event.get("message_id"),
                    "text": event.get("text") or "",
                    "intent": name or None,
                    "confidence": intent.get("confidence"),
                    "at": _iso(event.get("timestamp")),
                }
            )
        elif kind == "bot":
            metadata = event.get("metadata") or {}
            by_agent = metadata.get("agent_id") is not None
            result.append(
                {
                    "sender": "agent" if by_agent else "bot",
                    "message_id": metadata.get("message_id"),
                    "text": event.get("text") or "",
                    "agent_name": metadata.get("agent_name"),
                    "buttons": [
                        b.get("title") for b in (event.get("data") or {}).get("buttons") or []
                    ],
                    "at": _iso(event.get("timestamp")),
                }
            )
        elif kind in ("pause", "resume"):
            result.append({"sender": "system", "text": kind, "at": _iso(event.get("timestamp"))})
    return result[-limit:]


def slots(tracker: dict[str, Any]) -> dict[str, Any]:
    values = {
        name: value
        for name, value in (tracker.get("slots") or {}).items()
        if value not in (None, [], "") and name not in INTERNAL_SLOTS
    }
    ordered = {name: values.pop(name) for name in KEY_SLOTS if name in values}
    return {**ordered, **dict(sorted(values.items()))}


def latest_customer_text(tracker: dict[str, Any]) -> str | None:
    """The customer's latest own words: what agent assist looks answers up for."""
    for event in reversed(tracker.get("events") or []):
        if event.get("event") != "user":
            continue
        text = (event.get("text") or "").strip()
        if text and not text.startswith("/") and not _external(_intent_name(event)):
            return text
    return None


def _intent_name(event: dict[str, Any]) -> str:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""


def _external(intent_name: str) -> bool:
    """An intent the bridge triggered (Rasa logs it as a user turn), not the customer."""
    return intent_name.startswith("EXTERNAL_")


def agent_reply(
    tracker: dict[str, Any], *, agent_id: int, client_message_id: str
) -> dict[str, Any] | None:
    """The `bot` event of the agent's reply the client named, if Rasa logged it."""
    for event in reversed(tracker.get("events") or []):
        metadata = event.get("metadata") or {}
        if (
            event.get("event") == "bot"
            and metadata.get("client_message_id") == client_message_id
            and metadata.get("agent_id") == agent_id
        ):
            return event
    return None


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else isoformat(from_timestamp(timestamp))
