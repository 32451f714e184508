"""`make run`'s supervisor: it starts the bridge, the action server and Rasa,
says where they are, and Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import PROJECT
from tests.integration.conftest import free_port, wait_for

pytestmark = pytest.mark.integration


def test_run_starts_everything_and_ctrl_c_stops_it(trained_model: Path, tmp_path: Path):
    ports = {"rasa": free_port(), "actions": free_port(), "bridge": free_port()}
    env = {
        **os.environ,
        "HANDOFF_DATABASE_URL": f"sqlite:///{tmp_path / 'handoff.db'}",
        "HANDOFF_DEMO_AGENTS": "false",
    }
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "scripts.run",
            "--port", str(ports["rasa"]),
            "--actions-port", str(ports["actions"]),
            "--bridge-port", str(ports["bridge"]),
        ],
        cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(
            lambda: "The system is up" in (tmp_path / "run.log").read_text()
            or process.poll() is not None,
            timeout=300,
            interval=1,
        )
        output = (tmp_path / "run.log").read_text()
        assert process.poll() is None, output[-3000:]
        assert f"http://localhost:{ports['bridge']}/console/" in output

        reply = requests.post(
            f"http://127.0.0.1:{ports['rasa']}/webhooks/rest/webhook",
            json={"sender": "run-test", "message": "你好"},
            timeout=60,
        ).json()
        assert reply and "小云" in reply[0]["text"]
        console = requests.get(f"http://127.0.0.1:{ports['bridge']}/console/", timeout=10)
        assert console.ok and "text/html" in console.headers["Content-Type"]
        # Rasa's API is locked: without the token from var/secrets.env, 401.
        tracker = requests.get(
            f"http://127.0.0.1:{ports['rasa']}/conversations/run-test/tracker", timeout=10
        )
        assert tracker.status_code == 401

        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        for port in ports.values():
            with pytest.raises(requests.ConnectionError):
                requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        time.sleep(0.1)
        log.close()
