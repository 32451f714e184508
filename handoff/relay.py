"""The customer's side of a live conversation: Rasa's event broker posts
every tracker event here, and the ones that belong to a conversation in
the agents' hands go out to the console.

Brokers retry, so events are de-duplicated on their identity.

Nearly every event belongs to a conversation with the bot. The relay keeps
the set of conversations in the agents' hands, loaded once and then kept
by the bus's ticket events (every instance's), so those events cost no
database round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC
from typing import Any

from handoff import events
from handoff.clock import isoformat, utcnow
from handoff.cluster import RelayLog
from handoff.events import EventBus
from handoff.tickets.flows import TicketFlows
from handoff.tickets.models import Ticket

RELAYED_TYPES = frozenset({"user", "bot"})


class CustomerRelay:
    def __init__(
        self,
        *,
        flows: TicketFlows,
        bus: EventBus,
        relayed: RelayLog,
        on_customer_activity: Callable[[int], None],
    ) -> None:
        self._flows = flows
        self._bus = bus
        self._relayed = relayed
        self._on_customer_activity = on_customer_activity
        # The live tickets of each conversation that has any; None until loaded.
        self._live: dict[str, set[int]] | None = None
        # Ticket changes heard while a load was running, applied after it.
        self._heard_during_load: list[tuple[str, int, bool]] | None = None
        self._loading = asyncio.Lock()
        bus.subscribe(self._hear)
        self.duplicates = 0

    async def load_live(self) -> None:
        """Reads which conversations are live (at start, and now and then to
        heal anything a missed ticket event left wrong)."""
        async with self._loading:
            self._heard_during_load = []
            try:
                live: dict[str, set[int]] = {}
                for conversation_id, ticket_id in await self._flows.live_ticket_ids():
                    live.setdefault(conversation_id, set()).add(ticket_id)
                for change in self._heard_during_load:
                    _apply(live, *change)
                self._live = live
            finally:
                self._heard_during_load = None

    async def receive(self, rasa_events: list[dict[str, Any]]) -> int:
        """Returns how many events were relayed to agents."""
        wanted = []
        for event in rasa_events:
            if event.get("event") not in RELAYED_TYPES or not event.get("sender_id"):
                continue
            if self._live is not None and str(event["sender_id"]) not in self._live:
                continue
            metadata = event.get("metadata") or {}
            if event["event"] == "bot" and metadata.get("agent_id") is not None:
                continue  # the agent's own message; the flows announced it
            wanted.append(event)
        if not wanted:
            return 0
        live = await self._flows.live_tickets({str(event["sender_id"]) for event in wanted})
        relayed = 0
        for event in wanted:
            ticket = live.get(str(event["sender_id"]))
            if ticket is None or _before_handoff(event, ticket):
                continue
            if not await self._relayed.first_time(_identity(event)):
                self.duplicates += 1
                continue
            relayed += 1
            if event["event"] == "user":
                self._on_customer_activity(ticket.id)
                self._bus.publish(events.MESSAGE_FROM_CUSTOMER, _message(event, ticket))
            else:
                self._bus.publish(events.MESSAGE_FROM_BOT, _message(event, ticket))
        return relayed

    def _hear(self, name: str, payload: dict[str, Any]) -> None:
        ticket = payload.get("ticket")
        if not isinstance(ticket, dict) or not ticket.get("conversation_id"):
            return
        change = (str(ticket["conversation_id"]), int(ticket["id"]), bool(ticket.get("live")))
        if self._heard_during_load is not None:
            self._heard_during_load.append(change)
        if self._live is not None:
            _apply(self._live, *change)


def _apply(live: dict[str, set[int]], conversation_id: str, ticket_id: int, is_live: bool) -> None:
    tickets = live.setdefault(conversation_id, set())
    (tickets.add if is_live else tickets.discard)(ticket_id)
    if not tickets:
        del live[conversation_id]


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
