"""Carries the bus's events between the bridge's instances through Redis
pub/sub, so an agent whose console is on one instance sees what happens on
another: a customer's message relayed there, a ticket another agent took.

Publishing never waits on Redis: events go on a bounded queue that one task
sends in order. While Redis is away, the events wait (up to the bound) and
go out when it is back; this instance's consoles are then asked to
reconnect, which makes them load everything again, since they may have
missed other instances' events meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from handoff.events import EventBus

logger = logging.getLogger(__name__)

MAX_PENDING = 10_000
MAX_BACKOFF_SECONDS = 5.0


class RedisFanout:
    def __init__(
        self,
        *,
        url: str,
        channel: str,
        instance_id: str,
        bus: EventBus,
        on_reconnect: Callable[[], Awaitable[None]],
    ) -> None:
        self._client = redis.Redis.from_url(url)
        self._channel = channel
        self._instance_id = instance_id
        self._bus = bus
        self._on_reconnect = on_reconnect
        self._pending: asyncio.Queue[bytes] = asyncio.Queue(MAX_PENDING)
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        # Whether the last attempt to reach Redis worked (`/health` says it).
        self.reachable = False

    def start(self) -> None:
        self._bus.forward = self.send
        self._tasks = [
            asyncio.create_task(self._send_forever()),
            asyncio.create_task(self._listen_forever()),
        ]

    def send(self, name: str, payload: dict[str, Any]) -> None:
        envelope = {"from": self._instance_id, "name": name, "payload": payload}
        if self._pending.full():
            self._pending.get_nowait()
            self.dropped += 1
            logger.error("Redis away for long: dropped a console event for other instances")
        self._pending.put_nowait(json.dumps(envelope).encode())

    async def close(self) -> None:
        self._bus.forward = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.close()

    async def _send_forever(self) -> None:
        while True:
            message = await self._pending.get()
            await self._publish(message)

    async def _listen_forever(self) -> None:
        outages = 0
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.reachable = True
                if outages:
                    logger.warning("Redis is back: consoles reconnect to catch up")
                    outages = 0
                    await self._on_reconnect()
                async for message in pubsub.listen():
                    self._receive(message["data"])
            except (RedisError, OSError) as error:
                outages += 1
                self.reachable = False
                if outages == 1 or outages % 60 == 0:
                    logger.error(
                        "Redis unreachable (%s): this instance's consoles miss other "
                        "instances' events until it is back; retrying",
                        error,
                    )
                await asyncio.sleep(min(0.2 * outages, MAX_BACKOFF_SECONDS))
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.close()

    def _receive(self, data: bytes) -> None:
        try:
            envelope = json.loads(data)
            if envelope["from"] == self._instance_id:
                return
            self._bus.deliver(envelope["name"], envelope["payload"])
        except (ValueError, KeyError, TypeError):
            logger.exception("Ignored a malformed event from Redis")

    async def _publish(self, message: bytes) -> None:
        """Retries until Redis takes it: later events wait behind it, in order."""
        attempts = 0
        while True:
            try:
                await self._client.publish(self._channel, message)
                return
            except (RedisError, OSError) as error:
                attempts += 1
                if attempts == 1:
                    logger.error("Redis publish failed (%s); retrying until it is back", error)
                await asyncio.sleep(min(0.2 * attempts, MAX_BACKOFF_SECONDS))
