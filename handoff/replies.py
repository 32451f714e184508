"""Agent replies by the id the client gives each one, so that sending a reply
again (after a timeout, a dropped connection, a double click) reaches the
customer at most once.

A send can fail after Rasa has delivered it: the bridge stops waiting, or
Rasa's answer is lost. Such a send is remembered as uncertain, and a retry
first looks for the reply in the conversation's tracker (each agent reply
carries the client's id in its metadata) before sending it again.

The ledger lives in the bridge's memory and keeps the most recent
`capacity` replies: retries come within seconds, and a bridge restart between
a failed send and its retry is the one case it does not cover.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from handoff.errors import RasaUnavailable

# (ticket id, agent id, the client's id for the reply)
ReplyKey = tuple[int, int, str]
Reply = dict[str, Any]


class SentReplies:
    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._sent: OrderedDict[ReplyKey, Reply] = OrderedDict()
        self._uncertain: OrderedDict[ReplyKey, None] = OrderedDict()
        self._in_flight: dict[ReplyKey, asyncio.Task[Reply]] = {}

    async def send_once(
        self,
        key: ReplyKey,
        *,
        send: Callable[[], Awaitable[Reply]],
        find_delivered: Callable[[], Awaitable[Reply | None]],
    ) -> Reply:
        """The reply, sent unless it was already; concurrent sends of one
        reply share one attempt. A caller that gives up does not cancel it."""
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._send(key, send, find_delivered))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(task)

    def delivered(self, key: ReplyKey) -> Reply | None:
        """The reply, if it is known to have reached Rasa."""
        return self._sent.get(key)

    def _settled(self, key: ReplyKey, task: asyncio.Task[Reply]) -> None:
        self._in_flight.pop(key, None)
        if not task.cancelled():
            task.exception()  # read, so a failure nobody waited for is not logged as lost

    async def _send(
        self,
        key: ReplyKey,
        send: Callable[[], Awaitable[Reply]],
        find_delivered: Callable[[], Awaitable[Reply | None]],
    ) -> Reply:
        if key in self._sent:
            return self._sent[key]
        reply = await find_delivered() if key in self._uncertain else None
        if reply is None:
            try:
                reply = await send()
            except RasaUnavailable:
                self._remember(self._uncertain, key, None)
                raise
        self._uncertain.pop(key, None)
        self._remember(self._sent, key, reply)
        return reply

    def _remember(self, ledger: OrderedDict[ReplyKey, Any], key: ReplyKey, value: Any) -> None:
        ledger[key] = value
        ledger.move_to_end(key)
        while len(ledger) > self._capacity:
            ledger.popitem(last=False)
