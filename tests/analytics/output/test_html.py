from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from analytics.labels import LABELS, label
from analytics.model import Metric, Report, Section, Table
from analytics.output.html import (
    MAX_ROWS,
    HtmlRenderer,
    format_number,
    format_percent,
    format_seconds,
    format_value,
)
from tests.analytics.output import HOSTILE, make_report


@pytest.fixture
def render():
    return HtmlRenderer().render


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (0.123, "percent", "12.3%"),
        (1, "percent", "100.0%"),
        (0, "percent", "0.0%"),
        (65, "seconds", "1 m 05 s"),
        (9000, "seconds", "2.5 h"),
        (45, "seconds", "45 s"),
        (4.25, "seconds", "4.2 s"),
        (0, "seconds", "0 s"),
        (3599.6, "seconds", "1.0 h"),
        (3 * 86400, "seconds", "3.0 d"),
        (12345, "number", "12,345"),
        (12345.0, "number", "12,345"),
        (1234.567, "number", "1,234.57"),
        (3.5, "number", "3.5"),
        (0.004, "number", "0.004"),
        (-1500, "number", "-1,500"),
        (None, "percent", "—"),
        (None, "seconds", "—"),
        (float("nan"), "number", "—"),
        (float("inf"), "percent", "—"),
        ("退货退款", "number", "退货退款"),
        (42, "unknown", "42"),
    ],
)
def test_format_value(value, fmt, text):
    assert format_value(value, fmt) == text


def test_formatters_used_directly():
    assert format_percent(0.5) == "50.0%"
    assert format_seconds(-65) == "-1 m 05 s"
    assert format_number(1_000_000) == "1,000,000"


def test_page_has_language_title_period_filters_and_warnings(render):
    html = render(make_report("zh"))
    assert '<html lang="zh-CN">' in html
    assert "客服数据分析报告" in html
    assert "2026-11-01 – 2026-11-07" in html
    assert f"{label('channel', 'zh')}: wechat" in html
    assert "2026-11-08 09:00" in html
    assert "tickets_unavailable" in html
    assert '<html lang="en">' in render(make_report("en"))
    assert "Customer service report" in render(make_report("en"))


def test_labels_translate_headings_metrics_and_columns(render, monkeypatch):
    monkeypatch.setitem(LABELS, "overview", ("总览", "Overview"))
    monkeypatch.setitem(LABELS, "conversations", ("会话数", "Conversations"))
    monkeypatch.setitem(LABELS, "containment_note", ("未转人工的会话占比", "Share kept by the bot"))
    html = render(make_report("zh"))
    assert "<h2>总览</h2>" in html
    assert '<div class="metric-label">会话数</div>' in html
    assert '<th scope="col" class="num">会话数</th>' in html
    assert '<p class="note">未转人工的会话占比</p>' in html
    assert "Conversations" in render(make_report("en"))


def test_metric_cards_are_formatted(render):
    html = render(make_report())
    values = re.findall(r'<div class="metric-value">(.*?)</div>', html)
    assert values == ["12,345", "82.3%", "1 m 05 s", "—"]


def test_cells_are_formatted_and_numbers_right_aligned(render):
    html = render(make_report())
    assert '<td class="num">42.0%</td>' in html
    assert '<td class="num">2.5 h</td>' in html
    assert '<td class="num">1 m 05 s</td>' in html
    assert "<td>退货退款</td>" in html


def test_hostile_cell_text_is_escaped(render):
    report = make_report()
    report.filters["channel"] = HOSTILE
    report.warnings.append(HOSTILE)
    html = render(report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()


def test_page_is_self_contained(render):
    html = render(make_report())
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.IGNORECASE)
    assert not re.search(r"@import|url\(|src=", html)
    assert re.findall(r"https?://[^\s\"'<>]+", html) == ["http://www.w3.org/2000/svg"] * 2


def test_charts_are_inline_svg(render):
    html = render(make_report())
    svgs = re.findall(r"<svg .*?</svg>", html, re.DOTALL)
    assert len(svgs) == 2
    for svg in svgs:
        ET.fromstring(svg)


def test_long_tables_show_the_first_rows_and_point_to_the_files(render):
    html = render(make_report("en"))
    assert "message 49" in html
    assert "message 50<" not in html
    assert "70 more rows in csv/messages.csv and report.xlsx" in html
    assert MAX_ROWS == 50


def test_empty_tables_and_sections_say_no_data(render):
    html = render(make_report("zh"))
    assert html.count('<p class="no-data">该区间没有数据</p>') == 2  # empty table, empty section


@pytest.mark.parametrize(
    "report",
    [
        Report("2026-11-01", "2026-11-07", "en", {}, "now"),
        Report("2026-11-01", "2026-11-07", "zh", {}, "now", [Section("s", [Metric("m", None)])]),
        Report(
            "2026-11-01",
            "2026-11-07",
            "zh",
            {},
            "now",
            [Section("s", tables=[Table("t", "t", [], [])])],
        ),
    ],
    ids=["no-sections", "none-metric", "no-columns"],
)
def test_empty_reports_render(render, report):
    html = render(report)
    assert "</html>" in html
    assert ("No data in this period" in html) or ("该区间没有数据" in html) or "—" in html


def test_no_filters_reads_none(render):
    html = render(Report("a", "b", "en", {}, "now"))
    assert "None" in html
