"""Satisfaction: the CSAT distribution and trend, by channel, category and
agent, and the customers' comments."""

from __future__ import annotations

from collections import defaultdict

from analytics.model import Chart, ChartKind, Metric, Section, Table
from analytics.reports.base import UNKNOWN, ReportContext, average, rate
from analytics.tickets import TicketFacts

SCORES = (1, 2, 3, 4, 5)
COMMENTS_SHOWN = 200


class SatisfactionReport:
    def __init__(self, context: ReportContext) -> None:
        self.context = context

    def build(self) -> Section:
        c = self.context
        rated = [t for t in c.ticket_facts if t.csat_score is not None]
        resolved = [t for t in c.ticket_facts if t.resolved_at is not None]
        counts = {score: sum(1 for t in rated if t.csat_score == score) for score in SCORES}
        weekly: dict[str, list[int]] = defaultdict(list)
        for ticket in rated:
            # By the week the ticket was opened, as every ticket figure of the
            # period: a rating given after the period still has its week.
            weekly[c.week_label(c.day_number(ticket.created_at))].append(ticket.csat_score)
        comments = sorted(
            (t for t in rated if t.csat_comment), key=lambda t: t.csat_at or 0, reverse=True
        )
        return Section(
            name="satisfaction",
            metrics=[
                Metric("csat_average", average([t.csat_score for t in rated])),
                Metric("csat_responses", len(rated)),
                Metric("csat_response_rate", rate(len(rated), len(resolved)), "percent"),
                Metric("csat_satisfied_share", rate(counts[4] + counts[5], len(rated)), "percent"),
            ],
            tables=[
                Table(
                    name="csat_distribution",
                    title="csat_distribution",
                    columns=["score", "responses", "share"],
                    rows=[[str(s), counts[s], rate(counts[s], len(rated))] for s in SCORES],
                    chart=Chart(ChartKind.BAR, "score", ("responses",)),
                    formats={"share": "percent"},
                ),
                Table(
                    name="csat_by_week",
                    title="csat_by_week",
                    columns=["week", "responses", "csat_average"],
                    rows=[
                        [week, len(weekly.get(week, [])), average(weekly.get(week, []))]
                        for week in c.period.weeks()
                    ],
                    chart=Chart(ChartKind.LINE, "week", ("csat_average",)),
                ),
                self._by("channel", rated),
                self._by("category", rated),
                self._by("agent", rated),
                Table(
                    name="csat_comments",
                    title="csat_comments",
                    columns=["ticket", "score", "channel", "category", "agent", "comment"],
                    rows=[
                        [
                            t.id,
                            t.csat_score,
                            c.channel_label(t.channel),
                            t.category,
                            t.agent,
                            t.csat_comment,
                        ]
                        for t in comments[:COMMENTS_SHOWN]
                    ],
                ),
            ],
        )

    def _by(self, dimension: str, rated: list[TicketFacts]) -> Table:
        groups: dict[str, list[int]] = defaultdict(list)
        for ticket in rated:
            key = getattr(ticket, dimension)
            if dimension == "channel":
                key = self.context.channel_label(key)
            groups[key or UNKNOWN].append(ticket.csat_score)
        rows = sorted(
            ([key, len(scores), average(scores)] for key, scores in groups.items()),
            key=lambda row: -row[1],
        )
        return Table(
            name=f"csat_by_{dimension}",
            title=f"csat_by_{dimension}",
            columns=[dimension, "responses", "csat_average"],
            rows=rows,
            chart=Chart(ChartKind.BAR, dimension, ("csat_average",)),
        )
