"""The channels' limits on the real Rasa, with the project's credentials.yml
(default limits, see addons/channels/guard.py): what a stranger can send no
longer stops or floods the assistant for everyone else.

socket.io is spoken by tests/addons/channels/polling.py (Engine.IO v4 /
Socket.IO v5 over HTTP long-polling with `requests`), since
python-socketio's client needs a newer aiohttp than Rasa allows.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

from addons.channels.guard import ChannelLimits
from addons.channels.socketio import REJECTED_EVENT
from tests.addons.channels.polling import PollingSocketIOClient

LIMITS = ChannelLimits()  # credentials.yml sets none


def sender() -> str:
    return f"limits-{uuid.uuid4().hex[:8]}"


def webhook(assistant) -> str:
    return f"{assistant.url}/webhooks/rest/webhook"


def answered(assistant) -> bool:
    """Rasa is alive and answers a customer who did nothing wrong."""
    return assistant.alive() and bool(assistant.texts(sender(), "你好"))


def test_a_sender_id_with_a_lone_surrogate_is_refused_and_rasa_stays_up(assistant):
    # json= would encode the surrogate as invalid UTF-8; browsers send the escape.
    body = '{"sender": "x\\ud800", "message": "hi"}'
    reply = requests.post(webhook(assistant), data=body, timeout=30)
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "invalid_sender_id"
    assert answered(assistant)


def test_a_socketio_session_id_with_a_lone_surrogate_is_refused_and_rasa_stays_up(assistant):
    client = PollingSocketIOClient(assistant.url)
    client.emit("user_uttered", {"message": "hi", "session_id": "x\ud800"})
    # A session id is a token the channel signed; this one is none.
    assert client.wait_for(REJECTED_EVENT)["error"]["code"] == "invalid_session"
    assert answered(assistant)


def test_a_10_mb_body_is_refused_with_413_before_it_is_read(assistant):
    """Only the headers and 64 KiB are sent: the answer does not wait for
    the other 10 MB, and comes fast."""
    address = urlsplit(assistant.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    started = time.monotonic()
    connection.putrequest("POST", "/webhooks/rest/webhook")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(10 * 1024 * 1024))
    connection.endheaders(b'{"sender": "x", "message": "' + b"x" * 65536)
    reply = connection.getresponse()
    assert reply.status == 413
    assert json.loads(reply.read())["error"]["details"] == {"limit_bytes": LIMITS.max_body_bytes}
    assert time.monotonic() - started < 2
    assert answered(assistant)


def test_an_over_long_message_is_refused_with_the_limit_and_nothing_is_stored(assistant):
    me = sender()
    reply = requests.post(
        webhook(assistant),
        json={"sender": me, "message": "退" * (LIMITS.max_message_chars + 1)},
        timeout=30,
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "message_too_long"
    assert error["details"] == {"limit_chars": LIMITS.max_message_chars}
    assert not [e for e in assistant.tracker(me)["events"] if e["event"] == "user"]


def test_large_metadata_is_refused_and_not_stored(assistant):
    me = sender()
    five_mb = {"sender": me, "message": "hi", "metadata": {"blob": "x" * 5_000_000}}
    assert requests.post(webhook(assistant), json=five_mb, timeout=30).status_code == 413
    over = {"sender": me, "message": "hi", "metadata": {"blob": "x" * LIMITS.max_metadata_bytes}}
    reply = requests.post(webhook(assistant), json=over, timeout=30)
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "metadata_too_large"
    assert not [e for e in assistant.tracker(me)["events"] if e["event"] == "user"]
    small = {"sender": me, "message": "你好", "metadata": {"page": "/faq"}}
    assert requests.post(webhook(assistant), json=small, timeout=30).json()
    (stored,) = (e for e in assistant.tracker(me)["events"] if e["event"] == "user")
    assert stored["metadata"]["page"] == "/faq"


def test_a_flooding_sender_gets_429_while_another_is_answered(assistant):
    flood, honest = sender(), sender()

    def send(_: int) -> requests.Response:
        return requests.post(
            webhook(assistant), json={"sender": flood, "message": "hi"}, timeout=60
        )

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        flooding = pool.map(send, range(3 * LIMITS.burst))
        honest_reply = assistant.texts(honest, "你好")
        replies = list(flooding)
    refilled = (time.monotonic() - started) * LIMITS.messages_per_minute / 60
    refused = [r for r in replies if r.status_code == 429]
    assert refused and all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    assert {r.status_code for r in replies} == {200, 429}
    assert len(replies) - len(refused) <= LIMITS.burst + refilled + 1
    assert honest_reply, "the other customer was answered during the flood"
    assert answered(assistant)
