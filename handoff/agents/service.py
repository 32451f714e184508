"""Agents and their console sessions in the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.agents.enums import AgentRole, Presence
from handoff.agents.models import Agent, AgentSession
from handoff.agents.security import (
    PasswordWorkers,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from handoff.clock import utcnow
from handoff.db import storable
from handoff.errors import Conflict, NotAuthenticated, NotFound
from handoff.tickets.enums import OPEN_STATUSES, TicketStatus
from handoff.tickets.models import Ticket


async def get(db: AsyncSession, *, agent_id: int) -> Agent:
    agent = await db.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"Agent {agent_id} does not exist.")
    return agent


async def get_by_username(db: AsyncSession, *, username: str) -> Agent | None:
    if not storable(username):
        return None
    return (await db.execute(select(Agent).where(Agent.username == username))).scalar_one_or_none()


async def list_agents(db: AsyncSession) -> list[Agent]:
    return list((await db.execute(select(Agent).order_by(Agent.id))).scalars())


async def create(
    db: AsyncSession,
    *,
    username: str,
    password: str,
    display_name: str | None = None,
    role: AgentRole = AgentRole.AGENT,
    skills: list[str] | None = None,
    languages: list[str] | None = None,
    capacity: int = 3,
    avatar_url: str | None = None,
    passwords: PasswordWorkers | None = None,
) -> Agent:
    """`passwords` hashes off the event loop; without it the hash runs here,
    which suits the command line and tests but not a serving bridge."""
    if await get_by_username(db, username=username) is not None:
        raise Conflict(f"The username {username!r} is taken.")
    agent = Agent(
        username=username,
        display_name=display_name or username,
        password_hash=await passwords.hash(password) if passwords else hash_password(password),
        role=role.value,
        skills=list(skills or []),
        languages=list(languages or ["zh", "en"]),
        capacity=capacity,
        avatar_url=avatar_url,
    )
    db.add(agent)
    await db.flush()
    return agent


async def set_presence(db: AsyncSession, *, agent: Agent, presence: Presence) -> bool:
    """Returns whether anything changed."""
    if agent.presence == presence.value:
        return False
    agent.presence = presence.value
    agent.presence_changed_at = utcnow()
    await db.flush()
    return True


async def active_counts(db: AsyncSession) -> dict[int, int]:
    """Live conversations per agent: those assigned plus those offered."""
    assigned = await db.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.live.is_(True), Ticket.status == TicketStatus.IN_PROGRESS.value)
        .group_by(Ticket.assignee_id)
    )
    offered = await db.execute(
        select(Ticket.offered_to_id, func.count())
        .where(Ticket.live.is_(True), Ticket.offered_to_id.is_not(None))
        .where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(Ticket.offered_to_id)
    )
    counts: dict[int, int] = {}
    for agent_id, count in [*assigned.all(), *offered.all()]:
        if agent_id is not None:
            counts[agent_id] = counts.get(agent_id, 0) + count
    return counts


async def check_password(
    agent: Agent | None, password: str, *, passwords: PasswordWorkers | None = None
) -> Agent:
    """The agent, if the password is theirs. Needs no database session, so
    that a serving bridge holds none (nor SQLite's write turn) while argon2
    runs; an unknown agent (None) takes as long as a wrong password."""
    password_hash = agent.password_hash if agent else None
    if passwords:
        right = await passwords.verify(password_hash, password)
    else:
        right = verify_password(password_hash, password)
    if not right or agent is None:
        raise NotAuthenticated("Wrong username or password.")
    return agent


async def open_session(db: AsyncSession, *, agent_id: int, ttl_seconds: float) -> str:
    """Returns the new session's token, for the cookie; only its hash is stored."""
    token = new_token()
    now = utcnow()
    db.add(
        AgentSession(
            token_hash=token_digest(token),
            agent_id=agent_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    await db.flush()
    return token


async def authenticate(db: AsyncSession, *, token: str, idle_seconds: float) -> Agent | None:
    """The agent behind a session cookie, or None. An expired or idle
    session is deleted (the caller commits)."""
    session = (
        await db.execute(select(AgentSession).where(AgentSession.token_hash == token_digest(token)))
    ).scalar_one_or_none()
    now = utcnow()
    if session is None:
        return None
    if session.expires_at <= now or session.last_seen_at + timedelta(seconds=idle_seconds) <= now:
        await db.delete(session)
        return None
    # Writing on every request would serialise SQLite; a minute is precise enough.
    if now - session.last_seen_at > timedelta(seconds=60):
        session.last_seen_at = now
    return session.agent


async def logout(db: AsyncSession, *, token: str) -> None:
    await db.execute(delete(AgentSession).where(AgentSession.token_hash == token_digest(token)))


async def purge_expired_sessions(db: AsyncSession, *, idle_seconds: float) -> None:
    now = utcnow()
    await db.execute(
        delete(AgentSession).where(
            (AgentSession.expires_at <= now)
            | (AgentSession.last_seen_at <= now - timedelta(seconds=idle_seconds))
        )
    )
