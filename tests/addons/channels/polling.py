"""A socket.io client speaking the protocol itself over HTTP long-polling.

python-socketio's own client needs a newer aiohttp than Rasa 3.6 allows,
so the tests follow the documented framing instead: Engine.IO v4 (packet
types `0` open, `2` ping, `3` pong, `4` message; packets in one polling
payload separated by U+001E) carrying Socket.IO v5 packets (`0` connect,
`2` event) in the default namespace.
https://socket.io/docs/v4/engine-io-protocol/ and .../socket-io-protocol/
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests

SEPARATOR = "\x1e"


class PollingSocketIOClient:
    def __init__(self, url: str, path: str = "/socket.io/") -> None:
        self.url = url.rstrip("/") + path
        self.http = requests.Session()
        self.params = {"EIO": "4", "transport": "polling"}
        (opening,) = self.poll()
        assert opening.startswith("0"), opening
        self.params["sid"] = json.loads(opening[1:])["sid"]
        self.post("40")
        self.pending: list[tuple[str, Any]] = []
        connected = self.poll()
        assert any(packet.startswith("40") for packet in connected), connected
        self.sid = json.loads(next(p for p in connected if p.startswith("40"))[2:])["sid"]

    def post(self, payload: str | bytes) -> requests.Response:
        data = payload.encode() if isinstance(payload, str) else payload
        return self.http.post(self.url, params=self.params, data=data, timeout=30)

    def emit(self, event: str, data: Any) -> None:
        # json.dumps writes a lone surrogate as the escape "\ud800", as a
        # browser's JSON.stringify does.
        response = self.post("42" + json.dumps([event, data]))
        assert response.ok and response.text.lower() == "ok", response.text

    def wait_for(self, event: str, timeout: float = 30) -> Any:
        """The data of the next `event`, collecting the others on the way."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, (name, data) in enumerate(self.pending):
                if name == event:
                    del self.pending[index]
                    return data
            for packet in self.poll():
                if packet == "2":
                    self.post("3")
                elif packet.startswith("42"):
                    name, *args = json.loads(packet[2:])
                    self.pending.append((name, args[0] if args else None))
        raise AssertionError(f"No {event!r} within {timeout} s; got {self.pending}")

    def poll(self) -> list[str]:
        response = self.http.get(self.url, params=self.params, timeout=60)
        response.raise_for_status()
        return response.text.split(SEPARATOR)
