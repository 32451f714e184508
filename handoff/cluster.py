"""What the bridge's instances must agree on besides the database: which
agents have a console open anywhere, and which Rasa events were already
relayed. Each comes in two kinds with the same methods: in this process's
memory (one bridge, the embedded default) and in Redis (several instances,
the production topology).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RELAYED_CAPACITY = 50_000
RELAYED_TTL_SECONDS = 3600
# An instance that has not said it is alive for this long is gone (killed),
# and the consoles it counted are closed.
INSTANCE_TTL_SECONDS = 15
HEARTBEAT_SECONDS = 5


class RelayLog(Protocol):
    async def first_time(self, key: str) -> bool:
        """True once per key: the event was not relayed before."""


class ConsoleRegistry(Protocol):
    async def opened(self, agent_id: int) -> None: ...

    async def closed(self, agent_id: int) -> None: ...

    async def is_open(self, agent_id: int) -> bool:
        """Whether the agent has a console open on any instance."""

    async def orphaned(self) -> set[int]:
        """Agents whose consoles were on an instance that is gone."""


class LocalRelayLog:
    def __init__(self, capacity: int = RELAYED_CAPACITY) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    async def first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True


class LocalConsoles:
    def __init__(self) -> None:
        self._open: dict[int, int] = {}

    async def opened(self, agent_id: int) -> None:
        self._open[agent_id] = self._open.get(agent_id, 0) + 1

    async def closed(self, agent_id: int) -> None:
        self._open[agent_id] = max(self._open.get(agent_id, 1) - 1, 0)

    async def is_open(self, agent_id: int) -> bool:
        return self._open.get(agent_id, 0) > 0

    async def orphaned(self) -> set[int]:
        return set()


class RedisRelayLog:
    """A key per relayed event, kept an hour: redeliveries come within it."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}:relayed:"

    async def first_time(self, key: str) -> bool:
        return bool(await self._client.set(self._prefix + key, 1, nx=True, ex=RELAYED_TTL_SECONDS))


class RedisConsoles:
    """Per agent, a hash of open consoles by instance; per instance, a
    heartbeat key. Counts of an instance whose heartbeat expired are stale:
    it was killed without closing its consoles."""

    def __init__(self, client: redis.Redis, prefix: str, instance_id: str) -> None:
        self._client = client
        self._prefix = prefix
        self._instance = instance_id
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Forgets what an earlier run under this instance's name counted
        (it may have been killed), then says this instance is alive."""
        async for key in self._client.scan_iter(match=self._consoles_key("*"), count=500):
            await self._client.hdel(key, self._instance)
        self._heartbeat = asyncio.create_task(self._beat_forever())

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        # A clean stop hands its consoles' agents to the grace period at once.
        with contextlib.suppress(RedisError, OSError):
            await self._client.delete(self._alive_key(self._instance))

    async def opened(self, agent_id: int) -> None:
        await self._client.hincrby(self._consoles_key(agent_id), self._instance, 1)

    async def closed(self, agent_id: int) -> None:
        key = self._consoles_key(agent_id)
        if await self._client.hincrby(key, self._instance, -1) <= 0:
            await self._client.hdel(key, self._instance)

    async def is_open(self, agent_id: int) -> bool:
        counts = await self._client.hgetall(self._consoles_key(agent_id))
        instances = [instance.decode() for instance, count in counts.items() if int(count) > 0]
        if not instances:
            return False
        alive = await self._client.mget([self._alive_key(name) for name in instances])
        return any(value is not None for value in alive)

    async def orphaned(self) -> set[int]:
        """Forgets the counts of instances that are gone, naming their agents."""
        agents: set[int] = set()
        async for key in self._client.scan_iter(match=self._consoles_key("*"), count=500):
            counts = await self._client.hgetall(key)
            instances = [instance.decode() for instance in counts]
            alive = await self._client.mget([self._alive_key(name) for name in instances])
            dead = [name for name, value in zip(instances, alive, strict=True) if value is None]
            if dead:
                await self._client.hdel(key, *dead)
                agents.add(int(key.decode().rsplit(":", 1)[1]))
        return agents

    async def _beat_forever(self) -> None:
        while True:
            try:
                await self._client.set(
                    self._alive_key(self._instance), int(time.time()), ex=INSTANCE_TTL_SECONDS
                )
            except (RedisError, OSError) as error:
                logger.error("Redis unreachable (%s): this instance may be taken for gone", error)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def _consoles_key(self, agent_id: int | str) -> str:
        return f"{self._prefix}:consoles:{agent_id}"

    def _alive_key(self, instance: str) -> str:
        return f"{self._prefix}:instance:{instance}"
