"""The report's figures on a small tracker store and ticket database whose
every number is computed by hand in the comments below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from analytics.__main__ import main as cli
from analytics.period import Period
from analytics.report import BuiltReport, ReportRequest, build_report
from analytics.warehouse import Warehouse
from tests.analytics.conftest import TrackerBuilder, at, write_tickets

WEEK = Period(since=__import__("datetime").date(2026, 11, 2),
              until=__import__("datetime").date(2026, 11, 8), timezone="UTC")  # fmt: skip


def conversations() -> TrackerBuilder:
    t = TrackerBuilder()
    # A (rest, zh), Nov 2: an FAQ answered in 2 s. Contained.
    t.session("a", at(2)).user(
        "a", at(2), "一般几天能到货", "faq", 0.95, faq=("faq/shipping_time", 0.9)
    )
    t.slot("a", at(2), "language", "zh").slot("a", at(2), "category", "order_logistics")
    t.action("a", at(2, second=1), "action_answer_faq").bot("a", at(2, second=2))
    # B (socketio, en), Nov 2: fallback, an unsure FAQ match, then a human.
    t.session("b", at(2, 11)).slot("b", at(2, 11), "language", "en")
    t.user("b", at(2, 11), "do you accept crypto", "nlu_fallback", 0.3, channel="socketio")
    t.action("b", at(2, 11, second=1), "action_clarify").bot("b", at(2, 11, second=1))
    t.user("b", at(2, 11, 1), "can I pay with crypto", "faq", 0.8, "socketio",
           faq=("faq/payment_methods", 0.3))  # fmt: skip
    t.action("b", at(2, 11, 1, 1), "action_answer_faq").bot("b", at(2, 11, 1, 3))
    t.user("b", at(2, 11, 2), "human please", "request_human", 0.97, "socketio")
    t.action("b", at(2, 11, 2, 1), "action_request_human").bot("b", at(2, 11, 2, 1))
    t.slot("b", at(2, 11, 2, 1), "handoff_reason", "fallback").event("b", "pause", at(2, 11, 2, 1))
    t.bot("b", at(2, 11, 5), agent_id=2).event("b", "resume", at(2, 11, 10))
    # C (rest, zh), Nov 3: low confidence, starts the refund form and leaves.
    t.session("c", at(3, 9)).user("c", at(3, 9), "我要退货", "return_refund", 0.45)
    t.slot("c", at(3, 9), "language", "zh").slot("c", at(3, 9), "category", "after_sales")
    t.action("c", at(3, 9, second=1), "refund_form").bot("c", at(3, 9, second=2))
    t.event("c", "active_loop", at(3, 9, second=2), name="refund_form")
    # D: A's second session, Nov 4: a greeting.
    t.session("a", at(4)).user("a", at(4), "你好", "greet", 0.99).slot("a", at(4), "language", "zh")
    t.action("a", at(4, second=1), "utter_greet").bot("a", at(4, second=1))
    # Before the period, and a corrupted row: neither counts.
    t.session("old", at(1) - 2 * 86400).user("old", at(1) - 2 * 86400, "hi", "greet")
    t.rows.append(("x", "user", at(5), None, None, "{not json"))
    return t


TICKETS: list[dict[str, Any]] = [
    # B's handoff: waits 120 s, first answer 290 s after queueing, resolved in 590 s; CSAT 4.
    {"conversation_id": "b", "channel": "socketio", "category": "pre_sales", "status": "resolved",
         "assignee_id": 2, "created_at": at(2, 11, 0, 10), "queued_at": at(2, 11, 0, 10),
         "assigned_at": at(2, 11, 2, 10), "first_response_at": at(2, 11, 5),
         "resolved_at": at(2, 11, 10),
         "csat_score": 4, "csat_comment": "很耐心", "csat_at": at(2, 11, 11)},
    # Waits 600 s, answered after 1200 s, resolved after 27 h (97,200 s); CSAT 2, given
    # after the period; transferred.
    {"channel": "rest", "category": "after_sales", "status": "resolved", "assignee_id": 1,
         "created_at": at(3, 9), "queued_at": at(3, 9), "assigned_at": at(3, 9, 10),
         "first_response_at": at(3, 9, 20), "resolved_at": at(4, 12), "csat_score": 2,
         "csat_comment": "太慢", "csat_at": at(10, 9)},  # rated after the period
    # Still pending at the end of the period (created Nov 5), and one from before it.
    {"channel": "rest", "category": "complaint", "created_at": at(5)},
    {"channel": "rest", "category": "general", "created_at": at(1)},
]  # fmt: skip


@pytest.fixture
def sources(tmp_sqlite) -> tuple[str, str]:
    tracker, tickets = tmp_sqlite("tracker.db"), tmp_sqlite("handoff.db")
    conversations().write(tracker)
    write_tickets(tickets, TICKETS, transfers=[2])
    return tracker, tickets


def report(tracker: str, tickets: str | None, state: Path, **options: Any) -> BuiltReport:
    request = ReportRequest(
        tracker_url=tracker, tickets_url=tickets, warehouse_path=state, period=WEEK,
        progress=False, **options,
    )  # fmt: skip
    return build_report(request)


def section(built: BuiltReport, name: str) -> dict[str, Any]:
    found = next(s for s in built.report.sections if s.name == name)
    return {
        "metrics": {m.name: m.value for m in found.metrics},
        **{t.name: t.rows for t in found.tables},
    }


def test_every_figure_matches_the_hand_count(sources, tmp_path):
    built = report(*sources, tmp_path / "state.db")
    volume = section(built, "volume")
    assert volume["metrics"] == {
        "conversations": 4, "customer_messages": 6, "bot_messages": 6, "agent_messages": 1,
    }  # fmt: skip
    assert volume["volume_by_day"][:4] == [
        ["2026-11-02", 2, 4], ["2026-11-03", 1, 1], ["2026-11-04", 1, 1], ["2026-11-05", 0, 0],
    ]  # fmt: skip
    assert volume["volume_by_week"] == [["2026-11-02", 4, 6]]
    # Channels by their names in channels.yml, in the report's language.
    assert volume["volume_by_channel"] == [["接口", 3, 3], ["网页", 1, 3]]
    assert sorted(volume["volume_by_language"]) == [["en", 1, 3], ["zh", 3, 3]]
    assert volume["volume_by_hour"][10] == ["10", 2] and volume["volume_by_hour"][11] == ["11", 3]

    quality = section(built, "quality")["metrics"]
    assert quality == pytest.approx(
        {
            "containment_rate": 3 / 4,
            "handoff_rate": 1 / 4,
            "fallback_rate": 1 / 6,
            "low_confidence_rate": 2 / 6,
            "abandonment_rate": 1 / 4,
        }
    )
    assert section(built, "quality")["handoff_reasons"][1] == ["fallback", 1, 1.0]

    questions = section(built, "questions")
    assert questions["intent_distribution"][0] == ["faq", 2, 2 / 6]
    assert sorted(questions["top_faq"]) == [["faq/payment_methods", 1], ["faq/shipping_time", 1]]

    gaps = section(built, "knowledge_gaps")["knowledge_gaps"]
    # Ties are ordered by text, and the first question's intent names the cluster.
    assert gaps == [["gap_01", 2, 2, "faq", "can I pay with crypto | do you accept crypto"]]
    exported = yaml.safe_load(built.gaps_yaml)
    assert exported["nlu"][0]["intent"] == "faq/gap_01"
    assert exported["nlu"][0]["examples"] == "- can I pay with crypto\n- do you accept crypto\n"
    assert "utter_faq/gap_01" in exported["responses"]

    service = section(built, "service")["metrics"]
    # Bot replies after 2, 1, 3, 1, 2 and 1 s: p50 1 s, p90 3 s (nearest rank).
    assert (service["bot_response_p50"], service["bot_response_p90"]) == (1, 3)
    assert (service["human_first_response_p50"], service["human_first_response_p90"]) == (290, 1200)
    assert (service["queue_wait_p50"], service["queue_wait_p90"]) == (120, 600)
    assert (service["human_resolution_p50"], service["human_resolution_p90"]) == (590, 97200)
    sla = {row[0]: row[2:] for row in section(built, "service")["sla_breaches"]}
    assert sla == {
        "sla_first_response": [2, 1, 0.5],
        "sla_queue_wait": [2, 1, 0.5],
        "sla_resolution": [2, 1, 0.5],
    }
    backlog = {row[0]: row for row in section(built, "service")["backlog"]}
    assert backlog["pending"][-2:] == [2, 2]  # both pending tickets are over 3 days old

    agents = section(built, "agents")["agent_performance"]
    assert agents == [
        ["Alice", 1, 1, 470, 4, 1, 0],
        ["王芳", 1, 1, 96600, 2, 1, 1],
    ]
    satisfaction = section(built, "satisfaction")
    assert satisfaction["metrics"] == {
        "csat_average": 3.0, "csat_responses": 2, "csat_response_rate": 1.0,
        "csat_satisfied_share": 0.5,
    }  # fmt: skip
    assert satisfaction["csat_distribution"][1] == ["2", 1, 0.5]
    assert satisfaction["csat_by_week"] == [["2026-11-02", 2, 3.0]]
    assert [row[-1] for row in satisfaction["csat_comments"]] == ["太慢", "很耐心"]
    assert sorted(satisfaction["csat_by_channel"]) == [["接口", 1, 2.0], ["网页", 1, 4.0]]
    assert sorted(row[2] for row in satisfaction["csat_comments"]) == ["接口", "网页"]

    channels = section(built, "channels")["channel_effectiveness"]
    assert channels == [
        ["接口", 3, 1.0, 0.0, 2.0, 97200],
        ["网页", 1, 0.0, 1.0, 4.0, 590],
    ]
    assert built.report.stats["corrupted_rows"] == 1
    assert "corrupted_rows" in built.report.warnings


def test_filters_narrow_conversations_and_tickets(sources, tmp_path):
    built = report(*sources, tmp_path / "state.db", filters={"channel": "socketio"})
    assert section(built, "volume")["metrics"]["conversations"] == 1
    assert section(built, "volume")["metrics"]["customer_messages"] == 3
    assert section(built, "satisfaction")["metrics"]["csat_average"] == 4.0
    assert section(built, "quality")["metrics"]["containment_rate"] == 0.0


def test_an_empty_period_gives_an_empty_report(sources, tmp_path):
    from datetime import date

    request = ReportRequest(
        tracker_url=sources[0], tickets_url=sources[1], warehouse_path=tmp_path / "s.db",
        period=Period(date(2026, 12, 1), date(2026, 12, 7), "UTC"), progress=False,
    )  # fmt: skip
    built = build_report(request)
    assert section(built, "volume")["metrics"]["conversations"] == 0
    assert section(built, "quality")["metrics"]["containment_rate"] is None
    assert "empty_period" in built.report.warnings
    assert all(row[1:] == [0, 0] for row in section(built, "volume")["volume_by_day"])


def test_a_rerun_reads_only_what_is_new_and_agrees_with_a_full_run(sources, tmp_path):
    tracker, tickets = sources
    state = tmp_path / "state.db"
    report(tracker, tickets, state)
    more = conversations()
    before = len(more.rows)
    # E (telegram, en), Nov 6, and C comes back to say more.
    more.session("e", at(6)).user("e", at(6), "where is my order", "order_status", 0.9, "telegram")
    more.action("e", at(6, second=1), "action_order_status").bot("e", at(6, second=1))
    more.user("c", at(3, 9, 5), "算了不退了", "stop", 0.9)
    # X, whose only event so far is corrupted, writes again.
    more.user("x", at(5, 1), "hello?", "greet", 0.9)
    assert len(more.rows) - before == 8
    more.write(tracker)  # the same rows plus the new ones, in order

    incremental = report(tracker, tickets, state)
    assert incremental.ingest.incremental
    # Only E's, C's and X's events are read again: E's 6, C's 10 (9 old, 1
    # new), X's 2 (the old corrupted one, skipped again, and the new one).
    assert incremental.ingest.events_read == 6 + 10 + 2
    assert incremental.ingest.corrupted_rows == 1
    # The corrupted row is counted once in the warehouse, not once per run.
    source = make_url(tracker).render_as_string(hide_password=True)
    assert Warehouse(state).checkpoint(source)[1] == 1
    assert incremental.report.stats["corrupted_rows"] == 1
    full = report(tracker, tickets, tmp_path / "fresh.db")
    for name in ("volume", "quality", "questions", "service", "channels"):
        assert section(incremental, name) == section(full, name)
    assert section(incremental, "volume")["metrics"]["conversations"] == 6
    assert section(incremental, "volume")["metrics"]["customer_messages"] == 9

    # A run that reads only a new customer still reports the skipped row.
    more.user("f", at(7), "hi", "greet", 0.9)
    more.write(tracker)
    third = report(tracker, tickets, state)
    assert third.ingest.events_read == 1 and third.ingest.corrupted_rows == 0
    assert third.report.stats["corrupted_rows"] == 1
    assert "corrupted_rows" in third.report.warnings


def test_the_command_writes_every_output(sources, tmp_path, capsys):
    tracker, tickets = sources
    out = tmp_path / "reports"
    status = cli([
        "report", "--since", "2026-11-02", "--until", "2026-11-08", "--out", str(out),
        "--tracker-url", tracker, "--tickets-url", tickets, "--state", str(tmp_path / "s.db"),
        "--timezone", "UTC", "--report-language", "en", "--quiet",
    ])  # fmt: skip
    assert status == 0
    # A, B, C, D and the one before the period; the corrupted row is skipped.
    assert "Read 46 events into 5 conversations (full; corrupted rows skipped: 1)" in (
        capsys.readouterr().err
    )
    for name in ("report.html", "summary.json", "report.xlsx", "knowledge_gaps.yml"):
        assert (out / name).stat().st_size > 0
    assert (out / "csv" / "volume_by_day.csv").exists()
    # An English report names the channels in English, in every output.
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rows = summary["sections"]["channels"]["tables"]["channel_effectiveness"]
    assert [row["channel"] for row in rows] == ["REST API", "Web"]
    assert "REST API" in (out / "report.html").read_text(encoding="utf-8")


# A file that exists but is no database (nor a directory).
NOT_A_DATABASE = Path(__file__).resolve()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tracker-url", "sqlite:////nowhere/tracker.db"], "does not exist"),
        (["--tracker-url", "mysql://x/y"], "must be sqlite"),
        (["--tracker-url", "postgresql://nobody@127.0.0.1:1/none"], "Cannot connect"),
        (["--since", "2026-13-01"], "must be a date"),
        (["--until", "2026-10-01"], "is before"),
        # Each of these was a traceback, or minutes and gigabytes of empty days.
        (["--until", "9999-12-31"], "from 1970-01-01 to 9998-12-31"),
        (["--since", "0001-01-01"], "from 1970-01-01 to 9998-12-31"),
        (["--since", "1970-01-01", "--until", "9998-12-31"], "at most 3660 days"),
        (["--since", "2026-01-01", "--max-days", "30"], "at most 30 days"),
        (["--tracker-url", f"sqlite:///{NOT_A_DATABASE}"], "Cannot read the tracker store"),
        (["--tickets-url", f"sqlite:///{NOT_A_DATABASE}"], "no readable `tickets` table"),
        (["--low-confidence", "5"], "--low-confidence must be from 0 to 1"),
        (["--sla-first-response", "-5"], "--sla-first-response must be more than 0"),
        (["--sla-resolution", "nan"], "--sla-resolution must be more than 0"),
        (["--out", str(NOT_A_DATABASE / "reports")], "Cannot write the report"),
    ],
)
def test_wrong_input_is_explained(arguments, message, sources, tmp_path, capsys):
    options = {"--since": "2026-11-02", "--until": "2026-11-08", "--tracker-url": sources[0]}
    for flag, value in zip(arguments[::2], arguments[1::2], strict=True):
        options[flag] = value
    argv = ["report", "--out", str(tmp_path / "out"), "--state", str(tmp_path / "s.db"), "--quiet",
            "--tickets-url", sources[1]]  # fmt: skip
    for flag, value in options.items():
        argv += [flag, value]
    assert cli(argv) == 2
    assert message in capsys.readouterr().err


def test_a_database_without_the_events_table_is_explained(tmp_sqlite, tmp_path, capsys):
    from sqlalchemy import create_engine

    url = tmp_sqlite("empty.db")
    create_engine(url).connect().close()
    argv = ["report", "--since", "2026-11-02", "--until", "2026-11-08", "--tracker-url", url,
            "--out", str(tmp_path / "o"), "--state", str(tmp_path / "s.db"), "--quiet"]  # fmt: skip
    assert cli(argv) == 2
    assert "no `events` table" in capsys.readouterr().err


def test_postgresql_sources_give_the_same_report(sources, postgres_url, tmp_path):
    conversations().write(postgres_url)
    on_sqlite = report(*sources, tmp_path / "a.db")
    on_postgres = report(postgres_url, sources[1], tmp_path / "b.db")
    for name in ("volume", "quality", "questions", "knowledge_gaps", "service"):
        assert section(on_postgres, name) == section(on_sqlite, name)
