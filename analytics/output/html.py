"""The report as one self-contained HTML page: no script, no external files.

Python prepares every string (labels looked up, numbers formatted) and the
Jinja template only lays them out, with autoescaping on, so customer text
in a cell is shown as text and never runs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from analytics.labels import label
from analytics.model import Cell, ChartKind, Metric, Report, Section, Table
from analytics.output.charts import MAX_BARS, render_chart
from analytics.output.tables import csv_file_name

MAX_ROWS = 50  # rows shown per table; the CSV and XLSX have them all
TEMPLATES = Path(__file__).parent / "templates"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
EMPTY = "—"


def format_value(value: Cell, fmt: str = "number") -> str:
    """A cell or metric as an analyst reads it: 12.3%, 1 m 05 s, 12,345, —."""
    if value is None or isinstance(value, float) and not math.isfinite(value):
        return EMPTY
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    match fmt:
        case "percent":
            return format_percent(value)
        case "seconds":
            return format_seconds(value)
        case _:
            return format_number(value)


def format_percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def format_seconds(value: float) -> str:
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value < 10 and not float(value).is_integer():
        return f"{sign}{value:.1f} s"
    whole = round(value)
    if whole < 60:
        return f"{sign}{whole} s"
    if whole < 3600:
        minutes, seconds = divmod(whole, 60)
        return f"{sign}{minutes} m {seconds:02d} s"
    if whole < 48 * 3600:
        return f"{sign}{value / 3600:.1f} h"
    return f"{sign}{value / 86400:.1f} d"


def format_number(value: float) -> str:
    if isinstance(value, int) or value.is_integer():
        return f"{value:,.0f}"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    if text in ("0", "-0"):  # too small for two decimals: keep two significant digits
        return f"{value:.2g}"
    return text


@dataclass(frozen=True)
class CellView:
    text: str
    numeric: bool


@dataclass(frozen=True)
class MetricView:
    name: str
    label: str
    value: str


@dataclass(frozen=True)
class TableView:
    anchor: str
    title: str
    columns: list[CellView]
    rows: list[list[CellView]]
    chart: Markup | None
    chart_hint: str | None
    more: str | None
    note: str | None


@dataclass(frozen=True)
class SectionView:
    anchor: str
    heading: str
    metrics: list[MetricView]
    tables: list[TableView]


@dataclass(frozen=True)
class PageView:
    lang: str
    title: str
    period: str
    filters: list[tuple[str, str]]
    generated_at: str
    warnings: list[str]
    stats: list[tuple[str, str]]
    sections: list[SectionView]
    text: dict[str, str] = field(default_factory=dict)


class HtmlRenderer:
    """Turns a `Report` into the page's HTML text."""

    def __init__(self, templates: Path = TEMPLATES) -> None:
        self.environment = Environment(
            loader=FileSystemLoader(templates),
            # the template is *.html.j2, which select_autoescape would not match
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, report: Report) -> str:
        template = self.environment.get_template("report.html.j2")
        return template.render(page=page_view(report))


def write_html(report: Report, path: Path) -> Path:
    path.write_text(HtmlRenderer().render(report), encoding="utf-8")
    return path


def page_view(report: Report) -> PageView:
    language = report.language

    def text(key: str) -> str:
        return label(key, language)

    return PageView(
        lang=HTML_LANG.get(language, language),
        title=text("report_title"),
        period=f"{report.since} – {report.until}",
        filters=[(label(key, language), str(value)) for key, value in report.filters.items()],
        generated_at=report.generated_at,
        warnings=[label(warning, language) for warning in report.warnings],
        stats=[(label(str(key), language), _stat(value)) for key, value in report.stats.items()],
        sections=[
            _section_view(section, index, language) for index, section in enumerate(report.sections)
        ],
        text={
            key: text(key)
            for key in (
                "period",
                "filters",
                "generated_at",
                "warnings",
                "no_data",
                "contents",
                "no_filters",
                "about_data",
            )
        },
    )


def _section_view(section: Section, index: int, language: str) -> SectionView:
    anchor = f"s{index + 1}-{_slug(section.name)}"
    return SectionView(
        anchor=anchor,
        heading=label(section.name, language),
        metrics=[_metric_view(metric, language) for metric in section.metrics],
        tables=[
            _table_view(table, f"{anchor}-t{number + 1}", language)
            for number, table in enumerate(section.tables)
        ],
    )


def _metric_view(metric: Metric, language: str) -> MetricView:
    return MetricView(
        name=metric.name,
        label=label(metric.name, language),
        value=format_value(metric.value, metric.format),
    )


def _table_view(table: Table, anchor: str, language: str) -> TableView:
    numeric = [_is_numeric(table, index) for index in range(len(table.columns))]
    formats = [table.formats.get(column, "number") for column in table.columns]
    shown = table.rows[:MAX_ROWS]
    hidden = len(table.rows) - len(shown)
    bar_overflow = (
        table.chart is not None and table.chart.kind == ChartKind.BAR and len(table.rows) > MAX_BARS
    )
    return TableView(
        anchor=anchor,
        title=label(table.title, language),
        columns=[
            CellView(label(column, language), numeric[index])
            for index, column in enumerate(table.columns)
        ],
        rows=[
            [CellView(format_value(cell, formats[i]), numeric[i]) for i, cell in enumerate(row)]
            for row in shown
        ],
        chart=render_chart(table, language=language, format_value=format_value),
        chart_hint=(
            label("chart_first_bars", language).format(count=MAX_BARS) if bar_overflow else None
        ),
        more=(
            label("more_rows", language).format(count=f"{hidden:,}", csv=csv_file_name(table))
            if hidden
            else None
        ),
        note=label(table.note, language) if table.note else None,
    )


def _is_numeric(table: Table, index: int) -> bool:
    """Right-align a column that has a format or holds only numbers."""
    if table.columns[index] in table.formats:
        return True
    values = [row[index] for row in table.rows if row[index] is not None]
    return bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _stat(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value) if math.isfinite(value) else EMPTY
    if value is None:
        return EMPTY
    return str(value)


def _slug(name: str) -> str:
    return re.sub(r"[^\w-]+", "-", name).strip("-") or "section"
