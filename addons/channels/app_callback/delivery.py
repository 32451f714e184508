"""POSTs to the app's callback URL: signed, with a delivery id the app can
dedupe by, and retried with exponential backoff.

The first attempt is awaited, so its outcome is known to the sender:

- an agent's message is not retried: if the first attempt fails the agent
  is told at once (DeliveryFailed in the console) and can send again, and
  the customer never gets a late copy of a message the agent re-sent;
- the bot's messages (answers, the bridge's notices, the survey) are
  retried in the background, `attempts` in all, waiting `first_delay`,
  then twice as long each time; after the last one they are logged as lost.

A retry keeps the delivery id. A 4xx other than 408 and 429 is the app
refusing this message for good and is not retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from addons.channels.app_callback.signing import HEADER, sign
from addons.channels.http import LoopBoundSession

logger = logging.getLogger(__name__)

DELIVERY_ID_HEADER = "X-Delivery-Id"
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)
RETRIED_STATUSES = frozenset({408, 429})


class CallbackFailed(Exception):
    """One attempt failed; `retryable` says whether another may succeed."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        self.message = message
        self.retryable = retryable
        self.status = status
        super().__init__(message)


class CallbackDelivery:
    def __init__(
        self,
        *,
        url: str,
        secret: str,
        attempts: int = 5,
        first_delay: float = 1.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self._secret = secret
        self.attempts = attempts
        self.first_delay = first_delay
        self._sleep = sleep
        self._http = LoopBoundSession(timeout=TIMEOUT)
        self._retrying: set[asyncio.Task] = set()

    async def send(self, payload: dict[str, Any], *, retry: bool) -> str:
        """POSTs the payload (with a new `delivery_id`) and returns the id.

        Raises CallbackFailed if the first attempt fails and `retry` is
        False, or the app refused it for good; with `retry`, a failed first
        attempt is retried in the background and this returns.
        """
        delivery_id = uuid.uuid4().hex
        body = json.dumps({"delivery_id": delivery_id, **payload}, ensure_ascii=False).encode()
        try:
            await self._attempt(delivery_id, body)
        except CallbackFailed as failure:
            if not (retry and failure.retryable and self.attempts > 1):
                logger.warning("Callback %s to %s failed: %s", delivery_id, self.url, failure)
                raise
            task = asyncio.create_task(self._retry(delivery_id, body))
            self._retrying.add(task)
            task.add_done_callback(self._retrying.discard)
        return delivery_id

    async def _retry(self, delivery_id: str, body: bytes) -> None:
        delay = self.first_delay
        for attempt in range(2, self.attempts + 1):
            await self._sleep(delay)
            delay *= 2
            try:
                await self._attempt(delivery_id, body)
            except CallbackFailed as failure:
                if failure.retryable and attempt < self.attempts:
                    continue
                logger.error(
                    "Callback %s to %s lost after %d attempts: %s",
                    delivery_id,
                    self.url,
                    attempt,
                    failure,
                )
                return
            logger.info("Callback %s delivered at attempt %d.", delivery_id, attempt)
            return

    async def _attempt(self, delivery_id: str, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(self._secret, body),  # signed now: a retry is fresh
            DELIVERY_ID_HEADER: delivery_id,
        }
        try:
            async with self._http.get().post(self.url, data=body, headers=headers) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise CallbackFailed(
                f"The app's callback URL could not be reached ({error or type(error).__name__}).",
                retryable=True,
            ) from error
        if status < 300:
            return
        retryable = status >= 500 or status in RETRIED_STATUSES
        raise CallbackFailed(
            f"The app's callback URL answered HTTP {status}.", retryable=retryable, status=status
        )

    async def close(self) -> None:
        for task in list(self._retrying):
            task.cancel()
        await self._http.close()
