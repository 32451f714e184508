"""A real Rasa server and action server on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import PROJECT

STARTUP_TIMEOUT = 240


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Assistant:
    url: str
    actions_url: str
    tracker_db: Path
    processes: list[subprocess.Popen]

    def say(self, sender: str, text: Any) -> list[dict[str, Any]]:
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def texts(self, sender: str, text: str) -> list[str]:
        return [message.get("text", "") for message in self.say(sender, text)]

    def tracker(self, sender: str) -> dict[str, Any]:
        response = requests.get(f"{self.url}/conversations/{sender}/tracker", timeout=30)
        response.raise_for_status()
        return response.json()

    def slots(self, sender: str) -> dict[str, Any]:
        return self.tracker(sender)["slots"]

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)


def wait_for(url: str, processes: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            break
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    output = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
    raise RuntimeError(f"{url} did not come up:\n{output}")


@pytest.fixture(scope="session")
def assistant(trained_model: Path, tmp_path_factory) -> Iterator[Assistant]:
    workdir = tmp_path_factory.mktemp("assistant")
    rasa_port, actions_port = free_port(), free_port()
    tracker_db = workdir / "tracker.db"
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
        f'tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: "{tracker_db}"\n'
    )
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
    rasa = str(Path(sys.executable).parent / "rasa")
    logs = [workdir / "actions.log", workdir / "rasa.log"]
    commands = [
        [rasa, "run", "actions", "--actions", "actions", "--port", str(actions_port)],
        [
            rasa, "run", "--enable-api", "--model", str(trained_model),
            "--endpoints", str(endpoints), "--credentials", str(PROJECT / "credentials.yml"),
            "--port", str(rasa_port), "--interface", "127.0.0.1",
        ],
    ]  # fmt: skip
    processes = [
        subprocess.Popen(
            command, cwd=PROJECT, env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT
        )
        for command, log in zip(commands, logs, strict=True)
    ]
    try:
        wait_for(f"http://127.0.0.1:{actions_port}/health", processes, logs)
        wait_for(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", processes, logs)
        yield Assistant(
            f"http://127.0.0.1:{rasa_port}",
            f"http://127.0.0.1:{actions_port}",
            tracker_db,
            processes,
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
