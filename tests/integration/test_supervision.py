"""`make run`'s launcher as an operator runs it, with real processes: ports
from the environment reach every process, no secret shows in `ps`, the files
are private, Rasa's API takes only the bridge's JWT, a Rasa killed
mid-conversation is restarted and the conversation goes on, and Ctrl-C
stops everything. One launch for the module (about two minutes)."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from handoff.rasa import rasa_api_jwt
from scripts.stack import Ports, Secrets, free_port
from tests.conftest import PROJECT
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


@dataclass
class Launched:
    process: subprocess.Popen
    ports: Ports
    var: Path
    log: Path
    decoy_calls: list[str] | None  # None: the default ports were taken

    @property
    def secrets(self) -> Secrets:
        return Secrets.load(self.var / "secrets.env")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def say(self, sender: str, text: str) -> str:
        response = requests.post(
            f"http://127.0.0.1:{self.ports.rasa}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        )
        response.raise_for_status()
        return "\n".join(message.get("text", "") for message in response.json())


def decoys() -> tuple[list[ThreadingHTTPServer], list[str] | None]:
    """Servers on the default action server and bridge ports that record
    whoever calls them: a second stack, say, that must not get our calls."""
    calls: list[str] = []

    class Decoy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls.append(self.path)
            self.send_response(500)
            self.end_headers()

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    servers = []
    try:
        for port in (Ports().actions, Ports().bridge):
            servers.append(ThreadingHTTPServer(("127.0.0.1", port), Decoy))
    except OSError:  # taken: something else listens there already
        for server in servers:
            server.server_close()
        return [], None
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers, calls


@pytest.fixture(scope="module")
def launched(trained_model: Path, tmp_path_factory) -> Iterator[Launched]:
    workdir = tmp_path_factory.mktemp("launcher")
    ports = Ports(rasa=free_port(), actions=free_port(), bridge=free_port())
    servers, decoy_calls = decoys()
    log = workdir / "run.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.run", "--var-dir", str(workdir / "var")],
        cwd=PROJECT,
        env={
            **os.environ,
            "RASA_PORT": str(ports.rasa),
            "ACTIONS_PORT": str(ports.actions),
            "HANDOFF_PORT": str(ports.bridge),
            "HANDOFF_DEMO_AGENTS": "false",
            "HANDOFF_DATABASE_URL": f"sqlite:///{workdir / 'var' / 'handoff.db'}",
            "RESTART_FIRST_DELAY_SECONDS": "0.5",
        },
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    launched = Launched(process, ports, workdir / "var", log, decoy_calls)
    try:
        wait_for(
            lambda: "The system is up" in launched.output() or process.poll() is not None,
            timeout=300,
            interval=1,
        )
        assert process.poll() is None, launched.output()[-3000:]
        yield launched
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for server in servers:
            server.shutdown()
            server.server_close()


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat_file.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_ports_from_the_environment_reach_every_process(launched: Launched):
    """ACTIONS_PORT and HANDOFF_PORT moved: Rasa calls the action server
    there, and the action server and the event broker reach the bridge."""
    customer = f"ports-{uuid.uuid4().hex[:8]}"
    reply = launched.say(customer, "我要转人工")
    ticket_id = re.search(r"工单\s*(\d+)", reply)
    assert ticket_id, reply
    response = requests.get(
        f"http://127.0.0.1:{launched.ports.bridge}/api/tickets/{ticket_id[1]}",
        headers={"Authorization": f"Bearer {launched.secrets.handoff_api_token}"},
        timeout=10,
    )
    assert response.json()["conversation_id"] == customer
    console = requests.get(f"http://127.0.0.1:{launched.ports.bridge}/console/", timeout=10)
    assert console.ok and "text/html" in console.headers["Content-Type"]
    if launched.decoy_calls is None:
        pytest.skip("ports 5055/5056 are taken, so no decoy could listen there")
    assert launched.decoy_calls == []


def test_no_secret_shows_on_any_command_line(launched: Launched):
    processes = [launched.process.pid, *descendants(launched.process.pid)]
    assert len(processes) >= 4, "the launcher, the bridge, the action server and Rasa"
    secrets = set(vars(launched.secrets).values())
    for pid in processes:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert not any(secret in command_line for secret in secrets), command_line


def test_everything_in_var_is_private(launched: Launched):
    assert stat.S_IMODE(launched.var.stat().st_mode) == 0o700
    files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in launched.var.iterdir()}
    assert {"secrets.env", "endpoints.yml", "tracker.db", "handoff.db"} <= files.keys()
    assert set(files.values()) == {0o600}, files


def test_rasas_api_takes_a_signed_jwt_in_a_header_only(launched: Launched):
    url = f"http://127.0.0.1:{launched.ports.rasa}/conversations/anyone/tracker"
    secret = launched.secrets.rasa_jwt_secret
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"token": secret}, timeout=10).status_code == 401
    forged = rasa_api_jwt("not-the-secret-" * 4, expires_at=time.time() + 60)
    headers = {"Authorization": f"Bearer {forged}"}
    assert requests.get(url, headers=headers, timeout=10).status_code == 401
    signed = rasa_api_jwt(secret, expires_at=time.time() + 60)
    headers = {"Authorization": f"Bearer {signed}"}
    assert requests.get(url, headers=headers, timeout=10).status_code == 200


def test_a_killed_rasa_is_restarted_and_the_conversation_goes_on(launched: Launched):
    customer = f"fault-{uuid.uuid4().hex[:8]}"
    assert "订单号" in launched.say(customer, "我想查一下我的订单")
    rasa = next(
        pid
        for pid in descendants(launched.process.pid)
        if b"scripts.rasa_cli" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    os.kill(rasa, signal.SIGKILL)

    wait_for(lambda: "rasa answers again" in launched.output(), timeout=150, interval=1)
    assert f"rasa (pid {rasa}) was killed by signal SIGKILL" in launched.output()
    # The form asked for the order number before the crash; it goes on.
    reply = launched.say(customer, "241108302211")
    assert "SF1402876653921" in reply and "顺丰速运" in reply


def test_ctrl_c_stops_everything(launched: Launched):
    children = descendants(launched.process.pid)
    launched.process.send_signal(signal.SIGINT)
    assert launched.process.wait(60) == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    ports = launched.ports
    assert not any(listening(port) for port in (ports.rasa, ports.actions, ports.bridge))
