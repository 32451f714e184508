"""The channels' outbound HTTP: one aiohttp session per event loop.

A connector's clients are built when Rasa loads the channel, before its
event loop runs; a session must be made on the loop that uses it, so it is
made on first use, and again only if that loop changed or it was closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp


class LoopBoundSession:
    """An aiohttp session made lazily on the running loop, with the
    `ClientSession` options (timeout, headers...) given here."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(**self._options)
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
