"""Platforms deliver a message more than once (Telegram retries an update
until it gets a 2xx, an app retries a POST it got no answer to, an attacker
replays a signed request): the channel remembers what it saw recently, in
the process, or in Redis when several processes serve it."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Protocol

import redis.asyncio as redis

from addons.channels import cluster

DEFAULT_TTL_SECONDS = 24 * 3600


class Seen(Protocol):
    async def first_time(self, key: Hashable) -> bool:
        """True once for each key (within the window), then False."""

    async def forget(self, key: Hashable) -> None:
        """Lets a key count as new again (its processing was refused for a
        reason the sender may retry)."""


def recently_seen(name: str, *, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> Seen:
    """The channel's memory of `name` (its deliveries, its requests): shared
    through CHANNELS_REDIS_URL when set, else this process's own."""
    if (url := cluster.redis_url()) is None:
        return RecentlySeen(ttl_seconds=ttl_seconds)
    return SharedSeen(name, ttl_seconds=ttl_seconds, url=url)


class RecentlySeen:
    """Keys seen within `ttl_seconds`, at most `max_keys` of them; the oldest
    is forgotten first, so memory stays bounded under a flood."""

    def __init__(
        self,
        *,
        max_keys: int = 100_000,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_keys = max_keys
        self._ttl = ttl_seconds
        self._clock = clock
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    async def first_time(self, key: Hashable) -> bool:
        now = self._clock()
        while self._seen and next(iter(self._seen.values())) < now - self._ttl:
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        if len(self._seen) > self._max_keys:
            self._seen.popitem(last=False)
        return True

    async def forget(self, key: Hashable) -> None:
        self._seen.pop(key, None)


class SharedSeen:
    """Keys seen within `ttl_seconds` by any process, in Redis."""

    def __init__(self, name: str, *, ttl_seconds: float, url: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._prefix = f"{cluster.key_prefix()}.seen.{name}:"
        self._ttl = max(int(ttl_seconds), 1)

    async def first_time(self, key: Hashable) -> bool:
        return bool(await self._client.set(f"{self._prefix}{key}", 1, nx=True, ex=self._ttl))

    async def forget(self, key: Hashable) -> None:
        await self._client.delete(f"{self._prefix}{key}")
