from __future__ import annotations

from enum import StrEnum


class AgentRole(StrEnum):
    """admin manages agents and sees everything; agent handles conversations;
    analyst reads tickets and reports but never talks to customers."""

    ADMIN = "admin"
    AGENT = "agent"
    ANALYST = "analyst"


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"
