"""The web widget's pure decisions (language, message views, CSAT stars,
file checks) are JavaScript; their tests run in Node's own test runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).parent / "widget"


def test_the_widget_model_passes_its_node_tests():
    node = shutil.which("node")
    if node is None:
        pytest.skip("The widget's model tests need Node.js (node --test).")
    run = subprocess.run(
        [node, "--test", *sorted(str(path) for path in TESTS.glob("*.test.mjs"))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
