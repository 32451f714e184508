"""The supervisor restarts a crashed process with growing delays, logs why it
stopped, and gives up on one that keeps crashing. Real child processes
(small HTTP servers), no Rasa."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.stack import PROJECT, Ports, Secrets, Service, Stack, free_port
from scripts.supervisor import GaveUp, RestartPolicy, StartupFailed, Supervisor, answers
from tests.integration.conftest import wait_for

FAST = RestartPolicy(first_delay=0.1, max_delay=0.4, max_crashes=3, window_seconds=60)


SERVER = """
import http.server, os, sys, threading
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
port, exit_after, status = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
if exit_after:
    threading.Timer(exit_after, lambda: os._exit(status)).start()
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def http_service(name: str, port: int, *, exit_after: float = 0, status: int = 0) -> Service:
    """A small HTTP server; with `exit_after`, it exits with `status` then."""
    command = [sys.executable, "-c", SERVER, str(port), str(exit_after), str(status)]
    return Service(name, command, f"http://127.0.0.1:{port}/")


@pytest.fixture
def supervisor(tmp_path: Path):
    stack = Stack(ports=Ports(), secrets=Secrets.generate(), var=tmp_path)
    created: list[Supervisor] = []

    def make(policy: RestartPolicy = FAST) -> Supervisor:
        created.append(Supervisor(stack, policy=policy))
        return created[-1]

    yield make
    for each in created:
        each.stop()


def check_until(supervisor: Supervisor, condition, timeout: float = 20) -> None:
    def checked():
        supervisor.check()
        return condition()

    wait_for(checked, timeout=timeout, interval=0.05)


def test_a_killed_process_is_restarted_and_the_signal_logged(supervisor, caplog):
    caplog.set_level(logging.INFO, logger="launcher")
    port = free_port()
    manager = supervisor()
    manager.start([http_service("web", port), http_service("other", free_port())], timeout=20)
    killed, other = manager.process("web"), manager.process("other")
    os.kill(killed.pid, signal.SIGKILL)

    check_until(manager, lambda: len(manager.processes) == 2 and killed not in manager.processes)
    check_until(manager, lambda: "web answers again" in caplog.text)
    assert answers(f"http://127.0.0.1:{port}/")
    assert (
        f"web (pid {killed.pid}) was killed by signal SIGKILL; restarting in 0.1 s" in caplog.text
    )
    assert manager.process("other") is other and other.poll() is None  # the others carry on


def test_a_process_that_keeps_crashing_stops_with_its_reason(supervisor):
    manager = supervisor()
    manager.start([http_service("flaky", free_port(), exit_after=2, status=3)], timeout=20)
    with pytest.raises(
        GaveUp, match=r"flaky \(pid \d+\) exited with status 3: 3 crashes within 60 s"
    ):
        check_until(manager, lambda: False, timeout=30)


def test_restart_delays_double_up_to_the_cap():
    policy = RestartPolicy(first_delay=1, max_delay=30, max_crashes=10, window_seconds=300)
    assert [policy.delay(crashes) for crashes in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_crashes_outside_the_window_are_forgotten(supervisor, caplog):
    manager = supervisor(
        RestartPolicy(first_delay=0.05, max_delay=0.05, max_crashes=2, window_seconds=1)
    )
    manager.start([http_service("slow-flaky", free_port(), exit_after=1.5, status=1)], timeout=20)
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:  # it crashes every 1.5 s: never twice within 1 s
        manager.check()
        time.sleep(0.05)
    assert caplog.text.count("(crash 1 within 1 s; crash 2 stops everything)") >= 2


def test_a_process_dying_while_starting_fails_the_start_with_its_status(supervisor):
    broken = Service("broken", [sys.executable, "-c", "raise SystemExit(7)"], "http://127.0.0.1:9/")
    with pytest.raises(StartupFailed, match="broken exited with status 7 while starting"):
        supervisor().start([broken], timeout=20)


def test_stop_ends_every_process(supervisor):
    manager = supervisor()
    manager.start([http_service("a", free_port()), http_service("b", free_port())], timeout=20)
    processes = manager.processes
    manager.stop()
    assert all(process.poll() is not None for process in processes)


def test_a_port_another_stack_answers_on_fails_the_start(supervisor, tmp_path):
    """A second `make run`, or processes an earlier one left behind, held the
    ports: the new processes could not bind, but the old ones answered their
    health checks, so the start said "The system is up", then the new ones
    crash-looped and gave up with a misleading reason."""
    port = free_port()
    squatter = subprocess.Popen(http_service("old", port).command)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/"), timeout=20, interval=0.1)
        with pytest.raises(StartupFailed, match=f"{port}/ already answers"):
            supervisor().start([http_service("bridge", port)], timeout=20)
    finally:
        squatter.kill()
        squatter.wait()


LAUNCHER = """
import sys, time
from pathlib import Path
from scripts.stack import Ports, Secrets, Stack
from scripts.supervisor import Supervisor
from tests.scripts.test_supervisor import http_service
supervisor = Supervisor(Stack(ports=Ports(), secrets=Secrets.generate(), var=Path(sys.argv[2])))
supervisor.start([http_service("child", int(sys.argv[1]))], timeout=20)
print(supervisor.process("child").pid, flush=True)
time.sleep(600)
"""


def test_the_processes_end_when_the_launcher_is_killed(tmp_path):
    """With the launcher killed (SIGKILL, the OOM killer) its processes lived
    on, holding the ports and the old secrets, and nothing stopped them."""
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(free_port()), str(tmp_path)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(launcher.stdout.readline())
    launcher.kill()
    launcher.wait()
    try:
        wait_for(lambda: not Path(f"/proc/{child}").exists() or zombie(child), timeout=10)
    finally:
        if Path(f"/proc/{child}").exists():
            os.kill(child, signal.SIGKILL)


def zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
