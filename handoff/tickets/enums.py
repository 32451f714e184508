from __future__ import annotations

from enum import StrEnum


class TicketStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


# The only moves a ticket may make; anything else is refused with a 409.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.PENDING: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
    TicketStatus.IN_PROGRESS: frozenset({TicketStatus.PENDING, TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.REOPENED}),
    TicketStatus.CLOSED: frozenset({TicketStatus.REOPENED}),
    TicketStatus.REOPENED: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED}
    ),
}

OPEN_STATUSES = frozenset({TicketStatus.PENDING, TicketStatus.IN_PROGRESS, TicketStatus.REOPENED})
# A reopened ticket waits for an agent just like a new one.
WAITING_STATUSES = frozenset({TicketStatus.PENDING, TicketStatus.REOPENED})


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Category(StrEnum):
    """The assistant's `category` slot values; they double as skill groups."""

    PRE_SALES = "pre_sales"
    ORDER_LOGISTICS = "order_logistics"
    AFTER_SALES = "after_sales"
    TECHNICAL = "technical"
    COMPLAINT = "complaint"
    GENERAL = "general"


class HandoffReason(StrEnum):
    ASKED = "asked"
    FALLBACK = "fallback"
    URGENT = "urgent"
    FORM_FAILURE = "form_failure"
