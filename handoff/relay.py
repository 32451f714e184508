"""The customer's side of a live conversation: Rasa's event broker posts
every tracker event here, and the ones that belong to a conversation in
the agents' hands go out to the console.

Brokers retry, so events are de-duplicated on their identity.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC
from typing import Any

from handoff import events
from handoff.clock import isoformat, utcnow
from handoff.events import EventBus
from handoff.tickets.flows import TicketFlows
from handoff.tickets.models import Ticket

SEEN_CAPACITY = 50_000
RELAYED_TYPES = frozenset({"user", "bot"})


class CustomerRelay:
    def __init__(
        self,
        *,
        flows: TicketFlows,
        bus: EventBus,
        on_customer_activity: Callable[[int], None],
    ) -> None:
        self._flows = flows
        self._bus = bus
        self._on_customer_activity = on_customer_activity
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.duplicates = 0

    async def receive(self, rasa_events: list[dict[str, Any]]) -> int:
        """Returns how many events were relayed to agents."""
        wanted = []
        for event in rasa_events:
            if event.get("event") not in RELAYED_TYPES or not event.get("sender_id"):
                continue
            if self._already_seen(event):
                self.duplicates += 1
                continue
            metadata = event.get("metadata") or {}
            if event["event"] == "bot" and metadata.get("agent_id") is not None:
                continue  # the agent's own message; the flows announced it
            wanted.append(event)
        if not wanted:
            return 0
        # One query per batch: most events belong to conversations with the bot.
        live = await self._flows.live_tickets({str(event["sender_id"]) for event in wanted})
        relayed = 0
        for event in wanted:
            ticket = live.get(str(event["sender_id"]))
            if ticket is None or _before_handoff(event, ticket):
                continue
            relayed += 1
            if event["event"] == "user":
                self._on_customer_activity(ticket.id)
                self._bus.publish(events.MESSAGE_FROM_CUSTOMER, _message(event, ticket))
            else:
                self._bus.publish(events.MESSAGE_FROM_BOT, _message(event, ticket))
        return relayed

    def _already_seen(self, event: dict[str, Any]) -> bool:
        key = _identity(event)
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > SEEN_CAPACITY:
            self._seen.popitem(last=False)
        return False


def _before_handoff(event: dict[str, Any], ticket: Ticket) -> bool:
    """Rasa saves the message that asked for a human after the handoff
    action ran; the agent reads it in the transcript, not as news."""
    timestamp = event.get("timestamp")
    if timestamp is None or ticket.queued_at is None:
        return False
    return float(timestamp) < ticket.queued_at.replace(tzinfo=UTC).timestamp()


def _identity(event: dict[str, Any]) -> str:
    message_id = event.get("message_id") or (event.get("metadata") or {}).get("message_id")
    return "|".join(
        str(part)
        for part in (event.get("sender_id"), event.get("event"), event.get("timestamp"), message_id)
    )


def _message(event: dict[str, Any], ticket: Ticket) -> dict[str, Any]:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    return {
        "ticket_id": ticket.id,
        # Whose console shows it: the assignee, or the agent it is offered to.
        "owner_id": ticket.assignee_id or ticket.offered_to_id,
        "conversation_id": str(event["sender_id"]),
        "message_id": event.get("message_id"),
        "sender": "customer" if event["event"] == "user" else "bot",
        "text": event.get("text") or "",
        "intent": intent.get("name"),
        "confidence": intent.get("confidence"),
        "sent_at": event.get("timestamp"),
        "at": isoformat(utcnow()),
    }
