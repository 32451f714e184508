"""The action server's client for the handoff bridge's HTTP API.

One aiohttp session per event loop, reused by every action call. Where the
bridge is and its token come from the environment that `make run` sets up:
HANDOFF_URL and HANDOFF_API_TOKEN.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:5056"
# The bridge refuses NUL in text (PostgreSQL cannot store it), while the
# channels keep what customers send as written, NUL included.
NUL, REPLACEMENT_CHARACTER = "\x00", "\ufffd"
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)


class BridgeError(Exception):
    """The bridge could not be reached or refused the request."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BridgeClient:
    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        self.url = (url or os.environ.get("HANDOFF_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("HANDOFF_API_TOKEN", "")
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                timeout=TIMEOUT, headers={"Authorization": f"Bearer {self.token}"}
            )
            self._sessions[loop] = session
        return session

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        if not self.token:
            raise BridgeError("HANDOFF_API_TOKEN is not set")
        try:
            async with self._session().post(
                f"{self.url}{path}", json=storable(payload)
            ) as response:
                body = await response.json(content_type=None)
                if response.status >= 400:
                    message = (body or {}).get("error", {}).get("message", response.reason)
                    raise BridgeError(f"{path}: {message}", response.status)
                return body
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise BridgeError(f"{path}: {error}") from error

    async def request_handoff(self, handoff: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/api/handoffs", handoff)

    async def record_csat(
        self, ticket_id: int, *, conversation_id: str, score: int | None, comment: str | None
    ) -> dict[str, Any]:
        """The bridge takes it only for a resolved ticket of `conversation_id`."""
        return await self._post(
            _path("api", "tickets", ticket_id, "csat"),
            {"conversation_id": conversation_id, "score": score, "comment": comment},
        )


def storable(value: Any) -> Any:
    """`value` with NUL replaced in every string, keys included: a stray NUL
    in what the customer typed must not cost them their ticket or survey."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT_CHARACTER)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def _path(*segments: object) -> str:
    """Each segment quoted whole, so that a value holding "/" or ".." stays
    one segment and cannot name another resource."""
    return "".join(f"/{quote(str(segment), safe='')}" for segment in segments)


bridge = BridgeClient()
