"""What the console reads of a ticket's conversation: Rasa's tracker for
the tickets whose conversation Rasa holds (the assistant's and the form's),
nothing of it for tickets opened over the API."""

from __future__ import annotations

from tests.handoff.conftest import Bridge

# What the form logs (its words as the customer's turn on `form`), then the
# contact's mail reply to the receipt and the agent's answer by mail.
FORM_CONVERSATION = [
    {"event": "action", "name": "action_listen", "timestamp": 1.0},
    {
        "event": "user",
        "text": "发票抬头写错了\n应为“云选科技”。",
        "timestamp": 2.0,
        "input_channel": "form",
        "parse_data": {},
    },
    {"event": "action", "name": "action_listen", "timestamp": 2.1},
    {
        "event": "user",
        "text": "另外还要一张电子发票",
        "timestamp": 3.0,
        "input_channel": "email",
        "parse_data": {"intent": {"name": "inform", "confidence": 0.8}},
    },
    {"event": "bot", "text": "已为您更正。", "timestamp": 4.0, "metadata": {"agent_id": 1}},
]


async def claimed_ticket(bridge: Bridge, conversation_id: str, source: str) -> tuple:
    agent = await bridge.add(online=True)
    ticket = await bridge.open_ticket(
        conversation_id, channel=source, source=source, description="发票抬头写错了"
    )
    await bridge.claim(ticket["id"], agent)
    return ticket, agent


async def test_a_form_tickets_conversation_shows_the_customers_later_mails(bridge: Bridge):
    ticket, agent = await claimed_ticket(bridge, "email-form-1", "form")
    bridge.rasa.trackers["email-form-1"] = {"events": FORM_CONVERSATION, "slots": {}}
    context = await bridge.get(f"/api/tickets/{ticket['id']}/context", agent)
    assert [(t["sender"], t["text"]) for t in context["transcript"]] == [
        ("customer", "发票抬头写错了\n应为“云选科技”。"),
        ("customer", "另外还要一张电子发票"),
        ("agent", "已为您更正。"),
    ]
    assert context["assistant_unreachable"] is False

    # Rasa away: the form's words, as the ticket keeps them.
    bridge.rasa.down = True
    context = await bridge.get(f"/api/tickets/{ticket['id']}/context", agent)
    assert context["assistant_unreachable"] is True
    assert [(t["sender"], t["text"]) for t in context["transcript"]] == [
        ("customer", "发票抬头写错了")
    ]


async def test_an_api_tickets_conversation_is_not_read_from_rasa(bridge: Bridge):
    ticket, agent = await claimed_ticket(bridge, "api-1", "api")
    bridge.rasa.trackers["api-1"] = {"events": FORM_CONVERSATION, "slots": {}}
    context = await bridge.get(f"/api/tickets/{ticket['id']}/context", agent)
    assert context["transcript"] == []
    assert not [call for call in bridge.rasa.calls if call.path == "/conversations/api-1/tracker"]
