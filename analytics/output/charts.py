"""Inline SVG charts, drawn here so the report needs no script or network.

Line charts show trends over time buckets; bar charts show distributions as
horizontal bars, which leave room for long Chinese category names. Every
piece of text goes through `markupsafe.escape`, so a category named
`<script>` is drawn as text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from analytics.labels import label
from analytics.model import Cell, ChartKind, Table

# Okabe-Ito, minus its yellow (too pale on white): distinguishable with the
# common colour-vision deficiencies, and in the same order in every chart.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#8C6D31",
    "#555555",
)
WIDTH = 880
MAX_BARS = 30  # categories drawn; the table below the chart has the rest
FONT_SIZE = 12
AXIS_COLOR = "#94a3b8"
GRID_COLOR = "#e2e8f0"
TEXT_COLOR = "#334155"
MUTED_COLOR = "#64748b"
FONT_FAMILY = '"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei","PingFang SC",sans-serif'

Formatter = Callable[[Cell, str], str]


def plain_format(value: Cell, fmt: str) -> str:
    """The fallback value formatter; the HTML writer passes its own."""
    return "—" if value is None else str(value)


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend and tooltips
    values: tuple[float | None, ...]


def render_chart(
    table: Table, *, language: str, format_value: Formatter = plain_format
) -> Markup | None:
    """The table's chart as SVG markup, or None when it has no chart or no rows."""
    chart = table.chart
    if chart is None or not table.rows:
        return None
    x_index = table.columns.index(chart.x)
    xs = ["—" if row[x_index] is None else str(row[x_index]) for row in table.rows]
    series = [
        Series(
            name=label(column, language),
            values=tuple(_number(row[table.columns.index(column)]) for row in table.rows),
        )
        for column in chart.series
    ]
    value_format = table.formats.get(chart.series[0], "number") if chart.series else "number"
    title = label(table.title, language)
    if chart.kind == ChartKind.LINE:
        return line_chart(
            xs, series, value_format=value_format, format_value=format_value, title=title
        )
    return bar_chart(xs, series, value_format=value_format, format_value=format_value, title=title)


