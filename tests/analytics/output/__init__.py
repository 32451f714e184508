"""Reports built by hand for the writers' tests: small, and shaped like the
builders' output (a trend with a line chart, a distribution with a bar chart,
a long table, an empty table, an empty section)."""

from __future__ import annotations

from analytics.model import Chart, ChartKind, Metric, Report, Section, Table

HOSTILE = "<script>alert(1)</script>"


def trend_table(days: int = 7) -> Table:
    return Table(
        name="daily_volume",
        title="daily_volume",
        columns=["day", "conversations", "handoffs", "containment"],
        rows=[
            [f"2026-11-{day:02d}", 100 + day * 3, 10 + day % 4, 0.8 + day / 100]
            for day in range(1, days + 1)
        ],
        chart=Chart(ChartKind.LINE, "day", ("conversations", "handoffs")),
        formats={"containment": "percent"},
        note="containment_note",
    )


def category_table() -> Table:
    return Table(
        name="categories",
        title="categories",
        columns=["category", "conversations", "share", "wait"],
        rows=[
            ["退货退款", 420, 0.42, 65],
            ["物流查询", 310, 0.31, 9000],
            [HOSTILE, 270, 0.27, None],
        ],
        chart=Chart(ChartKind.BAR, "category", ("conversations",)),
        formats={"share": "percent", "wait": "seconds"},
    )


def make_report(language: str = "zh") -> Report:
    return Report(
        since="2026-11-01",
        until="2026-11-07",
        language=language,
        filters={"channel": "wechat"},
        generated_at="2026-11-08 09:00",
        sections=[
            Section(
                name="overview",
                metrics=[
                    Metric("conversations", 12345),
                    Metric("containment", 0.8234, "percent"),
                    Metric("median_wait", 65, "seconds"),
                    Metric("csat", None),
                ],
                tables=[trend_table(), category_table()],
            ),
            Section(
                name="details",
                tables=[
                    Table(
                        name="messages",
                        title="messages",
                        columns=["at", "text"],
                        rows=[[f"10:{i % 60:02d}", f"message {i}"] for i in range(120)],
                    ),
                    Table(name="empty", title="empty", columns=["a", "b"]),
                ],
            ),
            Section(name="nothing"),
        ],
        warnings=["tickets_unavailable"],
        stats={"events_scanned": 4321},
    )
