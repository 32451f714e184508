"""The action server's entry point: loopback by default, and only callers
with its token run actions (a stranger must not rate tickets or open them
with forged slots). Real server on loopback, real bridge stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from actions.server import ActionServerConfigError, check_exposure
from scripts.stack import free_port
from scripts.supervisor import answers
from tests.conftest import PROJECT
from tests.integration.conftest import wait_for

TOKEN = "action-server-test-token"


@dataclass
class ActionServer:
    url: str
    port: int
    process: subprocess.Popen
    bridge_calls: list[str]


@pytest.fixture(scope="module")
def bridge_calls() -> Iterator[list[str]]:
    """A bridge stand-in that records every path it is asked for."""
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            calls.append(self.path)
            body = json.dumps({"id": 104}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    calls.append(f"http://127.0.0.1:{server.server_address[1]}")
    yield calls
    server.shutdown()


@pytest.fixture(scope="module")
def action_server(bridge_calls: list[str], tmp_path_factory) -> Iterator[ActionServer]:
    port = free_port()
    bridge_url = bridge_calls.pop(0)
    workdir = tmp_path_factory.mktemp("actions")
    log = workdir / "actions.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "actions.server", "--port", str(port)],  # no --host: the default
        cwd=PROJECT,
        env={
            **os.environ,
            "ACTION_SERVER_TOKEN": TOKEN,
            "HANDOFF_URL": bridge_url,
            "HANDOFF_API_TOKEN": "bridge-token",
            # Its own outbox: requests held by another stack are not its calls.
            "HANDOFF_OUTBOX_PATH": str(workdir / "outbox.db"),
        },
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{url}/health") or process.poll() is not None, timeout=120)
        assert process.poll() is None, log.read_text()[-3000:]
        yield ActionServer(url, port, process, bridge_calls)
    finally:
        process.terminate()
        process.wait(20)


def csat_call(ticket_id: str) -> dict:
    """What Rasa would send to rate a ticket: a stranger forges the slots."""
    slots = {"ticket_id": ticket_id, "csat_score": "1", "csat_comment": "forged"}
    return {
        "next_action": "action_submit_csat",
        "sender_id": "stranger",
        "version": "3.6.2",
        "domain": {},
        "tracker": {
            "sender_id": "stranger",
            "slots": slots,
            "latest_message": {},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": None,
        },
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}],
    ids=["no token", "wrong token", "token without Bearer"],
)
def test_a_caller_without_the_token_gets_401_and_runs_nothing(
    action_server: ActionServer, headers: dict[str, str]
):
    before = len(action_server.bridge_calls)
    for path, method in (("/webhook", "POST"), ("/actions", "GET")):
        response = requests.request(
            method, f"{action_server.url}{path}", json=csat_call("104"), headers=headers, timeout=10
        )
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert len(action_server.bridge_calls) == before


def test_rasa_with_the_token_runs_the_action(action_server: ActionServer):
    response = requests.post(
        f"{action_server.url}/webhook",
        json=csat_call("105"),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert action_server.bridge_calls[-1] == "/api/tickets/105/csat"


def test_health_stays_open_for_probes(action_server: ActionServer):
    assert requests.get(f"{action_server.url}/health", timeout=5).json() == {"status": "ok"}


def test_it_listens_on_loopback_only_by_default(action_server: ActionServer):
    assert _listening_addresses(action_server.port) == {"127.0.0.1"}


def test_it_refuses_to_serve_beyond_loopback_without_a_token():
    with pytest.raises(ActionServerConfigError, match="ACTION_SERVER_TOKEN"):
        check_exposure("0.0.0.0", "")
    check_exposure("0.0.0.0", TOKEN)
    check_exposure("127.0.0.1", "")
    check_exposure("::1", "")


def _listening_addresses(port: int) -> set[str]:
    """IPv4 addresses with a listening TCP socket on `port`, from /proc/net/tcp."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if int(local_port, 16) == port and state == "0A":  # LISTEN
            addresses.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return addresses