def line_chart(
    xs: Sequence[str],
    series: Sequence[Series],
    *,
    value_format: str = "number",
    format_value: Formatter = plain_format,
    title: str = "",
) -> Markup:
    """One polyline per series over evenly spaced x buckets, y from zero."""
    n = len(xs)
    series = _fitted(series, n)
    axis = _Axis.for_values(_all_values(series), value_format)
    legend = _Legend(series, WIDTH - 16)
    top = 12 + legend.height
    x_label_width = max((_text_width(x) for x in xs), default=0)
    left = max(axis.label_width() + 14, x_label_width / 2 + 4, 40)
    right = max(x_label_width / 2 + 4, 16)
    plot_height = 220
    height = top + plot_height + 32
    plot_width = WIDTH - left - right
    bottom = top + plot_height

    def x_at(i: int) -> float:
        return left + plot_width / 2 if n == 1 else left + plot_width * i / (n - 1)

    def y_at(value: float) -> float:
        return bottom - plot_height * axis.fraction(value)

    parts = [_svg_open(height, title)]
    parts.append(legend.render(16, 12, line=True))
    parts.extend(_y_grid(axis, left, WIDTH - right, y_at))
    # x ticks: thin the labels so they never overlap
    slots = max(1, int(plot_width // (x_label_width + 14))) if n else 1
    step = max(1, math.ceil(n / slots))
    for i, x in enumerate(xs):
        if i % step:
            continue
        px = x_at(i)
        parts.append(_line(px, bottom, px, bottom + 4, AXIS_COLOR))
        parts.append(_text(px, bottom + 18, x, anchor="middle", fill=MUTED_COLOR))
    parts.append(_line(left, bottom, WIDTH - right, bottom, AXIS_COLOR))
    markers = n <= 40
    for index, line in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        for run in _runs(line.values):
            if len(run) > 1:
                points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in run)
                parts.append(
                    f'<polyline points="{points}" fill="none" stroke="{color}" '
                    'stroke-width="2.25" stroke-linejoin="round" stroke-linecap="round"/>'
                )
            for i, value in run:
                if markers or len(run) == 1:
                    tip = f"{xs[i]} · {line.name}: {format_value(value, value_format)}"
                    parts.append(
                        f'<circle cx="{x_at(i):.1f}" cy="{y_at(value):.1f}" r="3.5" '
                        f'fill="#ffffff" stroke="{color}" stroke-width="2">'
                        f"<title>{escape(tip)}</title></circle>"
                    )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    value_format: str = "number",
    format_value: Formatter = plain_format,
    title: str = "",
) -> Markup:
    """Horizontal bars, one group per category, with the value at each bar's end."""
    categories = list(categories[:MAX_BARS])
    series = _fitted(series, len(categories))
    axis = _Axis.for_values(_all_values(series), value_format)
    legend = _Legend(series, WIDTH - 16) if len(series) > 1 else None
    top = 12 + (legend.height if legend else 0)
    label_width = min(max((_text_width(c) for c in categories), default=0), 240)
    value_labels = [[format_value(v, value_format) for v in s.values] for s in series]
    value_width = max((_text_width(t) for labels in value_labels for t in labels), default=0)
    left = 16 + label_width + 10
    right = value_width + 16
    plot_width = WIDTH - left - right
    k = max(len(series), 1)
    bar = 18 if k == 1 else 13
    group = k * bar + (k - 1) * 2
    row = group + 12
    plot_height = max(row * len(categories), row)
    bottom = top + plot_height
    height = bottom + 28

    def x_at(value: float) -> float:
        return left + plot_width * axis.fraction(value)

    parts = [_svg_open(height, title)]
    if legend:
        parts.append(legend.render(16, 12, line=False))
    for tick, text in zip(axis.ticks, axis.labels(), strict=True):
        px = x_at(tick)
        color = AXIS_COLOR if tick == 0 else GRID_COLOR
        parts.append(_line(px, top, px, bottom, color))
        parts.append(_text(px, bottom + 18, text, anchor="middle", fill=MUTED_COLOR))
    zero = x_at(0)
    for row_index, category in enumerate(categories):
        y0 = top + row_index * row + 6
        shown = _truncate(category, label_width)
        parts.append(
            f'<text class="category" x="{left - 10:.1f}" y="{y0 + group / 2 + 4:.1f}" '
            f'text-anchor="end" fill="{TEXT_COLOR}">'
            f"<title>{escape(category)}</title>{escape(shown)}</text>"
        )
        for index, values in enumerate(s.values for s in series):
            value = values[row_index]
            y = y0 + index * (bar + 2)
            text = value_labels[index][row_index]
            if value is None:
                parts.append(_text(zero + 6, y + bar / 2 + 4, text, fill=MUTED_COLOR))
                continue
            end = x_at(value)
            x, width = min(zero, end), abs(end - zero)
            color = PALETTE[index % len(PALETTE)]
            tip = f"{category} · {series[index].name}: {text}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 1):.1f}" height="{bar}" '
                f'rx="2" fill="{color}"><title>{escape(tip)}</title></rect>'
            )
            if value >= 0:
                parts.append(_text(end + 6, y + bar / 2 + 4, text, fill=TEXT_COLOR))
            else:
                parts.append(_text(end - 6, y + bar / 2 + 4, text, anchor="end", fill=TEXT_COLOR))
    parts.append("</svg>")
    return Markup("".join(parts))


