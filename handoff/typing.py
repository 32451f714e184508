"""The agent's "typing…" for customers on channels that can show it (the
web widget): the console reports typing over its websocket, and the bridge
tells Rasa's socket.io channel, which tells the customer's room.

Best effort throughout: a typing indicator that does not arrive costs
nothing, so failures are logged and never reach the agent's work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from handoff.errors import HandoffError
from handoff.policy import Action, permits
from handoff.tickets import service as tickets
from handoff.tickets.enums import TicketStatus

if TYPE_CHECKING:
    from handoff.agents.models import Agent
    from handoff.db import Database
    from handoff.rasa import RasaClient

logger = logging.getLogger(__name__)

# Rasa channel names whose customers see the agent typing.
TYPING_CHANNELS = frozenset({"socketio"})
# The console repeats "typing" every few seconds while the agent types;
# repeats closer together than this are dropped (a stop always goes).
MIN_REPEAT_SECONDS = 2.0


class AgentTyping:
    def __init__(self, *, database: Database, rasa: RasaClient) -> None:
        self._db = database
        self._rasa = rasa
        self._last: dict[tuple[int, int], tuple[bool, float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def report(self, agent: Agent, ticket_id: int, typing: bool) -> None:
        """Passes it on in the background: the console's socket never waits."""
        key = (agent.id, ticket_id)
        now = time.monotonic()
        last = self._last.get(key)
        if typing and last is not None and last[0] and now - last[1] < MIN_REPEAT_SECONDS:
            return
        if not typing and last is None:
            return  # nothing was shown
        if typing:
            self._last[key] = (True, now)
        else:
            self._last.pop(key, None)
        task = asyncio.create_task(self._tell(agent, ticket_id, typing))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tell(self, agent: Agent, ticket_id: int, typing: bool) -> None:
        try:
            async with self._db.reading() as db:
                ticket = await tickets.get(db, ticket_id=ticket_id)
            if (
                ticket.channel not in TYPING_CHANNELS
                or not ticket.live
                or ticket.status != TicketStatus.IN_PROGRESS
                or not permits(agent, Action.MESSAGE, ticket)
            ):
                return
            await self._rasa.agent_typing(
                ticket.conversation_id, typing=typing, agent_name=agent.display_name
            )
        except HandoffError as error:
            logger.debug("Typing for ticket %s not passed on: %s", ticket_id, error.message)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
