from __future__ import annotations

import json

import openpyxl
import pytest

from analytics.errors import AnalyticsError
from analytics.model import Chart, ChartKind, Metric, Report, Section, Table
from analytics.output import ReportShapeError, write_report
from tests.analytics.output import make_report


def test_write_report_writes_every_file_and_returns_their_paths(tmp_path):
    out = tmp_path / "out" / "2026-11"
    paths = write_report(make_report(), out)
    assert paths == {
        "html": out / "report.html",
        "summary": out / "summary.json",
        "xlsx": out / "report.xlsx",
        "csv_dir": out / "csv",
    }
    assert "<svg" in paths["html"].read_text("utf-8")
    assert json.loads(paths["summary"].read_text("utf-8"))["language"] == "zh"
    assert len(openpyxl.load_workbook(paths["xlsx"]).sheetnames) == 4
    assert sorted(p.name for p in paths["csv_dir"].iterdir()) == [
        "categories.csv",
        "daily_volume.csv",
        "empty.csv",
        "messages.csv",
    ]


def test_write_report_of_an_empty_report(tmp_path):
    paths = write_report(Report("2026-11-01", "2026-11-07", "en", {}, "now"), tmp_path)
    assert "No data in this period" in paths["html"].read_text("utf-8")
    assert json.loads(paths["summary"].read_text("utf-8"))["sections"] == {}
    assert list(paths["csv_dir"].iterdir()) == []


def test_write_report_overwrites_a_previous_run(tmp_path):
    write_report(make_report(), tmp_path)
    report = make_report("en")
    write_report(report, tmp_path)
    assert '<html lang="en">' in (tmp_path / "report.html").read_text("utf-8")


def report_with(*tables: Table, sections: list[Section] | None = None) -> Report:
    return Report("a", "b", "zh", {}, "now", sections or [Section("s", tables=list(tables))])


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (
            report_with(Table("t", "t", ["a", "b"], [[1, 2], [3]])),
            "Row 2 of table 't' has 1 cells for 2 columns",
        ),
        (report_with(Table("t", "t", ["a"]), Table("t", "u", ["b"])), "Duplicate table file name"),
        (report_with(Table("a/b", "t", ["a"]), Table("a_b", "u", ["b"])), "Duplicate table file"),
        (report_with(Table("t", "t", ["a", "a"])), "Duplicate column in table 't'"),
        (
            report_with(Table("t", "t", ["day", "n"], chart=Chart(ChartKind.LINE, "day", ("x",)))),
            "uses unknown columns ['x']",
        ),
        (
            report_with(Table("t", "t", ["day"], chart=Chart(ChartKind.BAR, "day", ()))),
            "draws no series",
        ),
        (report_with(sections=[Section("s"), Section("s")]), "Duplicate section: 's'"),
        (
            report_with(sections=[Section("s", [Metric("m", 1), Metric("m", 2)])]),
            "Duplicate metric in section 's'",
        ),
        (Report("a", "b", "fr", {}, "now"), "Unknown report language 'fr'"),
    ],
)
def test_malformed_reports_fail_before_anything_is_written(tmp_path, report, message):
    with pytest.raises(ReportShapeError) as error:
        write_report(report, tmp_path / "out")
    assert message in str(error.value)
    assert isinstance(error.value, AnalyticsError)  # the command line explains it
    assert not (tmp_path / "out").exists()
