"""What the flows hand the customer's channel through Rasa: who wrote (name
and avatar), where the handoff stands on the bridge's notices, and, when
the channel refuses a reply, the channel's reason for the agent."""

from __future__ import annotations

import pytest
from aiohttp import web

from handoff.rasa import delivery_failure
from tests.handoff.conftest import FakeRasa, serve_rasa

AVATAR = "https://cdn.example.com/agents/wang.png"
# What Rasa 3.6 answers when an output channel raises while it sends an
# appended bot event (rasa.server.append_events).
WECHAT_45015 = "客户超过 48 小时未发消息，微信不再允许回复（45015）。请改用电话或邮件联系。"


class RefusingRasa(FakeRasa):
    """Rasa whose customer's channel refuses what is sent while `refusal` is set."""

    refusal: str | None = None

    async def _append(self, request: web.Request) -> web.Response:
        if self.refusal is None:
            return await super()._append(request)
        await self._record(request)
        return web.json_response(
            {
                "version": "3.6.21",
                "status": "failure",
                "message": f"An unexpected error occurred. Error: {self.refusal}",
                "reason": "ConversationError",
                "details": {},
                "help": None,
                "code": 500,
            },
            status=500,
        )


@pytest.fixture
async def rasa(aiohttp_server) -> RefusingRasa:
    return await serve_rasa(aiohttp_server, RefusingRasa())


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def bot_events(rasa: FakeRasa, conversation_id: str) -> list[dict]:
    return [e for e in rasa.sent_events(conversation_id) if e["event"] == "bot"]


async def test_a_refused_reply_tells_the_agent_why_and_nothing_is_logged(bridge):
    agent = await bridge.add(online=True)
    ticket_id = (await bridge.handoff("c1"))["ticket"]["id"]
    await bridge.claim(ticket_id, agent)
    bridge.rasa.refusal = WECHAT_45015
    body = await bridge.post(
        f"/api/tickets/{ticket_id}/messages",
        agent,
        json={"text": "还在吗？", "client_message_id": "reply-0001"},
        expect=502,
    )
    assert body["error"] == {"code": "delivery_failed", "message": WECHAT_45015}
    assert bridge.rasa.logged_agent_messages("c1") == ["人工客服 Agent1 已接入，正在查看您的问题。"]
    assert (await bridge.ticket(ticket_id))["first_response_at"] is None
    # Once the channel takes it again, the same reply goes out, once.
    bridge.rasa.refusal = None
    await bridge.post(
        f"/api/tickets/{ticket_id}/messages",
        agent,
        json={"text": "还在吗？", "client_message_id": "reply-0001"},
        expect=201,
    )
    assert bridge.rasa.logged_agent_messages("c1")[-1] == "还在吗？"


async def test_a_refused_notice_does_not_undo_the_claim(bridge):
    agent = await bridge.add(online=True)
    ticket_id = (await bridge.handoff("c1"))["ticket"]["id"]
    bridge.rasa.refusal = WECHAT_45015
    claimed = await bridge.claim(ticket_id, agent)
    assert (claimed["status"], claimed["assignee_id"]) == ("in_progress", agent.id)


async def test_agent_messages_carry_the_agents_name_and_avatar(bridge):
    agent = await bridge.add(online=True, display_name="小王", avatar_url=AVATAR)
    ticket_id = (await bridge.handoff("c1"))["ticket"]["id"]
    await bridge.claim(ticket_id, agent)
    await bridge.post(
        f"/api/tickets/{ticket_id}/messages", agent, json={"text": "您好"}, expect=201
    )
    reply = bot_events(bridge.rasa, "c1")[-1]["metadata"]
    assert (reply["agent_name"], reply["agent_avatar"], reply["ticket_id"]) == (
        "小王",
        AVATAR,
        ticket_id,
    )
    assert "handoff_state" not in reply
    bare = await bridge.add("bare", online=True)
    second = (await bridge.handoff("c2"))["ticket"]["id"]
    await bridge.claim(second, bare)
    assert bot_events(bridge.rasa, "c2")[-1]["metadata"]["agent_avatar"] is None


