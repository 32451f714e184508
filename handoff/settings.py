"""Configuration of the bridge, read from the environment (prefix `HANDOFF_`)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseSettings, Field, IPvAnyNetwork
from sqlalchemy.engine import make_url

from cloudpick_home import PROJECT


class Settings(BaseSettings):
    """Every setting has a default that works on one machine with `make run`."""

    database_url: str = f"sqlite:///{PROJECT / 'var' / 'handoff.db'}"
    host: str = "127.0.0.1"
    port: int = 5056
    # Bearer token for machine clients: the action server, the event broker,
    # ticket forms. Empty means every API call is refused.
    api_token: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    # The secret Rasa's API was started with (`--jwt-secret`): the bridge
    # signs short-lived JWTs with it. Empty sends no credentials.
    rasa_token: str = ""
    # Several instances (the production topology) share the database and
    # tell each other what happens through Redis pub/sub: console events,
    # agents' open consoles, relayed Rasa events. Without Redis the bridge
    # is one process and keeps all that in memory.
    redis_url: str | None = None
    # The start of every key and channel (one Redis may serve several
    # deployments, and pub/sub channels ignore database numbers).
    redis_prefix: str = "handoff"
    # This instance's name among them (logs, Redis bookkeeping).
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    # Rasa's events through RabbitMQ (the production topology's event
    # broker, `addons.broker.RabbitMQEventBroker`) instead of HTTP posts.
    rabbitmq_url: str | None = None
    # The same names as Rasa's side (RABBITMQ_EXCHANGE, RABBITMQ_QUEUE).
    rabbitmq_exchange: str = "cloudpick"
    rabbitmq_queue: str = "cloudpick.handoff"
    # An offered conversation goes back to the queue if not accepted in time.
    accept_timeout_seconds: float = 60.0
    # A waiting customer who says nothing for this long is marked abandoned.
    abandon_timeout_seconds: float = 900.0
    # A disconnected agent's conversations are re-queued after this grace.
    disconnect_grace_seconds: float = 15.0
    # How often the housekeeping (offers, abandonment, presence) runs.
    sweep_interval_seconds: float = 5.0
    # The session cookie is sent over HTTPS only. "auto": unless the console
    # is reached as localhost, 127.0.0.1 or ::1 (plain `make run`).
    secure_cookies: bool | Literal["auto"] = "auto"
    session_ttl_seconds: float = 8 * 3600
    session_idle_seconds: float = 3600
    # Average handling time used for wait estimates until there is history.
    default_handling_seconds: float = 300.0
    # Create demo agents when there are none, their passwords written to
    # `demo_accounts_path` (the launcher sets its stack's var/).
    demo_agents: bool = False
    demo_accounts_path: Path = PROJECT / "var" / "handoff-accounts.txt"
    # Origins allowed to use a console session (websocket, sign-in, changes)
    # besides the bridge's own.
    allowed_origins: list[str] = Field(default_factory=list)
    # Failed sign-ins before an account, or a client address, must wait
    # `login_lockout_seconds`; a lock's end starts the count again.
    login_failures_per_account: int = Field(5, ge=1)
    login_failures_per_address: int = Field(20, ge=1)
    login_lockout_seconds: float = Field(300.0, gt=0)
    # Threads that check passwords (argon2), and sign-ins that may wait for
    # one before more are refused with 503.
    password_threads: int = Field(1, ge=1)
    password_queue: int = Field(16, ge=0)
    # Proxies (addresses or networks) whose X-Forwarded-For names the client;
    # from anyone else the header is ignored, as anyone can send it.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    # Request bodies, and how deeply their JSON may nest.
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    max_json_depth: int = Field(32, ge=2, le=500)
    # Customers' files (images, PDFs, office documents) kept on tickets: the
    # largest accepted, and where their bytes live (default: `attachments/`
    # beside a SQLite database, else var/attachments).
    max_attachment_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    attachments_dir: Path | None = None

    def attachments_path(self) -> Path:
        if self.attachments_dir is not None:
            return self.attachments_dir
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(url.database).resolve().parent / "attachments"
        return PROJECT / "var" / "attachments"

    class Config:
        env_prefix = "HANDOFF_"
