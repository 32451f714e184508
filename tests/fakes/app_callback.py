"""An app's server receiving our callbacks on loopback: it checks each
signature as docs/channels.md tells app developers to (its own code, not
ours), dedupes by delivery id, records what it took, and can be told to
fail the next N requests. It also signs what the app sends to Rasa."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from aiohttp import web

from scripts.stack import LOOPBACK

REPLAY_WINDOW_SECONDS = 300


def app_signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """X-Signature as an app computes it: t=<unix>,v1=HMAC-SHA256("<t>." + body)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_is_valid(secret: str, header: str, body: bytes) -> bool:
    """The check of docs/channels.md's example, for app developers."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > REPLAY_WINDOW_SECONDS:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


class FakeApp:
    def __init__(self) -> None:
        self.secret = secrets.token_urlsafe(32)
        self.received: list[dict[str, Any]] = []  # each delivery once
        self.attempts: list[str] = []  # delivery ids of every request, retries too
        self.bad_signatures = 0
        self._failures: list[int] = []
        self.environment: dict[str, str] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/callback", self._callback)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{LOOPBACK}:{port}/callback"
        self.environment = {"APP_CALLBACK_URL": self.url, "APP_CALLBACK_SECRET": self.secret}

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def fail_next(self, times: int, status: int = 500) -> None:
        self._failures.extend([status] * times)

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Headers for a request the app sends to Rasa."""
        return {"X-Signature": app_signature(self.secret, body, timestamp)}

    def to(self, recipient_id: str) -> list[dict[str, Any]]:
        return [m for m in list(self.received) if m["recipient_id"] == recipient_id]

    async def wait_for(
        self, recipient_id: str, containing: str = "", *, after: int = 0, timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.to(recipient_id)[after:]:
                if containing in (message.get("text") or ""):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"No callback with {containing!r} to {recipient_id}: {self.to(recipient_id)[after:]}"
        )

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not signature_is_valid(self.secret, request.headers.get("X-Signature", ""), body):
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        delivery = json.loads(body)
        self.attempts.append(delivery["delivery_id"])
        assert request.headers["X-Delivery-Id"] == delivery["delivery_id"]
        if self._failures:
            return web.json_response({"error": "down"}, status=self._failures.pop(0))
        if all(m["delivery_id"] != delivery["delivery_id"] for m in self.received):
            self.received.append(delivery)
        return web.json_response({"ok": True})
