"""Service: how fast customers get answers from the bot and from people,
how long they queue, the ticket backlog, and SLA breaches."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select

from analytics.model import Chart, ChartKind, Metric, Section, Table
from analytics.reports.base import ReportContext, nearest_rank, percentiles, rate
from analytics.tickets import OPEN_STATUSES
from analytics.warehouse import conversations, messages

AGE_BUCKETS = ((3600, "<1h"), (4 * 3600, "1-4h"), (24 * 3600, "4-24h"), (72 * 3600, "1-3d"))


def _spans(pairs: Iterable[tuple[float | None, float | None]]) -> list[float]:
    return [
        end - start
        for start, end in pairs
        if start is not None and end is not None and end >= start
    ]


class ServiceReport:
    def __init__(self, context: ReportContext) -> None:
        self.context = context

    def build(self) -> Section:
        c = self.context
        with c.warehouse.connect() as db:
            bot_response = c.messages_query(messages.c.response_seconds)
            contained = select(conversations.c.ended_at - conversations.c.started_at).where(
                c.conversation_scope(),
                ~conversations.c.handoff,
                conversations.c.customer_messages > 0,
            )
            response_p50, response_p90 = percentiles(db, bot_response, (0.5, 0.9), precision=1)
            resolution_p50, resolution_p90 = percentiles(db, contained, (0.5, 0.9), precision=0)
            bot = {
                "bot_response_p50": response_p50,
                "bot_response_p90": response_p90,
                "bot_resolution_p50": resolution_p50,
                "bot_resolution_p90": resolution_p90,
            }
        tickets = c.ticket_facts
        first = _spans((t.queued_at or t.created_at, t.first_response_at) for t in tickets)
        wait = _spans((t.queued_at, t.assigned_at) for t in tickets)
        resolution = _spans((t.created_at, t.resolved_at) for t in tickets)
        human = {
            "human_first_response_p50": nearest_rank(first, 0.5),
            "human_first_response_p90": nearest_rank(first, 0.9),
            "queue_wait_p50": nearest_rank(wait, 0.5),
            "queue_wait_p90": nearest_rank(wait, 0.9),
            "human_resolution_p50": nearest_rank(resolution, 0.5),
            "human_resolution_p90": nearest_rank(resolution, 0.9),
        }
        thresholds = c.thresholds
        sla_rows = [
            self._sla("sla_first_response", thresholds.sla_first_response_seconds, first),
            self._sla("sla_queue_wait", thresholds.sla_queue_wait_seconds, wait),
            self._sla("sla_resolution", thresholds.sla_resolution_seconds, resolution),
        ]
        return Section(
            name="service",
            metrics=[Metric(name, value, "seconds") for name, value in {**bot, **human}.items()],
            tables=[
                Table(
                    name="response_times",
                    title="response_times",
                    columns=["measure", "p50", "p90", "count"],
                    rows=[
                        ["bot_response", bot["bot_response_p50"], bot["bot_response_p90"], None],
                        [
                            "bot_resolution",
                            bot["bot_resolution_p50"],
                            bot["bot_resolution_p90"],
                            None,
                        ],
                        ["human_first_response", *_p50_p90(first), len(first)],
                        ["queue_wait", *_p50_p90(wait), len(wait)],
                        ["human_resolution", *_p50_p90(resolution), len(resolution)],
                    ],
                    formats={"p50": "seconds", "p90": "seconds"},
                    note="note_response_times",
                ),
                self._backlog(),
                Table(
                    name="sla_breaches",
                    title="sla_breaches",
                    columns=["sla", "threshold", "tickets", "breaches", "breach_rate"],
                    rows=sla_rows,
                    formats={"threshold": "seconds", "breach_rate": "percent"},
                ),
            ],
        )

    def _sla(self, name: str, threshold: float, spans: list[float]) -> list:
        breaches = sum(1 for span in spans if span > threshold)
        return [name, threshold, len(spans), breaches, rate(breaches, len(spans))]

    def _backlog(self) -> Table:
        c = self.context
        columns = ["status", *(label for _, label in AGE_BUCKETS), ">3d", "total"]
        if c.tickets is None:
            return Table(name="backlog", title="backlog", columns=columns)
        moment = datetime.fromtimestamp(c.period.end, UTC).replace(tzinfo=None)
        counts = {status: [0] * (len(AGE_BUCKETS) + 1) for status in OPEN_STATUSES}
        for status, created in c.tickets.open_at(moment, c.filters):
            age = c.period.end - created
            bucket = next((i for i, (limit, _) in enumerate(AGE_BUCKETS) if age < limit), -1)
            counts.setdefault(status, [0] * (len(AGE_BUCKETS) + 1))[bucket] += 1
        return Table(
            name="backlog",
            title="backlog",
            columns=columns,
            rows=[[status, *row, sum(row)] for status, row in counts.items()],
            chart=Chart(ChartKind.BAR, "status", ("total",)),
            note="note_backlog",
        )


def _p50_p90(values: list[float]) -> list[float | None]:
    return [nearest_rank(values, 0.5), nearest_rank(values, 0.9)]
