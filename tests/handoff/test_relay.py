"""Rasa's event broker posts tracker events; the customer's messages in a
live conversation reach the console of the agent who has it, once."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event

from handoff.app_keys import DATABASE
from tests.handoff.conftest import Bridge, Console, Staff


def user_event(sender: str, text: str, *, message_id: str, at: float | None = None) -> dict:
    """A user event as Rasa 3.6 publishes it, with this project's NLU output."""
    ranking = [
        {"name": name, "confidence": 0.01}
        for name in ("chitchat", "out_of_scope", "complaint", "order_status", "goodbye")
    ]
    faq = [
        {
            "key": f"faq/entry_{index}",
            "score": 6.5,
            "question": {"zh": "可以找人代付吗", "en": "can someone else pay for my order"},
        }
        for index in range(5)
    ]
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": at or time.time(),
        "metadata": {"model_id": "850cc177d4c94c3684360a8a08d1c9d6", "assistant_id": "cloudpick"},
        "text": text,
        "parse_data": {
            "intent": {"name": "order_status", "confidence": 0.93},
            "entities": [
                {"entity": "language", "value": "zh", "start": 0, "end": 2, "confidence_entity": 1}
            ],
            "text": text,
            "message_id": message_id,
            "metadata": {},
            "text_tokens": [[0, len(text)]],
            "intent_ranking": [{"name": "order_status", "confidence": 0.93}, *ranking * 2],
            "urgency": {"urgent": False, "reasons": [], "terms": []},
            "faq": {"key": "faq/entry_0", "confidence": 0.2, "language": "zh", "ranking": faq},
        },
        "input_channel": "rest",
        "message_id": message_id,
    }


async def quiet_until_sentinel(bridge: Bridge, console: Console, name: str) -> list[str]:
    """The events `console` gets before a ticket event everybody sees.

    The bus delivers in order, so whatever was published before the sentinel
    handoff has arrived by the time the sentinel does."""
    await bridge.handoff(name)
    seen = await console.until(
        lambda event, data: event == "ticket.created" and data["ticket"]["conversation_id"] == name
    )
    return [event for event, _ in seen[:-1]]


async def two_agents_one_live_conversation(
    bridge: Bridge,
) -> tuple[dict[str, Any], Staff, Console, Staff, Console]:
    alice = await bridge.add("alice", online=True)
    bob = await bridge.add("bob", online=True)
    alice_console, bob_console = await bridge.console(alice), await bridge.console(bob)
    ticket = (await bridge.handoff("c1"))["ticket"]
    await bridge.claim(ticket["id"], alice)
    return ticket, alice, alice_console, bob, bob_console


async def test_customer_messages_reach_only_the_assignee_once(bridge):
    ticket, alice, alice_console, _, bob_console = await two_agents_one_live_conversation(bridge)
    event = user_event("c1", "还在吗？", message_id="m1")
    answer = await bridge.post("/api/rasa/events", json=[event])
    assert answer == {"received": 1, "relayed": 1}
    message = await alice_console.next("message.customer")
    assert message["ticket_id"] == ticket["id"] and message["owner_id"] == alice.id
    assert (message["sender"], message["text"], message["message_id"]) == (
        "customer",
        "还在吗？",
        "m1",
    )
    assert (message["intent"], message["confidence"]) == ("order_status", 0.93)
    assert message["sent_at"] == event["timestamp"]
    # the broker retries: the same event again is not news
    again = await bridge.post("/api/rasa/events", json=[event, event])
    assert again == {"received": 2, "relayed": 0}
    assert "message.customer" not in await quiet_until_sentinel(bridge, alice_console, "s1")
    assert not any(
        name.startswith("message.")
        for name in await quiet_until_sentinel(bridge, bob_console, "s2")
    )


