"""Questions: what customers ask (intents, FAQ entries), how it moves week
over week, which topics are rising, and the hot keywords."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from analytics.model import Chart, ChartKind, Section, Table
from analytics.reports.base import ReportContext, rate
from analytics.warehouse import messages, text_keywords

TOP = 20
TREND_SERIES = 5
WEEK = 7 * 24 * 3600
# A topic "rises" when its count this week beats last week's by this much,
# with at least this many mentions, so one-off questions don't top the list.
RISING_MIN_COUNT = 3


class QuestionsReport:
    def __init__(self, context: ReportContext) -> None:
        self.context = context

    def build(self) -> Section:
        c = self.context
        latest_start = c.period.end - WEEK
        # One pass over the messages, by day, intent and FAQ entry; every
        # question table is derived from these (few) groups.
        day = c.day(messages.c.at)
        with c.warehouse.connect() as db:
            groups = db.execute(
                c.messages_query(day, messages.c.intent, messages.c.faq_key, func.count())
                .where(messages.c.intent.is_not(None))
                .group_by(day, messages.c.intent, messages.c.faq_key)
            ).all()
            per_text = (
                c.messages_query(messages.c.text, func.count().label("n"))
                .group_by(messages.c.text)
                .subquery()
            )
            keyword_counts = db.execute(
                select(text_keywords.c.keywords, func.sum(per_text.c.n))
                .join(text_keywords, text_keywords.c.text == per_text.c.text)
                .group_by(text_keywords.c.keywords)
            ).all()
        intent_counts: Counter[str] = Counter()
        faq_counts: Counter[str] = Counter()
        weekly: Counter[tuple[str, str]] = Counter()
        recent: Counter[str] = Counter()
        before: Counter[str] = Counter()
        latest_day = c.day_number(latest_start)
        for day_number, intent, faq_key, count in groups:
            topic = faq_key or intent
            intent_counts[intent] += count
            if faq_key:
                faq_counts[faq_key] += count
            weekly[(c.week_label(day_number), topic)] += count
            if day_number >= latest_day:
                recent[topic] += count
            elif day_number >= latest_day - 7:
                before[topic] += count
        intents = intent_counts.most_common()
        faqs = faq_counts.most_common(TOP)
        movement = [
            (topic, recent[topic], before[topic]) for topic in recent.keys() | before.keys()
        ]
        total = sum(count for _, count in intents)
        return Section(
            name="questions",
            tables=[
                Table(
                    name="intent_distribution",
                    title="intent_distribution",
                    columns=["intent", "messages", "share"],
                    rows=[[name, count, rate(count, total)] for name, count in intents],
                    chart=Chart(ChartKind.BAR, "intent", ("messages",)),
                    formats={"share": "percent"},
                ),
                Table(
                    name="top_faq",
                    title="top_faq",
                    columns=["faq", "messages"],
                    rows=[[key, count] for key, count in faqs],
                    chart=Chart(ChartKind.BAR, "faq", ("messages",)),
                ),
                self._weekly_trends(weekly),
                self._rising(movement),
                self._keywords(keyword_counts),
            ],
        )

    def _weekly_trends(self, weekly: Counter[tuple[str, str]]) -> Table:
        totals: Counter[str] = Counter()
        for (_, topic), count in weekly.items():
            totals[topic] += count
        cells = weekly
        top = [topic for topic, _ in totals.most_common(TREND_SERIES)]
        rows = [
            [week, *(cells.get((week, t), 0) for t in top)] for week in self.context.period.weeks()
        ]
        return Table(
            name="weekly_topic_trends",
            title="weekly_topic_trends",
            columns=["week", *top],
            rows=rows,
            chart=Chart(ChartKind.LINE, "week", tuple(top)) if top else None,
            note="note_weekly_topic_trends",
        )

    def _rising(self, movement: list[tuple[str, int, int]]) -> Table:
        rows = []
        for topic, recent, before in movement:
            if recent >= RISING_MIN_COUNT and recent > before:
                growth = rate(recent - before, before)
                rows.append([topic, recent, before, growth])
        rows.sort(key=lambda row: (row[3] is None, -(row[3] or 0), -row[1]))
        return Table(
            name="rising_topics",
            title="rising_topics",
            columns=["topic", "last_7_days", "previous_7_days", "growth"],
            rows=rows[:TOP],
            formats={"growth": "percent"},
            note="note_rising_topics",
        )

    def _keywords(self, keyword_counts: list[tuple[str, int]]) -> Table:
        counter: Counter[str] = Counter()
        for keywords, count in keyword_counts:
            for word in keywords.split():
                counter[word] += count
        return Table(
            name="hot_keywords",
            title="hot_keywords",
            columns=["keyword", "mentions"],
            rows=[[word, count] for word, count in counter.most_common(TOP * 2)],
            chart=Chart(ChartKind.BAR, "keyword", ("mentions",)),
        )
