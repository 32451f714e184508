"""The web chat end to end: python-socketio's own client, over websocket and
over polling, against the session stack's real Rasa, action server and
bridge, with an agent's console client on the other side: the greeting on
connect, a button, a forged session, the customer's name and contact on
the ticket, a handoff with the queue state, the agent's reply live and
marked as the agent's, typing, a file on the ticket, the history after a
reload, the return to the bot and CSAT by button; then the bad input the
channel must survive."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import requests

from tests.addons.channels.web_client import WebCustomer
from tests.integration.conftest import HandoffStack, tiny_png
from tests.integration.test_handoff import ConsoleAgent

pytestmark = pytest.mark.integration

ROUTES = "/webhooks/socketio"
NOT_UNDERSTOOD = "没有理解"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def replies(customer: WebCustomer, containing: str, timeout: float = 40) -> dict[str, Any]:
    """The next bot_uttered whose text holds `containing`; none of those that
    came before it may be a "did not understand"."""
    reply = customer.wait_for(
        "bot_uttered", timeout, where=lambda data: containing in (data.get("text") or "")
    )
    earlier = [data.get("text") or "" for name, data in customer.events if name == "bot_uttered"]
    assert not any(NOT_UNDERSTOOD in text for text in earlier), earlier
    return reply


async def wait(customer: WebCustomer, containing: str, timeout: float = 40) -> dict[str, Any]:
    return await asyncio.to_thread(replies, customer, containing, timeout)


def button(message: dict[str, Any], title: str) -> str:
    return next(b["payload"] for b in message["quick_replies"] if title in b["title"])


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_web_customer_is_greeted_handed_to_an_agent_and_back(
    handoff_stack: HandoffStack, transport: str
):
    stack = handoff_stack
    name = f"web-agent-{uuid.uuid4().hex[:6]}"
    agent = await asyncio.to_thread(stack.create_agent, name, "password-123")
    customer = await asyncio.to_thread(WebCustomer, stack.assistant.url, [transport])
    try:
        async with ConsoleAgent(stack, name, "password-123") as console:
            # Connecting starts the conversation with the greeting and its buttons.
            # Signed in on the shop's site, which signs the user for the widget.
            user_id = f"site-user-{uuid.uuid4().hex[:8]}"
            site = stack.fakes["web"]
            identity = site.signed_in(user_id, name="网页客户", phone="13912345678")
            custom = {"language": "zh", "customer": identity}
            confirmed = await asyncio.to_thread(customer.session, None, customData=custom)
            assert confirmed["resumed"] is False
            greeting = await wait(customer, "智能客服")
            assert greeting["metadata"]["sender"] == "bot"
            titles = [b["title"] for b in greeting["quick_replies"]]
            assert "转人工" in titles and "查询订单" in titles, titles

            # rasa-webchat's initPayload after that greets nobody twice and is no fallback.
            customer.say("/get_started", customData=custom)
            # A button answer.
            customer.say(button(greeting, "查询订单"), customData=custom)
            asked = await wait(customer, "订单")
            assert NOT_UNDERSTOOD not in asked["text"]

            # Files are for agents: with no ticket open, a polite 409.
            refused = await asyncio.to_thread(upload, stack, customer.token)
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["code"] == "no_open_ticket"

            # A handoff: the customer sees the queue state, the agent the ticket.
            customer.say("我要转人工", customData=custom)
            queued = await wait(customer, "转接人工客服")
            assert queued["metadata"]["handoff"]["state"] in ("queued", "connecting"), queued
            ticket = await console.offered(
                agent["id"],
                lambda offered: offered["channel"] == "socketio"
                and queued["metadata"]["handoff"]["ticket_id"] == offered["id"],
            )
            assert ticket["customer"]["name"] == "网页客户"
            assert ticket["customer"]["contact"] == "13912345678"
            conversation = ticket["conversation_id"]
            assert conversation.startswith("web-") and conversation not in customer.token
            await console.claim(ticket["id"])
            # The site's user id, verified, links the customer across channels.
            status, known = await console.call("GET", f"/api/customers/{ticket['customer']['id']}")
            assert status == 200, known
            assert known["customer"]["verified"] is True, known
            assert user_id in [key["value"] for key in known["customer"]["identities"]], known
            joined = await wait(customer, name)
            assert joined["metadata"]["handoff"]["state"] == "connected", joined

            # The agent types, then replies: live, one message, marked as the agent's.
            typing = await asyncio.to_thread(
                requests.post,
                f"{stack.assistant.url}{ROUTES}/typing",
                json={"conversation_id": conversation, "typing": True, "agent_name": name},
                headers=stack.assistant.api_headers(),
                timeout=10,
            )
            assert typing.status_code == 200, typing.text
            shown = await asyncio.to_thread(customer.wait_for, "typing", 10, _by_agent)
            assert shown == {"who": "agent", "typing": True, "name": name}
            status, sent = await console.reply(ticket["id"], "您好，我来帮您查")
            assert status == 201, sent
            reply = await wait(customer, "您好，我来帮您查")
            assert reply["metadata"]["sender"] == "agent", reply
            assert reply["metadata"]["agent"]["name"] == name

            # A photo lands on the ticket; the customer's words reach the agent.
            stored = await asyncio.to_thread(upload, stack, customer.token)
            assert stored.status_code == 200, stored.text
            await console.next_event(
                "message.customer", ticket_id=ticket["id"], where=lambda d: d["text"] == "[图片]"
            )
            status, context = await console.call("GET", f"/api/tickets/{ticket['id']}/context")
            assert [a["name"] for a in context["attachments"]] == ["photo.png"], context

            # A reload: the history comes from the server, the agent marked.
            history = await asyncio.to_thread(
                requests.get,
                f"{stack.assistant.url}{ROUTES}/history",
                headers=bearer(customer.token),
                timeout=10,
            )
            messages = history.json()["messages"]
            assert messages[0]["sender"] == "bot" and "智能客服" in messages[0]["text"]
            assert {"sender": "customer", "text": "查询订单"}.items() <= messages[1].items()
            said = [(m["sender"], m["text"]) for m in messages]
            assert ("customer", "我要转人工") in said and ("customer", "[图片]") in said
            agent_said = next(m for m in messages if m["text"] == "您好，我来帮您查")
            assert agent_said["sender"] == "agent" and agent_said["agent"]["name"] == name
            assert all("get_started" not in (m["text"] or "") for m in messages)

            await console.resolve(ticket["id"])

        # Back to the bot, then CSAT by button.
        survey = await wait(customer, "打分")
        customer.say(button(survey, "4 满意"))
        comment = await wait(customer, "还有什么想对我们说的")
        customer.say("没有了", token=None)
        await wait(customer, "感谢您的评价")
        assert comment["metadata"]["sender"] == "bot"
        stored_ticket = await asyncio.to_thread(stack.ticket, ticket["id"])
        assert stored_ticket["csat"]["score"] == 4
    finally:
        customer.close()


def _by_agent(data: dict[str, Any]) -> bool:
    return data.get("who") == "agent"


def upload(stack: HandoffStack, token: str) -> requests.Response:
    return requests.post(
        f"{stack.assistant.url}{ROUTES}/attachments",
        files={"file": ("photo.png", tiny_png(), "image/png")},
        headers=bearer(token),
        timeout=30,
    )


def test_a_forged_session_opens_nothing_and_the_owner_is_still_answered(
    handoff_stack: HandoffStack,
):
    url = handoff_stack.assistant.url
    owner, intruder = WebCustomer(url, ["websocket"]), WebCustomer(url, ["polling"])
    try:
        token = owner.session()["session_id"]
        replies(owner, "智能客服")
        forged = token[:-6] + ("A" * 6 if not token.endswith("A" * 6) else "B" * 6)
        fresh = intruder.session(forged)
        assert fresh["session_id"] != token and fresh["resumed"] is False
        intruder.say("我的订单呢", token=forged)
        assert intruder.wait_for("message_rejected")["error"]["code"] == "invalid_session"
        stolen = requests.get(f"{url}{ROUTES}/history", headers=bearer(forged), timeout=10)
        assert stolen.status_code == 401
        own = requests.get(f"{url}{ROUTES}/history", headers=bearer(token), timeout=10)
        assert [m["sender"] for m in own.json()["messages"]] == ["bot"]
        # The owner, back after a reload, resumes without a second greeting.
        again = WebCustomer(url, ["polling", "websocket"])
        try:
            assert again.session(token) == {"session_id": token, "resumed": True}
            again.say("你好")
            replies(again, "智能客服")
        finally:
            again.close()
    finally:
        owner.close()
        intruder.close()


def test_bad_input_is_refused_and_rasa_keeps_serving(handoff_stack: HandoffStack):
    url = handoff_stack.assistant.url
    customer = WebCustomer(url, ["websocket"])  # one frame a message: a flood as it comes
    try:
        customer.session()
        replies(customer, "智能客服")
        # A message too long, malformed metadata, a flood: each an event, nothing lost.
        customer.say("x" * 10_001)
        assert customer.wait_for("message_rejected")["error"]["code"] == "message_too_long"
        customer.client.emit(
            "user_uttered", {"message": "hi", "session_id": customer.token, "customData": "{"}
        )
        assert customer.wait_for("message_rejected")["error"]["code"] == "invalid_metadata"
        for _ in range(25):  # empty: the cheapest message, still counted
            customer.say("")
        assert customer.wait_for("message_rejected", 30)["error"]["code"] == "rate_limited"

        # An oversized polling body and packets no client sends: 413 and 400.
        sid_params = {"EIO": "4", "transport": "polling"}
        opened = requests.get(f"{url}/socket.io/", params=sid_params, timeout=10)
        sid_params["sid"] = opened.text[1:].split('"sid":"')[1].split('"')[0]
        big = requests.post(
            f"{url}/socket.io/", params=sid_params, data=b"4" + b"x" * 300_000, timeout=10
        )
        assert big.status_code == 413
        bad = requests.post(f"{url}/socket.io/", params=sid_params, data=b"6", timeout=10)
        assert bad.status_code == 400
        # Routes without their tokens.
        assert requests.get(f"{url}{ROUTES}/history", timeout=10).status_code == 401
        typing = requests.post(
            f"{url}{ROUTES}/typing", json={"conversation_id": "x", "typing": True}, timeout=10
        )
        assert typing.status_code == 401
        assert requests.get(
            f"{url}{ROUTES}/widget/../../credentials.yml", timeout=10
        ).status_code in (400, 404)

        # Another customer is served.
        other = WebCustomer(url, ["websocket"])
        try:
            other.session()
            replies(other, "智能客服")
        finally:
            other.close()
    finally:
        customer.close()
