"""Tables as files: CSV for machines, XLSX for analysts.

CSV keeps the stable column names and the values as they are, in UTF-8 with
a BOM so Excel opens Chinese correctly. XLSX translates the header, keeps
numbers as numbers and shows percent columns as percent.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from analytics.labels import label
from analytics.model import Cell, Report, Table

SHEET_NAME_LIMIT = 31
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
CELL_TEXT_LIMIT = 32_767
# Text a spreadsheet reads as a formula when it opens a CSV (OWASP's "CSV
# injection" list); such cells are written with a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER_FORMATS = {"percent": "0.0%", "seconds": "#,##0.0"}
HEADER_FILL = PatternFill("solid", start_color="FFE8EEF5")
HEADER_FONT = Font(bold=True, color="FF1F2937")
HEADER_BORDER = Border(bottom=Side(style="thin", color="FF94A3B8"))


def csv_file_name(table: Table) -> str:
    """`csv/<table.name>.csv`, with anything unsafe in a file name replaced."""
    return f"csv/{safe_file_stem(table.name)}.csv"


def safe_file_stem(name: str) -> str:
    stem = re.sub(r"[^\w.-]+", "_", name).lstrip(".")
    return stem or "table"


def write_csvs(tables: Iterable[Table], csv_dir: Path) -> dict[str, Path]:
    csv_dir.mkdir(parents=True, exist_ok=True)
    return {
        table.name: write_csv(table, csv_dir / f"{safe_file_stem(table.name)}.csv")
        for table in tables
    }


def write_csv(table: Table, path: Path) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(table.columns)
        writer.writerows([_csv_cell(cell) for cell in row] for row in table.rows)
    return path


def write_xlsx(report: Report, path: Path) -> Path:
    """One sheet per table, named after its translated title."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = label("report_title", report.language)
    tables = report.tables()
    names = sheet_names([label(table.title, report.language) for table in tables])
    for table, name in zip(tables, names, strict=True):
        _fill_sheet(workbook.create_sheet(name), table, report.language)
    if not tables:  # a workbook needs a sheet
        sheet = workbook.create_sheet(_sheet_name(label("no_data", report.language)))
        sheet["A1"] = label("no_data", report.language)
    workbook.save(path)
    return path


def sheet_names(titles: Iterable[str]) -> list[str]:
    """Valid, unique (ignoring case, as Excel does) sheet names of at most 31 characters."""
    names: list[str] = []
    taken: set[str] = set()
    for title in titles:
        base = _sheet_name(title)
        name, number = base, 1
        while name.casefold() in taken:
            number += 1
            suffix = f" ({number})"
            name = base[: SHEET_NAME_LIMIT - len(suffix)].rstrip() + suffix
        taken.add(name.casefold())
        names.append(name)
    return names


def _sheet_name(title: str) -> str:
    name = SHEET_FORBIDDEN.sub("_", ILLEGAL_CHARACTERS_RE.sub("", title)).strip().strip("'")
    name = name[:SHEET_NAME_LIMIT].strip()
    if not name or name.casefold() == "history":  # Excel reserves "History"
        name = f"{name or 'Sheet'}_"
    return name


def _fill_sheet(sheet: Worksheet, table: Table, language: str) -> None:
    headers = [label(column, language) for column in table.columns]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.border = HEADER_BORDER
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    formats = [table.formats.get(column) for column in table.columns]
    for row_number, row in enumerate(table.rows, start=2):
        for column_number, value in enumerate(row, start=1):
            cell = sheet.cell(row=row_number, column=column_number)
            cell.value = _xlsx_value(value)
            if isinstance(value, str):
                cell.data_type = "s"  # customer text starting with "=" is not a formula
            elif isinstance(cell.value, int | float):
                cell.number_format = NUMBER_FORMATS.get(
                    formats[column_number - 1] or "",
                    "#,##0" if float(cell.value).is_integer() else "#,##0.00",
                )
    sheet.freeze_panes = "A2"
    if table.rows:
        sheet.auto_filter.ref = sheet.dimensions
    for index, header in enumerate(headers):
        texts = [header, *(str(row[index]) for row in table.rows[:200] if row[index] is not None)]
        width = max(_display_width(text) for text in texts)
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(width + 2, 8), 60)


def _xlsx_value(value: Cell) -> Cell:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)[:CELL_TEXT_LIMIT]
    return value


def _csv_cell(value: Cell) -> Cell:
    if value is None or isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        # Customers' words: a spreadsheet opening the CSV would run them.
        return "'" + value
    return value


def _display_width(text: str) -> int:
    """Columns Excel needs: a CJK character is about two Latin ones wide."""
    return sum(2 if ord(char) >= 0x2E80 else 1 for char in text)
