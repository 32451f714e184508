"""The whole system on free loopback ports, started once per test session:
the handoff bridge, the action server and Rasa (API secured by a token,
events to the bridge through the event broker), with the trained model."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.run import ACTION_SERVER_ENV, prepare_tracker_store
from tests.conftest import PROJECT

STARTUP_TIMEOUT = 240


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    predicate: Callable[[], Any], timeout: float = 20, interval: float = 0.1, what: str = ""
) -> Any:
    """Polls until `predicate()` is truthy and returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what or predicate}")


@dataclass
class Assistant:
    url: str
    actions_url: str
    tracker_db: Path
    token: str
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
        response = requests.get(
            f"{self.url}/conversations/{sender}/tracker", params={"token": self.token}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def slots(self, sender: str) -> dict[str, Any]:
        return self.tracker(sender)["slots"]

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes)


@dataclass
class HandoffStack:
    """The assistant plus the bridge, with helpers for the agents' side."""

    assistant: Assistant
    bridge_url: str
    api_token: str
    database_url: str
    sessions: list[requests.Session] = field(default_factory=list)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.api_token}"}
        return requests.request(
            method, f"{self.bridge_url}{path}", headers=headers, timeout=30, **kwargs
        )

    def create_agent(
        self,
        username: str,
        password: str,
        role: str = "agent",
        skills: tuple[str, ...] = (),
        languages: tuple[str, ...] = ("zh", "en"),
        capacity: int = 3,
    ) -> dict[str, Any]:
        admin = self.login("admin", ADMIN_PASSWORD)
        response = admin.post(
            f"{self.bridge_url}/api/agents",
            json={
                "username": username,
                "password": password,
                "role": role,
                "skills": list(skills),
                "languages": list(languages),
                "capacity": capacity,
            },
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def login(self, username: str, password: str) -> requests.Session:
        session = requests.Session()
        response = session.post(
            f"{self.bridge_url}/api/session",
            json={"username": username, "password": password},
            timeout=30,
        )
        response.raise_for_status()
        self.sessions.append(session)
        return session

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        response = self.api("GET", f"/api/tickets/{ticket_id}")
        response.raise_for_status()
        return response.json()

    wait_for = staticmethod(wait_for)


ADMIN_PASSWORD = "admin-password-1"


def _wait_until_up(url: str, processes: list[subprocess.Popen], logs: list[Path]) -> None:
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
def handoff_stack(trained_model: Path, tmp_path_factory) -> Iterator[HandoffStack]:
    workdir = tmp_path_factory.mktemp("system")
    rasa_port, actions_port, bridge_port = free_port(), free_port(), free_port()
    tracker_db = workdir / "tracker.db"
    database_url = f"sqlite:///{workdir / 'handoff.db'}"
    # Hex: a token starting with "-" would read as an option to `rasa run`.
    api_token, rasa_token = secrets.token_hex(16), secrets.token_hex(16)
    bridge_url = f"http://127.0.0.1:{bridge_port}"
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
        "tracker_store:\n  type: addons.tracker_store.SQLTrackerStore\n"
        f'  dialect: sqlite\n  db: "{tracker_db}"\n'
        f'event_broker:\n  type: addons.broker.HandoffEventBroker\n  url: "{bridge_url}"\n'
    )
    environment = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "HANDOFF_URL": bridge_url,
        "HANDOFF_API_TOKEN": api_token,
        "HANDOFF_DATABASE_URL": database_url,
        "HANDOFF_RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "HANDOFF_RASA_TOKEN": rasa_token,
        "HANDOFF_SWEEP_INTERVAL_SECONDS": "1",
        "HANDOFF_DISCONNECT_GRACE_SECONDS": "3",
        **ACTION_SERVER_ENV,
    }
    prepare_tracker_store(endpoints)
    subprocess.run(
        [sys.executable, "-m", "handoff", "create-agent", "admin", "--role", "admin"],
        cwd=PROJECT,
        env={**environment, "HANDOFF_NEW_AGENT_PASSWORD": ADMIN_PASSWORD},
        check=True,
        capture_output=True,
    )
    rasa = str(Path(sys.executable).parent / "rasa")
    logs = [workdir / "bridge.log", workdir / "actions.log", workdir / "rasa.log"]
    commands = [
        [sys.executable, "-m", "handoff", "serve", "--port", str(bridge_port)],
        [rasa, "run", "actions", "--actions", "actions", "--port", str(actions_port)],
        [
            rasa, "run", "--enable-api", "--auth-token", rasa_token, "--model", str(trained_model),
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
        _wait_until_up(f"{bridge_url}/health", processes, logs)
        _wait_until_up(f"http://127.0.0.1:{actions_port}/health", processes, logs)
        _wait_until_up(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", processes, logs)
        assistant = Assistant(
            f"http://127.0.0.1:{rasa_port}",
            f"http://127.0.0.1:{actions_port}",
            tracker_db,
            rasa_token,
            processes,
        )
        yield HandoffStack(assistant, bridge_url, api_token, database_url)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def assistant(handoff_stack: HandoffStack) -> Assistant:
    return handoff_stack.assistant
