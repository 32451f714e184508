"""Volume: conversations and messages per day, week and hour of day; by
channel and by language."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from analytics.model import Chart, ChartKind, Metric, Section, Table
from analytics.reports.base import UNKNOWN, ReportContext, zero_filled
from analytics.warehouse import conversations, messages

DIMENSIONS = ("channel", "language")


class VolumeReport:
    """Two grouped scans (conversations by start, customer messages by
    time) give every table; the rest is arithmetic over those groups."""

    def __init__(self, context: ReportContext) -> None:
        self.context = context

    def build(self) -> Section:
        c = self.context
        with c.warehouse.connect() as db:
            started = c.day(conversations.c.started_at)
            conversation_groups = db.execute(
                select(
                    started,
                    conversations.c.channel,
                    conversations.c.language,
                    func.count(),
                    func.sum(conversations.c.bot_messages),
                    func.sum(conversations.c.agent_messages),
                )
                .where(c.conversation_scope())
                .group_by(started, conversations.c.channel, conversations.c.language)
            ).all()
            sent, hour = c.day(messages.c.at), c.hour(messages.c.at)
            message_groups = db.execute(
                c.messages_query(
                    sent, hour, messages.c.channel, messages.c.language, func.count()
                ).group_by(sent, hour, messages.c.channel, messages.c.language)
            ).all()
        opened = _Tally()
        bot_messages = agent_messages = 0
        for day, channel, language, count, bots, agents in conversation_groups:
            opened.add(c, day, None, channel, language, count)
            bot_messages += bots or 0
            agent_messages += agents or 0
        written = _Tally()
        for day, at_hour, channel, language, count in message_groups:
            written.add(c, day, at_hour, channel, language, count)
        tables = [
            self._over_time("volume_by_day", "day", c.period.days(), opened.day, written.day),
            self._over_time("volume_by_week", "week", c.period.weeks(), opened.week, written.week),
            Table(
                name="volume_by_hour",
                title="volume_by_hour",
                columns=["hour", "customer_messages"],
                rows=zero_filled([f"{h:02d}" for h in range(24)], written.hour),
                chart=Chart(ChartKind.BAR, "hour", ("customer_messages",)),
            ),
            *(self._by(dimension, opened, written) for dimension in DIMENSIONS),
        ]
        return Section(
            name="volume",
            metrics=[
                Metric("conversations", sum(opened.day.values())),
                Metric("customer_messages", sum(written.day.values())),
                Metric("bot_messages", bot_messages),
                Metric("agent_messages", agent_messages),
            ],
            tables=tables,
        )

    @staticmethod
    def _over_time(
        name: str, column: str, buckets: list[str], opened: Counter[str], written: Counter[str]
    ) -> Table:
        return Table(
            name=name,
            title=name,
            columns=[column, "conversations", "customer_messages"],
            rows=[[key, opened.get(key, 0), written.get(key, 0)] for key in buckets],
            chart=Chart(ChartKind.LINE, column, ("conversations", "customer_messages")),
        )

    @staticmethod
    def _by(dimension: str, opened: _Tally, written: _Tally) -> Table:
        counts, messages_by = opened.by[dimension], written.by[dimension]
        return Table(
            name=f"volume_by_{dimension}",
            title=f"volume_by_{dimension}",
            columns=[dimension, "conversations", "customer_messages"],
            rows=[[key, count, messages_by.get(key, 0)] for key, count in counts.most_common()],
            chart=Chart(ChartKind.BAR, dimension, ("conversations",)),
        )


class _Tally:
    """Counts folded into each bucket and dimension."""

    def __init__(self) -> None:
        self.day: Counter[str] = Counter()
        self.week: Counter[str] = Counter()
        self.hour: Counter[str] = Counter()
        self.by: dict[str, Counter[str]] = {name: Counter() for name in DIMENSIONS}

    def add(
        self,
        c: ReportContext,
        day: int,
        hour: int | None,
        channel: str | None,
        language: str | None,
        count: int,
    ) -> None:
        self.day[c.day_label(day)] += count
        self.week[c.week_label(day)] += count
        if hour is not None:
            self.hour[f"{int(hour):02d}"] += count
        self.by["channel"][c.channel_label(channel)] += count
        self.by["language"][language or UNKNOWN] += count
