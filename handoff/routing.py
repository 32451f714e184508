"""Who gets a waiting conversation, and how long a customer will wait.

Pure logic over plain values, so the rules are easy to read and test; the
database side lives in `tickets.flows`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from handoff.agents.enums import AgentRole, Presence


class Candidate(Protocol):
    id: int
    role: str
    presence: str
    capacity: int
    last_assigned_at: datetime | None

    def can_handle(self, skill_group: str, language: str) -> bool: ...


class Routable(Protocol):
    skill_group: str
    language: str
    skipped_agent_ids: list[int] | None


@dataclass(frozen=True)
class AgentRouter:
    """A chain of filters, then a selector: right skill and language, online,
    below capacity, not already skipped; then the fewest active
    conversations, ties to whoever has waited longest for one."""

    active: Mapping[int, int]

    def assign(
        self, ticket: Routable, agents: Iterable[Candidate], *, skip: bool = True
    ) -> Candidate | None:
        """`skip=False` considers the agents who let this ticket pass too."""
        skipped = set(ticket.skipped_agent_ids or []) if skip else set()
        eligible = [
            agent
            for agent in agents
            if agent.role in (AgentRole.AGENT, AgentRole.ADMIN)
            and agent.presence == Presence.ONLINE
            and agent.id not in skipped
            and self.active.get(agent.id, 0) < agent.capacity
            and agent.can_handle(ticket.skill_group, ticket.language)
        ]
        if not eligible:
            return None
        return min(
            eligible,
            key=lambda agent: (
                self.active.get(agent.id, 0),
                agent.last_assigned_at or datetime.min,
                agent.id,
            ),
        )


def estimated_wait_seconds(position: int, agents_able: int, average_handling_seconds: float) -> int:
    """Each able agent clears one conversation per average handling time; a
    first-in-line customer with a free agent waits about nothing."""
    if position <= 0 or agents_able <= 0:
        return 0
    rounds = math.ceil(position / agents_able)
    return int(round((rounds - 1) * average_handling_seconds + 30))
