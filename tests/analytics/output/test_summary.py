from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from analytics.model import Metric, Report, Section, Table
from analytics.output.summary import build_summary, json_safe, write_summary
from tests.analytics.output import make_report


def test_summary_has_the_documented_keys(tmp_path):
    summary = json.loads(write_summary(make_report(), tmp_path / "summary.json").read_text("utf-8"))
    assert list(summary) == [
        "period",
        "language",
        "filters",
        "generated_at",
        "warnings",
        "stats",
        "sections",
    ]
    assert summary["period"] == {"since": "2026-11-01", "until": "2026-11-07"}
    assert summary["language"] == "zh"
    assert summary["filters"] == {"channel": "wechat"}
    assert summary["warnings"] == ["tickets_unavailable"]
    assert summary["stats"] == {"events_scanned": 4321}
    assert list(summary["sections"]) == ["overview", "details", "nothing"]


def test_sections_hold_metrics_and_table_records_by_stable_name():
    sections = build_summary(make_report())["sections"]
    assert sections["overview"]["metrics"] == {
        "conversations": 12345,
        "containment": 0.8234,
        "median_wait": 65,
        "csat": None,
    }
    categories = sections["overview"]["tables"]["categories"]
    assert categories[0] == {
        "category": "退货退款",
        "conversations": 420,
        "share": 0.42,
        "wait": 65,
    }
    assert len(sections["details"]["tables"]["messages"]) == 120
    assert sections["details"]["tables"]["empty"] == []
    assert sections["nothing"] == {"metrics": {}, "tables": {}}


def test_summary_is_strict_json_without_nan(tmp_path):
    table = Table("t", "t", ["x", "rate"], [["a", float("nan")], ["b", float("inf")], ["c", 1 / 3]])
    report = Report(
        "a",
        "b",
        "en",
        {},
        "now",
        [Section("s", [Metric("m", float("nan"), "percent")], [table])],
        stats={"at": dt.datetime(2026, 11, 8, 9, 0), "cost": Decimal("1.5"), "ids": {2, 1}},
    )
    text = write_summary(report, tmp_path / "summary.json").read_text("utf-8")
    summary = json.loads(text, parse_constant=lambda name: pytest_fail(name))
    assert summary["sections"]["s"]["metrics"]["m"] is None
    assert [r["rate"] for r in summary["sections"]["s"]["tables"]["t"]] == [None, None, 0.3333]
    assert summary["stats"] == {"at": "2026-11-08T09:00:00", "cost": 1.5, "ids": [1, 2]}


def test_chinese_is_written_as_is(tmp_path):
    text = write_summary(make_report(), tmp_path / "summary.json").read_text("utf-8")
    assert "退货退款" in text


def test_json_safe_falls_back_to_strings():
    assert json_safe(object).startswith("<class")
    assert json_safe((1, 2.123456)) == [1, 2.1235]


def pytest_fail(name: str) -> None:
    raise AssertionError(f"summary.json contains {name}")
