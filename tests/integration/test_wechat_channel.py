"""End to end on WeChat: the session stack's Rasa, actions and bridge, with
WeChat's side played by tests.fakes.wechat (requests built and sealed by
wechatpy, the 客服消息 API on loopback). A follower is greeted with numbered
options, chooses one, is handed to an agent, sends a picture, hears the
agent through 客服消息 (and the agent hears when WeChat refuses, 45015),
returns to the bot and rates the help."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from addons.channels.wechat import replies
from tests.fakes.wechat import FakeWeChat, WeChatServer, WeChatWebhook
from tests.integration.conftest import HandoffStack, tiny_png
from tests.integration.test_handoff import ConsoleAgent

pytestmark = pytest.mark.integration

WECHAT = WeChatServer()


class Follower(WeChatWebhook):
    """One WeChat follower, as WeChat's servers deliver their messages."""

    def __init__(self, stack: HandoffStack, http: aiohttp.ClientSession, *, safe: bool) -> None:
        url = f"{stack.assistant.url}/webhooks/wechat/webhook"
        super().__init__(url, http, f"o-wx-{uuid.uuid4().hex[:12]}", WECHAT)
        self.stack, self.safe = stack, safe
        self.fake: FakeWeChat = stack.fakes["wechat"]

    async def passive(self, fields: dict[str, Any]) -> dict[str, Any] | None:
        status, reply = await self.send(fields, safe=self.safe)
        assert status == 200
        return reply

    async def hear(self, fields: dict[str, Any], expected: str) -> str:
        """What the bot said back, passively or, when late, by 客服消息."""
        reply = await self.passive(fields)
        if reply is not None:
            assert expected in reply["Content"], reply["Content"]
            return reply["Content"]
        return await self.pushed(expected)

    async def say(self, text: str, expected: str) -> str:
        return await self.hear(WECHAT.text(self.openid, text), expected)

    async def pushed(self, expected: str) -> str:
        return await asyncio.to_thread(
            self.stack.fakes.run, self.fake.wait_for_text(self.openid, expected, 60), 70
        )

    async def fake_call(self, coroutine: Any) -> Any:
        return await asyncio.to_thread(self.stack.fakes.run, coroutine)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def user_intents(stack: HandoffStack, openid: str) -> list[str]:
    events = stack.assistant.tracker(openid)["events"]
    return [e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"]


async def test_a_follower_goes_through_bot_agent_and_survey_in_safe_mode(
    handoff_stack: HandoffStack, http: aiohttp.ClientSession
):
    stack = handoff_stack
    name = f"wx-agent-{uuid.uuid4().hex[:6]}"
    agent = await asyncio.to_thread(stack.create_agent, name, "password-123")
    async with ConsoleAgent(stack, name, "password-123") as console:
        follower = Follower(stack, http, safe=True)
        subscribe = WECHAT.message(follower.openid, "event", Event="subscribe", EventKey="")
        greeting = await follower.hear(subscribe, "小云")
        assert "1. 查询订单" in greeting and "4. 转人工" in greeting
        await follower.say("1", "")
        assert (await asyncio.to_thread(user_intents, stack, follower.openid))[-1] == (
            "order_status"
        )

        await follower.say("我要转人工", "人工")
        ticket = await console.offered(agent["id"], follower.openid)
        assert ticket["channel"] == "wechat"
        tracker = await asyncio.to_thread(stack.assistant.tracker, follower.openid)
        last_user = [e for e in tracker["events"] if e["event"] == "user"][-1]
        metadata = last_user["metadata"]
        assert (metadata["customer_id"], metadata["identity_verified"]) == (follower.openid, True)
        await console.claim(ticket["id"])

        picture = await follower.fake_call(
            follower.fake.add_picture(f"{follower.openid}.png", tiny_png(), "image/png")
        )
        image = WECHAT.message(follower.openid, "image", PicUrl=picture, MediaId="media-1")
        assert await follower.passive(image) is None  # paused bot: nothing to say
        heard = await console.next_event("message.customer", ticket_id=ticket["id"])
        assert heard["text"] == "[图片]"
        status, context = await console.call("GET", f"/api/tickets/{ticket['id']}/context")
        assert [a["content_type"] for a in context["attachments"]] == ["image/png"]

        status, sent = await console.reply(ticket["id"], "您好，我来帮您查一下")
        assert status == 201, sent
        delivered = await follower.pushed("您好，我来帮您查一下")
        assert delivered.startswith("【") and delivered.endswith("】您好，我来帮您查一下")

        await follower.fake_call(follower.fake.refuse(follower.openid, 45015))
        status, refused = await console.reply(ticket["id"], "还在吗？")
        assert status == 502, refused
        assert refused["error"]["code"] == "delivery_failed"
        assert "48" in refused["error"]["message"]
        await follower.fake_call(follower.fake.accept(follower.openid))

        await console.resolve(ticket["id"])

    survey = await follower.pushed("请为本次人工服务打分")
    assert "5 非常满意" in survey
    await follower.say("4", "")
    await follower.say("客服很耐心", "感谢您的评价")
    stored = await asyncio.to_thread(stack.ticket, ticket["id"])
    assert stored["csat"]["score"] == 4 and stored["csat"]["comment"] == "客服很耐心"
    texts = await follower.fake_call(follower.fake.texts_to(follower.openid))
    assert not any("还在吗" in text for text in texts)


async def test_plaintext_buttons_retries_and_bad_requests(
    handoff_stack: HandoffStack, http: aiohttp.ClientSession
):
    stack = handoff_stack
    follower = Follower(stack, http, safe=False)
    greeting = await follower.say("你好", "小云")
    assert "2. 退货退款" in greeting

    # WeChat's three tries of one message: handled once.
    choice = WECHAT.text(follower.openid, "2")
    answers = await asyncio.gather(*(follower.passive(choice) for _ in range(3)))
    assert len({answer and answer["Content"] for answer in answers}) == 1
    intents = await asyncio.to_thread(user_intents, stack, follower.openid)
    assert intents[-1] == "return_refund" and intents.count("return_refund") == 1

    # No ticket open: the picture stays with WeChat and the follower is told why.
    picture = await follower.fake_call(
        follower.fake.add_picture(f"{follower.openid}.png", tiny_png(), "image/png")
    )
    image = WECHAT.message(follower.openid, "image", PicUrl=picture, MediaId="media-2")
    assert (await follower.passive(image))["Content"] == replies.PICTURES_FOR_AGENTS

    fields = WECHAT.text(follower.openid, "被篡改的消息")
    assert (await follower.post(*WeChatServer(token="guess").request(fields, safe=False)))[0] == 403
    stale = WECHAT.request(fields, safe=False, timestamp=int(time.time()) - 3600)
    assert (await follower.post(*stale))[0] == 403
    query, _ = WECHAT.request(fields, safe=False)
    xxe = (
        '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><MsgType>text'
        f"</MsgType><FromUserName>{follower.openid}</FromUserName><Content>&e;</Content></xml>"
    )
    for body in (b"<xml><MsgType>text", xxe.encode()):
        assert (await follower.post(query, body))[0] == 400
    assert (await follower.post(query, b"<xml>" + b" " * 300_000 + b"</xml>"))[0] == 413
    assert "被篡改" not in str(await asyncio.to_thread(stack.assistant.tracker, follower.openid))

    flooder = Follower(stack, http, safe=False)
    flood = await asyncio.gather(
        *(flooder.passive(WECHAT.text(flooder.openid, f"刷屏 {n}")) for n in range(30))
    )
    assert sum(1 for r in flood if r and r["Content"] == replies.SLOW_DOWN) >= 5
    await follower.say("谢谢", "")  # the follower next to the flood is still answered
