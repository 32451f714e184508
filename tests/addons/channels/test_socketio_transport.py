"""The web channel's transport with python-socketio's own client: websocket
(straight, and upgraded from polling, as browsers do) and long-polling, on a
real Sanic server (tests/addons/channels/test_channels.EchoServer)."""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Iterator

import pytest
import socketio
import websocket

from bench._web import idle_cost
from tests.addons.channels.test_channels import (  # noqa: F401 (an autouse fixture)
    LIMITS,
    EchoServer,
    _sanic_test_mode,
)


@pytest.fixture
def server() -> Iterator[EchoServer]:
    running = EchoServer(LIMITS, session_persistence=False)
    yield running
    running.stop()


def connected(server: EchoServer, transports: list[str]) -> tuple[socketio.Client, list]:
    client = socketio.Client()
    replies: list = []
    arrived = threading.Event()

    def on_reply(data: dict) -> None:
        replies.append(data)
        arrived.set()

    client.on("bot_uttered", on_reply)
    client.connect(server.url, transports=transports, wait_timeout=10)
    client.arrived = arrived  # type: ignore[attr-defined]
    return client, replies


def drain(raw: websocket.WebSocket) -> None:
    """Reads until the server closes the socket."""
    while True:
        raw.recv()


@pytest.mark.parametrize(
    ("transports", "ends_on"),
    [
        (["websocket"], "websocket"),
        (["polling", "websocket"], "websocket"),
        (["polling"], "polling"),
    ],
)
def test_python_socketio_client_talks_over_each_transport(server, transports, ends_on):
    """Sanic 21.12's websocket read failed on Python 3.11 (a coroutine given
    to asyncio.wait): no websocket connected, and an upgrade left the session
    'upgrading' for good."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "... was never awaited"
        client, replies = connected(server, transports)
        try:
            client.sleep(0.5)  # an upgrade completes
            assert client.transport() == ends_on
            client.emit("user_uttered", {"message": "你好"})
            assert client.arrived.wait(10)
            assert [reply["text"] for reply in replies] == ["echo:你好"]
        finally:
            client.disconnect()


@pytest.mark.parametrize("transports", [["polling", "websocket"], ["polling"]])
def test_an_idle_socket_costs_about_one_request_per_ping_interval(server, transports):
    """The broken upgrade answered each poll at once with a no-op: one idle
    tab made about 265 requests a second."""
    cost = idle_cost(server.url, transports=transports, seconds=4)
    assert cost.transport == transports[-1]
    assert cost.per_minute < 30, cost  # the ping interval is 25 s: ~2-5 a minute


def test_a_websocket_frame_over_the_limit_closes_that_socket_only(server):
    client, _ = connected(server, ["websocket"])
    raw = websocket.create_connection(
        server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", timeout=10
    )
    try:
        assert raw.recv().startswith("0")  # engine.io open
        raw.send("40")
        assert raw.recv().startswith("40")
        raw.send(
            "42" + '["user_uttered", {"message": "' + "x" * (LIMITS.max_body_bytes + 1) + '"}]'
        )
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            drain(raw)
        client.emit("user_uttered", {"message": "hi"})
        assert client.arrived.wait(10), "the other socket is still served"
        assert [message.text for message in server.received] == ["hi"]
    finally:
        raw.close()
        client.disconnect()


async def test_python_socketio_asyncio_client_talks_over_polling(server):
    """Its websocket transport needs aiohttp's ClientWSTimeout (aiohttp 3.10;
    Rasa 3.6 keeps 3.9), so the threaded client above speaks websocket."""
    client = socketio.AsyncClient()
    replies: asyncio.Queue = asyncio.Queue()
    client.on("bot_uttered", replies.put)
    await client.connect(server.url, transports=["polling"], wait_timeout=10)
    try:
        await client.emit("user_uttered", {"message": "你好"})
        reply = await asyncio.wait_for(replies.get(), 10)
        assert reply["text"] == "echo:你好"
    finally:
        # Ends the long poll in flight too, instead of waiting for it.
        session = client.eio.http
        await client.eio.disconnect(abort=True)
        await session.close()
        await asyncio.sleep(0.1)
