"""What an idle web chat socket costs the server: requests a minute.

A browser tab with the widget open and nobody typing should cost about one
engine.io ping per ping interval (25 s by default). The broken websocket
upgrade cost about 265 polls a second. This connects python-socketio's own
client (requests for polling, websocket-client for websockets: its asyncio
client needs a newer aiohttp than Rasa 3.6 allows), asks for a session,
stays idle, and counts what crossed the wire: HTTP requests, and websocket
frames in either direction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import socketio


@dataclass(frozen=True)
class IdleCost:
    transport: str  # what the client ended on: "polling" or "websocket"
    seconds: float
    http_requests: int
    websocket_frames: int

    @property
    def per_minute(self) -> float:
        return (self.http_requests + self.websocket_frames) * 60 / self.seconds


class _Counter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self, *_: Any, **__: Any) -> None:
        with self._lock:
            self.count += 1

    def wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.add()
            return call(*args, **kwargs)

        return counted


def idle_cost(url: str, *, transports: list[str], seconds: float = 60.0) -> IdleCost:
    """Connects, takes a session, then counts the traffic of `seconds` idle.

    `transports=["polling"]` stays on long-polling; `["polling",
    "websocket"]` is a browser's way (poll, then upgrade); `["websocket"]`
    connects by websocket at once.
    """
    http = requests.Session()
    client = socketio.Client(http_session=http)
    confirmed = threading.Event()
    client.on("session_confirm", lambda _data: confirmed.set())
    client.connect(url, transports=transports, wait_timeout=10)
    try:
        client.emit("session_request", {})
        if not confirmed.wait(30):
            raise TimeoutError("The server confirmed no session.")
        time.sleep(1)  # the upgrade, if any, completes
        requests_made, frames = _Counter(), _Counter()
        http.hooks["response"].append(requests_made.add)
        websocket = client.eio.ws
        if websocket is not None:
            websocket.recv = frames.wrap(websocket.recv)
            websocket.send = frames.wrap(websocket.send)
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        return IdleCost(client.transport(), elapsed, requests_made.count, frames.count)
    finally:
        client.eio.disconnect(abort=True)  # not waiting for the long poll in flight
