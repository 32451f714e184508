"""Writes a `Report` out for people and for machines.

`write_report(report, out_dir)` writes `report.html` (one self-contained
page), `summary.json`, `report.xlsx` (one sheet per table) and
`csv/<table.name>.csv`, after checking the report's shape so that a
builder's mistake fails here, named, rather than as a half-written folder.
"""

from __future__ import annotations

from pathlib import Path

from analytics.errors import AnalyticsError
from analytics.labels import LANGUAGES
from analytics.model import Report, Table
from analytics.output.html import write_html
from analytics.output.summary import write_summary
from analytics.output.tables import safe_file_stem, write_csvs, write_xlsx

__all__ = ["OutputError", "ReportShapeError", "check_shape", "write_report"]


class OutputError(AnalyticsError):
    """Base of the errors raised while writing a report out."""

    message = "The report could not be written."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)


class ReportShapeError(OutputError):
    message = "The report's sections or tables are malformed."


def write_report(report: Report, out_dir: Path) -> dict[str, Path]:
    check_shape(report)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_dir = out_dir / "csv"
    write_csvs(report.tables(), csv_dir)
    return {
        "html": write_html(report, out_dir / "report.html"),
        "summary": write_summary(report, out_dir / "summary.json"),
        "xlsx": write_xlsx(report, out_dir / "report.xlsx"),
        "csv_dir": csv_dir,
    }


def check_shape(report: Report) -> None:
    """Raises `ReportShapeError` for what would collide or misalign in the files."""
    if report.language not in LANGUAGES:
        raise ReportShapeError(f"Unknown report language {report.language!r}.")
    _unique("section", [section.name for section in report.sections])
    files = []
    for section in report.sections:
        _unique(f"metric in section {section.name!r}", [m.name for m in section.metrics])
        for table in section.tables:
            _check_table(table)
            files.append(safe_file_stem(table.name).casefold())
    _unique("table file name", files)


def _check_table(table: Table) -> None:
    _unique(f"column in table {table.name!r}", table.columns)
    for number, row in enumerate(table.rows, start=1):
        if len(row) != len(table.columns):
            raise ReportShapeError(
                f"Row {number} of table {table.name!r} has {len(row)} cells "
                f"for {len(table.columns)} columns."
            )
    if table.chart is not None:
        missing = [c for c in (table.chart.x, *table.chart.series) if c not in table.columns]
        if missing:
            raise ReportShapeError(
                f"The chart of table {table.name!r} uses unknown columns {missing}."
            )
        if not table.chart.series:
            raise ReportShapeError(f"The chart of table {table.name!r} draws no series.")


def _unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ReportShapeError(f"Duplicate {what}: {name!r}.")
        seen.add(name)
