"""The channels benchmark at a tiny size: each of its three figures comes
from the real stack, and the stock baseline is really the broken one. The
figures themselves go to docs/benchmarks.md, not into asserts, except where
they tell a working channel from a broken one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.integration


def test_channels_benchmark_measures_widget_wechat_and_idle_sockets_against_baselines(
    trained_model: Path, tmp_path
):
    results = tmp_path / "channels.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.channels", "--small", "--json", str(results)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(results.read_text())
    idle, widget, wechat = report["idle"], report["widget"], report["wechat"]
    # Our widget is greeted and then quiet; stock Rasa's never is greeted
    # and polls without pause.
    assert idle["ours"]["greeted"] and not idle["stock"]["greeted"]
    assert idle["stock_per_minute"] > 100 * max(idle["ours_per_minute"], 1)
    assert len(widget["widget_seconds"]) == len(widget["rest_seconds"]) == 4
    assert wechat["messages"] == 4 * wechat["followers"] and wechat["failed"] == 0
    assert "RESULT: idle web socket" in run.stdout
