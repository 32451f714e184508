"""`make run`'s command line: ports and the var directory come from the
environment the README documents. The launcher itself runs, with real
processes, in tests/integration/test_supervision.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.run import build_stack, parse_arguments
from scripts.stack import Ports


def test_ports_and_var_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name, value in {
        "RASA_PORT": "7005",
        "ACTIONS_PORT": "7055",
        "HANDOFF_PORT": "7056",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "state"))
    stack = build_stack(parse_arguments([]))
    assert stack.ports == Ports(rasa=7005, actions=7055, bridge=7056)
    assert stack.var == tmp_path / "state"
    assert (tmp_path / "state" / "secrets.env").exists()


def test_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("ACTIONS_PORT", "7055")
    args = parse_arguments(["--actions-port", "8055", "--var-dir", str(tmp_path)])
    assert build_stack(args).ports.actions == 8055
