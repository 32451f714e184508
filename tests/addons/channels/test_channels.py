"""Our REST and socket.io channels on a real Sanic server on loopback, with
an echoing assistant in place of Rasa's agent: what they let through, what
they refuse and how."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from addons.channels.guard import ChannelLimits
from addons.channels.rest import RestInput
from addons.channels.socketio import REJECTED_EVENT, SLOW_DOWN_NOTICE, SocketIOInput
from scripts.stack import free_port
from tests.addons.channels.polling import PollingSocketIOClient

LIMITS = ChannelLimits(max_body_bytes=4096, max_message_chars=100, max_metadata_bytes=256, burst=3)


class EchoServer:
    """Sanic with both channels, in a thread with its own event loop."""

    def __init__(
        self,
        limits: ChannelLimits,
        session_persistence: bool,
        socketio: SocketIOInput | None = None,
        app: Sanic | None = None,
    ) -> None:
        self.received: list[UserMessage] = []
        app = app or Sanic(f"channels-{uuid.uuid4().hex}")
        for channel in [
            RestInput(limits),
            socketio or SocketIOInput(session_persistence=session_persistence, limits=limits),
        ]:
            prefix = f"/webhooks/{channel.name()}"
            app.blueprint(channel.blueprint(self.echo), url_prefix=prefix)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.app = app
        started = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self.thread.start()
        assert started.wait(30)

    async def echo(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo:{message.text}")

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> Any:
            server = await self.app.create_server(
                host="127.0.0.1", port=self.port, return_asyncio_server=True
            )
            await server.startup()
            await server.start_serving()
            return server

        self.server = self.loop.run_until_complete(start())
        started.set()
        self.loop.run_forever()

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def post(self, body: Any, **kwargs: Any) -> requests.Response:
        return requests.post(f"{self.url}/webhooks/rest/webhook", json=body, timeout=30, **kwargs)


@pytest.fixture(autouse=True)
def _sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sanic 21.12 rewrites its HTTP class on an app's first start; in test
    mode a second app in the same process starts from the original."""
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
def server() -> Iterator[EchoServer]:
    running = EchoServer(LIMITS, session_persistence=False)
    yield running
    running.stop()


def test_rest_passes_a_good_message_on_as_rasa_does(server):
    reply = server.post({"sender": "c-1", "message": "hi", "metadata": {"page": "/faq"}})
    assert reply.status_code == 200
    assert reply.json() == [{"recipient_id": "c-1", "text": "echo:hi"}]
    (message,) = server.received
    assert (message.sender_id, message.input_channel, message.metadata) == (
        "c-1", "rest", {"page": "/faq"}
    )  # fmt: skip


def test_rest_takes_its_own_name_as_input_channel(server):
    server.post({"sender": "c-own", "message": "hi", "input_channel": "rest"})
    assert [message.input_channel for message in server.received] == ["rest"]


def test_rest_clients_name_their_customer_but_never_verify_or_speak_as_the_bridge(server):
    claimed = {
        "customer_name": "王小明",
        "contact": "wang@example.com",
        "customer_id": "site-user-1",
        "identity_verified": True,
        "agent_name": "客服小李",
        "handoff_state": "connected",
        "page": "/faq",
    }
    assert server.post({"sender": "c-claim", "message": "hi", "metadata": claimed}).ok
    (message,) = server.received
    assert message.metadata == {
        "customer_name": "王小明",
        "contact": "wang@example.com",
        "page": "/faq",
    }


def test_rest_repairs_lone_surrogates_in_text_and_metadata(server):
    raw = '{"sender": "c-2", "message": "hi\\ud800", "metadata": {"k": "\\udfff"}}'
    reply = requests.post(f"{server.url}/webhooks/rest/webhook", data=raw, timeout=30)
    assert reply.json()[0]["text"] == "echo:hi\ufffd"
    assert server.received[0].metadata == {"k": "\ufffd"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"sender": "x\ud800", "message": "hi"}, "invalid_sender_id"),
        # Agents' replies follow the latest input channel: a REST client naming
        # WeChat would have them sent to WeChat, its sender id taken for an openid.
        ({"sender": "c", "message": "hi", "input_channel": "wechat"}, "invalid_input_channel"),
        ({"sender": "c", "message": "hi", "input_channel": "a/b"}, "invalid_input_channel"),
        ({"sender": "c", "message": "退" * 101}, "message_too_long"),
        ({"sender": "c", "message": 5}, "invalid_message"),
        # Rasa's shortcut parsing calls .strip() on the text: no message was an error log and [].
        ({"sender": "c"}, "invalid_message"),
        ({"sender": "c", "message": None}, "invalid_message"),
        # Rasa put every message without a sender in one conversation, "default":
        # strangers read each other's orders in the bot's answers.
        ({"message": "hi"}, "invalid_sender_id"),
        ({"sender": None, "message": "hi"}, "invalid_sender_id"),
        ({"sender": "c", "message": "hi", "metadata": [1]}, "invalid_metadata"),
        ({"sender": "c", "message": "hi", "metadata": {"k": "v" * 300}}, "metadata_too_large"),
        (["sender", "message"], "malformed_body"),
    ],
)
def test_rest_refuses_bad_input_with_a_clear_400_and_passes_nothing_on(server, body, code):
    reply = server.post(body)
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == code
    assert server.received == []