async def test_notices_say_where_the_handoff_stands(bridge):
    agent = await bridge.add(online=True, avatar_url=AVATAR)
    first = (await bridge.handoff("c1", language="en"))["ticket"]["id"]
    await bridge.claim(first, agent)
    await bridge.post(f"/api/tickets/{first}/release", agent)
    second = (await bridge.handoff("c2"))["ticket"]["id"]
    await bridge.claim(second, agent)
    await bridge.set_status(second, "resolved", agent)
    states = {
        conversation_id: [
            (event["metadata"].get("handoff_state"), event["text"])
            for event in bot_events(bridge.rasa, conversation_id)
        ]
        for conversation_id in ("c1", "c2")
    }
    assert states["c1"] == [
        ("connected", "Agent1 from our support team has joined and is looking at your request."),
        ("released", "The agent has handed the chat back to the assistant."),
    ]
    assert [state for state, _ in states["c2"]] == ["connected", "resolved"]
    third = (await bridge.handoff("c3"))["ticket"]["id"]
    await bridge.claim(third, agent)
    colleague = await bridge.add("colleague", online=True)
    await bridge.post(f"/api/tickets/{third}/transfer", agent, json={"agent_id": colleague.id})
    transferred = bot_events(bridge.rasa, "c3")[-1]
    assert transferred["metadata"]["handoff_state"] == "transferred", transferred
    # The notice comes before the bot takes the conversation back.
    assert bridge.rasa.trail("c2")[-4:] == [
        "bot",
        "resume",
        "action",
        "intent:EXTERNAL_handoff_resolved",
    ]
    assert bridge.rasa.trail("c1")[-1] == "intent:EXTERNAL_handoff_released"


async def test_the_relay_does_not_echo_notices_or_replies_back_to_the_console(bridge):
    agent = await bridge.add(online=True)
    ticket_id = (await bridge.handoff("c1"))["ticket"]["id"]
    console = await bridge.console(agent)
    await bridge.claim(ticket_id, agent)
    notice = bot_events(bridge.rasa, "c1")[-1]
    relayed = await bridge.post(
        "/api/rasa/events", json=[{**notice, "sender_id": "c1", "timestamp": 1e10}]
    )
    assert relayed["relayed"] == 0
    await console.close()


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            500,
            '{"reason": "ConversationError", "message": "An unexpected error occurred. '
            'Error: 48 hours"}',
            "48 hours",
        ),
        (500, '{"reason": "ConversationError", "message": ""}', None),
        (500, '{"reason": "Other"}', False),
        (500, "not json", False),
        (400, '{"reason": "ConversationError", "message": "x"}', False),
    ],
)
def test_only_rasas_conversation_error_is_a_delivery_failure(status, body, reason):
    failure = delivery_failure(status, body)
    if reason is False:
        assert failure is None
    else:
        assert failure is not None and failure.status == 502
        assert failure.message == (reason or "The customer's channel did not take the message.")


@pytest.mark.parametrize("channel", ["email", "form"])
async def test_an_agent_writes_by_mail_to_a_customer_who_is_not_in_a_live_chat(bridge, channel):
    """Mail reaches the customer whenever it is sent: a form's ticket,
    claimed from the queue, is answered though nobody waits in a chat."""
    agent = await bridge.add(online=True)
    ticket = await bridge.open_ticket(f"email-{channel}", channel=channel, source=channel)
    assert ticket["live"] is False
    await bridge.claim(ticket["id"], agent)
    await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", agent, json={"text": "已为您处理。"}, expect=201
    )
    assert bridge.rasa.logged_agent_messages(f"email-{channel}") == ["已为您处理。"]
    assert (await bridge.ticket(ticket["id"]))["first_response_at"] is not None


async def test_a_chat_customer_who_left_gets_no_reply(bridge):
    agent = await bridge.add(online=True)
    ticket = await bridge.open_ticket("tg-1", channel="telegram")
    await bridge.claim(ticket["id"], agent)
    body = await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", agent, json={"text": "还在吗？"}, expect=409
    )
    assert body["error"]["code"] == "invalid_transition"
    assert bridge.rasa.logged_agent_messages("tg-1") == []
