"""Handoffs the bridge could not take when the customer asked, kept on disk
and posted once it answers again.

A customer who asks for a human while the bridge is down is told their
request is noted; this outbox makes that true. Each conversation has at most
one pending handoff (a second request replaces the first with the newer
transcript), retried with exponential backoff by a background task of the
action server (started by `rasa_sdk_plugins`), across restarts.

Delivery is idempotent: the bridge links every handoff of a conversation to
its open ticket (`POST /api/handoffs` answers 200 "linked"), so a retry whose
first attempt did get through, or a later live request by the customer,
never makes a second ticket. A held request arrives as a follow-up ticket,
never a live one: the customer is no longer waiting in the chat for it.

Settings (environment):
    HANDOFF_OUTBOX_PATH               SQLite file (default var/handoff-outbox.db)
    HANDOFF_OUTBOX_RETRY_MAX_SECONDS  longest wait between two attempts (default 60)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actions.bridge import BridgeError
from cloudpick_home import PROJECT

if TYPE_CHECKING:
    from sanic import Sanic

logger = logging.getLogger(__name__)

DEFAULT_PATH = PROJECT / "var" / "handoff-outbox.db"
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0
# The bridge refused the handoff itself: sending it again cannot help. Other
# 4xx (a token not yet configured, a rate limit) may pass later.
_PERMANENT = frozenset({400, 404, 405, 409, 413, 415, 422})

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_handoffs (
    conversation_id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    held_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    rejected INTEGER NOT NULL DEFAULT 0
)
"""

Send = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class PendingHandoff:
    conversation_id: str
    payload: dict[str, Any]
    attempts: int


def retryable(error: BridgeError) -> bool:
    return error.status not in _PERMANENT


