"""Tickets in the database: get, create, list, the one status transition
function, claims, history and notes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff import events
from handoff.agents.models import Agent
from handoff.clock import utcnow
from handoff.db import storable
from handoff.errors import AlreadyClaimed, Conflict, InvalidInput, InvalidTransition, NotFound
from handoff.tickets.enums import (
    OPEN_STATUSES,
    TRANSITIONS,
    WAITING_STATUSES,
    Priority,
    TicketStatus,
)
from handoff.tickets.models import Attachment, Ticket, TicketEvent, TicketIn, TicketNote

# The timestamp each status stamps when a ticket enters it.
STATUS_TIMESTAMPS = {
    TicketStatus.IN_PROGRESS: "assigned_at",
    TicketStatus.RESOLVED: "resolved_at",
    TicketStatus.CLOSED: "closed_at",
    TicketStatus.REOPENED: "reopened_at",
}
LIST_FILTERS = ("status", "category", "priority", "channel", "conversation_id", "assignee_id")
MAX_PAGE = 200

_WAITING = [status.value for status in WAITING_STATUSES]
_URGENT_FIRST = case((Ticket.priority == Priority.URGENT.value, 0), else_=1)


def actor_name(agent: Agent | None) -> str:
    return "service" if agent is None else f"agent:{agent.username}"


async def get(db: AsyncSession, *, ticket_id: int, for_update: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id).execution_options(populate_existing=True)
    if for_update:
        query = query.with_for_update(of=Ticket)
    ticket = (await db.execute(query)).unique().scalar_one_or_none()
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


async def create(db: AsyncSession, *, data: TicketIn, live: bool = False) -> Ticket:
    now = utcnow()
    ticket = Ticket(
        conversation_id=data.conversation_id,
        channel=data.channel,
        customer_name=data.customer.name,
        customer_contact=data.customer.contact,
        title=data.title,
        description=data.description,
        category=data.category.value,
        priority=data.priority.value,
        language=data.language,
        order_id=data.order_id,
        handoff_reason=data.handoff_reason.value if data.handoff_reason else None,
        source=data.source,
        skill_group=data.category.value,
        status=TicketStatus.PENDING.value,
        live=live,
        queued_at=now if live else None,
        last_customer_message_at=now if live else None,
        context=data.context,
        created_at=now,
        updated_at=now,
    )
    db.add(ticket)
    await db.flush()
    await db.refresh(ticket)
    return ticket


async def list_tickets(
    db: AsyncSession,
    *,
    filters: dict[str, Any] | None = None,
    live: bool | None = None,
    created_from: datetime | None = None,
    created_until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Ticket], int]:
    query = select(Ticket)
    for name, value in (filters or {}).items():
        if name not in LIST_FILTERS:
            raise InvalidInput(f"Unknown filter {name!r}; use one of {', '.join(LIST_FILTERS)}.")
        column = getattr(Ticket, name)
        values = value if isinstance(value, list | tuple) else [value]
        if unstorable := [v for v in values if isinstance(v, str) and not storable(v)]:
            raise InvalidInput(f"{name} {unstorable[0]!r} holds NUL, which no ticket can.")
        query = query.where(column.in_(values))
    if live is not None:
        query = query.where(Ticket.live.is_(live))
    if created_from is not None:
        query = query.where(Ticket.created_at >= created_from)
    if created_until is not None:
        query = query.where(Ticket.created_at < created_until)
    total = (await db.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await db.execute(
        query.order_by(Ticket.id.desc()).limit(min(max(limit, 1), MAX_PAGE)).offset(max(offset, 0))
    )
    return list(rows.unique().scalars()), total


async def open_ticket_for(db: AsyncSession, *, conversation_id: str) -> Ticket | None:
    """The conversation's newest unresolved ticket, which a new handoff reuses."""
    query = (
        select(Ticket)
        .where(Ticket.conversation_id == conversation_id)
        .where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(Ticket.id.desc())
        .limit(1)
    )
    return (await db.execute(query)).unique().scalar_one_or_none()