def test_rest_refuses_a_large_body_before_reading_it(server):
    """Headers declaring 10 MB and only 64 KiB sent: the 413 comes at once,
    so nothing waited for (or stored) the rest."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("POST", "/webhooks/rest/webhook")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(10 * 1024 * 1024))
    connection.endheaders(b'{"sender": "c", "message": "' + b"x" * 65536)
    reply = connection.getresponse()
    assert reply.status == 413
    assert json.loads(reply.read())["error"]["code"] == "body_too_large"
    assert server.received == []


def test_rest_stops_a_chunked_body_at_the_limit(server):
    def chunks() -> Iterator[bytes]:
        yield b'{"sender": "c", "message": "'
        for _ in range(8):
            yield b"x" * 1024

    try:
        reply = requests.post(f"{server.url}/webhooks/rest/webhook", data=chunks(), timeout=10)
    except requests.ConnectionError:
        pass  # refused while still sending: also never processed
    else:
        assert reply.status_code == 413
    assert server.received == []


def test_rest_answers_a_flood_with_429_and_serves_other_senders(server):
    statuses = [server.post({"sender": "flood", "message": "hi"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = server.post({"sender": "flood", "message": "hi"})
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limited"
    assert server.post({"sender": "honest", "message": "hi"}).json()[0]["text"] == "echo:hi"


def test_the_socketio_channel_passes_a_good_message_on(server):
    client = PollingSocketIOClient(server.url)
    client.emit("user_uttered", {"message": "hi", "metadata": {"page": "/faq"}})
    assert client.wait_for("bot_uttered") == {"text": "echo:hi"}
    (message,) = server.received
    assert (message.sender_id, message.metadata) == (client.sid, {"page": "/faq"})


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"message": "x" * 101}, "message_too_long"),
        ({"message": "hi", "metadata": "not json"}, "invalid_metadata"),
        ({"message": "hi", "metadata": {"k": "v" * 300}}, "metadata_too_large"),
        ("just text", "invalid_message"),
    ],
)
def test_socketio_refuses_bad_input_with_an_event(server, data, code):
    client = PollingSocketIOClient(server.url)
    client.emit("user_uttered", data)
    assert client.wait_for(REJECTED_EVENT)["error"]["code"] == code
    assert server.received == []


def test_socketio_refuses_a_packet_over_the_body_limit_before_reading_it(server):
    client = PollingSocketIOClient(server.url)
    packet = "42" + json.dumps(["user_uttered", {"message": "x" * 5000}])
    refused = client.post(packet)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "body_too_large"

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("POST", "/socket.io/?" + urlencode(client.params))
    connection.putheader("Content-Length", str(10 * 1024 * 1024))
    connection.endheaders(b"42" + b"x" * 65536)
    assert connection.getresponse().status == 413, "without waiting for the other 10 MB"

    client.emit("user_uttered", {"message": "hi"})
    assert client.wait_for("bot_uttered") == {"text": "echo:hi"}, "the session goes on"
    assert [message.text for message in server.received] == ["hi"]


def test_socketio_tells_a_flooding_sender_politely(server):
    client = PollingSocketIOClient(server.url)
    for _ in range(4):
        client.emit("user_uttered", {"message": "hi"})
    assert client.wait_for(REJECTED_EVENT)["error"]["code"] == "rate_limited"
    assert client.wait_for("bot_uttered") == {"text": "echo:hi"}
    notices = [client.wait_for("bot_uttered") for _ in range(3)]
    assert {"text": SLOW_DOWN_NOTICE} in notices
    assert len(server.received) == 3


@pytest.mark.parametrize("payload", ["6", "0", "4hi\x1e6"])
def test_socketio_refuses_packets_no_client_sends_at_once(server, payload):
    """engine.io answered an `open` or `noop` packet from a client by closing
    the session and waiting for a poll that never came: the POST hung (Rasa
    lets a request run an hour), one held connection per request."""
    client = PollingSocketIOClient(server.url)
    refused = client.http.post(client.url, params=client.params, data=payload, timeout=5)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_packet"
    client.emit("user_uttered", {"message": "hi"})
    assert client.wait_for("bot_uttered") == {"text": "echo:hi"}, "the session goes on"
    assert [message.text for message in server.received] == ["hi"]