async def test_the_agents_own_messages_reach_only_their_console(bridge):
    ticket, alice, alice_console, _, bob_console = await two_agents_one_live_conversation(bridge)
    sent = await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", alice, json={"text": "马上帮您查"}, expect=201
    )
    seen = await alice_console.until(
        lambda event, data: event == "message.agent" and data["text"] == "马上帮您查"
    )
    assert seen[-1][1]["message_id"] == sent["message_id"]
    # Rasa's broker then echoes the bot event the bridge appended: not relayed twice
    (appended,) = bridge.rasa.calls[-1].body
    broker_copy = {"sender_id": "c1", "timestamp": time.time(), **appended}
    assert await bridge.post("/api/rasa/events", json=[broker_copy]) == {
        "received": 1,
        "relayed": 0,
    }
    assert "message.agent" not in await quiet_until_sentinel(bridge, alice_console, "s1")
    assert not any(
        name.startswith("message.")
        for name in await quiet_until_sentinel(bridge, bob_console, "s2")
    )


async def test_an_offered_conversation_is_relayed_to_the_agent_it_is_offered_to(bridge):
    alice = await bridge.add("alice", online=True)
    console = await bridge.console(alice)
    ticket = (await bridge.handoff("c1"))["ticket"]
    await bridge.offered(ticket["id"], alice)
    await bridge.post("/api/rasa/events", json=[user_event("c1", "在吗", message_id="m1")])
    message = await console.next("message.customer")
    assert message["owner_id"] == alice.id


async def test_only_live_conversations_are_relayed(bridge):
    await bridge.add(online=True)
    await bridge.handoff("live")
    await bridge.open_ticket("not-live")
    now = time.time()
    events = [
        user_event("not-live", "hello", message_id="m1"),
        user_event("nobody", "hello", message_id="m2"),
        {"sender_id": "live", "event": "slot", "name": "order_id", "value": "A1", "timestamp": now},
        {"sender_id": "live", "event": "action", "name": "action_listen", "timestamp": now},
        {"event": "user", "text": "no sender", "timestamp": now},
        # the message that asked for a human is saved after the handoff ran
        user_event("live", "转人工", message_id="m3", at=now - 60),
        {"sender_id": "live", "event": "bot", "text": "请稍候", "timestamp": now},
    ]
    assert await bridge.post("/api/rasa/events", json=events) == {"received": 7, "relayed": 1}


async def test_the_broker_must_send_a_list_of_events(bridge):
    for payload in ({"event": "user"}, "user", None):
        await bridge.post("/api/rasa/events", json=payload, expect=422)
    body = await bridge.post("/api/rasa/events", json=[{"event": "x"}] * 1001, expect=422)
    assert body["error"]["code"] == "invalid_input"


async def test_a_full_broker_batch_is_accepted(bridge):
    """The event broker (`addons/broker.py`) posts up to 200 events at once
    and drops any batch the bridge refuses with a 4xx."""
    await bridge.add(online=True)
    await bridge.handoff("c1")
    batch = [user_event("c1", "我的订单到哪了？", message_id=f"m{i}") for i in range(200)]
    answer = await bridge.post("/api/rasa/events", json=batch)
    assert answer == {"received": 200, "relayed": 200}


async def test_conversations_with_the_bot_cost_no_database_round_trip(bridge):
    """The relay knows which conversations are live from the bus's ticket
    events: the broker's events of everyone else are dropped unread."""
    await bridge.add(online=True)
    await bridge.handoff("live")
    statements: list[str] = []

    def record(connection, cursor, statement, *rest) -> None:
        statements.append(statement)

    engine = bridge.app[DATABASE].engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        now = time.time()
        chatting = [user_event(f"bot-{i}", "你好", message_id=f"b{i}") for i in range(20)] + [
            {"sender_id": f"bot-{i}", "event": "bot", "text": "您好", "timestamp": now}
            for i in range(20)
        ]
        assert await bridge.post("/api/rasa/events", json=chatting) == {
            "received": 40,
            "relayed": 0,
        }
        assert statements == []
        # The live conversation's message still finds its ticket.
        live = [user_event("live", "在吗", message_id="l1")]
        assert await bridge.post("/api/rasa/events", json=live) == {"received": 1, "relayed": 1}
        assert statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
