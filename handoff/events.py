"""Names of everything that happens to a ticket, and the bus that carries
them to the console's websockets (every instance's, through
`handoff.fanout`, when several run).

The names are written into the ticket history, so they are part of the
stored format: add new ones, never rename.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
TICKET_STATUS_CHANGED = "ticket.status_changed"
TICKET_HANDOFF_REQUESTED = "ticket.handoff_requested"
TICKET_OFFERED = "ticket.offered"
TICKET_OFFER_EXPIRED = "ticket.offer_expired"
TICKET_ASSIGNED = "ticket.assigned"
TICKET_REQUEUED = "ticket.requeued"
TICKET_TRANSFERRED = "ticket.transferred"
TICKET_RELEASED = "ticket.released"
TICKET_ABANDONED = "ticket.abandoned"
TICKET_NOTE_ADDED = "ticket.note_added"
TICKET_CSAT_RECORDED = "ticket.csat_recorded"
TICKET_ATTACHMENT_ADDED = "ticket.attachment_added"
MESSAGE_FROM_CUSTOMER = "message.customer"
MESSAGE_FROM_AGENT = "message.agent"
MESSAGE_FROM_BOT = "message.bot"
AGENT_PRESENCE_CHANGED = "agent.presence_changed"
QUEUE_CHANGED = "queue.changed"

Listener = Callable[[str, dict[str, Any]], None]


class EventBus:
    """Fan-out of bridge events to whoever listens (console sockets, the
    relay, tests), and to the other instances when a forwarder is set.

    Listeners are called synchronously and must not block: a console socket
    only puts the event on its own queue.
    """

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()
        self.forward: Listener | None = None

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    def publish(self, name: str, payload: dict[str, Any]) -> None:
        """Something happened here: every instance's listeners hear it."""
        self.deliver(name, payload)
        if self.forward is not None:
            self.forward(name, payload)

    def deliver(self, name: str, payload: dict[str, Any]) -> None:
        """This instance's listeners hear it (another instance published it)."""
        for listener in list(self._listeners):
            try:
                listener(name, payload)
            except Exception:  # one broken listener must not stop the others
                logger.exception("Listener failed on %s", name)


class Mailbox:
    """A bounded queue of events for one console connection."""

    def __init__(self, size: int = 1000) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(size)

    def __call__(self, name: str, payload: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((name, payload))
        except asyncio.QueueFull:
            logger.warning("Console connection is not reading; dropped %s", name)
