"""Moves the live queue: offers waiting conversations to agents, takes back
offers nobody accepted, conversations of agents who vanished, and
customers who left."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from handoff import events
from handoff.agents import service as agents
from handoff.agents.enums import Presence
from handoff.clock import utcnow
from handoff.cluster import ConsoleRegistry
from handoff.db import Database
from handoff.events import EventBus
from handoff.replies import forget_old_replies
from handoff.routing import AgentRouter
from handoff.settings import Settings
from handoff.tickets import service as tickets
from handoff.tickets.enums import OPEN_STATUSES, TicketStatus
from handoff.tickets.flows import TicketFlows
from handoff.tickets.models import Ticket

logger = logging.getLogger(__name__)


class QueueDispatcher:
    def __init__(
        self, *, database: Database, bus: EventBus, flows: TicketFlows, settings: Settings
    ) -> None:
        self._db = database
        self._bus = bus
        self._flows = flows
        self._settings = settings
        self._lock = asyncio.Lock()
        self._wanted = asyncio.Event()
        # Customers' latest message times, written to the database per sweep.
        self.activity: dict[int, datetime] = {}

    def request(self) -> None:
        """Asks for a dispatch soon; many requests in a burst make one run."""
        self._wanted.set()

    async def run_forever(self) -> None:
        """Dispatches on request, and sweeps every interval even when
        requests keep coming."""
        interval = self._settings.sweep_interval_seconds
        next_sweep = asyncio.get_running_loop().time() + interval
        while True:
            timeout = max(next_sweep - asyncio.get_running_loop().time(), 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), timeout=timeout)
            if asyncio.get_running_loop().time() >= next_sweep:
                await self._guarded(self.sweep)
                next_sweep = asyncio.get_running_loop().time() + interval
            self._wanted.clear()
            await self._guarded(self.dispatch)

    async def _guarded(self, job: Callable[[], Awaitable[object]]) -> None:
        try:
            await job()
        except Exception:  # the queue must keep moving whatever one run hit
            logger.exception("Queue %s failed", job.__name__)

    async def dispatch(self) -> int:
        """Offers each waiting conversation, urgent first, to the best agent."""
        offered: list[Ticket] = []
        async with self._lock, self._db.transaction() as db:
            # One instance at a time counts agents' load and offers.
            await self._db.serialise(db, "queue.dispatch")
            waiting = await tickets.waiting_queue(db, unoffered_only=True)
            if not waiting:
                return 0
            staff = await agents.list_agents(db)
            load = await agents.active_counts(db)
            router = AgentRouter(active=load)
            second_chance = utcnow() - timedelta(seconds=self._settings.accept_timeout_seconds)
            for ticket in waiting:
                agent = router.assign(ticket, staff)
                if agent is None and ticket.updated_at <= second_chance:
                    # Rather an agent who let it pass a while ago than nobody.
                    agent = router.assign(ticket, staff, skip=False)
                if agent is None:
                    continue
                if await tickets.offer(db, ticket=ticket, agent=agent):
                    load[agent.id] = load.get(agent.id, 0) + 1
                    offered.append(ticket)
        for ticket in offered:
            self._bus.publish(
                events.TICKET_OFFERED,
                {"ticket": ticket.to_dict(), "agent_id": ticket.offered_to_id},
            )
        if offered:
            self._bus.publish(events.QUEUE_CHANGED, {})
        return len(offered)

    async def sweep(self) -> None:
        activity, self.activity = self.activity, {}
        await self._flows.touch(activity)
        now = utcnow()
        offer_deadline = now - timedelta(seconds=self._settings.accept_timeout_seconds)
        abandon_deadline = now - timedelta(seconds=self._settings.abandon_timeout_seconds)
        async with self._db.reading() as db:
            expired = await db.execute(
                select(Ticket.id).where(
                    Ticket.live.is_(True),
                    Ticket.offered_to_id.is_not(None),
                    Ticket.offered_at < offer_deadline,
                )
            )
            expired_ids = list(expired.scalars())
            silent = await db.execute(
                select(Ticket.id).where(
                    Ticket.live.is_(True),
                    Ticket.status.in_([s.value for s in OPEN_STATUSES]),
                    Ticket.last_customer_message_at < abandon_deadline,
                )
            )
            silent_ids = list(silent.scalars())
        for ticket_id in expired_ids:
            await self._flows.requeue(ticket_id, reason="offer_expired")
        for ticket_id in silent_ids:
            await self._flows.abandon(ticket_id)
        async with self._db.transaction() as db:
            await agents.purge_expired_sessions(
                db, idle_seconds=self._settings.session_idle_seconds
            )
            await forget_old_replies(db, now=now)
        if expired_ids or silent_ids:
            self.request()

    async def agent_gone(self, agent_id: int) -> None:
        """The agent's last console closed and the grace period passed: they
        go offline and their live conversations go back to the queue."""
        async with self._db.transaction() as db:
            agent = await agents.get(db, agent_id=agent_id)
            changed = await agents.set_presence(db, agent=agent, presence=Presence.OFFLINE)
            held = await db.execute(
                select(Ticket.id).where(
                    Ticket.live.is_(True),
                    (Ticket.offered_to_id == agent_id)
                    | (
                        (Ticket.assignee_id == agent_id)
                        & (Ticket.status == TicketStatus.IN_PROGRESS.value)
                    ),
                )
            )
            held_ids = list(held.scalars())
            snapshot = agent.to_dict()
        if changed:
            self._bus.publish(events.AGENT_PRESENCE_CHANGED, {"agent": snapshot})
        for ticket_id in held_ids:
            await self._flows.requeue(ticket_id, reason="agent_disconnected")
        self.request()


class PresenceTracker:
    """Counts each agent's open consoles, on every instance (`consoles`);
    presence survives a page reload, or a console moving to another
    instance, because going offline waits out a grace period."""

    def __init__(
        self, *, dispatcher: QueueDispatcher, grace_seconds: float, consoles: ConsoleRegistry
    ) -> None:
        self._dispatcher = dispatcher
        self._grace = grace_seconds
        self._consoles = consoles
        self._timers: dict[int, asyncio.Task] = {}
        # Opens and closes reach the registry in the order they happened.
        self._changes: asyncio.Queue[tuple[bool, int]] = asyncio.Queue()
        self._writer: asyncio.Task | None = None

    def connected(self, agent_id: int) -> None:
        if timer := self._timers.pop(agent_id, None):
            timer.cancel()
        self._record(True, agent_id)

    def disconnected(self, agent_id: int) -> None:
        self._record(False, agent_id)
        self.watch(agent_id)

    def watch(self, agent_id: int) -> None:
        """Takes the agent offline after the grace period unless a console of
        theirs is open somewhere by then."""
        if agent_id not in self._timers:
            self._timers[agent_id] = asyncio.create_task(self._expire(agent_id))

    async def adopt_orphans(self) -> None:
        """Agents whose consoles were on an instance that was killed get the
        grace period to reconnect elsewhere, as if they had closed them."""
        for agent_id in await self._consoles.orphaned():
            self.watch(agent_id)

    def _record(self, opened: bool, agent_id: int) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_forever())
        self._changes.put_nowait((opened, agent_id))

    async def _write_forever(self) -> None:
        while True:
            opened, agent_id = await self._changes.get()
            try:
                if opened:
                    await self._consoles.opened(agent_id)
                else:
                    await self._consoles.closed(agent_id)
            except Exception:
                logger.exception("Could not record agent %s's console", agent_id)

    async def _expire(self, agent_id: int) -> None:
        try:
            await asyncio.sleep(self._grace)
            if not await self._consoles.is_open(agent_id):
                await self._dispatcher.agent_gone(agent_id)
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("Could not take agent %s offline", agent_id)
        finally:
            if self._timers.get(agent_id) is asyncio.current_task():
                del self._timers[agent_id]

    async def close(self) -> None:
        for task in [*self._timers.values(), self._writer]:
            if task is not None:
                task.cancel()
