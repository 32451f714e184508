"""The app channel on a real Sanic server with a stand-in for Rasa's agent
that answers with buttons, and the app's server (tests/fakes/app_callback.py)
receiving the callbacks: signatures both ways, refusals, retries."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage

from addons.channels.app_callback import signing
from addons.channels.app_callback.connector import AppCallbackInput
from addons.channels.app_callback.delivery import CallbackDelivery
from addons.channels.errors import DeliveryFailed, InvalidSignature
from tests.addons.channels.serving import ChannelServer
from tests.fakes.app_callback import FakeApp, app_signature

BUTTONS = [{"title": "查询订单", "payload": "/order_status"}]


async def answer_with_buttons(message: UserMessage) -> None:
    await message.output_channel.send_response(
        message.sender_id, {"text": f"echo:{message.text}", "buttons": BUTTONS, "timestamp": 1.5}
    )


@pytest.fixture
async def app() -> AsyncIterator[FakeApp]:
    fake = FakeApp()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def channel(app: FakeApp) -> AsyncIterator[AppCallbackInput]:
    made = AppCallbackInput.from_credentials(
        {"url": app.url, "secret": app.secret, "limits": {"max_body_bytes": 4096, "burst": 3}}
    )
    assert isinstance(made, AppCallbackInput)
    made.delivery = CallbackDelivery(url=app.url, secret=app.secret, first_delay=0.01)
    yield made
    await made.delivery.close()


@pytest.fixture
async def server(channel: AppCallbackInput) -> AsyncIterator[ChannelServer]:
    async with ChannelServer(channel, answer_with_buttons) as running:
        yield running


async def post(
    server: ChannelServer, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/webhook", data=raw, headers=headers or {}) as response,
    ):
        return response.status, await response.json(content_type=None), dict(response.headers)


async def signed_post(server: ChannelServer, app: FakeApp, body: Any) -> tuple[int, Any]:
    raw = json.dumps(body).encode()
    status, answer, _ = await post(server, raw, app.sign(raw))
    return status, answer


# --- signing ---------------------------------------------------------------


def test_our_signature_is_the_documented_one_and_verifies():
    body = '{"sender": "u-1", "message": "你好"}'.encode()
    header = signing.sign("s3cret", body, timestamp=1_700_000_000)
    assert header == app_signature("s3cret", body, timestamp=1_700_000_000)
    assert signing.verify("s3cret", header, body, now=1_700_000_100)


@pytest.mark.parametrize(
    ("header", "now", "reason"),
    [
        (None, 1_700_000_000, "missing"),
        ("v1=abc", 1_700_000_000, "missing"),
        ("t=soon,v1=abc", 1_700_000_000, "missing"),
        (app_signature("s3cret", b"{}", 1_700_000_000), 1_700_000_301, "seconds from ours"),
        (app_signature("s3cret", b"{}", 1_700_000_400), 1_700_000_000, "seconds from ours"),
        (app_signature("other", b"{}", 1_700_000_000), 1_700_000_000, "does not match"),
        (app_signature("s3cret", b"{ }", 1_700_000_000), 1_700_000_000, "does not match"),
    ],
)
def test_a_missing_wrong_or_stale_signature_is_refused(header, now, reason):
    with pytest.raises(InvalidSignature, match=reason):
        signing.verify("s3cret", header, b"{}", now=now)


# --- the webhook -----------------------------------------------------------


async def test_a_signed_message_is_accepted_at_once_and_the_answer_called_back(server, app):
    status, answer = await signed_post(
        server,
        app,
        {"sender": "u-1", "message": "你好", "customer": {"name": "韩梅", "contact": "138"}},
    )
    assert (status, answer) == (202, {"status": "accepted"})
    delivered = await app.wait_for("u-1", "echo:你好")
    assert delivered["sender"] == "bot" and delivered["agent"] is None
    assert delivered["buttons"] == BUTTONS and delivered["handoff_state"] is None
    assert delivered["timestamp"] == 1.5 and len(delivered["delivery_id"]) == 32
    [message] = server.received
    assert (message.sender_id, message.input_channel) == ("u-1", "app")
    assert message.metadata == {
        "customer_id": "u-1",
        "customer_name": "韩梅",
        "contact": "138",
        "identity_verified": True,
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature": "t=1,v1=00"},
        {"X-Signature": app_signature("not-the-secret", b'{"sender": "u-2", "message": "hi"}')},
    ],
)
async def test_an_unsigned_or_wrongly_signed_request_gets_403(server, headers):
    status, answer, _ = await post(server, b'{"sender": "u-2", "message": "hi"}', headers)
    assert (status, answer["error"]["code"]) == (403, "invalid_signature")
    assert server.received == []


async def test_a_stale_request_signed_with_the_right_secret_gets_403(server, app):
    raw = b'{"sender": "u-2", "message": "hi"}'
    status, answer, _ = await post(server, raw, app.sign(raw, int(time.time()) - 301))
    assert (status, answer["error"]["code"]) == (403, "invalid_signature")
    assert "seconds from ours" in answer["error"]["message"]


async def test_a_replayed_request_or_message_id_gets_409(server, app):
    raw = json.dumps({"sender": "u-3", "message": "hi", "message_id": "m-1"}).encode()
    headers = app.sign(raw)
    assert (await post(server, raw, headers))[0] == 202
    status, answer, _ = await post(server, raw, headers)
    assert (status, answer["error"]["code"]) == (409, "duplicate_message")
    # The same message re-signed later: the app's retry of something we have.
    status, answer, _ = await post(server, raw, app.sign(raw, int(time.time()) + 1))
    assert (status, answer["error"]["code"]) == (409, "duplicate_message")
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "malformed_body"),
        (b"[]", "malformed_body"),
        (b'{"message": "no sender"}', "invalid_sender_id"),
        (b'{"sender": "u-4"}', "invalid_message"),
        (b'{"sender": ["u-4"], "message": "hi", "message_id": "m"}', "invalid_sender_id"),
        (b'{"sender": "u-4", "message": "hi", "customer": "me"}', "malformed_body"),
    ],
)
async def test_a_malformed_body_gets_400(server, app, body, code):
    status, answer, _ = await post(server, body, app.sign(body))
    assert (status, answer["error"]["code"]) == (400, code)


async def test_an_oversized_body_gets_413_before_the_signature_is_checked(server):
    status, answer, _ = await post(server, b"x" * 5000, {})
    assert (status, answer["error"]["code"]) == (413, "body_too_large")


async def test_a_flood_from_one_sender_gets_429_and_others_are_served(server, app):
    statuses = [
        (await signed_post(server, app, {"sender": "u-5", "message": f"m{n}"}))[0] for n in range(5)
    ]
    assert statuses == [202, 202, 202, 429, 429]
    assert (await signed_post(server, app, {"sender": "u-6", "message": "hi"}))[0] == 202


async def test_an_unconfigured_channel_answers_503(app):
    async with ChannelServer(AppCallbackInput(url="", secret=app.secret)) as off:
        status, answer, _ = await post(off, b"{}", app.sign(b"{}"))
    assert (status, answer["error"]["code"]) == (503, "channel_not_configured")


# --- callbacks -------------------------------------------------------------


async def test_a_bot_message_is_retried_with_the_same_delivery_id_until_taken(channel, app):
    await app.fail_next(2)
    await channel.get_output_channel().send_response("u-7", {"text": "稍等"})
    delivered = await app.wait_for("u-7", "稍等")
    assert app.attempts == [delivered["delivery_id"]] * 3


async def test_a_bot_message_is_given_up_after_the_last_attempt_and_logged(channel, app, caplog):
    await app.fail_next(5, status=503)
    with caplog.at_level(logging.ERROR):
        await channel.get_output_channel().send_response("u-8", {"text": "lost"})
        for _ in range(200):
            if len(app.attempts) == 5 and "lost after 5 attempts" in caplog.text:
                break
            await asyncio.sleep(0.02)
    assert len(app.attempts) == 5 and app.to("u-8") == []
    assert "lost after 5 attempts" in caplog.text


async def test_an_agents_message_fails_at_once_to_the_agent_and_is_not_retried(channel, app):
    await app.fail_next(1)
    message = {"text": "您好", "agent_id": 4, "agent_name": "王芳", "agent_avatar": "/a.png"}
    with pytest.raises(DeliveryFailed, match="HTTP 500"):
        await channel.get_output_channel().send_response("u-9", message)
    await asyncio.sleep(0.2)
    assert len(app.attempts) == 1
    await channel.get_output_channel().send_response("u-9", message)
    [delivered] = app.to("u-9")
    assert delivered["sender"] == "agent"
    assert delivered["agent"] == {"name": "王芳", "avatar": "/a.png"}


async def test_a_refusal_for_good_is_not_retried(channel, app):
    await app.fail_next(1, status=400)
    await channel.get_output_channel().send_response("u-10", {"text": "x"})
    await asyncio.sleep(0.2)
    assert len(app.attempts) == 1
