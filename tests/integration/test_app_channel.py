"""The app channel end to end: signed messages POSTed to the real Rasa as an
app would, the app's server (tests/fakes/app_callback.py) receiving the
bot's and the agent's messages at its callback URL, the real bridge and an
agent's console client in between: a button, a handoff, the agent's reply,
the return to the bot and CSAT; a retried callback; the bad requests."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
import requests

from tests.fakes.app_callback import FakeApp
from tests.integration.conftest import HandoffStack
from tests.integration.test_handoff import ConsoleAgent

pytestmark = pytest.mark.integration


def app_of(stack: HandoffStack) -> FakeApp:
    return stack.fakes["app"]


def post(
    stack: HandoffStack, body: Any, headers: dict[str, str] | None = None
) -> requests.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        f"{stack.assistant.url}/webhooks/app/webhook",
        data=raw,
        headers={
            "Content-Type": "application/json",
            **(app_of(stack).sign(raw) if headers is None else headers),
        },
        timeout=30,
    )


CUSTOMER = {"name": "韩梅", "contact": "13800138000"}


async def say(stack: HandoffStack, sender: str, text: str) -> None:
    # The app names its customer on every message: the ticket takes the
    # name from the message that opens it.
    body = {"sender": sender, "message": text, "customer": CUSTOMER, "message_id": uuid.uuid4().hex}
    response = await asyncio.to_thread(post, stack, body)
    assert response.status_code == 202, response.text


async def callback(stack: HandoffStack, sender: str, containing: str, after: int = 0) -> dict:
    wait = app_of(stack).wait_for(sender, containing, after=after)
    return await asyncio.to_thread(stack.fakes.run, wait, 40)


async def test_an_app_customer_is_handed_to_an_agent_and_back(handoff_stack: HandoffStack):
    stack, app = handoff_stack, app_of(handoff_stack)
    sender = f"app-user-{uuid.uuid4().hex[:8]}"
    name = f"app-agent-{uuid.uuid4().hex[:6]}"
    agent = await asyncio.to_thread(stack.create_agent, name, "password-123")

    async with ConsoleAgent(stack, name, "password-123") as console:
        await say(stack, sender, "你好")
        greeting = await callback(stack, sender, "智能客服")
        assert greeting["sender"] == "bot"
        assert {"title": "转人工", "payload": "/request_human"} in greeting["buttons"]

        await say(stack, sender, "/request_human")
        await callback(stack, sender, "转接人工客服")
        ticket = await console.offered(agent["id"], sender)
        assert ticket["channel"] == "app"
        await console.claim(ticket["id"])
        joined = await callback(stack, sender, "已接入")
        assert (joined["sender"], joined["handoff_state"]) == ("agent", "connected")

        await say(stack, sender, "发票开错了抬头")
        heard = await console.next_event("message.customer", ticket_id=ticket["id"])
        assert heard["text"] == "发票开错了抬头"
        status, sent = await console.reply(ticket["id"], "好的，我帮您重开")
        assert status == 201, sent
        reply = await callback(stack, sender, "好的，我帮您重开")
        assert reply["sender"] == "agent" and reply["agent"]["name"] == name

        before = len(app.to(sender))
        await console.resolve(ticket["id"])

    resolved_notice = await callback(stack, sender, "结束本次服务", after=before)
    assert resolved_notice["handoff_state"] == "resolved"
    survey = await callback(stack, sender, "打分", after=before)
    assert survey["sender"] == "bot" and {b["payload"] for b in survey["buttons"]} >= {"4", "5"}
    await say(stack, sender, "5")
    await callback(stack, sender, "还有什么想对我们说的", after=before)
    await say(stack, sender, "没有")
    await callback(stack, sender, "感谢您的评价", after=before)
    stored = await asyncio.to_thread(stack.ticket, ticket["id"])
    assert stored["csat"]["score"] == 5
    assert stored["customer"]["name"] == "韩梅"


async def test_a_callback_the_app_fails_is_retried_with_the_same_delivery_id(
    handoff_stack: HandoffStack,
):
    stack, app = handoff_stack, app_of(handoff_stack)
    sender = f"app-user-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(stack.fakes.run, app.fail_next(2))
    await say(stack, sender, "你好")
    greeting = await callback(stack, sender, "智能客服")
    assert app.attempts.count(greeting["delivery_id"]) == 3


def test_bad_app_requests_are_refused_and_rasa_keeps_serving(handoff_stack: HandoffStack):
    stack, app = handoff_stack, app_of(handoff_stack)
    sender = f"app-user-{uuid.uuid4().hex[:8]}"
    raw = json.dumps({"sender": sender, "message": "你好"}).encode()

    wrong = post(stack, raw, {"X-Signature": f"t={int(time.time())},v1={'0' * 64}"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "invalid_signature")
    assert post(stack, raw, {}).status_code == 403
    stale = post(stack, raw, app.sign(raw, int(time.time()) - 600))
    assert (stale.status_code, stale.json()["error"]["code"]) == (403, "invalid_signature")

    headers = app.sign(raw)
    assert post(stack, raw, headers).status_code == 202
    replay = post(stack, raw, headers)
    assert (replay.status_code, replay.json()["error"]["code"]) == (409, "duplicate_message")

    assert post(stack, b'{"sender": ').json()["error"]["code"] == "malformed_body"
    huge = json.dumps({"sender": sender, "message": "x" * 300_000}).encode()
    assert post(stack, huge).status_code == 413

    flood = [
        post(stack, {"sender": sender, "message": "查订单", "message_id": f"f-{n}"}).status_code
        for n in range(25)
    ]
    assert flood.count(429) >= 4 and set(flood) <= {202, 429}, flood
    other = f"app-user-{uuid.uuid4().hex[:8]}"
    assert post(stack, {"sender": other, "message": "你好"}).status_code == 202
    stack.fakes.run(app.wait_for(other, "智能客服"), 40)
