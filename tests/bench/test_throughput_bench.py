"""The throughput benchmark at a tiny size, on stock Rasa and our embedded
stack: every figure is measured on real servers and every message our
assistant gets is answered. The figures themselves go to
docs/benchmarks.md, not into asserts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.integration

SETUPS = ("stock", "embedded")
MESSAGES = 12


def test_throughput_benchmark_measures_our_stack_against_stock_rasa(trained_model: Path, tmp_path):
    results = tmp_path / "throughput.json"
    run = subprocess.run(
        [
            *(sys.executable, "-m", "bench.throughput", "--small", "--messages", str(MESSAGES)),
            *("--setups", ",".join(SETUPS), "--json", str(results)),
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(results.read_text())
    assert set(report["throughput"]) == {"moodbot", "customers"}
    for channels in report["throughput"].values():
        assert set(channels) == {"rest", "socketio"}
        for figures in channels.values():
            assert set(figures) == set(SETUPS)
            for measured in figures.values():
                assert measured["messages"] == MESSAGES and measured["failed"] == 0, measured
                assert measured["messages_per_second"] > 0
                assert 0 < measured["p50_ms"] <= measured["p95_ms"] <= measured["p99_ms"]
                assert measured["ratio_to_stock"]["messages_per_second"] > 0
            # The moodbot stays silent on what it has no rule for; ours never.
            assert figures["embedded"]["answered"] == MESSAGES, figures["embedded"]
            assert figures["stock"]["ratio_to_stock"]["messages_per_second"] == 1.0
    for name in SETUPS:
        setup = report["setups"][name]
        assert setup["rasa_seconds"] > 0
        assert setup["memory"]["started"] and all(
            100 < size < 8000 for size in setup["memory"]["loaded"]
        ), setup
    assert (
        report["setups"]["embedded"]["stack_seconds"]
        >= report["setups"]["embedded"]["rasa_seconds"]
    )
    assert "RESULT:" in run.stdout
