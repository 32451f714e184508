"""`rasa shell` works in the project's venv: it loads the trained model and
our addons, answers in a real terminal, stores the conversation in the
project's tracker store type, and /stop ends it."""

from __future__ import annotations

import os
import pty
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from scripts.stack import free_port
from tests.conftest import PROJECT

PROMPT = b"Your input"


class Terminal:
    """A pseudo-terminal: rasa shell's prompt (prompt_toolkit) needs a TTY."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self._master, slave = pty.openpty()
        self.process = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=slave, cwd=PROJECT, env=env
        )
        os.close(slave)
        self.output = b""

    def read_until(self, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._master], [], [], 0.5)
            if ready:
                try:
                    self.output += os.read(self._master, 65536)
                except OSError:  # the shell closed the terminal
                    return predicate(self.output)
            if predicate(self.output):
                return True
        return False

    def type(self, text: str) -> None:
        os.write(self._master, f"{text}\r".encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self._master)


def test_rasa_shell_chats_in_a_terminal(trained_model: Path, tmp_path: Path):
    tracker_db = tmp_path / "tracker.db"
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "tracker_store:\n  type: addons.tracker_store.SQLTrackerStore\n"
        f'  dialect: sqlite\n  db: "{tracker_db}"\n'
    )
    rasa = str(Path(sys.executable).parent / "rasa")
    terminal = Terminal(
        [
            rasa,
            "shell",
            "--model",
            str(trained_model),
            "--endpoints",
            str(endpoints),
            "--port",
            str(free_port()),
        ],  # fmt: skip
        env={**os.environ, "TERM": "xterm", "RASA_TELEMETRY_ENABLED": "false"},
    )
    try:
        assert terminal.read_until(lambda out: PROMPT in out, 240), terminal.output[-3000:]
        terminal.type("谢谢")
        reply = "不客气".encode()  # utter_you_are_welcome, then the next prompt

        def answered(out: bytes) -> bool:
            return reply in out and PROMPT in out.split(reply, 1)[1]

        assert terminal.read_until(answered, 60), terminal.output[-3000:]
        terminal.type("/stop")
        assert terminal.process.wait(timeout=60) == 0
    finally:
        terminal.close()

    with sqlite3.connect(tracker_db) as db:
        kinds = [kind for (kind,) in db.execute("SELECT type_name FROM events ORDER BY id")]
    assert "user" in kinds and "bot" in kinds
