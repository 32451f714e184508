from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from analytics.labels import label
from analytics.model import Chart, ChartKind, Table
from analytics.output.charts import (
    MAX_BARS,
    PALETTE,
    Series,
    bar_chart,
    line_chart,
    nice_ticks,
    render_chart,
)
from analytics.output.html import format_value
from tests.analytics.output import HOSTILE, category_table, trend_table

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    return root


def texts(root: ET.Element) -> list[str]:
    """What each <text> shows: its own text, without its <title> tooltip."""
    return [
        (element.text or "") + "".join(child.tail or "" for child in element)
        for element in root.iter(f"{SVG}text")
    ]


def polylines(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}polyline"))


def test_line_chart_draws_one_polyline_per_series_with_a_legend():
    root = parse(render_chart(trend_table(), language="en", format_value=format_value))
    lines = polylines(root)
    assert len(lines) == 2
    assert [line.get("stroke") for line in lines] == list(PALETTE[:2])
    assert len(lines[0].get("points").split()) == 7
    assert {label("conversations", "en"), label("handoffs", "en")} <= set(texts(root))
    assert "2026-11-01" in texts(root)


def test_line_chart_y_axis_starts_at_zero_with_round_steps():
    root = parse(line_chart(["a", "b"], [Series("n", (37.0, 81.0))]))
    labels = texts(root)
    assert "0" in labels and "100" in labels
    assert "37" not in labels


def test_line_chart_thins_labels_of_many_points():
    days = [f"2026-{month:02d}-{day:02d}" for month in (1, 2) for day in range(1, 31)]
    root = parse(line_chart(days, [Series("n", tuple(float(i) for i in range(60)))]))
    shown = [text for text in texts(root) if text.startswith("2026-")]
    assert 3 <= len(shown) < 20
    assert shown[0] == "2026-01-01"
    assert len(polylines(root)[0].get("points").split()) == 60


@pytest.mark.parametrize(
    ("xs", "values"),
    [
        ([], ()),
        (["2026-W45"], (5.0,)),
        (["08", "09", "10"], (0.0, 0.0, 0.0)),
        (["08", "09", "10"], (None, None, None)),
        (["08", "09", "10"], (-2.0, 3.0, 1.0)),
    ],
    ids=["no-points", "single-point", "all-zero", "all-none", "negative"],
)
def test_line_chart_edge_cases_are_valid_svg(xs, values):
    root = parse(line_chart(xs, [Series("n", values)]))
    assert "0" in texts(root)


def test_single_point_is_drawn_as_a_marker():
    root = parse(line_chart(["2026-W45"], [Series("n", (5.0,))]))
    assert not polylines(root)
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_none_values_break_the_line():
    root = parse(line_chart(list("abcde"), [Series("n", (1.0, 2.0, None, 4.0, 5.0))]))
    assert [len(line.get("points").split()) for line in polylines(root)] == [2, 2]


def test_bar_chart_draws_a_bar_and_value_label_per_category():
    root = parse(render_chart(category_table(), language="zh", format_value=format_value))
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert len(bars) == 3
    assert {"420", "310", "270"} <= set(texts(root))
    assert "退货退款" in texts(root)


def test_bar_chart_groups_series_and_shows_a_legend():
    root = parse(
        bar_chart(
            ["退货退款", "物流查询"], [Series("本周", (3.0, 4.0)), Series("上周", (5.0, None))]
        )
    )
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert len(bars) == 3
    assert {"本周", "上周", "—"} <= set(texts(root))


def test_bar_chart_formats_values_and_axis_as_percent():
    root = parse(
        bar_chart(
            ["a", "b"],
            [Series("share", (0.42, 0.1))],
            value_format="percent",
            format_value=format_value,
        )
    )
    assert {"42.0%", "10.0%", "0%"} <= set(texts(root))


def test_bar_chart_shows_at_most_max_bars():
    categories = [f"c{i}" for i in range(MAX_BARS + 10)]
    root = parse(bar_chart(categories, [Series("n", tuple(1.0 for _ in categories))]))
    assert f"c{MAX_BARS - 1}" in texts(root)
    assert f"c{MAX_BARS}" not in texts(root)


@pytest.mark.parametrize(
    "values", [(), (0.0, 0.0), (None, None), (-5.0, 10.0)], ids=["empty", "zero", "none", "neg"]
)
def test_bar_chart_edge_cases_are_valid_svg(values):
    parse(bar_chart([f"c{i}" for i in range(len(values))], [Series("n", values)]))


def test_long_category_names_are_shortened_with_the_full_name_as_tooltip():
    name = "账户与登录问题（包括密码找回、手机号变更、实名认证和账户注销）"
    root = parse(bar_chart([name], [Series("n", (1.0,))]))
    shown = [t for t in root.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None]
    assert shown[0].find(f"{SVG}title").text == name
    assert shown[0].find(f"{SVG}title").tail.endswith("…")


def test_text_is_escaped():
    svg = str(bar_chart([HOSTILE], [Series(HOSTILE, (1.0,))], title=HOSTILE))
    assert "<script" not in svg
    assert HOSTILE in texts(parse(svg))


def test_no_chart_for_a_table_without_rows_or_chart():
    empty = Table("t", "t", ["day", "n"], chart=Chart(ChartKind.LINE, "day", ("n",)))
    assert render_chart(empty, language="zh") is None
    assert render_chart(Table("t", "t", ["a"], [["x"]]), language="zh") is None


@pytest.mark.parametrize(
    ("lo", "hi", "integer", "ticks"),
    [
        (0, 0, False, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (0, 7, True, [0, 2, 4, 6, 8]),
        (0, 3, True, [0, 1, 2, 3]),
        (0, 0.37, False, [0, 0.1, 0.2, 0.3, 0.4]),
        (0, 1234, False, [0, 250, 500, 750, 1000, 1250]),
        (-3, 10, False, [-5, 0, 5, 10]),
        (5, 9, False, [0, 2, 4, 6, 8, 10]),
    ],
)
def test_nice_ticks_cover_zero_and_the_data_in_round_steps(lo, hi, integer, ticks):
    assert nice_ticks(lo, hi, integer=integer) == pytest.approx(ticks)
