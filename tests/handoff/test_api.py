"""The bridge's JSON API: who may call what, how bad requests are refused,
and the work agents do on tickets, checked on what the bridge sent Rasa."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import sqlalchemy.exc

from handoff.app_keys import DATABASE
from tests.handoff.conftest import (
    API_TOKEN,
    PASSWORD,
    SERVICE,
    Bridge,
    history_names,
)

CONSOLE_ONLY = [
    ("POST", "/api/tickets/{id}/claim"),
    ("POST", "/api/tickets/{id}/decline"),
    ("POST", "/api/tickets/{id}/assign"),
    ("POST", "/api/tickets/{id}/transfer"),
    ("POST", "/api/tickets/{id}/release"),
    ("POST", "/api/tickets/{id}/messages"),
    ("GET", "/api/tickets/{id}/context"),
    ("GET", "/api/tickets/{id}/suggestions"),
    ("GET", "/api/agents"),
    ("POST", "/api/agents"),
    ("PUT", "/api/agents/me/presence"),
    ("GET", "/api/session"),
]


async def live_ticket(bridge: Bridge, conversation_id: str = "c1", **fields) -> tuple:
    """A live conversation claimed by a fresh online agent: (ticket, agent)."""
    agent = await bridge.add(online=True)
    result = await bridge.handoff(conversation_id, **fields)
    assert result["live"]
    ticket = await bridge.claim(result["ticket"]["id"], agent)
    return ticket, agent


# --- authentication and roles --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/tickets"), ("POST", "/api/handoffs"), ("GET", "/api/queue")],
)
async def test_without_credentials_the_api_answers_401(bridge, method, path):
    body = await bridge.call(method, path, None, json={}, expect=401)
    assert body["error"]["code"] == "not_authenticated"


async def test_a_wrong_api_token_is_401(bridge):
    for header in [f"Bearer {API_TOKEN}x", "Bearer ", f"Bearer {API_TOKEN[:-1]}", "Bearer x"]:
        body = await bridge.get("/api/tickets", {"Authorization": header}, expect=401)
        assert body["error"] == {
            "code": "not_authenticated",
            "message": "The API token is not valid.",
        }


async def test_an_empty_configured_token_lets_no_machine_in(start_bridge):
    bridge = await start_bridge(api_token="")
    await bridge.get("/api/tickets", {"Authorization": "Bearer "}, expect=401)
    await bridge.get("/api/tickets", {"Authorization": "Bearer x"}, expect=401)


async def test_the_api_token_cannot_use_console_endpoints(bridge):
    ticket = await bridge.open_ticket()
    for method, path in CONSOLE_ONLY:
        body = await bridge.call(method, path.format(id=ticket["id"]), SERVICE, json={}, expect=403)
        assert body["error"] == {
            "code": "forbidden",
            "message": "This endpoint is for signed-in staff, not the API token.",
        }


async def test_analysts_read_tickets_but_never_work_on_them(bridge):
    analyst = await bridge.add("ana", role="analyst")
    ticket = await bridge.open_ticket()
    path = f"/api/tickets/{ticket['id']}"
    assert (await bridge.get(path, analyst))["id"] == ticket["id"]
    assert (await bridge.get("/api/tickets", analyst))["total"] == 1
    await bridge.get("/api/queue", analyst)
    await bridge.get("/api/agents", analyst)
    for method, action, payload in [
        ("POST", "/claim", None),
        ("POST", "/messages", {"text": "hello"}),
        ("POST", "/notes", {"text": "a note"}),
        ("PATCH", "/status", {"status": "closed"}),
        ("POST", "/assign", {"agent_id": analyst.id}),
        ("POST", "/release", None),
        ("GET", "/context", None),
    ]:
        body = await bridge.call(method, path + action, analyst, json=payload, expect=403)
        assert body["error"]["code"] == "forbidden", action
    await bridge.call(
        "PUT", "/api/agents/me/presence", analyst, json={"presence": "online"}, expect=403
    )
    after = await bridge.ticket(ticket["id"])
    assert after["status"] == "pending" and after["notes"] == []
    assert history_names(after) == ["ticket.created"]


async def test_only_admins_create_agents(bridge):
    agent = await bridge.add()
    payload = {"username": "newbie", "password": "long enough"}
    body = await bridge.post("/api/agents", agent, json=payload, expect=403)
    assert body["error"]["code"] == "forbidden"
    created = await bridge.post("/api/agents", await bridge.admin(), json=payload, expect=201)
    assert created["role"] == "agent" and created["presence"] == "offline"
    assert created["languages"] == ["zh", "en"] and created["capacity"] == 3
    assert "password" not in json.dumps(created)
    newbie = await bridge.login("newbie", "long enough")
    assert (newbie.id, newbie.role) == (created["id"], "agent")


async def test_invalid_agents_are_refused(bridge):
    for payload in [
        {"username": "x", "password": "long enough"},
        {"username": "has space", "password": "long enough"},
        {"username": "shorty", "password": "short"},
        {"username": "roles", "password": "long enough", "role": "boss"},
        {"username": "cap", "password": "long enough", "capacity": 0},
    ]:
        body = await bridge.post("/api/agents", await bridge.admin(), json=payload, expect=422)
        assert body["error"]["code"] == "invalid_input", payload


async def test_usernames_are_unique(bridge):
    await bridge.add("dup")
    payload = {"username": "dup", "password": "long enough"}
    body = await bridge.post("/api/agents", await bridge.admin(), json=payload, expect=409)
    assert "dup" in body["error"]["message"]


# --- bad requests ----------------------------------------------------------------------


MALFORMED = [
    (b"{oops", "not valid JSON"),
    (b"", "must be a JSON object"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"a string"', "must be a JSON object"),
    (b"\xff\xfe", "not valid JSON"),
]


@pytest.mark.parametrize("path", ["/api/tickets", "/api/handoffs"])
async def test_malformed_bodies_are_422_and_store_nothing(bridge, path):
    for data, says in MALFORMED:
        body = await bridge.post(
            path,
            data=data,
            headers={**SERVICE, "Content-Type": "application/json"},
            expect=422,
        )
        assert body["error"]["code"] == "invalid_input"
        assert says in body["error"]["message"], data
    assert (await bridge.get("/api/tickets"))["total"] == 0


SCHEMA_BREAKERS = [
    ({"title": "no conversation"}, "conversation_id"),
    ({"conversation_id": "c"}, "title"),
    ({"conversation_id": "", "title": "t"}, "conversation_id"),
    ({"conversation_id": "c", "title": ""}, "title"),
    ({"conversation_id": "c" * 256, "title": "t"}, "conversation_id"),
    ({"conversation_id": "c", "title": "t", "description": "d" * 4001}, "description"),
    ({"conversation_id": "c", "title": "t", "priority": "asap"}, "priority"),
    ({"conversation_id": "c", "title": "t", "category": "billing"}, "category"),
    ({"conversation_id": "c", "title": "t", "language": "fr"}, "language"),
    ({"conversation_id": "c", "title": "t", "handoff_reason": "bored"}, "handoff_reason"),
    ({"conversation_id": "c", "title": "t", "customer": "Bob"}, "customer"),
    ({"conversation_id": "c", "title": "t", "context": [1]}, "context"),
]


@pytest.mark.parametrize("path", ["/api/tickets", "/api/handoffs"])
async def test_bodies_that_break_the_schema_are_422_naming_the_field(bridge, path):
    for payload, field in SCHEMA_BREAKERS:
        body = await bridge.post(path, json=payload, expect=422)
        error = body["error"]
        assert error["code"] == "invalid_input"
        assert error["message"] == "The body does not match the schema."
        assert field in [problem["loc"][0] for problem in error["details"]["errors"]], payload
    assert (await bridge.get("/api/tickets"))["total"] == 0


async def test_a_blank_title_is_refused(bridge):
    """Titles are stripped, so "   " would become an empty title."""
    body = await bridge.post(
        "/api/tickets", json={"conversation_id": "c", "title": "   "}, expect=422
    )
    assert body["error"]["code"] == "invalid_input"
    assert (await bridge.get("/api/tickets"))["total"] == 0


# The bridge answers before reading an oversized body. A client in the same
# event loop that reuses the connection afterwards then stalls (an aiohttp
# quirk of in-process tests, not seen across processes), so these close it.
CLOSE = {**SERVICE, "Connection": "close"}


async def test_an_oversized_body_is_refused_and_stores_nothing(bridge):
    payload = {"conversation_id": "c", "title": "t", "context": {"blob": "x" * 300_000}}
    async with bridge.client.post("/api/tickets", json=payload, headers=CLOSE) as response:
        assert 400 <= response.status < 500
        body = await response.json()
    assert "256 KiB" in body["error"]["message"]
    assert (await bridge.get("/api/tickets"))["total"] == 0


async def test_an_oversized_chunked_body_is_refused_and_stores_nothing(bridge):
    """Without a Content-Length the size is only known while reading."""

    async def chunks():
        yield b'{"conversation_id": "c", "title": "t", "context": {"blob": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}}'

    headers = {**CLOSE, "Content-Type": "application/json"}
    async with bridge.client.post("/api/tickets", data=chunks(), headers=headers) as response:
        assert 400 <= response.status < 500
        body = await response.json()
    assert body["error"]["message"]
    assert (await bridge.get("/api/tickets"))["total"] == 0


async def test_ticket_ids_in_paths_must_be_numbers(bridge):
    body = await bridge.get("/api/tickets/abc", expect=422)
    assert body["error"]["message"] == (
        "ticket_id must be a whole number from 1 to 2147483647, not 'abc'."
    )
    body = await bridge.get("/api/tickets/999", expect=404)
    assert body["error"] == {"code": "not_found", "message": "Ticket 999 does not exist."}


async def test_malformed_list_parameters_are_422(bridge):
    for query in [
        "assignee_id=abc",
        "live=maybe",
        "limit=ten",
        "offset=x",
        "created_from=yesterday",
        "created_until=2026-13-45",
    ]:
        body = await bridge.get(f"/api/tickets?{query}", expect=422)
        assert body["error"]["code"] == "invalid_input"
        assert query.split("=")[1] in body["error"]["message"]


@pytest.mark.parametrize("query", ["status=bogus", "category=billing", "priority=asap"])
async def test_unknown_values_of_enumerated_filters_are_422(bridge, query):
    """A typo in a filter must not look like "no tickets"."""
    await bridge.open_ticket()
    body = await bridge.get(f"/api/tickets?{query}", expect=422)
    assert body["error"]["code"] == "invalid_input"
    assert query.split("=")[1] in body["error"]["message"]


# --- handing off -----------------------------------------------------------------------


async def test_with_nobody_online_a_handoff_is_a_follow_up_ticket(bridge):
    await bridge.add()  # signed up, but offline
    result = await bridge.handoff("c1", category="after_sales", handoff_reason="asked")
    assert result["live"] is False and result["linked"] is False
    assert result["agents_online"] == 0
    assert result["queue_position"] is None and result["estimated_wait_seconds"] is None
    ticket = result["ticket"]
    assert (ticket["source"], ticket["status"], ticket["queued_at"]) == (
        "assistant",
        "pending",
        None,
    )
    assert (await bridge.get("/api/queue"))["tickets"] == []
    assert bridge.rasa.calls == []


async def test_agents_away_or_without_the_skill_do_not_count(bridge):
    away = await bridge.add(online=True)
    await bridge.presence(away, "away")
    await bridge.add(online=True, skills=["technical"])
    await bridge.add(online=True, languages=["en"])
    result = await bridge.handoff("c1", category="after_sales", language="zh")
    assert (result["live"], result["agents_online"]) == (False, 0)


async def test_with_an_agent_online_the_customer_waits_in_the_live_queue(bridge):
    await bridge.add(online=True)
    first = await bridge.handoff("c1")
    assert first["live"] is True and first["agents_online"] == 1
    assert first["queue_position"] == 1
    assert first["estimated_wait_seconds"] == 30
    assert first["ticket"]["queued_at"] is not None
    second = await bridge.handoff("c2")
    assert second["queue_position"] == 2
    # one agent clears one conversation per average handling time (120 s here)
    assert second["estimated_wait_seconds"] == 150


# --- working on a live conversation -------------------------------------------------------


async def test_claiming_tells_the_customer_through_rasa(bridge):
    ticket, agent = await live_ticket(bridge, "c1", language="en")
    assert ticket["status"] == "in_progress" and ticket["assignee_id"] == agent.id
    assert ticket["assignee"] == {"id": agent.id, "display_name": agent.display_name}
    (call,) = bridge.rasa.calls_for("c1")
    assert call.method == "POST" and call.path == "/conversations/c1/tracker/events"
    assert call.query == {
        "include_events": "NONE",
        "output_channel": "latest",
        "execute_side_effects": "true",
    }
    (event,) = call.body
    assert event["event"] == "bot" and agent.display_name in event["text"]
    assert event["metadata"]["agent_id"] == agent.id
    assert event["metadata"]["ticket_id"] == ticket["id"]


async def test_an_agent_message_goes_to_the_customer_on_their_latest_channel(bridge):
    ticket, agent = await live_ticket(bridge, "wechat:o6_bmjr")
    message = await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", agent, json={"text": "您好，我来看看"}, expect=201
    )
    assert message["sender"] == "agent" and message["agent_id"] == agent.id
    assert message["conversation_id"] == "wechat:o6_bmjr" and message["message_id"]
    call = bridge.rasa.calls[-1]
    assert call.path == "/conversations/wechat:o6_bmjr/tracker/events"
    assert call.query["output_channel"] == "latest"
    assert call.query["execute_side_effects"] == "true"
    assert call.body == [
        {
            "event": "bot",
            "text": "您好，我来看看",
            "metadata": {
                "agent_id": agent.id,
                "agent_name": agent.display_name,
                "agent_avatar": None,
                "ticket_id": ticket["id"],
                "message_id": message["message_id"],
            },
        }
    ]
    after = await bridge.ticket(ticket["id"])
    assert after["first_response_at"] is not None


async def test_only_the_assignee_writes_to_the_customer(bridge):
    ticket, _ = await live_ticket(bridge)
    other = await bridge.add(online=True)
    admin = await bridge.admin()
    for who in (other, admin):
        body = await bridge.post(
            f"/api/tickets/{ticket['id']}/messages", who, json={"text": "hi"}, expect=403
        )
        assert body["error"]["code"] == "forbidden"


async def test_no_messages_once_the_customer_is_gone(bridge):
    agent = await bridge.add()
    ticket = await bridge.open_ticket()
    await bridge.claim(ticket["id"], agent)
    body = await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", agent, json={"text": "hi"}, expect=409
    )
    assert "no longer connected" in body["error"]["message"]
    assert bridge.rasa.calls == []


async def test_when_rasa_is_down_a_message_fails_with_502_and_is_not_counted(bridge):
    ticket, agent = await live_ticket(bridge)
    bridge.rasa.down = True
    body = await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", agent, json={"text": "hi"}, expect=502
    )
    assert body["error"]["code"] == "rasa_unavailable"
    assert (await bridge.ticket(ticket["id"]))["first_response_at"] is None


async def test_a_reply_sent_again_with_its_client_id_reaches_the_customer_once(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    path = f"/api/tickets/{ticket['id']}/messages"
    greeting = len(bridge.rasa.logged_agent_messages("c1"))  # the claim's "agent joined"
    reply = {"text": "您好，我来看看", "client_message_id": "reply-0001"}
    first = await bridge.post(path, agent, json=reply, expect=201)
    again = await bridge.post(path, agent, json=reply, expect=201)
    assert again == first
    assert bridge.rasa.logged_agent_messages("c1")[greeting:] == ["您好，我来看看"]
    # Without an id every send is a new reply.
    await bridge.post(path, agent, json={"text": "ok"}, expect=201)
    await bridge.post(path, agent, json={"text": "ok"}, expect=201)
    assert bridge.rasa.logged_agent_messages("c1")[greeting + 1 :] == ["ok", "ok"]


async def test_a_client_id_names_one_reply_even_after_the_ticket_moved_on(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    path = f"/api/tickets/{ticket['id']}/messages"
    reply = {"text": "稍等", "client_message_id": "id-00001"}
    first = await bridge.post(path, agent, json=reply, expect=201)
    body = await bridge.post(
        path, agent, json={"text": "别的话", "client_message_id": "id-00001"}, expect=409
    )
    assert "different reply" in body["error"]["message"]
    await bridge.set_status(ticket["id"], "resolved", agent)
    # The answer to a late retry is the reply as sent, not "no longer connected".
    again = await bridge.post(path, agent, json=reply, expect=201)
    assert again == first
    assert bridge.rasa.logged_agent_messages("c1").count("稍等") == 1


async def test_concurrent_sends_of_one_reply_deliver_it_once(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    path = f"/api/tickets/{ticket['id']}/messages"
    greeting = len(bridge.rasa.logged_agent_messages("c1"))  # the claim's "agent joined"
    reply = {"text": "hi", "client_message_id": "double-click"}
    # Rasa is slow to log the first send: the others must wait for it, not
    # look in the tracker and send again.
    bridge.rasa.append_delay = 0.2
    sent = await asyncio.gather(
        *(bridge.post(path, agent, json=reply, expect=201) for _ in range(3))
    )
    assert len({message["message_id"] for message in sent}) == 1
    assert bridge.rasa.logged_agent_messages("c1")[greeting:] == ["hi"]


async def test_a_reply_whose_answer_was_lost_is_found_not_sent_again(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    path = f"/api/tickets/{ticket['id']}/messages"
    greeting = len(bridge.rasa.logged_agent_messages("c1"))  # the claim's "agent joined"
    reply = {"text": "您的退款已提交", "client_message_id": "lost-answer-1"}
    bridge.rasa.loses_answers = True
    await bridge.post(path, agent, json=reply, expect=502)
    bridge.rasa.loses_answers = False
    retried = await bridge.post(path, agent, json=reply, expect=201)
    assert bridge.rasa.logged_agent_messages("c1")[greeting:] == ["您的退款已提交"]
    logged = bridge.rasa.sent_events("c1")[-1]["metadata"]
    assert retried["message_id"] == logged["message_id"]
    assert logged["client_message_id"] == "lost-answer-1"


async def test_a_reply_rasa_never_got_is_sent_on_retry(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    path = f"/api/tickets/{ticket['id']}/messages"
    greeting = len(bridge.rasa.logged_agent_messages("c1"))  # the claim's "agent joined"
    reply = {"text": "hi", "client_message_id": "rasa-was-down"}
    bridge.rasa.down = True
    await bridge.post(path, agent, json=reply, expect=502)
    bridge.rasa.down = False
    await bridge.post(path, agent, json=reply, expect=201)
    assert bridge.rasa.logged_agent_messages("c1")[greeting:] == ["hi"]


@pytest.mark.parametrize("client_message_id", ["short", "x" * 65, "has space", "<b>1234</b>"])
async def test_client_message_ids_are_checked(bridge, client_message_id):
    ticket, agent = await live_ticket(bridge)
    await bridge.post(
        f"/api/tickets/{ticket['id']}/messages",
        agent,
        json={"text": "hi", "client_message_id": client_message_id},
        expect=422,
    )
    assert "hi" not in bridge.rasa.agent_messages(ticket["conversation_id"])


@pytest.mark.parametrize("text", ["", "x" * 4001], ids=["empty", "too-long"])
async def test_messages_must_have_sensible_length(bridge, text):
    ticket, agent = await live_ticket(bridge)
    await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", agent, json={"text": text}, expect=422
    )


async def test_resolving_gives_the_conversation_back_to_the_bot(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    resolved = await bridge.set_status(ticket["id"], "resolved", agent, comment="refunded")
    assert resolved["status"] == "resolved" and resolved["live"] is False
    assert resolved["resolved_at"] is not None
    assert bridge.rasa.trail("c1") == [
        "bot",
        "bot",  # the agent's notice that they are done: handoff_state "resolved"
        "resume",
        "action",
        "intent:EXTERNAL_handoff_resolved",
    ]
    trigger = bridge.rasa.calls[-1]
    assert trigger.path == "/conversations/c1/trigger_intent"
    assert trigger.body == {
        "name": "EXTERNAL_handoff_resolved",
        "entities": {"ticket_id": str(ticket["id"])},
    }
    assert trigger.query == {
        "output_channel": "latest",
        "include_events": "NONE",
    }
    event = (await bridge.ticket(ticket["id"]))["history"][-1]
    assert (event["name"], event["from_status"], event["to_status"]) == (
        "ticket.status_changed",
        "in_progress",
        "resolved",
    )
    assert event["actor"] == f"agent:{agent.username}" and event["details"] == {
        "comment": "refunded"
    }


async def test_a_rasa_failure_does_not_undo_a_resolution(bridge):
    ticket, agent = await live_ticket(bridge)
    bridge.rasa.down = True
    resolved = await bridge.set_status(ticket["id"], "resolved", agent)
    assert resolved["status"] == "resolved"


async def test_only_the_assignee_or_an_admin_resolves(bridge):
    ticket, _ = await live_ticket(bridge)
    other = await bridge.add()
    await bridge.set_status(ticket["id"], "resolved", other, expect=403)
    resolved = await bridge.set_status(ticket["id"], "resolved", await bridge.admin())
    assert resolved["status"] == "resolved"


async def test_closing_a_waiting_live_conversation_gives_it_back_to_the_bot(bridge):
    """The assistant paused the conversation when it went live; whatever
    ends the live part must resume it."""
    await bridge.add(online=True)
    result = await bridge.handoff("c1")
    assert result["live"]
    closed = await bridge.set_status(result["ticket"]["id"], "closed")
    assert closed["live"] is False
    assert "resume" in bridge.rasa.trail("c1")


async def test_releasing_keeps_the_ticket_but_not_the_conversation(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    released = await bridge.post(f"/api/tickets/{ticket['id']}/release", agent)
    assert released["live"] is False
    assert (released["status"], released["assignee_id"]) == ("in_progress", agent.id)
    assert bridge.rasa.trail("c1")[-3:] == [
        "resume",
        "action",
        "intent:EXTERNAL_handoff_released",
    ]
    body = await bridge.post(f"/api/tickets/{ticket['id']}/release", agent, expect=409)
    assert body["error"]["code"] == "conflict"
    assert history_names(await bridge.ticket(ticket["id"]))[-1] == "ticket.released"


async def test_transferring_to_a_colleague(bridge):
    ticket, alice = await live_ticket(bridge, "c1", language="en")
    bob = await bridge.add("bob", online=True)
    moved = await bridge.post(
        f"/api/tickets/{ticket['id']}/transfer",
        alice,
        json={"agent_id": bob.id, "comment": "billing question"},
    )
    assert moved["assignee_id"] == bob.id and moved["status"] == "in_progress"
    assert moved["assignee"]["display_name"] == "Bob"
    assert "transferring you" in bridge.rasa.agent_messages("c1")[-1]
    await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", alice, json={"text": "hi"}, expect=403
    )
    await bridge.post(f"/api/tickets/{ticket['id']}/messages", bob, json={"text": "hi"}, expect=201)
    event = (await bridge.ticket(ticket["id"]))["history"][-1]
    assert event["name"] == "ticket.transferred" and event["agent_id"] == alice.id
    assert event["details"] == {"to_agent_id": bob.id, "comment": "billing question"}


async def test_transferring_to_a_skill_group_puts_it_back_in_that_queue(bridge):
    ticket, alice = await live_ticket(bridge, "c1", category="general")
    tech = await bridge.add("tech", online=True, skills=["technical"])
    moved = await bridge.post(
        f"/api/tickets/{ticket['id']}/transfer", alice, json={"skill_group": "technical"}
    )
    assert (moved["status"], moved["skill_group"], moved["assignee_id"]) == (
        "pending",
        "technical",
        None,
    )
    assert moved["live"] is True
    # alice passed it on, so only the technical agent is offered it
    await bridge.offered(ticket["id"], tech)
    names = history_names(await bridge.ticket(ticket["id"]))
    assert names[-3:] == ["ticket.status_changed", "ticket.transferred", "ticket.offered"]


@pytest.mark.parametrize(
    "payload", [{}, {"agent_id": 1, "skill_group": "technical"}, {"skill_group": "billing"}]
)
async def test_a_transfer_names_exactly_one_target(bridge, payload):
    ticket, alice = await live_ticket(bridge)
    await bridge.post(f"/api/tickets/{ticket['id']}/transfer", alice, json=payload, expect=422)
    assert (await bridge.ticket(ticket["id"]))["assignee_id"] == alice.id


async def test_only_the_assignee_transfers(bridge):
    ticket, _ = await live_ticket(bridge)
    other = await bridge.add()
    await bridge.post(
        f"/api/tickets/{ticket['id']}/transfer", other, json={"skill_group": "general"}, expect=403
    )


async def test_admins_assign_agents_only_themselves(bridge):
    ticket = await bridge.open_ticket()
    alice, bob = await bridge.add("alice"), await bridge.add("bob")
    await bridge.post(
        f"/api/tickets/{ticket['id']}/assign", alice, json={"agent_id": bob.id}, expect=403
    )
    mine = await bridge.post(
        f"/api/tickets/{ticket['id']}/assign", alice, json={"agent_id": alice.id}
    )
    assert mine["assignee_id"] == alice.id
    moved = await bridge.post(
        f"/api/tickets/{ticket['id']}/assign", await bridge.admin(), json={"agent_id": bob.id}
    )
    assert moved["assignee_id"] == bob.id


async def test_notes_stay_internal(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    calls = len(bridge.rasa.calls)
    note = await bridge.post(
        f"/api/tickets/{ticket['id']}/notes", agent, json={"text": "VIP customer"}, expect=201
    )
    assert (note["author"], note["text"]) == (agent.display_name, "VIP customer")
    await bridge.post(
        f"/api/tickets/{ticket['id']}/notes", json={"text": "from a form"}, expect=201
    )
    await bridge.post(f"/api/tickets/{ticket['id']}/notes", agent, json={"text": ""}, expect=422)
    await bridge.post("/api/tickets/999/notes", agent, json={"text": "x"}, expect=404)
    stored = await bridge.ticket(ticket["id"])
    assert [(n["author"], n["text"]) for n in stored["notes"]] == [
        (agent.display_name, "VIP customer"),
        ("service", "from a form"),
    ]
    assert history_names(stored).count("ticket.note_added") == 2
    assert len(bridge.rasa.calls) == calls


# --- what agents see -------------------------------------------------------------------


async def test_the_context_shows_the_conversation_and_slots(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    bridge.rasa.trackers["c1"] = {
        "sender_id": "c1",
        "slots": {
            "product": "耳机",
            "order_id": "A1001",
            "requested_slot": "order_id",
            "email": None,
            "category": "after_sales",
        },
        "events": [
            {"event": "action", "name": "action_listen", "timestamp": 1.0},
            {
                "event": "user",
                "text": "耳机坏了",
                "timestamp": 2.0,
                "parse_data": {"intent": {"name": "report_problem", "confidence": 0.9}},
            },
            {"event": "bot", "text": "抱歉", "timestamp": 3.0, "metadata": {}},
            {"event": "pause", "timestamp": 4.0},
            {
                "event": "user",
                "text": "/EXTERNAL_handoff_resolved",
                "timestamp": 5.0,
                "parse_data": {"intent": {"name": "EXTERNAL_handoff_resolved"}},
            },
            {
                "event": "bot",
                "text": "您好",
                "timestamp": 6.0,
                "metadata": {"agent_id": agent.id, "agent_name": "Agent1"},
            },
        ],
    }
    earlier = await bridge.open_ticket("c1", title="earlier")
    context = await bridge.get(f"/api/tickets/{ticket['id']}/context", agent)
    assert context["ticket"]["id"] == ticket["id"] and context["rasa_error"] is None
    assert [(t["sender"], t["text"]) for t in context["transcript"]] == [
        ("customer", "耳机坏了"),
        ("bot", "抱歉"),
        ("system", "pause"),
        ("agent", "您好"),
    ]
    assert context["transcript"][0]["at"] == "1970-01-01T00:00:02.000Z"
    assert list(context["slots"]) == ["order_id", "category", "product"]
    assert [t["id"] for t in context["past_tickets"]] == [earlier["id"]]
    call = bridge.rasa.calls[-1]
    assert call.path == "/conversations/c1/tracker" and call.query["include_events"] == "ALL"


async def test_the_context_opens_without_rasa(bridge):
    ticket, agent = await live_ticket(bridge)
    bridge.rasa.down = True
    context = await bridge.get(f"/api/tickets/{ticket['id']}/context", agent)
    assert context["rasa_error"] and context["transcript"] == []


async def test_suggestions_come_from_the_faq_retriever_in_the_customer_language(bridge):
    ticket, agent = await live_ticket(bridge, "c1", language="en")
    bridge.rasa.parse_result = {
        "intent": {"name": "faq", "confidence": 0.98},
        "faq": {
            "confidence": 0.9,
            "ranking": [
                {
                    "key": "faq/returns_no_reason_policy",
                    "score": 0.91,
                    "question": {"zh": "可以无理由退货吗", "en": "Can I return for any reason"},
                },
                {"key": "faq/unanswerable", "score": 0.2, "question": {}},
            ],
        },
    }
    bridge.rasa.domain = {
        "responses": {
            "utter_faq/returns_no_reason_policy": [
                {"text": "支持。"},
                {
                    "text": "Yes, within 7 days.",
                    "condition": [{"type": "slot", "name": "language", "value": "en"}],
                },
            ]
        }
    }
    found = await bridge.get(f"/api/tickets/{ticket['id']}/suggestions?text=can+I+return+it", agent)
    assert found == {
        "text": "can I return it",
        "suggestions": [
            {
                "key": "faq/returns_no_reason_policy",
                "score": 0.91,
                "question": "Can I return for any reason",
                "answer": "Yes, within 7 days.",
            }
        ],
        "assistant_unreachable": False,
    }
    parse = next(call for call in bridge.rasa.calls if call.path == "/model/parse")
    assert parse.body == {"text": "can I return it"}
    # the domain only changes with a new model: it is fetched once
    await bridge.get(f"/api/tickets/{ticket['id']}/suggestions?text=return", agent)
    assert [call.path for call in bridge.rasa.calls].count("/domain") == 1


async def test_suggestions_default_to_the_customers_latest_message(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    bridge.rasa.trackers["c1"] = {
        "events": [
            {"event": "user", "text": "退货要运费吗"},
            {"event": "user", "text": "/request_human"},
        ]
    }
    found = await bridge.get(f"/api/tickets/{ticket['id']}/suggestions", agent)
    assert found == {"text": "退货要运费吗", "suggestions": [], "assistant_unreachable": False}


async def test_agents_see_each_others_load(bridge):
    _, alice = await live_ticket(bridge)
    listing = await bridge.get("/api/agents", alice)
    load = {agent["username"]: agent["active"] for agent in listing["agents"]}
    assert load == {"admin": 0, alice.username: 1}
    assert "password_hash" not in json.dumps(listing)


async def test_presence_must_be_a_known_value(bridge):
    agent = await bridge.add()
    await bridge.call(
        "PUT", "/api/agents/me/presence", agent, json={"presence": "busy"}, expect=422
    )
    assert (await bridge.presence(agent, "away"))["presence"] == "away"
    assert (await bridge.agent(agent))["presence"] == "away"


async def test_health_needs_no_credentials(bridge):
    health = await bridge.get("/health", None)
    assert health["status"] == "ok" and health["instance"]


async def test_every_answer_carries_the_security_headers(bridge):
    async with bridge.client.get("/api/tickets") as response:
        assert response.status == 401
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


async def test_a_second_request_adds_only_the_new_lines_to_the_description(bridge):
    first = await bridge.handoff("c1", description="客户：我要退货\n机器人：请提供订单号")
    transcript = "机器人：请提供订单号\n客户：250203118876\n客户：转人工"
    again = await bridge.handoff("c1", description=transcript, expect=200)
    assert again["linked"] and again["ticket"]["id"] == first["ticket"]["id"]
    assert again["ticket"]["description"] == (
        "客户：我要退货\n机器人：请提供订单号\n客户：250203118876\n客户：转人工"
    )
    # Past the limit the newest lines stay.
    for batch in range(3):
        lines = "\n".join(f"客户：第{batch}-{n}句" + "字" * 200 for n in range(8))
        latest = await bridge.handoff("c1", description=lines, expect=200)
    description = latest["ticket"]["description"]
    assert len(description) == 4000 and description.endswith("第2-7句" + "字" * 200)


async def test_lines_a_conversation_repeats_are_kept_in_the_description(bridge):
    await bridge.handoff("c1", description="客户：转人工\n机器人：正在为您转接")
    latest = "机器人：正在为您转接\n客户：好的\n客户：转人工\n机器人：正在为您转接"
    again = await bridge.handoff("c1", description=latest, expect=200)
    assert again["ticket"]["description"].splitlines() == [
        "客户：转人工",
        "机器人：正在为您转接",
        "客户：好的",
        "客户：转人工",
        "机器人：正在为您转接",
    ]


async def test_a_handoff_for_a_new_problem_after_resolution_opens_a_new_ticket(bridge):
    ticket, agent = await live_ticket(bridge, "c1")
    await bridge.set_status(ticket["id"], "resolved", agent)
    again = await bridge.handoff("c1")
    assert again["linked"] is False and again["ticket"]["id"] != ticket["id"]
    await bridge.offered(again["ticket"]["id"], agent)


async def test_a_wrong_rasa_token_is_reported_as_rasa_unavailable(start_bridge):
    bridge = await start_bridge(rasa_token="not-rasas-token")
    ticket, agent = await live_ticket(bridge)
    body = await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", agent, json={"text": "hi"}, expect=502
    )
    assert body["error"]["code"] == "rasa_unavailable"
    assert bridge.rasa.calls[-1].query.get("token") is None  # the secret stays out of URLs


async def test_asking_again_after_a_release_does_not_wait_for_an_absent_agent(bridge):
    """The customer asks for a human again after their agent handed the
    conversation back and went offline: someone online must get it."""
    ticket, alice = await live_ticket(bridge, "c1")
    await bridge.post(f"/api/tickets/{ticket['id']}/release", alice)
    await bridge.presence(alice, "offline")
    bob = await bridge.add("bob", online=True)
    again = await bridge.handoff("c1", expect=200)
    assert again["live"] is True and again["ticket"]["id"] == ticket["id"]
    await bridge.offered(ticket["id"], bob)


# PostgreSQL refuses NUL in text even as a query parameter (psycopg2 raised
# ValueError, a 500), where SQLite just finds nothing.
@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("name", ["channel", "conversation_id"])
async def test_nul_in_a_list_filter_is_422(bridge, name):
    status, body = await bridge.request("GET", f"/api/tickets?{name}=a%00b", SERVICE)
    assert status == 422, body


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_nul_in_a_username_is_a_failed_sign_in(bridge):
    await bridge.add("agent1")
    status, body = await bridge.request(
        "POST", "/api/session", json={"username": "agent1\x00", "password": PASSWORD}
    )
    assert status == 401, body


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_events_of_a_conversation_id_with_nul_are_received_not_relayed(bridge):
    await live_ticket(bridge, "c1")
    now = time.time()
    events = [
        {"event": "user", "sender_id": "c1\x00", "text": "hi", "timestamp": now},
        {"event": "user", "sender_id": "c1", "text": "hello", "timestamp": now},
    ]
    body = await bridge.post("/api/rasa/events", json=events)
    assert body == {"received": 2, "relayed": 1}


async def test_an_unreachable_database_is_a_503_to_retry_not_a_500(bridge, monkeypatch):
    """PostgreSQL restarting: callers are told to try again, and nothing changed."""
    database = bridge.app[DATABASE]

    def unreachable():
        raise sqlalchemy.exc.OperationalError("SELECT", {}, ConnectionRefusedError(111))

    monkeypatch.setattr(database, "reading", unreachable)
    async with bridge.client.get(
        "/api/tickets", headers={"Authorization": f"Bearer {API_TOKEN}"}
    ) as response:
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
        assert (await response.json())["error"]["code"] == "database_unavailable"
