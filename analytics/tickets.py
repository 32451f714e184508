"""Reads the handoff bridge's ticket database (tables `tickets`, `agents`,
`ticket_events`) for the service, agent and satisfaction reports.

The columns read are declared here rather than imported from the bridge:
the analytics depend on the stored format, not on the bridge's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from analytics.errors import SourceError
from analytics.period import Period

_metadata = MetaData()
tickets = Table(
    "tickets",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", String),
    Column("channel", String),
    Column("category", String),
    Column("priority", String),
    Column("language", String),
    Column("status", String),
    Column("handoff_reason", String),
    Column("assignee_id", Integer),
    Column("created_at", DateTime),
    Column("queued_at", DateTime),
    Column("assigned_at", DateTime),
    Column("first_response_at", DateTime),
    Column("resolved_at", DateTime),
    Column("abandoned_at", DateTime),
    Column("csat_score", SmallInteger),
    Column("csat_comment", Text),
    Column("csat_at", DateTime),
)
agents = Table(
    "agents",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String),
    Column("display_name", String),
)
ticket_events = Table(
    "ticket_events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer),
    Column("name", String),
    Column("agent_id", Integer),
    Column("at", DateTime),
)
TRANSFERRED = "ticket.transferred"
OPEN_STATUSES = ("pending", "in_progress", "reopened")
FILTER_COLUMNS = {"channel": tickets.c.channel, "language": tickets.c.language,
                  "category": tickets.c.category}  # fmt: skip


@dataclass
class TicketFacts:
    """One ticket, its times as seconds since the epoch (UTC)."""

    id: int
    channel: str | None
    category: str | None
    priority: str | None
    status: str
    agent: str | None
    created_at: float
    queued_at: float | None
    assigned_at: float | None
    first_response_at: float | None
    resolved_at: float | None
    abandoned_at: float | None
    csat_score: int | None
    csat_comment: str | None
    csat_at: float | None
    transfers: int


class TicketSource:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            with engine.connect() as connection:
                connection.execute(select(func.count()).select_from(tickets)).scalar_one()
        except DatabaseError as error:  # not a database at all, no table, ...
            raise SourceError(
                "The ticket database has no readable `tickets` table: is this the handoff "
                f"bridge's database? ({getattr(error, 'orig', error)})"
            ) from error

    def created_in(self, period: Period, filters: dict[str, str]) -> Iterator[TicketFacts]:
        """Tickets created in the period, streamed."""
        transfers = (
            select(ticket_events.c.ticket_id, func.count().label("transfers"))
            .where(ticket_events.c.name == TRANSFERRED)
            .group_by(ticket_events.c.ticket_id)
            .subquery()
        )
        clauses = [
            tickets.c.created_at >= period.start_utc(),
            tickets.c.created_at < period.end_utc(),
        ]
        clauses += [FILTER_COLUMNS[name] == value for name, value in filters.items()]
        query = (
            select(
                tickets,
                func.coalesce(agents.c.display_name, agents.c.username).label("agent"),
                func.coalesce(transfers.c.transfers, 0).label("transfers"),
            )
            .select_from(
                tickets.outerjoin(agents, agents.c.id == tickets.c.assignee_id).outerjoin(
                    transfers, transfers.c.ticket_id == tickets.c.id
                )
            )
            .where(and_(*clauses))
            .order_by(tickets.c.id)
        )
        with self.engine.connect() as connection:
            for row in connection.execution_options(stream_results=True, yield_per=2000).execute(
                query
            ):
                yield TicketFacts(
                    id=row.id,
                    channel=row.channel,
                    category=row.category,
                    priority=row.priority,
                    status=row.status,
                    agent=row.agent,
                    created_at=_epoch(row.created_at),
                    queued_at=_epoch(row.queued_at),
                    assigned_at=_epoch(row.assigned_at),
                    first_response_at=_epoch(row.first_response_at),
                    resolved_at=_epoch(row.resolved_at),
                    abandoned_at=_epoch(row.abandoned_at),
                    csat_score=row.csat_score,
                    csat_comment=row.csat_comment,
                    csat_at=_epoch(row.csat_at),
                    transfers=row.transfers,
                )

    def transfers_by_agent(self, period: Period) -> dict[str, int]:
        """Transfers each agent made in the period."""
        name = func.coalesce(agents.c.display_name, agents.c.username)
        query = (
            select(name, func.count())
            .select_from(ticket_events.join(agents, agents.c.id == ticket_events.c.agent_id))
            .where(
                ticket_events.c.name == TRANSFERRED,
                ticket_events.c.at >= period.start_utc(),
                ticket_events.c.at < period.end_utc(),
            )
            .group_by(name)
        )
        with self.engine.connect() as connection:
            return dict(connection.execute(query).all())

    def open_at(self, moment: datetime, filters: dict[str, str]) -> list[tuple[str, float]]:
        """(status then, created_at) of the tickets open at `moment`: created
        before it and either still open or resolved only later."""
        still_open = tickets.c.status.in_(OPEN_STATUSES)
        resolved_later = tickets.c.resolved_at >= moment
        clauses = [tickets.c.created_at < moment, still_open | resolved_later]
        clauses += [FILTER_COLUMNS[name] == value for name, value in filters.items()]
        query = select(tickets.c.status, tickets.c.created_at, tickets.c.assigned_at).where(
            and_(*clauses)
        )
        backlog = []
        with self.engine.connect() as connection:
            for status, created, assigned in connection.execute(query):
                if status != "reopened":
                    taken = assigned is not None and assigned < moment
                    status = "in_progress" if taken else "pending"
                backlog.append((status, _epoch(created)))
        return backlog


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.replace(tzinfo=UTC).timestamp()
