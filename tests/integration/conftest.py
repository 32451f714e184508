"""The whole system on free loopback ports, started once per test session
by the launcher's own parts (scripts/stack.py, scripts/supervisor.py): the
handoff bridge, the action server (callers need its token) and Rasa (API
secured by a JWT secret, events to the bridge through the event broker),
with the trained model."""

from __future__ import annotations

import contextlib
import struct
import subprocess
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from handoff.rasa import rasa_api_jwt
from scripts.stack import LOOPBACK, Ports, Secrets, Stack, Topology
from scripts.supervisor import StartupFailed, Supervisor
from tests.fakes import FakePlatforms, every_fake

STARTUP_TIMEOUT = 240


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

    def api_headers(self) -> dict[str, str]:
        """What the bridge sends to Rasa's API: a short-lived JWT."""
        return {"Authorization": f"Bearer {rasa_api_jwt(self.token, expires_at=time.time() + 60)}"}

    def tracker(self, sender: str) -> dict[str, Any]:
        response = requests.get(
            f"{self.url}/conversations/{sender}/tracker", headers=self.api_headers(), timeout=30
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
    # The loopback platforms (WeChat, Telegram, mail, app callbacks) the
    # channels of this stack talk to.
    fakes: FakePlatforms
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


def tiny_png() -> bytes:
    """A valid 1x1 grey PNG, so the bridge takes it for an image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


ADMIN_PASSWORD = "admin-password-1"


def stack_on_free_ports(
    workdir: Path, model: Path, topology: Topology | None = None, **environment: str
) -> Stack:
    """A stack on free loopback ports with its own secrets and files in
    `workdir` (and, in the production topology, its own databases, keys and
    queues on the shared servers)."""
    topology = topology or Topology()
    if topology.servers is None:
        environment = {"HANDOFF_DATABASE_URL": f"sqlite:///{workdir / 'handoff.db'}", **environment}
    return Stack(
        ports=Ports.free(bridge_instances=topology.bridges if topology.servers else 0),
        secrets=Secrets.generate(),
        var=workdir,
        model=model,
        rasa_host=LOOPBACK,
        log_to_files=True,
        topology=topology,
        environment={"HANDOFF_DEMO_AGENTS": "false", **environment},
    )


def create_admin(stack: Stack) -> None:
    """Also migrates the bridge's database before the bridge starts."""
    stack.create_agent("admin", role="admin", password=ADMIN_PASSWORD)


@contextlib.contextmanager
def running(stack: Stack, fakes: FakePlatforms) -> Iterator[tuple[HandoffStack, Supervisor]]:
    """`stack` prepared, with an admin, started by the launcher's supervisor
    and stopped at the end."""
    stack.prepare()
    create_admin(stack)
    supervisor = Supervisor(stack)
    try:
        try:
            supervisor.start(stack.services(), STARTUP_TIMEOUT)
        except StartupFailed as error:
            raise RuntimeError(str(error)) from None
        assistant = Assistant(
            stack.rasa_url,
            stack.actions_url,
            stack.tracker_db,
            stack.secrets.rasa_jwt_secret,
            supervisor.processes,
        )
        handoff = HandoffStack(
            assistant, stack.bridge_url, stack.secrets.handoff_api_token, stack.database_url, fakes
        )
        yield handoff, supervisor
    finally:
        supervisor.stop()


@pytest.fixture(scope="session")
def handoff_stack(trained_model: Path, tmp_path_factory) -> Iterator[HandoffStack]:
    fakes = FakePlatforms(every_fake())
    fakes.start()
    stack = stack_on_free_ports(
        tmp_path_factory.mktemp("system"),
        trained_model,
        HANDOFF_SWEEP_INTERVAL_SECONDS="1",
        HANDOFF_DISCONNECT_GRACE_SECONDS="3",
        **fakes.environment,
    )
    try:
        with running(stack, fakes) as (handoff, _):
            yield handoff
    finally:
        fakes.stop()


@pytest.fixture(scope="session")
def assistant(handoff_stack: HandoffStack) -> Assistant:
    return handoff_stack.assistant
