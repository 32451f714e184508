"""What the channels of several Rasa processes share (the production
topology: SANIC_WORKERS workers, or several containers), through the Redis
in CHANNELS_REDIS_URL:

- the web chat's socket.io events: a reply sent by the process that
  handled the bridge's call reaches the customer whose socket is open on
  another (python-socketio's Redis manager);
- which platform deliveries were already seen: a retry that reaches
  another process is still recognised (`replays.recently_seen`).

Without CHANNELS_REDIS_URL (one Rasa process, the embedded default) all of
it stays in the process.
"""

from __future__ import annotations

import os
import uuid

import socketio

URL_VARIABLE = "CHANNELS_REDIS_URL"
PREFIX_VARIABLE = "REDIS_KEY_PREFIX"
DEFAULT_PREFIX = "cloudpick"


def redis_url() -> str | None:
    return os.environ.get(URL_VARIABLE) or None


def key_prefix() -> str:
    return f"{os.environ.get(PREFIX_VARIABLE) or DEFAULT_PREFIX}.channels"


def share_socketio_events(server: socketio.AsyncServer) -> None:
    """Makes `server` send its events through Redis when several processes
    serve the channel; call before the first connection.

    Rasa builds the channel before Sanic forks its workers, so every worker
    would inherit the manager's `host_id`, and python-socketio drops what
    comes from its own host id: each worker would ignore the others' emits
    (an agent's reply sent through one worker never reached a customer
    connected to another). Each process gets a host id of its own."""
    if (url := redis_url()) is None:
        return
    manager = socketio.AsyncRedisManager(url, channel=f"{key_prefix()}.socketio")
    manager.set_server(server)
    server.manager = manager
    os.register_at_fork(after_in_child=lambda: setattr(manager, "host_id", uuid.uuid4().hex))
