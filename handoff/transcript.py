"""What the console shows of a conversation, read from Rasa's tracker: the
turns (with the intents the bot recognised) and the slots that matter."""

from __future__ import annotations

from typing import Any

from handoff.clock import from_timestamp, isoformat

# Slots the console shows first; the rest follow unless internal.
KEY_SLOTS = ("order_id", "category", "priority", "language", "handoff_reason", "product")
INTERNAL_SLOTS = frozenset({"requested_slot", "session_started_metadata", "misunderstood_in_a_row"})


def turns(tracker: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        if kind == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            name = intent.get("name") or ""
            if name.startswith("EXTERNAL_"):
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
    for event in reversed(tracker.get("events") or []):
        if event.get("event") != "user":
            continue
        text = (event.get("text") or "").strip()
        if text and not text.startswith("/"):
            return text
    return None


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
