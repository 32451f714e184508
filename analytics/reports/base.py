"""What every report builder shares: the scope (period and filters), SQL
helpers for buckets and percentiles, and zero-safe rates."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, and_, cast, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement, Select

from analytics.channels import channel_label
from analytics.period import Period
from analytics.tickets import TicketFacts, TicketSource
from analytics.warehouse import conversations, messages

FILTERABLE = ("channel", "language", "category")
# A conversation or ticket that names no channel.
UNKNOWN = "unknown"
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Thresholds:
    """Configurable lines: what counts as low confidence, and the SLAs."""

    low_confidence: float = 0.5
    sla_first_response_seconds: float = 300
    sla_queue_wait_seconds: float = 120
    sla_resolution_seconds: float = 24 * 3600


@dataclass
class ReportContext:
    warehouse: Engine
    period: Period
    filters: dict[str, str] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    tickets: TicketSource | None = None
    # Tickets created in the period (matching the filters), loaded once.
    ticket_facts: list[TicketFacts] = field(default_factory=list)
    language: str = "zh"

    def conversation_scope(self) -> ColumnElement[bool]:
        """Conversations that started in the period and match the filters."""
        clauses = [
            conversations.c.started_at >= self.period.start,
            conversations.c.started_at < self.period.end,
        ]
        for name, value in self.filters.items():
            clauses.append(conversations.c[name] == value)
        return and_(*clauses)

    def message_scope(self) -> ColumnElement[bool]:
        """Messages sent in the period, in conversations matching the filters."""
        clauses = [messages.c.at >= self.period.start, messages.c.at < self.period.end]
        for name, value in self.filters.items():
            clauses.append(messages.c[name] == value)
        return and_(*clauses)

    def channel_label(self, name: str | None) -> str:
        """A channel as the report's reader knows it (`channels.yml`)."""
        return UNKNOWN if name is None else channel_label(name, self.language)

    def messages_query(self, *columns: Any) -> Select:
        """A query over the period's messages (their conversation's channel,
        language and category are stored on each message)."""
        return select(*columns).select_from(messages).where(self.message_scope())

    # Buckets are computed with integer arithmetic, several times faster in
    # SQLite than its date functions; `bucket_labels` names them afterwards.

    def day(self, column: ColumnElement) -> ColumnElement:
        """Days since 1970-01-01 in the report's time zone."""
        return cast((column + self.period.offset_seconds) / 86400, Integer)

    def hour(self, column: ColumnElement) -> ColumnElement:
        return cast((column + self.period.offset_seconds) / 3600, Integer) % 24

    @staticmethod
    def day_label(day_number: int) -> str:
        return (EPOCH + timedelta(days=int(day_number))).isoformat()

    @classmethod
    def week_label(cls, day_number: int) -> str:
        """The ISO date of the Monday of the day's week (1970-01-01 was a Thursday)."""
        return cls.day_label(day_number - (day_number + 3) % 7)

    def day_number(self, moment: float) -> int:
        """Days since 1970-01-01 of a Unix time, in the report's time zone."""
        return int((moment + self.period.offset_seconds) // 86400)

    def by_day(self, rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
        """Query rows keyed by a day number, keyed by ISO date instead."""
        return {self.day_label(row[0]): row[1] if len(row) == 2 else row[1:] for row in rows}


def rate(part: float | None, whole: float | None) -> float | None:
    return None if not whole else (part or 0) / whole


def percentiles(
    connection: Connection, query: Select, ps: Sequence[float], precision: int = 1
) -> list[float | None]:
    """Nearest-rank percentiles of a one-column query, from a histogram of
    its values rounded to `precision` decimals: one grouped query, memory
    bounded by the number of distinct rounded values."""
    values = query.subquery()
    value = func.round(values.c[0], precision)
    histogram = connection.execute(
        select(value, func.count()).where(values.c[0].is_not(None)).group_by(value).order_by(value)
    ).all()
    total = sum(count for _, count in histogram)
    results: list[float | None] = []
    for p in ps:
        if not total:
            results.append(None)
            continue
        rank, seen = max(math.ceil(p * total), 1), 0
        for bucket, count in histogram:
            seen += count
            if seen >= rank:
                results.append(bucket)
                break
    return results


def nearest_rank(values: list[float], p: float) -> float | None:
    """The same percentile as `percentiles`, for values already in memory."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p * len(ordered)) - 1, 0)]


def average(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def zero_filled(buckets: list[str], counts: dict[str, int]) -> list[list[Any]]:
    """Every bucket, with 0 where nothing happened."""
    return [[bucket, counts.get(bucket, 0)] for bucket in buckets]
