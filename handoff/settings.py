"""Configuration of the bridge, read from the environment (prefix `HANDOFF_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseSettings, Field

PROJECT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting has a default that works on one machine with `make run`."""

    database_url: str = f"sqlite:///{PROJECT / 'var' / 'handoff.db'}"
    host: str = "127.0.0.1"
    port: int = 5056
    # Bearer token for machine clients: the action server, the event broker,
    # ticket forms. Empty means every API call is refused.
    api_token: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    # An offered conversation goes back to the queue if not accepted in time.
    accept_timeout_seconds: float = 60.0
    # A waiting customer who says nothing for this long is marked abandoned.
    abandon_timeout_seconds: float = 900.0
    # A disconnected agent's conversations are re-queued after this grace.
    disconnect_grace_seconds: float = 15.0
    # How often the housekeeping (offers, abandonment, presence) runs.
    sweep_interval_seconds: float = 5.0
    # Set when the console is served over HTTPS (behind a proxy, say).
    secure_cookies: bool = False
    session_ttl_seconds: float = 8 * 3600
    session_idle_seconds: float = 3600
    # Average handling time used for wait estimates until there is history.
    default_handling_seconds: float = 300.0
    # Create demo agents (written to var/demo-agents.txt) when there are none.
    demo_agents: bool = False
    # Origins allowed to open the console websocket besides the bridge's own.
    allowed_origins: list[str] = Field(default_factory=list)

    class Config:
        env_prefix = "HANDOFF_"