async def live_tickets_for(db: AsyncSession, *, conversation_ids: set[str]) -> dict[str, Ticket]:
    """The live ticket of each of these conversations that has one."""
    conversation_ids = {id_ for id_ in conversation_ids if storable(id_)}
    query = (
        select(Ticket)
        .where(Ticket.conversation_id.in_(conversation_ids), Ticket.live.is_(True))
        .order_by(Ticket.id)
    )
    return {
        ticket.conversation_id: ticket for ticket in (await db.execute(query)).unique().scalars()
    }


async def waiting_queue(db: AsyncSession, *, unoffered_only: bool = False) -> list[Ticket]:
    """Live conversations waiting for an agent, in the order they are served."""
    query = select(Ticket).where(Ticket.live.is_(True), Ticket.status.in_(_WAITING))
    if unoffered_only:
        query = query.where(Ticket.offered_to_id.is_(None))
    query = query.order_by(_URGENT_FIRST, Ticket.queued_at, Ticket.id)
    return list((await db.execute(query)).unique().scalars())


async def queue_position(db: AsyncSession, *, ticket: Ticket) -> int:
    """1 for the next conversation to be served."""
    ahead = and_(
        Ticket.live.is_(True),
        Ticket.status.in_(_WAITING),
        Ticket.id != ticket.id,
        or_(
            (0 if ticket.priority == Priority.URGENT else 1) > _URGENT_FIRST,
            and_(
                (0 if ticket.priority == Priority.URGENT else 1) == _URGENT_FIRST,
                Ticket.queued_at <= ticket.queued_at,
            ),
        ),
    )
    return (await db.execute(select(func.count()).where(ahead))).scalar_one() + 1


async def average_handling_seconds(db: AsyncSession, *, default: float, sample: int = 100) -> float:
    recent = (
        select(Ticket.assigned_at, Ticket.resolved_at)
        .where(Ticket.assigned_at.is_not(None), Ticket.resolved_at.is_not(None))
        .order_by(Ticket.resolved_at.desc())
        .limit(sample)
    )
    spans = [
        (resolved - assigned).total_seconds()
        for assigned, resolved in (await db.execute(recent)).all()
        if resolved >= assigned
    ]
    return sum(spans) / len(spans) if spans else default


def record(
    db: AsyncSession,
    *,
    ticket: Ticket,
    name: str,
    actor: str,
    agent_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    **details: Any,
) -> TicketEvent:
    """Appends one row to the ticket's history."""
    event = TicketEvent(
        ticket_id=ticket.id,
        at=utcnow(),
        name=name,
        actor=actor,
        agent_id=agent_id,
        from_status=from_status,
        to_status=to_status,
        details={key: value for key, value in details.items() if value is not None},
    )
    db.add(event)
    return event


def check_transition(ticket: Ticket, to: TicketStatus) -> TicketStatus:
    """The ticket's current status, if `to` may follow it; else a 409."""
    current = TicketStatus(ticket.status)
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        raise InvalidTransition(
            f"Ticket {ticket.id} is {current}; it can move to: {allowed}.",
            status=current.value,
            requested=to.value,
        )
    return current


async def transition(
    db: AsyncSession,
    *,
    ticket: Ticket,
    to: TicketStatus,
    actor: str,
    agent_id: int | None = None,
    comment: str | None = None,
) -> None:
    """The only place a ticket's status changes: checks the move is allowed,
    stamps its timestamp and writes the history row. The UPDATE is
    conditional on the status read, so two concurrent moves cannot both win."""
    current = check_transition(ticket, to)
    now = utcnow()
    values: dict[str, Any] = {"status": to.value, "updated_at": now}
    if stamp := STATUS_TIMESTAMPS.get(to):
        values[stamp] = now
    if to in WAITING_STATUSES or to is TicketStatus.RESOLVED or to is TicketStatus.CLOSED:
        values["offered_to_id"] = None
        values["offered_at"] = None
    if to is TicketStatus.PENDING:
        values["assignee_id"] = None
    result = await db.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == current.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InvalidTransition(f"Ticket {ticket.id} changed meanwhile; reload it.")
    await db.refresh(ticket)
    record(
        db,
        ticket=ticket,
        name=events.TICKET_STATUS_CHANGED,
        actor=actor,
        agent_id=agent_id,
        from_status=current.value,
        to_status=to.value,
        comment=comment,
    )