def nice_ticks(lo: float, hi: float, *, count: int = 5, integer: bool = False) -> list[float]:
    """Ticks on a 1-2-2.5-5 step that cover [lo, hi]; zero is always one of them."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        hi = lo + 1
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    multiples = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in multiples if m * magnitude >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, round(step))
    start = math.floor(lo / step + 1e-9)
    end = math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) for i in range(start, end + 1)]


class _Axis:
    """A value axis: nice ticks in a display unit, and the labels for them."""

    def __init__(self, ticks: list[float], value_format: str, unit: tuple[float, str]) -> None:
        self.ticks = ticks  # in the data's unit (fractions, seconds, counts)
        self.value_format = value_format
        self.unit = unit

    @classmethod
    def for_values(cls, values: list[float], value_format: str) -> _Axis:
        lo, hi = min(values, default=0.0), max(values, default=0.0)
        unit = (1.0, "")
        if value_format == "seconds":
            unit = _seconds_unit(max(abs(lo), abs(hi)))
        integer = value_format == "number" and all(float(v).is_integer() for v in values)
        scaled = nice_ticks(lo / unit[0], hi / unit[0], integer=integer)
        return cls([t * unit[0] for t in scaled], value_format, unit)

    def fraction(self, value: float) -> float:
        lo, hi = self.ticks[0], self.ticks[-1]
        return (value - lo) / (hi - lo)

    def labels(self) -> list[str]:
        divisor, suffix = self.unit
        step = abs(self.ticks[1] - self.ticks[0]) / divisor if len(self.ticks) > 1 else 1
        if self.value_format == "percent":
            decimals = _decimals(step * 100)
            return [f"{t * 100:.{decimals}f}%" for t in self.ticks]
        decimals = _decimals(step)
        return [f"{t / divisor:,.{decimals}f}{suffix}" for t in self.ticks]

    def label_width(self) -> float:
        return max(_text_width(t) for t in self.labels())


class _Legend:
    """Legend items laid out left to right, wrapping to new rows."""

    def __init__(self, series: Sequence[Series], width: float) -> None:
        self.items: list[tuple[float, float, str]] = []
        x, y = 0.0, 0.0
        for line in series:
            item = 22 + _text_width(line.name) + 18
            if x and x + item > width:
                x, y = 0.0, y + 20
            self.items.append((x, y, line.name))
            x += item
        self.height = (y + 20 + 8) if series else 0

    def render(self, left: float, top: float, *, line: bool) -> str:
        parts = []
        for index, (x, y, name) in enumerate(self.items):
            color = PALETTE[index % len(PALETTE)]
            cx, cy = left + x, top + y + 8
            if line:
                parts.append(
                    f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{cx + 16:.1f}" y2="{cy:.1f}" '
                    f'stroke="{color}" stroke-width="3" stroke-linecap="round"/>'
                )
            else:
                parts.append(
                    f'<rect x="{cx:.1f}" y="{cy - 6:.1f}" width="16" height="12" rx="2" '
                    f'fill="{color}"/>'
                )
            parts.append(_text(cx + 22, cy + 4, name, fill=TEXT_COLOR))
        return "".join(parts)


def _svg_open(height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}" role="img" aria-label="{escape(title)}" '
        f'font-family=\'{FONT_FAMILY}\' font-size="{FONT_SIZE}" class="chart">'
        f"<title>{escape(title)}</title>"
    )


def _y_grid(axis: _Axis, x0: float, x1: float, y_at: Callable[[float], float]) -> list[str]:
    parts = []
    for tick, text in zip(axis.ticks, axis.labels(), strict=True):
        y = y_at(tick)
        parts.append(_line(x0, y, x1, y, AXIS_COLOR if tick == 0 else GRID_COLOR))
        parts.append(_text(x0 - 8, y + 4, text, anchor="end", fill=MUTED_COLOR))
    return parts


def _line(x1: float, y1: float, x2: float, y2: float, color: str) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{color}" stroke-width="1"/>'
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = TEXT_COLOR) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">'
        f"{escape(text)}</text>"
    )


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Stretches of consecutive known values: a None breaks the line."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, value))
    return [run for run in runs if run]


def _fitted(series: Sequence[Series], n: int) -> list[Series]:
    """Each series cut or padded with None to exactly `n` values."""
    return [Series(s.name, (*s.values[:n], *[None] * (n - len(s.values)))) for s in series]


def _all_values(series: Sequence[Series]) -> list[float]:
    return [v for s in series for v in s.values if v is not None]


def _number(value: Cell) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _seconds_unit(extent: float) -> tuple[float, str]:
    """Hours, minutes or seconds, whichever keeps the tick numbers small."""
    if extent >= 7200:
        return 3600.0, " h"
    if extent >= 120:
        return 60.0, " m"
    return 1.0, " s"


def _decimals(step: float) -> int:
    """Decimals needed to tell ticks `step` apart."""
    if step <= 0:
        return 0
    if step >= 1:
        return 0 if float(step).is_integer() else 1
    return min(max(0, -math.floor(math.log10(step) + 1e-9)) + (0 if _is_round(step) else 1), 6)


def _is_round(step: float) -> bool:
    magnitude = 10 ** math.floor(math.log10(step) + 1e-9)
    return abs(step / magnitude - round(step / magnitude)) < 1e-9


def _char_width(char: str) -> float:
    if ord(char) >= 0x2E80:  # CJK and full-width forms take a whole em
        return 1.0
    if char in "ilI.,:;'|!":
        return 0.3
    if char.isupper() or char in "mwMW%@":
        return 0.72
    return 0.56


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    """An estimate of the drawn width, good enough to lay out labels."""
    return sum(_char_width(c) for c in text) * size


def _truncate(text: str, width: float) -> str:
    if _text_width(text) <= width:
        return text
    kept = ""
    for char in text:
        if _text_width(kept + char + "…") > width:
            break
        kept += char
    return kept + "…"
