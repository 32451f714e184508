"""Rasa's tracker events from RabbitMQ, the production topology's event
broker (`addons.broker.RabbitMQEventBroker` publishes them).

The queue has one active consumer at a time: every bridge instance
subscribes, RabbitMQ delivers to one, in order, and moves to another when
that one goes away. An event is acknowledged once the relay has passed it
on, so an instance killed in between leaves it to the next one; the relay
recognises an event it already passed on.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from handoff.api import RasaEventIn
from handoff.relay import CustomerRelay

logger = logging.getLogger(__name__)

# Must equal the declaration of Rasa's side (addons/broker.py): RabbitMQ
# refuses a second declaration of a queue with other arguments.
QUEUE_ARGUMENTS = {"x-single-active-consumer": True}
PREFETCH = 200
MAX_BACKOFF_SECONDS = 10.0


class RasaEventConsumer:
    def __init__(self, *, url: str, exchange: str, queue: str, relay: CustomerRelay) -> None:
        self._url = url
        self._exchange = exchange
        self._queue = queue
        self._relay = relay
        self.consumed = 0
        self.reachable = False

    async def run_forever(self) -> None:
        """Connects (retrying while RabbitMQ is away) and consumes; aio-pika's
        robust connection reconnects and resubscribes after an outage."""
        attempts = 0
        while True:
            try:
                connection = await aio_pika.connect_robust(self._url)
                break
            except (aio_pika.exceptions.AMQPError, OSError) as error:
                attempts += 1
                if attempts == 1 or attempts % 30 == 0:
                    logger.error("RabbitMQ unreachable (%s): no customer messages reach "
                                 "agents until it is; retrying", error)  # fmt: skip
                await asyncio.sleep(min(0.5 * attempts, MAX_BACKOFF_SECONDS))
        async with connection:
            connection.reconnect_callbacks.add(self._reconnected)
            connection.close_callbacks.add(self._lost)
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=PREFETCH)
            exchange = await channel.declare_exchange(self._exchange, aio_pika.ExchangeType.FANOUT)
            queue = await channel.declare_queue(
                self._queue, durable=True, arguments=QUEUE_ARGUMENTS
            )
            await queue.bind(exchange, "")
            self.reachable = True
            logger.info("Consuming Rasa's events from RabbitMQ queue %s", self._queue)
            async with queue.iterator() as messages:
                async for message in messages:
                    await self._handle(message)

    def _reconnected(self, *_: object) -> None:
        self.reachable = True
        logger.warning("RabbitMQ is back: consuming Rasa's events again")

    def _lost(self, _: object, error: BaseException | asyncio.Future | None = None) -> None:
        self.reachable = False
        if isinstance(error, asyncio.Future):  # aio-pika passes one on a failed reconnect
            error = error.exception() if error.done() and not error.cancelled() else None
        if error is None or isinstance(error, asyncio.CancelledError):
            return  # closed by this bridge, stopping
        logger.error(
            "Lost RabbitMQ (%s): customer messages wait in the queue until it is back", error
        )

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            event = RasaEventIn.parse_obj(json.loads(message.body)).dict()
        except (ValueError, ValidationError) as error:
            # Never deliverable; keeping it would stop the queue behind it.
            logger.error("Dropped a malformed Rasa event: %s", str(error)[:300])
            await message.reject()
            return
        backoff = 0.2
        while True:
            try:
                await self._relay.receive([event])
                break
            except Exception:  # the database is away: the event waits, in order
                logger.exception("Could not relay a Rasa event; retrying in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        await message.ack()
        self.consumed += 1
