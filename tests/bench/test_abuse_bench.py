"""The abuse benchmark drives a real stack with honest customers and
attackers side by side; at a tiny size it must find every limit answering
(no 5xx), every honest message answered and every process alive. Its
latency ratio is a benchmark figure (docs/benchmarks.md), not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.abuse import PhaseResult, percentile, summary
from tests.conftest import PROJECT

pytestmark = pytest.mark.integration


def test_abuse_benchmark_finds_honest_customers_answered_and_no_server_error(
    trained_model: Path, tmp_path
):
    results = tmp_path / "abuse.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.abuse", "--small", "--json", str(results)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(results.read_text())
    assert [phase["name"] for phase in report["phases"]] == ["A1", "B1"]
    assert report["processes_died"] == []
    assert report["honest_failures"] == 0
    assert report["abuse_server_errors"] == 0
    quiet, abused = report["phases"]
    assert quiet["abuse_answers"] == {}
    assert set(abused["abuse_answers"]) == {"100,000-char flood", "bad login", "malformed body"}
    # Wrong passwords end in the login throttle, not in endless 401s.
    assert "429" in abused["abuse_answers"]["bad login"]
    assert quiet["honest_messages"] > 0 and abused["honest_messages"] > 0
    assert report["worst_p95_ratio"] > 0
    assert "RESULT: honest p95 under abuse is" in run.stdout


def test_summary_pairs_each_abused_phase_with_the_quiet_one_before_it():
    phases = [
        PhaseResult("A1", False, 10, 0, 50, 100),
        PhaseResult("B1", True, 10, 0, 60, 120, {"bad login": {"429": 5, "503": 1}}),
        PhaseResult("A2", False, 10, 0, 50, 200),
        PhaseResult("B2", True, 10, 1, 60, 500),
    ]
    result = summary(phases)
    assert result["p95_ratios"] == [1.2, 2.5]
    assert result["worst_p95_ratio"] == 2.5
    assert result["abuse_server_errors"] == 1
    assert result["honest_failures"] == 1
    assert result["goal_met"] is False


def test_percentile_is_nearest_rank():
    assert percentile([], 95) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
