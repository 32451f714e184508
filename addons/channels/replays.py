"""Platforms deliver a message more than once (Telegram retries an update
until it gets a 2xx, an app retries a POST it got no answer to, an attacker
replays a signed request): the channel remembers what it saw recently."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class RecentlySeen:
    """Keys seen within `ttl_seconds`, at most `max_keys` of them; the oldest
    is forgotten first, so memory stays bounded under a flood."""

    def __init__(
        self,
        *,
        max_keys: int = 100_000,
        ttl_seconds: float = 24 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_keys = max_keys
        self._ttl = ttl_seconds
        self._clock = clock
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def first_time(self, key: Hashable) -> bool:
        """True once for each key (within the window), then False."""
        now = self._clock()
        while self._seen and next(iter(self._seen.values())) < now - self._ttl:
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        if len(self._seen) > self._max_keys:
            self._seen.popitem(last=False)
        return True

    def forget(self, key: Hashable) -> None:
        """Lets a key count as new again (its processing was refused for a
        reason the sender may retry)."""
        self._seen.pop(key, None)
