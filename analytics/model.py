"""What a report is made of, independent of how it is written out.

Builders produce `Section`s of `Table`s (each optionally drawn as a `Chart`)
and headline `Metric`s; `analytics.output` writes them as HTML, CSV, XLSX
and JSON. Labels are message keys looked up in `analytics.labels`, so one
report renders in Chinese or English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Cell = str | int | float | None


class ChartKind(StrEnum):
    LINE = "line"  # trends over time: x is a time bucket
    BAR = "bar"  # distributions: x is a category


@dataclass(frozen=True)
class Chart:
    kind: ChartKind
    x: str  # column holding the x values
    series: tuple[str, ...]  # columns drawn as lines or bars


@dataclass
class Table:
    """`name` is stable (file names, JSON keys); `title` and the column
    labels are i18n keys. `formats` maps a column to `percent`, `seconds`
    or `number` so renderers show 0.123 as 12.3 %."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    chart: Chart | None = None
    formats: dict[str, str] = field(default_factory=dict)
    note: str | None = None  # i18n key of a definition shown under the table

    def as_records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass
class Metric:
    name: str  # stable key, also the i18n key
    value: float | int | None
    format: str = "number"  # number | percent | seconds


@dataclass
class Section:
    name: str  # stable key, also the i18n key of its heading
    metrics: list[Metric] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass
class Report:
    since: str
    until: str
    language: str
    filters: dict[str, str]
    generated_at: str
    sections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> list[Table]:
        return [table for section in self.sections for table in section.tables]
