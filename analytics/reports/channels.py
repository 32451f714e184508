"""Channel effectiveness: containment, CSAT and resolution time per channel."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import case, func, select

from analytics.model import Chart, ChartKind, Section, Table
from analytics.reports.base import UNKNOWN, ReportContext, average, nearest_rank, rate
from analytics.warehouse import conversations


class ChannelsReport:
    def __init__(self, context: ReportContext) -> None:
        self.context = context

    def build(self) -> Section:
        c = self.context
        channel = func.coalesce(conversations.c.channel, UNKNOWN)
        with c.warehouse.connect() as db:
            rows = db.execute(
                select(
                    channel,
                    func.count(),
                    func.sum(case((conversations.c.handoff, 1), else_=0)),
                )
                .where(c.conversation_scope(), conversations.c.customer_messages > 0)
                .group_by(channel)
            ).all()
        scores: dict[str, list[int]] = defaultdict(list)
        resolution: dict[str, list[float]] = defaultdict(list)
        for ticket in c.ticket_facts:
            key = ticket.channel or UNKNOWN
            if ticket.csat_score is not None:
                scores[key].append(ticket.csat_score)
            if ticket.resolved_at is not None:
                resolution[key].append(ticket.resolved_at - ticket.created_at)
        table_rows = [
            [
                c.channel_label(name),
                total,
                rate(total - (handed or 0), total),
                rate(handed or 0, total),
                average(scores.get(name, [])),
                nearest_rank(resolution.get(name, []), 0.5),
            ]
            for name, total, handed in sorted(rows, key=lambda row: -row[1])
        ]
        return Section(
            name="channels",
            tables=[
                Table(
                    name="channel_effectiveness",
                    title="channel_effectiveness",
                    columns=[
                        "channel",
                        "conversations",
                        "containment_rate",
                        "handoff_rate",
                        "csat_average",
                        "human_resolution_p50",
                    ],
                    rows=table_rows,
                    chart=Chart(ChartKind.BAR, "channel", ("containment_rate",)),
                    formats={
                        "containment_rate": "percent",
                        "handoff_rate": "percent",
                        "human_resolution_p50": "seconds",
                    },
                )
            ],
        )