class HandoffOutbox:
    """One SQLite file; every call opens its own connection in a worker
    thread, so the action server's event loop never waits on the disk."""

    def __init__(self, path: Path | str, *, retry_max_seconds: float = RETRY_MAX_SECONDS) -> None:
        self.path = Path(path)
        self.retry_max_seconds = retry_max_seconds
        self._wake = asyncio.Event()

    @classmethod
    def from_environment(cls) -> HandoffOutbox:
        return cls(
            os.environ.get("HANDOFF_OUTBOX_PATH") or DEFAULT_PATH,
            retry_max_seconds=float(
                os.environ.get("HANDOFF_OUTBOX_RETRY_MAX_SECONDS", RETRY_MAX_SECONDS)
            ),
        )

    async def hold(self, payload: dict[str, Any]) -> None:
        """Keeps the conversation's handoff until the bridge takes it; the
        newest request replaces an older one still waiting."""
        await asyncio.to_thread(self._hold, payload)
        self._wake.set()

    async def forget(self, conversation_id: str) -> None:
        """The bridge took a newer request for the conversation itself; the
        held one must not open a second ticket once that one is resolved."""
        if not self.path.exists():
            return
        await asyncio.to_thread(
            self._execute,
            "DELETE FROM pending_handoffs WHERE conversation_id = ? AND rejected = 0",
            (conversation_id,),
        )

    async def pending(self) -> list[PendingHandoff]:
        rows = await asyncio.to_thread(
            self._query,
            "SELECT conversation_id, payload, attempts FROM pending_handoffs"
            " WHERE rejected = 0 ORDER BY held_at",
        )
        return [PendingHandoff(row[0], json.loads(row[1]), row[2]) for row in rows]

    async def deliver_due(self, send: Send) -> int:
        """Tries each handoff whose time has come once; returns how many the
        bridge took."""
        now = time.time()
        due = await asyncio.to_thread(
            self._query,
            "SELECT conversation_id, payload, attempts FROM pending_handoffs"
            " WHERE rejected = 0 AND next_attempt_at <= ? ORDER BY held_at",
            (now,),
        )
        delivered = 0
        for conversation_id, payload, attempts in due:
            try:
                result = await send({**json.loads(payload), "follow_up": True})
            except BridgeError as error:
                await asyncio.to_thread(self._failed, conversation_id, payload, attempts, error)
                continue
            await asyncio.to_thread(
                self._execute,
                "DELETE FROM pending_handoffs WHERE conversation_id = ? AND payload = ?",
                (conversation_id, payload),
            )
            logger.info(
                "Held handoff for %s delivered: ticket %s",
                conversation_id,
                (result.get("ticket") or {}).get("id"),
            )
            delivered += 1
        return delivered

    async def run(self, send: Send) -> None:
        """Delivers until cancelled: as soon as something is held, then
        whenever the earliest retry falls due."""
        while True:
            self._wake.clear()  # before delivering: a handoff held meanwhile wakes the wait
            try:
                await self.deliver_due(send)
                wait = await asyncio.to_thread(self._seconds_to_next_attempt)
            except Exception:  # a broken disk must not end the retries for good
                logger.exception("Handoff outbox at %s failed", self.path)
                wait = self.retry_max_seconds
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    # --- storage (called in worker threads) ---------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Held transcripts name customers and their phone numbers.
            self.path.touch(mode=0o600)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute(SCHEMA)
        return connection

    def _execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> None:
        with closing(self._connect()) as connection, connection:
            connection.execute(sql, parameters)

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with closing(self._connect()) as connection:
            return connection.execute(sql, parameters).fetchall()

    def _hold(self, payload: dict[str, Any]) -> None:
        now = time.time()
        self._execute(
            "INSERT INTO pending_handoffs (conversation_id, payload, held_at, next_attempt_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (conversation_id) DO UPDATE SET"
            " payload = excluded.payload, next_attempt_at = excluded.next_attempt_at,"
            " attempts = 0, rejected = 0",
            (payload["conversation_id"], json.dumps(payload, ensure_ascii=False), now, now),
        )

    def _failed(
        self, conversation_id: str, payload: str, attempts: int, error: BridgeError
    ) -> None:
        """Marks the attempt on the payload that was sent: a request the customer
        made meanwhile replaced it and starts afresh."""
        if not retryable(error):
            # Kept, not dropped: an operator can read why and fix the cause.
            logger.error("The bridge refused the held handoff for %s: %s", conversation_id, error)
            self._execute(
                "UPDATE pending_handoffs SET rejected = 1, last_error = ?"
                " WHERE conversation_id = ? AND payload = ?",
                (str(error), conversation_id, payload),
            )
            return
        delay = min(RETRY_FIRST_SECONDS * 2**attempts, self.retry_max_seconds)
        delay *= random.uniform(0.8, 1.0)  # several action servers do not retry in step
        logger.warning(
            "Held handoff for %s not delivered (attempt %d, next in %.0f s): %s",
            conversation_id,
            attempts + 1,
            delay,
            error,
        )
        self._execute(
            "UPDATE pending_handoffs SET attempts = attempts + 1, next_attempt_at = ?,"
            " last_error = ? WHERE conversation_id = ? AND payload = ?",
            (time.time() + delay, str(error), conversation_id, payload),
        )

    def _seconds_to_next_attempt(self) -> float:
        rows = self._query("SELECT MIN(next_attempt_at) FROM pending_handoffs WHERE rejected = 0")
        earliest = rows[0][0]
        if earliest is None:
            return self.retry_max_seconds
        return min(max(earliest - time.time(), 0.0), self.retry_max_seconds)


pending_handoffs = HandoffOutbox.from_environment()


def attach(app: Sanic) -> None:
    """Runs the retries for as long as the action server runs."""
    from actions.bridge import bridge

    async def start(app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
        app.ctx.handoff_outbox = asyncio.create_task(pending_handoffs.run(bridge.request_handoff))

    async def stop(app: Sanic, _loop: asyncio.AbstractEventLoop) -> None:
        app.ctx.handoff_outbox.cancel()

    app.register_listener(start, "after_server_start")
    app.register_listener(stop, "before_server_stop")
