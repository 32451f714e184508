"""Bot quality: containment, handoff (and why), fallback, low confidence
and abandonment, overall and per day. Definitions: docs/analytics.md."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.sql import ColumnElement

from analytics.model import Chart, ChartKind, Metric, Section, Table
from analytics.reports.base import ReportContext, rate
from analytics.warehouse import conversations, messages

HANDOFF_REASONS = ("asked", "fallback", "urgent", "form_failure")


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


class QualityReport:
    def __init__(self, context: ReportContext) -> None:
        self.context = context

    def build(self) -> Section:
        c = self.context
        talked = conversations.c.customer_messages > 0
        low = messages.c.confidence < c.thresholds.low_confidence
        with c.warehouse.connect() as db:
            total, handed, abandoned = db.execute(
                select(
                    func.count(),
                    _count_if(conversations.c.handoff),
                    _count_if(conversations.c.abandoned),
                ).where(c.conversation_scope(), talked)
            ).one()
            asked, fallbacks, lows = db.execute(
                c.messages_query(func.count(), _count_if(messages.c.fallback), _count_if(low))
            ).one()
            reasons = dict(
                db.execute(
                    select(conversations.c.handoff_reason, func.count())
                    .where(c.conversation_scope(), conversations.c.handoff)
                    .group_by(conversations.c.handoff_reason)
                ).all()
            )
            day = c.day(conversations.c.started_at)
            daily = c.by_day(
                db.execute(
                    select(day, func.count(), _count_if(conversations.c.handoff))
                    .where(c.conversation_scope(), talked)
                    .group_by(day)
                ).all()
            )
        handed, abandoned = handed or 0, abandoned or 0
        reason_rows = [
            [reason, reasons.get(reason, 0), rate(reasons.get(reason, 0), handed)]
            for reason in (*HANDOFF_REASONS, *sorted(set(reasons) - set(HANDOFF_REASONS)))
        ]
        daily_rows = []
        for key in c.period.days():
            count, handoffs = daily.get(key, (0, 0))
            daily_rows.append([key, count, rate(count - handoffs, count), rate(handoffs, count)])
        return Section(
            name="quality",
            metrics=[
                Metric("containment_rate", rate(total - handed, total), "percent"),
                Metric("handoff_rate", rate(handed, total), "percent"),
                Metric("fallback_rate", rate(fallbacks, asked), "percent"),
                Metric("low_confidence_rate", rate(lows, asked), "percent"),
                Metric("abandonment_rate", rate(abandoned, total), "percent"),
            ],
            tables=[
                Table(
                    name="handoff_reasons",
                    title="handoff_reasons",
                    columns=["reason", "conversations", "share"],
                    rows=reason_rows,
                    chart=Chart(ChartKind.BAR, "reason", ("conversations",)),
                    formats={"share": "percent"},
                ),
                Table(
                    name="quality_by_day",
                    title="quality_by_day",
                    columns=["day", "conversations", "containment_rate", "handoff_rate"],
                    rows=daily_rows,
                    chart=Chart(ChartKind.LINE, "day", ("containment_rate", "handoff_rate")),
                    formats={"containment_rate": "percent", "handoff_rate": "percent"},
                ),
            ],
        )
