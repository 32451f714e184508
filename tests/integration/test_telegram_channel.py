"""Telegram end to end: updates POSTed to the real Rasa's webhook as
Telegram would, the loopback Bot API (tests/fakes/telegram.py) receiving
what the bot and the agent send, the real bridge and an agent's console
client in between: /start, a button, a handoff, the agent's reply in
Telegram, a photo on the ticket, the return to the bot and CSAT by button;
then the bad input Telegram's webhook must survive."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from addons.channels.telegram.connector import SECRET_HEADER
from addons.channels.telegram.notices import TEXTS, Notice
from tests.fakes.telegram import FakeTelegram
from tests.integration.conftest import HandoffStack, tiny_png
from tests.integration.test_handoff import ConsoleAgent

pytestmark = pytest.mark.integration


def telegram_of(stack: HandoffStack) -> FakeTelegram:
    return stack.fakes["telegram"]


def customer(telegram: FakeTelegram, **fields: Any) -> dict[str, Any]:
    # Ids of their own: the session stack is shared by every integration test.
    return telegram.user(random.randrange(10**9, 2 * 10**9), **fields)


def post_update(
    stack: HandoffStack, update: Any, secret: str | None = None, **kwargs: Any
) -> requests.Response:
    telegram = telegram_of(stack)
    headers = {SECRET_HEADER: telegram.webhook_secret if secret is None else secret}
    data = update if isinstance(update, bytes) else json.dumps(update)
    return requests.post(
        f"{stack.assistant.url}/webhooks/telegram/webhook",
        data=data,
        headers={"Content-Type": "application/json", **headers},
        timeout=60,
        **kwargs,
    )


async def say(stack: HandoffStack, update: dict[str, Any]) -> None:
    response = await asyncio.to_thread(post_update, stack, update)
    assert response.status_code == 200, response.text


async def message_to(
    stack: HandoffStack, chat_id: int, containing: str, after: int = 0
) -> dict[str, Any]:
    telegram = telegram_of(stack)
    wait = telegram.wait_for_message(chat_id, containing, after=after)
    return await asyncio.to_thread(stack.fakes.run, wait, 40)


async def test_a_telegram_customer_is_greeted_handed_to_an_agent_and_back(
    handoff_stack: HandoffStack,
):
    stack, telegram = handoff_stack, telegram_of(handoff_stack)
    user = customer(telegram, first_name="Mei", last_name="Han")
    chat, conversation = user["id"], f"telegram:{user['id']}"
    name = f"tg-agent-{uuid.uuid4().hex[:6]}"
    agent = await asyncio.to_thread(stack.create_agent, name, "password-123")

    async with ConsoleAgent(stack, name, "password-123") as console:
        # /start: the greeting, with its buttons as an inline keyboard.
        await say(stack, telegram.message_update(user, "/start"))
        greeting = await message_to(stack, chat, "智能客服")
        titles = [row[0]["text"] for row in greeting["reply_markup"]["inline_keyboard"]]
        assert "转人工" in titles, titles

        # Choosing "转人工" on the keyboard: answered, marked, and a handoff.
        press = telegram.press_update(user, greeting, "转人工")
        await say(stack, press)
        assert press["callback_query"]["id"] in [
            call["callback_query_id"] for call in telegram.called("answerCallbackQuery")
        ]
        [mark] = [
            call for call in telegram.called("editMessageReplyMarkup") if call["chat_id"] == chat
        ]
        assert mark["reply_markup"]["inline_keyboard"][0][0]["text"] == "✓ 转人工"
        await message_to(stack, chat, "转接人工客服")
        ticket = await console.offered(agent["id"], conversation)
        assert ticket["channel"] == "telegram"
        await console.claim(ticket["id"])

        # The customer's words reach the agent; the agent's reach Telegram, signed with a name.
        await say(stack, telegram.message_update(user, "我的快递三天没动了"))
        heard = await console.next_event("message.customer", ticket_id=ticket["id"])
        assert heard["text"] == "我的快递三天没动了"
        sent_before = len(telegram.sent(chat))
        status, sent = await console.reply(ticket["id"], "您好，我来帮您查")
        assert status == 201, sent
        reply = await message_to(stack, chat, "您好，我来帮您查", after=sent_before)
        assert reply["text"].startswith(f"<b>{name}") and reply["parse_mode"] == "HTML"

        # A photo during the handoff lands on the ticket.
        file_id = await asyncio.to_thread(
            stack.fakes.run, telegram.add_file(_PNG, f"photos/{uuid.uuid4().hex}.png")
        )
        photo = telegram.message_update(user, photo=[{"file_id": file_id, "file_size": len(_PNG)}])
        await say(stack, photo)
        heard = await console.next_event(
            "message.customer",
            ticket_id=ticket["id"],
            where=lambda data: data["text"] == "[图片]",
        )
        status, context = await console.call("GET", f"/api/tickets/{ticket['id']}/context")
        assert [a["size"] for a in context["attachments"]] == [len(_PNG)], context["attachments"]

        sent_before = len(telegram.sent(chat))
        await console.resolve(ticket["id"])

    # Back to the bot, then CSAT by button.
    survey = await message_to(stack, chat, "打分", after=sent_before)
    await say(stack, telegram.press_update(user, survey, "4 满意"))
    comment = await message_to(stack, chat, "还有什么想对我们说的", after=sent_before)
    await say(stack, telegram.press_update(user, comment, "没有了"))
    await message_to(stack, chat, "感谢您的评价", after=sent_before)
    stored = await asyncio.to_thread(stack.ticket, ticket["id"])
    assert stored["csat"]["score"] == 4
    assert stored["customer"]["name"] == "Mei Han"


async def test_an_agents_message_to_a_customer_who_blocked_the_bot_reaches_the_agent_as_an_error(
    handoff_stack: HandoffStack,
):
    stack, telegram = handoff_stack, telegram_of(handoff_stack)
    user = customer(telegram)
    chat, conversation = user["id"], f"telegram:{user['id']}"
    name = f"tg-agent-{uuid.uuid4().hex[:6]}"
    agent = await asyncio.to_thread(stack.create_agent, name, "password-123")
    async with ConsoleAgent(stack, name, "password-123") as console:
        await say(stack, telegram.message_update(user, "我要转人工"))
        ticket_id = (await console.offered(agent["id"], conversation))["id"]
        await console.claim(ticket_id)
        await asyncio.to_thread(stack.fakes.run, telegram.fail("sendMessage", chat_id=chat))
        status, body = await console.reply(ticket_id, "还在吗？")
        assert (status, body["error"]["code"]) == (502, "delivery_failed"), body
        assert "blocked the bot" in json.dumps(body), body
        await console.resolve(ticket_id)


def test_bad_updates_are_refused_and_rasa_keeps_serving(handoff_stack: HandoffStack):
    stack, telegram = handoff_stack, telegram_of(handoff_stack)
    user = customer(telegram)
    chat = user["id"]
    update = telegram.message_update(user, "你好")

    wrong = post_update(stack, update, secret="not-the-secret")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "invalid_signature")
    missing = requests.post(
        f"{stack.assistant.url}/webhooks/telegram/webhook", json=update, timeout=30
    )
    assert missing.status_code == 403
    assert telegram.sent(chat) == []

    malformed = post_update(stack, b'{"update_id": 1, "message": ')
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "malformed_body")
    oversized = post_update(stack, telegram.message_update(user, "x" * 300_000))
    assert (oversized.status_code, oversized.json()["error"]["code"]) == (413, "body_too_large")

    assert post_update(stack, update).status_code == 200
    answers = len(telegram.sent(chat))
    assert answers >= 1
    replay = post_update(stack, update)
    assert (replay.status_code, replay.json()) == (200, {"status": "duplicate"})
    assert len(telegram.sent(chat)) == answers

    # A flood from one customer: the burst passes, the rest is dropped with one notice.
    # All at once: posts one after another each wait for the bot's answer,
    # and on a busy machine the bucket refills as fast as Rasa answers.
    updates = [telegram.message_update(user, "查订单") for _ in range(30)]
    with ThreadPoolExecutor(max_workers=len(updates)) as pool:
        flood = list(pool.map(lambda update: post_update(stack, update), updates))
    assert {response.status_code for response in flood} == {200}
    slow_down = TEXTS[Notice.SLOW_DOWN]["zh"]
    assert [m["text"] for m in telegram.sent(chat)].count(slow_down) == 1

    other = customer(telegram)
    assert post_update(stack, telegram.message_update(other, "你好")).status_code == 200
    assert telegram.sent(other["id"]), "another customer is still answered"


_PNG = tiny_png()
