"""The soak benchmark for about a minute on the real production topology:
customers over REST and socket.io, one handed to an agent and back to the
survey, nothing lost, and a report with every process's memory over time,
errors by kind and latencies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak import _memory_growth, parse_args
from tests.conftest import PROJECT

pytestmark = pytest.mark.integration


def test_a_short_soak_loses_nothing_and_reports_memory_errors_and_latency(
    trained_model: Path, tmp_path
):
    results = tmp_path / "soak.json"
    run = subprocess.run(
        [
            *(sys.executable, "-m", "bench.soak", "--customers", "8", "--minutes", "1"),
            *("--pause", "1", "--turns", "2", "--json", str(results)),
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(results.read_text())
    assert json.loads(run.stdout) == report
    assert "RESULT: nothing lost, nothing duplicated" in run.stderr
    assert (report["lost_total"], report["lost"], report["duplicates"]) == (0, {}, 0)

    # 8 customers: one asks for a human (the first), the others talk to the
    # bot over both channels, and every message was answered.
    assert (report["customers"], report["handoff_customers"]) == (8, 1)
    assert report["conversations"]["handoff"] >= 1, report["conversations"]
    messages = report["messages"]
    for channel in ("rest", "socketio"):
        assert messages["to_bot"][channel] == messages["answered_by_bot"][channel] > 0, messages
    assert messages["customer_to_agent"] >= 2 and messages["agent_to_customer"] >= 2, messages
    for figures in report["latency_ms"].values():
        assert 0 < figures["p50"] <= figures["p95"], report["latency_ms"]
    assert set(report["latency_ms"]) == {
        "bot answer (rest)",
        "bot answer (socketio)",
        "customer→agent",
        "agent→customer",
    }

    # Every process of the topology, sampled at the start, each minute and the end.
    names = " ".join(report["memory"])
    for process in ("rasa main", "rasa worker", "actions main", "actions worker"):
        assert process in names, names
    assert "bridge-1 main" in names and "bridge-2 main" in names, names
    assert len(report["memory_samples"]) >= 2
    for figures in report["memory"].values():
        assert figures["start_mb"] > 0 and figures["end_mb"] > 0, figures
    assert all(isinstance(number, int) for number in report["errors"].values())


def test_memory_growth_is_end_less_start_and_absent_for_a_process_not_there_throughout():
    samples = [
        {"minute": 0.0, "rss_mb": {"rasa main (pid 1)": 300.0}},
        {"minute": 1.0, "rss_mb": {"rasa main (pid 1)": 340.5, "rasa worker 1 (pid 2)": 90.0}},
        {"minute": 2.0, "rss_mb": {"rasa main (pid 1)": 320.0, "rasa worker 1 (pid 2)": 95.0}},
    ]
    assert _memory_growth(samples) == {
        "rasa main (pid 1)": {
            "start_mb": 300.0,
            "end_mb": 320.0,
            "max_mb": 340.5,
            "growth_mb": 20.0,
        },
        "rasa worker 1 (pid 2)": {
            "start_mb": None,
            "end_mb": 95.0,
            "max_mb": 95.0,
            "growth_mb": None,
        },
    }


def test_the_defaults_are_fifty_customers_for_thirty_minutes_one_in_ten_handed_off():
    config = parse_args([])
    assert (config.customers, config.minutes, config.handoff_customers) == (50, 30.0, 5)
    assert config.capacity >= config.handoff_customers / config.agents
    with pytest.raises(SystemExit):
        parse_args(["--customers", "0"])
