"""Passwords (argon2, via argon2-cffi) and opaque session tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from handoff.errors import Busy

Result = TypeVar("Result")

_hasher = PasswordHasher()
# Verified when the username is unknown, so a login takes the same time
# whether or not the account exists.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


class PasswordWorkers:
    """Runs argon2 on a few threads of its own.

    Each hash or check costs about a tenth of a second of CPU: on the event
    loop, every sign-in would stall every other request. Its own threads keep
    a burst of sign-ins away from the loop's default executor, and the
    waiting line is bounded, so a flood is refused (503) rather than queued
    for minutes.
    """

    def __init__(self, *, threads: int, max_waiting: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")
        self._capacity = threads + max_waiting
        self._running = 0

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await self._run(verify_password, password_hash, password)

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, work: Callable[..., Result], *args: object) -> Result:
        if self._running >= self._capacity:
            raise Busy(retry_after=1)
        self._running += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self._running -= 1


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(_secret_bytes(token)).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(_secret_bytes(given), _secret_bytes(expected))


def _secret_bytes(secret: str) -> bytes:
    """aiohttp decodes header bytes that are not UTF-8 (a cookie, a Bearer
    token) to lone surrogates; "surrogatepass" still turns those into bytes,
    which match no real token, where plain `encode()` raised (a 500)."""
    return secret.encode("utf-8", "surrogatepass")