async def claim(db: AsyncSession, *, ticket: Ticket, agent: Agent) -> None:
    """Makes `agent` the assignee if the ticket is still waiting, and still
    held by whoever held it when the claim was authorised (a reopened ticket
    keeps its assignee). A single conditional UPDATE decides races: exactly
    one claimant sees a row change."""
    now = utcnow()
    held_by = (
        Ticket.assignee_id.is_(None)
        if ticket.assignee_id is None
        else Ticket.assignee_id == ticket.assignee_id
    )
    result = await db.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status.in_(_WAITING), held_by)
        .values(
            status=TicketStatus.IN_PROGRESS.value,
            assignee_id=agent.id,
            assigned_at=now,
            offered_to_id=None,
            offered_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        current = await get(db, ticket_id=ticket.id)
        holder = current.assignee.display_name if current.assignee else None
        raise AlreadyClaimed(
            f"{holder} has already taken this conversation."
            if holder
            else f"Ticket {ticket.id} is {current.status} and cannot be claimed.",
            assignee=holder,
        )
    previous = ticket.status
    agent.last_assigned_at = now
    await db.refresh(ticket)
    record(
        db,
        ticket=ticket,
        name=events.TICKET_ASSIGNED,
        actor=actor_name(agent),
        agent_id=agent.id,
        from_status=previous,
        to_status=TicketStatus.IN_PROGRESS.value,
    )


async def offer(db: AsyncSession, *, ticket: Ticket, agent: Agent) -> bool:
    """Reserves a waiting ticket for one agent until they accept or time out."""
    now = utcnow()
    result = await db.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket.id,
            Ticket.status.in_(_WAITING),
            Ticket.offered_to_id.is_(None),
        )
        .values(offered_to_id=agent.id, offered_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    ticket.offered_to_id, ticket.offered_at = agent.id, now
    record(db, ticket=ticket, name=events.TICKET_OFFERED, actor="system", agent_id=agent.id)
    return True


async def rate(db: AsyncSession, *, ticket: Ticket, score: int | None, comment: str | None) -> None:
    """Stores the survey's answer; a conditional UPDATE, so that of two
    answers sent at once exactly one is kept."""
    result = await db.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.csat_at.is_(None))
        .values(csat_score=score, csat_comment=comment, csat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"Ticket {ticket.id} already has a CSAT result.")
    await db.refresh(ticket)


async def add_note(
    db: AsyncSession, *, ticket: Ticket, agent: Agent | None, text: str
) -> TicketNote:
    note = TicketNote(
        ticket_id=ticket.id,
        agent_id=agent.id if agent else None,
        author=agent.display_name if agent else "service",
        text=text,
        created_at=utcnow(),
    )
    db.add(note)
    record(
        db,
        ticket=ticket,
        name=events.TICKET_NOTE_ADDED,
        actor=actor_name(agent),
        agent_id=agent.id if agent else None,
    )
    await db.flush()
    return note


async def history(db: AsyncSession, *, ticket_id: int) -> Sequence[TicketEvent]:
    rows = await db.execute(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    )
    return rows.scalars().all()


async def notes(db: AsyncSession, *, ticket_id: int) -> Sequence[TicketNote]:
    rows = await db.execute(
        select(TicketNote).where(TicketNote.ticket_id == ticket_id).order_by(TicketNote.id)
    )
    return rows.scalars().all()


# --- attachments ----------------------------------------------------------------------


async def attachment_ticket(db: AsyncSession, *, conversation_id: str) -> Ticket | None:
    """Where a customer's file goes: the conversation's live ticket, else its
    newest open one."""
    if not storable(conversation_id):
        return None
    live = await live_tickets_for(db, conversation_ids={conversation_id})
    return live.get(conversation_id) or await open_ticket_for(db, conversation_id=conversation_id)


async def add_attachment(db: AsyncSession, *, ticket: Ticket, **fields: Any) -> Attachment:
    attachment = Attachment(ticket_id=ticket.id, created_at=utcnow(), **fields)
    db.add(attachment)
    await db.flush()
    return attachment


async def get_attachment(db: AsyncSession, *, attachment_id: int) -> Attachment:
    attachment = await db.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(f"Attachment {attachment_id} does not exist.")
    return attachment


async def attachments(db: AsyncSession, *, ticket_id: int) -> Sequence[Attachment]:
    rows = await db.execute(
        select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id)
    )
    return rows.scalars().all()
