"""Keeps a stack's processes running, as a process manager would: a process
that dies is logged with its exit status or signal and started again after
a growing delay; one that keeps dying stops the whole stack with a clear
message, rather than restarting forever."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO

from scripts.stack import PRIVATE_UMASK, PROJECT, Service, Stack

logger = logging.getLogger("launcher")

STOP_TIMEOUT = 15
POLL_SECONDS = 0.5
# prctl(2): the signal a process gets when the thread that started it ends.
PR_SET_PDEATHSIG = 1


class SupervisorError(RuntimeError):
    """The stack cannot be kept running; the message says which process and why."""


class StartupFailed(SupervisorError):
    pass


class GaveUp(SupervisorError):
    pass


@dataclass(frozen=True)
class RestartPolicy:
    """Delays double from `first_delay` up to `max_delay`; `max_crashes`
    crashes of one process within `window_seconds` stop everything."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    max_crashes: int = 5
    window_seconds: float = 300.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> RestartPolicy:
        defaults = cls()
        return cls(
            first_delay=float(environ.get("RESTART_FIRST_DELAY_SECONDS", defaults.first_delay)),
            max_delay=float(environ.get("RESTART_MAX_DELAY_SECONDS", defaults.max_delay)),
            max_crashes=int(environ.get("RESTART_MAX_CRASHES", defaults.max_crashes)),
            window_seconds=float(environ.get("RESTART_WINDOW_SECONDS", defaults.window_seconds)),
        )

    def delay(self, recent_crashes: int) -> float:
        return min(self.first_delay * 2 ** max(recent_crashes - 1, 0), self.max_delay)


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class Supervisor:
    """Starts a stack's services in order and keeps them running."""

    def __init__(self, stack: Stack, *, policy: RestartPolicy | None = None) -> None:
        self._stack = stack
        self._policy = policy or RestartPolicy()
        self._services: dict[str, Service] = {}
        self._running: dict[str, subprocess.Popen] = {}
        self._crashes: dict[str, deque[float]] = {}
        self._restart_at: dict[str, float] = {}
        self._recovering: set[str] = set()

    @property
    def processes(self) -> list[subprocess.Popen]:
        return list(self._running.values())

    def process(self, name: str) -> subprocess.Popen:
        return self._running[name]

    def start(self, services: Iterable[Service], timeout: float) -> None:
        """One at a time, each answering before the next starts. A process
        that dies while starting stops the start: its settings are wrong,
        and restarting would not fix them."""
        for service in services:
            if answers(service.health_url):
                # Ours could not bind, and the health check would be answered
                # by whatever holds the port: "up", then a crash loop.
                raise StartupFailed(
                    f"{service.name}: {service.health_url} already answers before it was "
                    "started; another stack (an earlier `make run`, or processes it left "
                    "behind) holds the port. Stop it, or choose other ports."
                )
            self._services[service.name] = service
            self._spawn(service)
            self._wait_until_up(service, timeout)

    def watch(self) -> None:
        """Returns never; raises GaveUp when a process keeps crashing."""
        while True:
            self.check()
            time.sleep(POLL_SECONDS)

    def check(self) -> None:
        now = time.monotonic()
        for name, process in list(self._running.items()):
            if process.poll() is not None:
                del self._running[name]
                self._crashed(name, process, now)
        for name, due in list(self._restart_at.items()):
            if now >= due:
                del self._restart_at[name]
                self._spawn(self._services[name])
                logger.info("%s restarted (pid %s)", name, self._running[name].pid)
                self._recovering.add(name)
        for name in list(self._recovering):
            if name in self._running and answers(self._services[name].health_url):
                self._recovering.discard(name)
                logger.info("%s answers again", name)

    def stop(self) -> None:
        """SIGTERM in reverse start order (Rasa first, so its event broker can
        still flush to the bridge), then SIGKILL what outlives the timeout."""
        self._restart_at.clear()
        running = list(self._running.values())
        for process in reversed(running):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._running.clear()

    def _crashed(self, name: str, process: subprocess.Popen, now: float) -> None:
        recent = self._crashes.setdefault(name, deque())
        recent.append(now)
        while recent and now - recent[0] > self._policy.window_seconds:
            recent.popleft()
        reason = f"{name} (pid {process.pid}) {exit_reason(process.returncode)}"
        if len(recent) >= self._policy.max_crashes:
            raise GaveUp(
                f"{reason}: {len(recent)} crashes within "
                f"{self._policy.window_seconds:.0f} s, giving up and stopping everything."
            )
        delay = self._policy.delay(len(recent))
        logger.error(
            "%s; restarting in %g s (crash %d within %g s; crash %d stops everything)",
            reason,
            delay,
            len(recent),
            self._policy.window_seconds,
            self._policy.max_crashes,
        )
        self._restart_at[name] = now + delay

    def _spawn(self, service: Service) -> None:
        output: IO[str] | None = None
        if service.log is not None:
            output = service.log.open("a")
        try:
            self._running[service.name] = subprocess.Popen(
                service.command,
                cwd=PROJECT,
                env=self._stack.process_environment(service),
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                umask=PRIVATE_UMASK,
                preexec_fn=_end_with(os.getpid()),
            )
        finally:
            if output is not None:
                output.close()

    def _wait_until_up(self, service: Service, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self._running.items():
                if process.poll() is not None:
                    raise StartupFailed(
                        f"{name} {exit_reason(process.returncode)} while starting"
                        + self._tail(self._services[name])
                    )
            if answers(service.health_url):
                return
            time.sleep(1)
        raise StartupFailed(
            f"{service.name} ({service.health_url}) did not answer within {timeout:.0f} s"
            + self._tail(service)
        )

    @staticmethod
    def _tail(service: Service) -> str:
        if service.log is None or not service.log.exists():
            return ""
        return f":\n{service.log.read_text(errors='replace')[-3000:]}"


def _end_with(launcher: int) -> Callable[[], None] | None:
    """What a process runs before its program: on Linux, to get SIGTERM when
    the launcher ends however it ends (SIGKILL, the OOM killer), so that no
    process lives on holding the stack's ports and secrets with nothing to
    stop it. The signal follows the thread that started the process, so
    start and restart from one that outlives the stack (the main thread)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork

    def end_with_launcher() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != launcher:  # it ended before the line above
            os._exit(1)

    return end_with_launcher
