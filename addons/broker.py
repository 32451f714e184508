"""Rasa event brokers that deliver tracker events to the handoff bridge:
over HTTP on the embedded default (`HandoffEventBroker`), through RabbitMQ
in the production topology (`RabbitMQEventBroker`, at the end).

While an agent has a conversation, the customer's messages must reach the
agent live; Rasa publishes every new tracker event to its event broker, so
no channel needs changing and nobody polls the tracker store.

`publish` is called on Rasa's event loop for every event, so it only puts
the event on a bounded in-memory queue; one background task posts batches
to the bridge, in order, retrying with back-off while the bridge is down.
If the bridge stays down until the queue is full, the oldest events are
dropped, counted, and logged: Rasa itself must never block on the bridge.

endpoints.yml:

    event_broker:
      type: addons.broker.HandoffEventBroker
      url: http://127.0.0.1:5056       # HANDOFF_URL overrides it
      # the token comes from HANDOFF_API_TOKEN (or `token:` here)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from asyncio import AbstractEventLoop
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiohttp
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.pika import PikaEventBroker
from rasa.utils.endpoints import EndpointConfig

from addons import rasa_fixes

logger = logging.getLogger(__name__)

rasa_fixes.apply()

DEFAULT_URL = "http://127.0.0.1:5056"
DEFAULT_EVENT_TYPES = ("user", "bot", "pause", "resume")
EVENTS_PATH = "/api/rasa/events"


def slim(event: dict[str, Any]) -> dict[str, Any]:
    """What the bridge uses of an event: a user event's parse data is most
    of its size (entities, rankings, FAQ candidates) but only its intent is
    shown to agents; everything is in the tracker store anyway."""
    if event.get("event") != "user" or "parse_data" not in event:
        return event
    intent = (event.get("parse_data") or {}).get("intent") or {}
    return {
        **{key: value for key, value in event.items() if key != "parse_data"},
        "parse_data": {
            "intent": {"name": intent.get("name"), "confidence": intent.get("confidence")}
        },
    }


class HandoffEventBroker(EventBroker):
    def __init__(
        self,
        url: str,
        token: str,
        event_types: tuple[str, ...] = DEFAULT_EVENT_TYPES,
        max_queue: int = 10_000,
        batch_size: int = 50,
        timeout: float = 10.0,
        max_backoff: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/") + EVENTS_PATH
        self._token = token
        self._event_types = frozenset(event_types)
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_backoff = max_backoff
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._worker: asyncio.Task | None = None
        self._session: aiohttp.ClientSession | None = None
        self.dropped = 0
        self.delivered = 0
        if not token:
            logger.warning("HANDOFF_API_TOKEN is not set: events will not reach the bridge.")

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: AbstractEventLoop | None = None
    ) -> HandoffEventBroker:
        """The environment wins over endpoints.yml, as the operator's override:
        `make run` points HANDOFF_URL at the port it started the bridge on."""
        kwargs = dict(broker_config.kwargs)
        url = os.environ.get("HANDOFF_URL") or broker_config.url or DEFAULT_URL
        # Rasa keeps a `token:` setting on the config itself, not in kwargs.
        token = os.environ.get("HANDOFF_API_TOKEN") or broker_config.token or ""
        if "event_types" in kwargs:
            kwargs["event_types"] = tuple(kwargs["event_types"])
        return cls(url=url, token=token, **kwargs)

    def publish(self, event: dict[str, Any]) -> None:
        if not self._token or event.get("event") not in self._event_types:
            return
        event = slim(event)
        queue = self._ensure_worker()
        if queue.full():
            queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error("Bridge unreachable for long: %s events dropped", self.dropped)
        queue.put_nowait(event)

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        """Delivers what is queued (briefly), then stops."""
        if self._queue is not None and self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout=5)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._session is not None:
            await self._session.close()

    def _ensure_worker(self) -> asyncio.Queue[dict[str, Any]]:
        if self._queue is None:
            self._queue = asyncio.Queue(self._max_queue)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._deliver_forever())
        return self._queue

    async def _deliver_forever(self) -> None:
        assert self._queue is not None
        self._session = self._session or aiohttp.ClientSession(
            timeout=self._timeout, headers={"Authorization": f"Bearer {self._token}"}
        )
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._post_until_delivered(batch)
            for _ in batch:
                self._queue.task_done()

    async def _post_until_delivered(self, batch: list[dict[str, Any]]) -> None:
        backoff = 0.2
        while True:
            try:
                async with self._session.post(self.url, json=batch) as response:
                    if response.status < 300:
                        self.delivered += len(batch)
                        return
                    body = await response.text()
                    if response.status == 413 and len(batch) > 1:
                        half = len(batch) // 2
                        await self._post_until_delivered(batch[:half])
                        await self._post_until_delivered(batch[half:])
                        return
                    if 400 <= response.status < 500 and response.status != 429:
                        # The bridge will never accept these; retrying would block the rest.
                        logger.error(
                            "Bridge refused %s events (%s): %s",
                            len(batch),
                            response.status,
                            body[:300],
                        )
                        return
                    logger.warning("Bridge answered %s; retrying", response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                logger.warning("Bridge unreachable (%s); retrying in %.1f s", error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)


# The queue's consumers (the bridge's instances) take turns: one receives
# everything, in order, and another takes over when it goes away. Every
# declaration of the queue must say so, the consumers' too.
SINGLE_ACTIVE_CONSUMER = {"x-single-active-consumer": True}
MAX_UNPUBLISHED_EVENTS = 100_000
MAX_BACKOFF_SECONDS = 5.0
# Events sent to RabbitMQ before waiting for its confirmations.
PUBLISH_WINDOW = 200


class RabbitMQEventBroker(PikaEventBroker):
    """Rasa's RabbitMQ broker (its connection, exchange and settings), with
    the delivery the bridge needs:

    - **Nothing lost, in order.** Rasa's broker publishes each event in a
      task of its own and keeps those that failed for its reconnect
      callback; events failing after that callback (a restart under load)
      waited for a reconnect that never came, and were lost. Here events
      wait on one bounded queue and one task publishes them in order, up
      to `PUBLISH_WINDOW` at a time, until RabbitMQ confirms each,
      retrying while RabbitMQ is away. `publish` only enqueues: Rasa never
      waits. A repeat after a lost confirmation is dropped by the bridge.
    - **One active consumer.** The queue is declared for a single active
      consumer, so the bridge relays a conversation's events in order even
      with several bridge instances.
    - **Only what the bridge reads.** The event types it relays
      (`event_types`, the HTTP broker's), a user event's parse data cut to
      its intent (`slim`); `event_types: []` sends everything, as Rasa's.

    endpoints.production.yml:

        event_broker:
          type: addons.broker.RabbitMQEventBroker
          url: localhost          # username, password, port, exchange_name,
          queues: [handoff_events]  # as for Rasa's `type: pika`
    """

    def __init__(
        self,
        *args: Any,
        event_types: Sequence[str] = DEFAULT_EVENT_TYPES,
        max_queue: int = MAX_UNPUBLISHED_EVENTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._event_types = frozenset(event_types)
        self._max_queue = max_queue
        self._pending: asyncio.Queue[dict[str, Any]] | None = None
        self._sender: asyncio.Task | None = None
        self.dropped = 0
        self.published = 0

    def publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        if self._event_types:
            if event.get("event") not in self._event_types:
                return
            event = slim(event)
        if self._pending is None:
            self._pending = asyncio.Queue(self._max_queue)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_forever())
        if self._pending.full():
            self._pending.get_nowait()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error("RabbitMQ away for long: %s events dropped", self.dropped)
        self._pending.put_nowait(event)

    def _publish_unpublished_messages(self, *_: Any, **__: Any) -> None:
        """Rasa's reconnect callback: the sender retries by itself."""

    async def close(self) -> None:
        """Publishes what is queued (briefly), then closes Rasa's connection."""
        if self._pending is not None and self._sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pending.join(), timeout=5)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        await super().close()

    async def _send_forever(self) -> None:
        assert self._pending is not None
        while True:
            events = [await self._pending.get()]
            while len(events) < PUBLISH_WINDOW and not self._pending.empty():
                events.append(self._pending.get_nowait())
            await self._publish_until_confirmed(events)
            for _ in events:
                self._pending.task_done()

    async def _publish_until_confirmed(self, events: list[dict[str, Any]]) -> None:
        """Publishes `events` in order, all at once, and waits for RabbitMQ
        to confirm each: waiting for one confirmation before sending the
        next event held 1,000 live handoffs' events back by seconds. The
        channel sends them in the order they were started, and RabbitMQ
        keeps a channel's order. From the first one not confirmed, they are
        sent again, in order; the bridge drops what it already has."""
        backoff = 0.2
        while events:
            if self._exchange is None:
                failed, error = 0, ConnectionError("not connected to RabbitMQ yet")
            else:
                exchange = self._exchange
                # No timeout: aiormq 6 checks a publish's deadline again
                # before releasing the channel's lock, and one passing while
                # it held the lock (a busy event loop, a window of events in
                # line) left the channel locked for good. A lost connection
                # fails the publishes; a RabbitMQ that blocks publishers
                # (its memory or disk alarm) is waited for, the queue above
                # holding the events.
                results = await asyncio.gather(
                    *(exchange.publish(self._message(event, None), "") for event in events),
                    return_exceptions=True,
                )
                # aio-pika's or the socket's: all retried
                failed = next(
                    (i for i, result in enumerate(results) if isinstance(result, BaseException)),
                    len(events),
                )
                error = results[failed] if failed < len(events) else None
            self.published += failed
            events = events[failed:]
            if events:
                logger.warning("RabbitMQ did not take %s events (%s); retrying", len(events), error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    @staticmethod
    async def _bind_queue(
        queue_name: str, channel: aio_pika.RobustChannel, exchange: aio_pika.Exchange
    ) -> None:
        queue = await channel.declare_queue(
            queue_name, durable=True, arguments=SINGLE_ACTIVE_CONSUMER
        )
        await queue.bind(exchange, "")
