"""Agent and console-session records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from handoff.agents.enums import AgentRole, Presence
from handoff.clock import isoformat, utcnow
from handoff.db import Base


class Agent(Base):
    __tablename__ = "agents"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(128), nullable=False)
    # Shown to customers beside the agent's messages on channels that can.
    avatar_url = Column(String(512), nullable=True)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False, default=AgentRole.AGENT.value)
    # Ticket categories this agent handles; empty means any category.
    skills = Column(JSON, nullable=False, default=list)
    languages = Column(JSON, nullable=False, default=lambda: ["zh", "en"])
    capacity = Column(Integer, nullable=False, default=3)
    presence = Column(String(16), nullable=False, default=Presence.OFFLINE.value)
    presence_changed_at = Column(DateTime, nullable=False, default=utcnow)
    # Ties between equally loaded agents go to whoever waited longest.
    last_assigned_at = Column(DateTime, nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    sessions = relationship("AgentSession", back_populates="agent", cascade="all, delete-orphan")

    def can_handle(self, skill_group: str, language: str) -> bool:
        return (not self.skills or skill_group in self.skills) and (
            not self.languages or language in self.languages
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "avatar_url": self.avatar_url,
            "role": self.role,
            "skills": list(self.skills or []),
            "languages": list(self.languages or []),
            "capacity": self.capacity,
            "presence": self.presence,
            "presence_changed_at": isoformat(self.presence_changed_at),
        }


class AgentSession(Base):
    """A console login. Only a hash of the cookie's token is stored, so a
    leaked database does not leak live sessions."""

    __tablename__ = "agent_sessions"

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_seen_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False)

    agent = relationship("Agent", back_populates="sessions", lazy="joined")
