"""A web chat customer: python-socketio's own client, collecting what the
server sends so a test can wait for each event in turn."""

from __future__ import annotations

import threading
import time
from typing import Any

import socketio


class WebCustomer:
    def __init__(self, url: str, transports: list[str]) -> None:
        self.url = url
        self.client = socketio.Client()
        self.events: list[tuple[str, Any]] = []
        self.token: str | None = None
        self._arrived = threading.Condition()
        self.client.on("*", self._collect)
        self.client.connect(url, transports=transports, wait_timeout=10)

    def _collect(self, event: str, data: Any = None) -> None:
        with self._arrived:
            self.events.append((event, data))
            self._arrived.notify_all()

    def wait_for(self, event: str, timeout: float = 10, where: Any = None) -> Any:
        """The data of the first `event` (matching `where`), taken from the events."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for index, (name, data) in enumerate(self.events):
                    if name == event and (where is None or where(data)):
                        del self.events[index]
                        return data
                left = deadline - time.monotonic()
                assert left > 0, f"No {event!r} within {timeout} s; got {self.events}"
                self._arrived.wait(left)

    def session(self, token: str | None = None, **data: Any) -> dict[str, Any]:
        self.client.emit("session_request", {"session_id": token, **data})
        confirmed = self.wait_for("session_confirm")
        self.token = confirmed["session_id"]
        return confirmed

    def say(self, message: Any, token: str | None = None, **data: Any) -> None:
        payload = {"message": message, "session_id": token or self.token, **data}
        self.client.emit("user_uttered", payload)

    def close(self) -> None:
        """Leaves without waiting for a long poll in flight to come back."""
        self.client.eio.disconnect(abort=True)
