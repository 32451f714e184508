"""Failed sign-ins, counted per account and per client address, so that
passwords cannot be guessed at the speed the bridge answers: in this
process (one bridge) or in Redis (several instances, which must refuse a
locked account alike, or guesses spread over them would multiply)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis

from handoff.errors import TooManyAttempts

# Counters kept per kind; the least recently failed are forgotten first, so
# a spray of made-up usernames cannot grow memory without bound.
CAPACITY = 10_000


@dataclass
class _Failures:
    count: int = 0
    last_at: float = 0.0
    locked_until: float = 0.0


class _Counter:
    """Failures of one kind of key. `limit` failures, each within
    `window_seconds` of the previous one, lock the key for `window_seconds`;
    when a lock ends the count starts again from zero."""

    def __init__(self, *, limit: int, window_seconds: float) -> None:
        self._limit = limit
        self._window = window_seconds
        self._entries: OrderedDict[str, _Failures] = OrderedDict()

    def locked_for(self, key: str, now: float) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        if entry.locked_until > now:
            return entry.locked_until - now
        if entry.locked_until or now - entry.last_at >= self._window:
            del self._entries[key]  # the lock or the streak is over
        return 0.0

    def failed(self, key: str, now: float) -> None:
        entry = self._entries.pop(key, None) or _Failures()
        if now - entry.last_at >= self._window:
            entry.count = 0
        entry.count += 1
        entry.last_at = now
        if entry.count >= self._limit:
            entry.locked_until = now + self._window
        self._entries[key] = entry
        if len(self._entries) > CAPACITY:
            self._forget_oldest_unlocked(now)

    def _forget_oldest_unlocked(self, now: float) -> None:
        """Makes room without ever dropping a lock: filling the table with
        made-up usernames must not unlock a real account."""
        for key, entry in self._entries.items():
            if entry.locked_until <= now:
                del self._entries[key]
                return
        self._entries.popitem()  # all locked: the newest streak is not kept

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def take_back(self, key: str) -> None:
        """Undoes one `failed`: the attempt turned out not to be a failure."""
        entry = self._entries.get(key)
        if entry is None:
            return
        entry.count = max(entry.count - 1, 0)
        if entry.count == 0:
            del self._entries[key]
        elif entry.count < self._limit:
            entry.locked_until = 0.0


class Throttle(Protocol):
    """Asked before a password is checked: a locked account or address is
    refused without looking at the password, so the answer says nothing
    about whether it was right."""

    async def attempt(self, *, username: str, address: str) -> None:
        """Raises TooManyAttempts while the account or the address is locked;
        otherwise counts this attempt as failed until told otherwise."""

    async def succeeded(self, *, username: str, address: str) -> None:
        """The account's streak ends; the address gets this attempt back but
        keeps its earlier failures, so one valid account does not let an
        address guess others' passwords."""

    async def not_checked(self, *, username: str, address: str) -> None:
        """The password was never looked at (the bridge was busy): no guess."""


class LoginThrottle:
    """`Throttle` in this process's memory.

    An attempt counts as a failure from the moment it starts and is taken
    back if the password was right (or never checked): counted only after
    the check, guesses sent in parallel all passed `check` before the first
    one failed, and 30 at once got 30 guesses against a limit of 5."""

    def __init__(
        self,
        *,
        per_account: int,
        per_address: int,
        lockout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = _Counter(limit=per_account, window_seconds=lockout_seconds)
        self._addresses = _Counter(limit=per_address, window_seconds=lockout_seconds)
        self._clock = clock

    async def attempt(self, *, username: str, address: str) -> None:
        now = self._clock()
        wait = max(
            self._accounts.locked_for(username, now), self._addresses.locked_for(address, now)
        )
        if wait > 0:
            raise TooManyAttempts(retry_after=wait)
        self._accounts.failed(username, now)
        self._addresses.failed(address, now)

    async def succeeded(self, *, username: str, address: str) -> None:
        self._accounts.forget(username)
        self._addresses.take_back(address)

    async def not_checked(self, *, username: str, address: str) -> None:
        self._accounts.take_back(username)
        self._addresses.take_back(address)


class RedisLoginThrottle:
    """`Throttle` in Redis, by the same rules: a streak's count expires
    `lockout_seconds` after its last failure, the limit-th failure locks
    the key as long, and counting is atomic (INCR), so guesses sent at once
    to several instances get no more than the limit between them."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        *,
        per_account: int,
        per_address: int,
        lockout_seconds: float,
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}:logins"
        self._limits = {"account": per_account, "address": per_address}
        self._window_ms = int(lockout_seconds * 1000)

    async def attempt(self, *, username: str, address: str) -> None:
        keys = {"account": username, "address": address}
        locks = [await self._client.pttl(self._key("locked", *kind)) for kind in keys.items()]
        if (wait := max(locks)) > 0:
            raise TooManyAttempts(retry_after=wait / 1000)
        for kind, key in keys.items():
            failures = self._key("failed", kind, key)
            count = await self._client.incr(failures)
            if count > self._limits[kind]:  # guesses that passed the check together
                raise TooManyAttempts(retry_after=self._window_ms / 1000)
            await self._client.pexpire(failures, self._window_ms)
            if count == self._limits[kind]:
                await self._client.set(self._key("locked", kind, key), 1, px=self._window_ms)

    async def succeeded(self, *, username: str, address: str) -> None:
        await self._client.delete(
            self._key("failed", "account", username), self._key("locked", "account", username)
        )
        await self._take_back("address", address)

    async def not_checked(self, *, username: str, address: str) -> None:
        await self._take_back("account", username)
        await self._take_back("address", address)

    async def _take_back(self, kind: str, key: str) -> None:
        failures = self._key("failed", kind, key)
        count = await self._client.decr(failures)
        if count <= 0:
            await self._client.delete(failures)
        if count < self._limits[kind]:
            await self._client.delete(self._key("locked", kind, key))

    def _key(self, state: str, kind: str, key: str) -> str:
        return f"{self._prefix}:{state}:{kind}:{key}"
