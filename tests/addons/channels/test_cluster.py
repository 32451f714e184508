"""The web chat's socket.io events shared between Rasa processes."""

from __future__ import annotations

import os

import socketio

from addons.channels import cluster


def test_each_forked_worker_has_a_socketio_host_id_of_its_own(monkeypatch):
    """Rasa builds the channel, then Sanic forks its workers: a host id
    shared by them made each drop the others' emits as its own."""
    monkeypatch.setenv("CHANNELS_REDIS_URL", "redis://127.0.0.1:6379/0")
    server = socketio.AsyncServer(async_mode="sanic")
    cluster.share_socketio_events(server)
    assert isinstance(server.manager, socketio.AsyncRedisManager)
    parent = server.manager.host_id
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the worker: report its host id and leave at once
        os.write(write, server.manager.host_id.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        worker = pipe.read()
    assert worker and worker != parent
    assert server.manager.host_id == parent  # the parent's own stays


def test_without_redis_the_server_keeps_its_own_manager(monkeypatch):
    monkeypatch.delenv("CHANNELS_REDIS_URL", raising=False)
    server = socketio.AsyncServer(async_mode="sanic")
    manager = server.manager
    cluster.share_socketio_events(server)
    assert server.manager is manager
