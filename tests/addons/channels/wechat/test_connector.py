"""The WeChat channel on a real Sanic server on loopback, fed requests built
and sealed by wechatpy (tests.fakes.wechat.WeChatServer), with the fake
WeChat API for 客服消息 and a stand-in for Rasa's agent."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.channels.errors import DeliveryFailed
from addons.channels.guard import ChannelLimits
from addons.channels.wechat import replies
from addons.channels.wechat.connector import WeChatInput, WeChatSettings, offered_options
from tests.addons.channels.serving import ChannelServer
from tests.fakes.wechat import (
    APP_ID,
    APP_SECRET,
    ENCODING_AES_KEY,
    TOKEN,
    FakeWeChat,
    WeChatServer,
    WeChatWebhook,
)

LIMITS = ChannelLimits(max_body_bytes=4096, burst=6, messages_per_minute=1)
DEADLINE = 0.4
WECHAT = WeChatServer()
MENU = {
    "text": "请选择",
    "buttons": [
        {"title": "查询订单", "payload": "/order_status"},
        {"title": "转人工", "payload": "/request_human"},
    ],
}


async def bot(message: UserMessage) -> None:
    """Echoes, offers a menu on "menu", and answers "slow" after the deadline."""
    output, sender = message.output_channel, message.sender_id
    if message.text == "menu":
        await output.send_response(sender, MENU)
    elif message.text == "slow":
        await asyncio.sleep(DEADLINE * 2)
        await output.send_response(sender, {"text": "late answer"})
        await output.send_response(sender, {"text": "and more"})
    else:
        await output.send_response(sender, {"text": f"echo:{message.text}"})


def settings(wechat: FakeWeChat, **overrides: Any) -> WeChatSettings:
    values = {
        "token": TOKEN,
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "encoding_aes_key": ENCODING_AES_KEY,
        "api_base_url": wechat.url,
        "accept_plaintext": True,
        "passive_reply_seconds": DEADLINE,
    }
    return WeChatSettings(**(values | overrides))


class Follower(WeChatWebhook):
    def __init__(self, server: ChannelServer, http: aiohttp.ClientSession, openid: str) -> None:
        super().__init__(f"{server.url}/webhook", http, openid, WECHAT)

    async def say(self, text: str, *, safe: bool = False) -> str | None:
        status, reply = await self.send(WECHAT.text(self.openid, text), safe=safe)
        assert status == 200
        return reply["Content"] if reply else None


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def server(wechat: FakeWeChat) -> AsyncIterator[ChannelServer]:
    channel = WeChatInput(settings(wechat), LIMITS)
    async with ChannelServer(channel, bot) as server:
        yield server
    await channel.client.close()


@pytest.fixture
def follower(server: ChannelServer, http: aiohttp.ClientSession) -> Follower:
    return Follower(server, http, f"o-{time.monotonic_ns()}")


async def test_the_url_check_echoes_only_for_a_good_signature(
    server: ChannelServer, http: aiohttp.ClientSession
):
    async with http.get(f"{server.url}/webhook?{WECHAT.verification('8237')}") as response:
        assert (response.status, await response.text()) == (200, "8237")
    forged = WeChatServer(token="not-our-token").verification("8237")
    async with http.get(f"{server.url}/webhook?{forged}") as response:
        assert response.status == 403
        assert "8237" not in await response.text()


async def test_a_text_is_answered_passively_with_the_followers_identity(
    server: ChannelServer, follower: Follower
):
    assert await follower.say("你好") == "echo:你好"
    (message,) = server.received
    assert (message.sender_id, message.input_channel) == (follower.openid, "wechat")
    assert message.metadata == {"customer_id": follower.openid, "identity_verified": True}


async def test_safe_mode_is_opened_and_the_reply_sealed(server: ChannelServer, follower: Follower):
    query, body = WECHAT.request(WECHAT.text(follower.openid, "加密的消息"), safe=True)
    assert b"\xe5\x8a\xa0" not in body  # 加 is not in the clear
    status, reply = await follower.post(query, body)
    assert status == 200 and "<Encrypt>" in reply and "echo" not in reply
    assert WECHAT.open_reply(reply, safe=True)["Content"] == "echo:加密的消息"


async def test_in_safe_mode_plaintext_is_refused_unless_allowed(
    wechat: FakeWeChat, http: aiohttp.ClientSession
):
    channel = WeChatInput(settings(wechat, accept_plaintext=False), LIMITS)
    async with ChannelServer(channel, bot) as strict:
        follower = Follower(strict, http, "o-strict")
        status, _ = await follower.post(*WECHAT.request(WECHAT.text("o-strict", "hi"), safe=False))
        assert status == 403
        assert await follower.say("hi", safe=True) == "echo:hi"
        assert len(strict.received) == 1


async def test_a_late_answer_goes_by_customer_service_messages(
    server: ChannelServer, follower: Follower, wechat: FakeWeChat
):
    started = time.monotonic()
    assert await follower.say("slow") is None  # "success"
    assert time.monotonic() - started < DEADLINE + 0.3
    await wechat.wait_for_text(follower.openid, "and more", timeout=5)
    assert await wechat.texts_to(follower.openid) == ["late answer", "and more"]


async def test_retries_are_handled_once(
    server: ChannelServer, follower: Follower, wechat: FakeWeChat
):
    fields = WECHAT.text(follower.openid, "slow")
    answers = await asyncio.gather(*(follower.send(fields) for _ in range(3)))
    assert answers == [(200, None)] * 3
    await wechat.wait_for_text(follower.openid, "and more", timeout=5)
    assert [m.text for m in server.received] == ["slow"]
    # A retry after the answer went out gets "success" and sends nothing again.
    assert await follower.send(fields) == (200, None)
    assert await wechat.texts_to(follower.openid) == ["late answer", "and more"]

    answered = WECHAT.text(follower.openid, "quick")
    first, retry = await follower.send(answered), await follower.send(answered)
    assert first == retry and first[1]["Content"] == "echo:quick"
    assert [m.text for m in server.received] == ["slow", "quick"]


async def test_a_retry_reaching_another_rasa_process_is_handled_once(
    wechat: FakeWeChat, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
):
    """Two channels sharing Redis stand for two Rasa processes: the retry
    of a slow message reaches the other, which leaves the answer to the
    first (pushed once it is ready) and handles nothing twice."""
    monkeypatch.setenv("CHANNELS_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("REDIS_KEY_PREFIX", f"test-{uuid.uuid4().hex}")
    first, second = WeChatInput(settings(wechat), LIMITS), WeChatInput(settings(wechat), LIMITS)
    async with ChannelServer(first, bot) as one, ChannelServer(second, bot) as other:
        openid = f"o-{time.monotonic_ns()}"
        fields = WECHAT.text(openid, "slow")
        delivered = asyncio.create_task(Follower(one, http, openid).send(fields))
        await asyncio.sleep(0.1)
        assert await Follower(other, http, openid).send(fields) == (200, None)
        assert await delivered == (200, None)
        await wechat.wait_for_text(openid, "and more", timeout=5)
        assert [m.text for m in one.received] == ["slow"] and other.received == []
        assert await wechat.texts_to(openid) == ["late answer", "and more"]
        # Answered passively by the first: a retry at the other gets that answer.
        quick = WECHAT.text(openid, "quick")
        first_answer = await Follower(one, http, openid).send(quick)
        assert first_answer[1]["Content"] == "echo:quick"
        assert await Follower(other, http, openid).send(quick) == first_answer
        assert [m.text for m in one.received] == ["slow", "quick"] and other.received == []
    await first.client.close()
    await second.client.close()


async def test_a_number_chooses_the_offered_button(server: ChannelServer, follower: Follower):
    menu = await follower.say("menu")
    assert "1. 查询订单" in menu and "2. 转人工" in menu
    assert await follower.say("2") == "echo:/request_human"
    assert await follower.say("2") == "echo:2"  # nothing offered any more


async def test_each_kind_of_message(server: ChannelServer, follower: Follower):
    openid = follower.openid
    voice = WECHAT.message(openid, "voice", MediaId="m", Format="amr", Recognition="查订单")
    assert (await follower.send(voice))[1]["Content"] == "echo:查订单"
    unheard = WECHAT.message(openid, "voice", MediaId="m", Format="amr")
    assert (await follower.send(unheard))[1]["Content"] == replies.VOICE_NOT_RECOGNISED
    place = WECHAT.message(
        openid, "location", Location_X="31.2", Location_Y="121.4", Scale="15", Label="外滩"
    )
    assert (await follower.send(place))[1]["Content"] == "echo:[位置] 外滩 (31.2, 121.4)"
    video = WECHAT.message(openid, "video", MediaId="m", ThumbMediaId="t")
    assert (await follower.send(video))[1]["Content"] == replies.UNSUPPORTED
    gone = WECHAT.message(openid, "event", Event="unsubscribe")
    assert await follower.send(gone) == (200, None)
    assert [m.text for m in server.received] == ["查订单", "[位置] 外滩 (31.2, 121.4)"]


async def test_bad_requests_are_refused_and_nothing_is_processed(
    server: ChannelServer, follower: Follower
):
    fields = WECHAT.text(follower.openid, "hi")
    forged = WeChatServer(token="guessed")
    assert (await follower.post(*forged.request(fields, safe=False)))[0] == 403
    sealed_by_others = WeChatServer(encoding_aes_key="A" * 43)
    # Signed with our token, sealed with another key: it opens to nothing of ours.
    assert (await follower.post(*sealed_by_others.request(fields, safe=True)))[0] in (400, 403)
    stale = WECHAT.request(fields, safe=False, timestamp=int(time.time()) - 3600)
    assert (await follower.post(*stale))[0] == 403
    query, _ = WECHAT.request(fields, safe=False)
    xxe = (
        '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><MsgType>text'
        "</MsgType><FromUserName>o1</FromUserName><Content>&e;</Content></xml>"
    )
    for body in (b"<xml><MsgType>", xxe.encode(), b"{}"):
        status, text = await follower.post(query, body)
        assert status == 400 and "malformed_body" in text
    assert (await follower.post(query, b"<xml>" + b" " * 5000 + b"</xml>"))[0] == 413
    assert server.received == []
    assert await follower.say("still serving") == "echo:still serving"


async def test_a_flood_from_one_follower_is_told_to_slow_down(
    server: ChannelServer, follower: Follower, http: aiohttp.ClientSession
):
    answers = [await follower.say(f"m{n}") for n in range(8)]
    assert answers[:6] == [f"echo:m{n}" for n in range(6)]
    assert answers[6:] == [replies.SLOW_DOWN] * 2
    other = Follower(server, http, "o-someone-else")
    assert await other.say("hi") == "echo:hi"


async def test_an_unconfigured_channel_answers_503(http: aiohttp.ClientSession):
    async with ChannelServer(WeChatInput(WeChatSettings()), bot) as off:
        for method in ("GET", "POST"):
            async with http.request(method, f"{off.url}/webhook") as response:
                assert response.status == 503


async def test_agent_messages_go_out_and_failures_reach_the_agent(
    server: ChannelServer, wechat: FakeWeChat
):
    output = server.channel.get_output_channel()
    agent = {"text": "您好，我来帮您", "agent_id": 1, "agent_name": "小王", "ticket_id": 5}
    await output.send_response("o-agent", agent)
    assert await wechat.texts_to("o-agent") == ["【小王】您好，我来帮您"]
    await wechat.refuse("o-agent", 45015)
    with pytest.raises(DeliveryFailed) as failed:
        await output.send_response("o-agent", agent)
    assert failed.value.code == 45015 and "48" in failed.value.message


async def test_a_number_chooses_among_options_another_process_offered():
    """The options a follower answers with a number were sent by another
    Rasa process: the conversation's tracker shows the last ones."""
    store = InMemoryTrackerStore(Domain.empty())
    offered = BotUttered("请选择", {"buttons": MENU["buttons"]})
    await store.save(DialogueStateTracker.from_events("o-menu", [offered]))
    rasa = SimpleNamespace(tracker_store=store)  # what the channel reads of Rasa's agent
    assert (await offered_options(rasa, "o-menu"))["2"] == "/request_human"
    answered = [offered, UserUttered("2")]
    await store.save(DialogueStateTracker.from_events("o-answered", answered))
    assert await offered_options(rasa, "o-answered") == {}  # answered already
    assert await offered_options(rasa, "o-nobody") == {}
