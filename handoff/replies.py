"""Agent replies by the id the client gives each one, so that sending a reply
again (after a timeout, a dropped connection, a double click, a bridge
restart) reaches the customer at most once.

Each reply is recorded in the bridge's database (`AgentReply`) before it goes
to Rasa, and marked delivered once Rasa has logged it. A send can fail after
Rasa has delivered it: the bridge stops waiting, Rasa's answer is lost, or the
bridge stops mid-send. Such a send leaves its record undelivered, and a retry
first looks for the reply in the conversation's tracker (each agent reply
carries the client's id in its metadata) before sending it again.

This assumes one bridge process, as the rest of the bridge does: two
processes retrying the same reply at the same moment could both send it.
Records are kept for `RETRY_WINDOW`, then forgotten by the dispatcher's sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.db import Database
from handoff.tickets.models import AgentReply

logger = logging.getLogger(__name__)

# How long a client may retry a reply by its id: the console retries within
# seconds; a day also covers a laptop that went to sleep mid-send.
RETRY_WINDOW = timedelta(days=1)

# (ticket id, agent id, the client's id for the reply)
ReplyKey = tuple[int, int, str]
Reply = dict[str, Any]


class SentReplies:
    def __init__(self, database: Database) -> None:
        self._db = database
        # Sends under way in this process, so a double click waits for the
        # first attempt instead of racing it.
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
        earlier = await self._begin(key)
        if earlier is not None and earlier.delivered is not None:
            return earlier.delivered
        # An earlier attempt that did not finish may still have reached Rasa.
        reply = await find_delivered() if earlier is not None else None
        if reply is None:
            reply = await send()
        try:
            await self._mark_delivered(key, reply)
        except SQLAlchemyError:
            # The customer has the reply; failing the request would tell the
            # agent otherwise. A retry finds it in the tracker.
            logger.warning("Could not record reply %s as delivered.", key, exc_info=True)
        return reply

    async def _mark_delivered(self, key: ReplyKey, reply: Reply) -> None:
        async with self._db.transaction() as db:
            await db.execute(
                update(AgentReply)
                .where(*_matching(key))
                .values(delivered=reply)
                .execution_options(synchronize_session=False)
            )

    async def _begin(self, key: ReplyKey) -> AgentReply | None:
        """The reply's record as an earlier attempt left it, or None for the
        first attempt, which is recorded before anything is sent."""
        ticket_id, agent_id, client_message_id = key
        async with self._db.transaction() as db:
            earlier = await _record(db, key)
            if earlier is None:
                db.add(
                    AgentReply(
                        ticket_id=ticket_id,
                        agent_id=agent_id,
                        client_message_id=client_message_id,
                    )
                )
        return earlier


def _matching(key: ReplyKey) -> tuple[Any, ...]:
    ticket_id, agent_id, client_message_id = key
    return (
        AgentReply.ticket_id == ticket_id,
        AgentReply.agent_id == agent_id,
        AgentReply.client_message_id == client_message_id,
    )


async def _record(db: AsyncSession, key: ReplyKey) -> AgentReply | None:
    return (await db.execute(select(AgentReply).where(*_matching(key)))).scalar_one_or_none()


async def delivered_reply(db: AsyncSession, key: ReplyKey) -> Reply | None:
    """The reply, if it is known to have reached Rasa."""
    record = await _record(db, key)
    return None if record is None else record.delivered


async def forget_old_replies(db: AsyncSession, *, now: datetime) -> None:
    """Drops the records of replies too old to be retried."""
    await db.execute(delete(AgentReply).where(AgentReply.created_at < now - RETRY_WINDOW))
