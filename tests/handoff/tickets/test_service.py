"""Tickets in the database: the one transition function and its history,
handoffs that create or link tickets, the queue's order, listing, CSAT,
claims that race, and a restart. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from itertools import product
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from handoff.app_keys import DATABASE
from handoff.clock import utcnow
from handoff.errors import InvalidTransition
from handoff.replies import RETRY_WINDOW, SentReplies
from handoff.tickets import service as tickets
from handoff.tickets.enums import TRANSITIONS, TicketStatus
from handoff.tickets.models import AgentReply, Ticket, TicketIn
from tests.handoff.conftest import SERVICE, Bridge, eventually, history_names

# --- the transition function ------------------------------------------------------------


async def test_only_the_listed_transitions_are_allowed(database):
    for current, to in product(TicketStatus, TicketStatus):
        async with database.transaction() as db:
            ticket = await tickets.create(db, data=TicketIn(conversation_id="c", title="t"))
            await db.execute(
                update(Ticket).where(Ticket.id == ticket.id).values(status=current.value)
            )
            ticket = await tickets.get(db, ticket_id=ticket.id)
        async with database.transaction() as db:
            ticket = await tickets.get(db, ticket_id=ticket.id)
            if to in TRANSITIONS[current]:
                await tickets.transition(db, ticket=ticket, to=to, actor="system", comment="why")
            else:
                with pytest.raises(InvalidTransition) as refused:
                    await tickets.transition(db, ticket=ticket, to=to, actor="system")
                assert f"is {current.value}; it can move to" in refused.value.message
                assert refused.value.details == {"status": current.value, "requested": to.value}
        async with database.reading() as db:
            stored = await tickets.get(db, ticket_id=ticket.id)
            rows = await tickets.history(db, ticket_id=ticket.id)
        if to in TRANSITIONS[current]:
            assert stored.status == to.value
            (row,) = rows
            assert (row.name, row.actor, row.from_status, row.to_status) == (
                "ticket.status_changed",
                "system",
                current.value,
                to.value,
            )
            assert row.details == {"comment": "why"}
            if stamp := tickets.STATUS_TIMESTAMPS.get(to):
                assert getattr(stored, stamp) is not None
        else:
            assert stored.status == current.value and rows == []


async def test_a_transition_loses_to_a_concurrent_one(database):
    """The UPDATE is conditional on the status the caller read."""
    async with database.transaction() as db:
        ticket = await tickets.create(db, data=TicketIn(conversation_id="c", title="t"))
    async with database.transaction() as db:
        stale = await tickets.get(db, ticket_id=ticket.id)
    async with database.transaction() as db:
        await tickets.transition(
            db, ticket=await tickets.get(db, ticket_id=ticket.id), to=TicketStatus.CLOSED, actor="a"
        )
    async with database.transaction() as db:
        with pytest.raises(InvalidTransition, match="changed meanwhile"):
            await tickets.transition(db, ticket=stale, to=TicketStatus.RESOLVED, actor="b")


# --- status changes through the API -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "to"),
    [
        ([], "reopened"),
        ([], "pending"),
        (["resolved"], "pending"),
        (["closed"], "resolved"),
        (["closed"], "closed"),
        (["closed", "reopened"], "pending"),
    ],
)
async def test_invalid_status_changes_are_409_with_a_clear_message(bridge, path, to):
    ticket = await bridge.open_ticket()
    for status in path:
        await bridge.set_status(ticket["id"], status)
    before = await bridge.ticket(ticket["id"])
    body = await bridge.set_status(ticket["id"], to, expect=409)
    current = before["status"]
    assert body["error"]["code"] == "invalid_transition"
    allowed = ", ".join(sorted(TRANSITIONS[TicketStatus(current)]))
    assert body["error"]["message"] == (
        f"Ticket {ticket['id']} is {current}; it can move to: {allowed}."
    )
    assert body["error"]["details"] == {"status": current, "requested": to}
    assert await bridge.ticket(ticket["id"]) == before


async def test_a_resolved_ticket_cannot_be_taken_back_into_progress(bridge):
    """resolved -> in_progress is not a transition: it must be refused as
    one, not reported as another agent's claim."""
    agent = await bridge.add()
    ticket = await bridge.open_ticket()
    await bridge.claim(ticket["id"], agent)
    await bridge.set_status(ticket["id"], "resolved", agent)
    body = await bridge.set_status(ticket["id"], "in_progress", agent, expect=409)
    assert body["error"]["code"] == "invalid_transition"
    assert "resolved" in body["error"]["message"]
    assert "already taken" not in body["error"]["message"]


async def test_every_status_change_is_in_the_history_with_who_made_it(bridge):
    alice = await bridge.add("alice")
    ticket = await bridge.open_ticket()
    tid = ticket["id"]
    await bridge.set_status(tid, "in_progress", alice)
    await bridge.set_status(tid, "pending", alice, comment="needs billing")
    await bridge.set_status(tid, "resolved", comment="answered by email")
    await bridge.set_status(tid, "reopened")
    await bridge.claim(tid, alice)
    await bridge.set_status(tid, "resolved", alice)
    final = await bridge.set_status(tid, "closed")
    assert final["status"] == "closed" and final["live"] is False
    for stamp in ("assigned_at", "resolved_at", "closed_at"):
        assert final[stamp] is not None
    moves = [
        (e["name"], e["from_status"], e["to_status"], e["actor"], e["details"].get("comment"))
        for e in (await bridge.ticket(tid))["history"]
        if e["to_status"]
    ]
    assert moves == [
        ("ticket.assigned", "pending", "in_progress", "agent:alice", None),
        ("ticket.status_changed", "in_progress", "pending", "agent:alice", "needs billing"),
        ("ticket.status_changed", "pending", "resolved", "service", "answered by email"),
        ("ticket.status_changed", "resolved", "reopened", "service", None),
        ("ticket.assigned", "reopened", "in_progress", "agent:alice", None),
        ("ticket.status_changed", "in_progress", "resolved", "agent:alice", None),
        ("ticket.status_changed", "resolved", "closed", "service", None),
    ]
    agent_rows = [e["agent_id"] for e in (await bridge.ticket(tid))["history"] if e["to_status"]]
    assert agent_rows == [alice.id, alice.id, None, None, alice.id, alice.id, None]


async def test_an_unknown_status_is_422(bridge):
    ticket = await bridge.open_ticket()
    body = await bridge.set_status(ticket["id"], "done", expect=422)
    assert body["error"]["details"]["errors"][0]["loc"] == ["status"]


# --- handoffs -----------------------------------------------------------------------------


async def test_a_second_handoff_links_the_open_ticket_and_raises_its_priority(bridge):
    await bridge.add(online=True)
    first = await bridge.handoff(
        "c1",
        description="customer: 耳机坏了",
        order_id="A1001",
        handoff_reason="fallback",
        context={"slots": {"product": "耳机"}},
    )
    assert first["ticket"]["priority"] == "normal"
    second = await bridge.handoff(
        "c1",
        expect=200,
        priority="urgent",
        handoff_reason="urgent",
        description="customer: 快点！",
        context={"intents": ["request_human"]},
    )
    assert second["linked"] is True and second["live"] is True
    ticket = second["ticket"]
    assert ticket["id"] == first["ticket"]["id"]
    assert (ticket["priority"], ticket["handoff_reason"]) == ("urgent", "urgent")
    assert ticket["order_id"] == "A1001"
    assert ticket["description"] == "customer: 耳机坏了\ncustomer: 快点！"
    assert ticket["context"] == {"slots": {"product": "耳机"}, "intents": ["request_human"]}
    third = await bridge.handoff("c1", expect=200, priority="normal")
    assert third["ticket"]["priority"] == "urgent"  # urgency only goes up
    listing = await bridge.get("/api/tickets?conversation_id=c1")
    assert listing["total"] == 1
    stored = await bridge.ticket(ticket["id"])
    assert history_names(stored)[0] == "ticket.created"
    requests = [e for e in stored["history"] if e["name"] == "ticket.handoff_requested"]
    assert [e["details"]["linked"] for e in requests] == [False, True, True]
    assert [e["details"].get("reason") for e in requests] == ["fallback", "urgent", None]


async def test_a_follow_up_ticket_goes_live_when_the_customer_asks_again_with_agents_online(
    bridge,
):
    first = await bridge.handoff("c1")
    assert first["live"] is False
    await bridge.add(online=True)
    again = await bridge.handoff("c1", expect=200)
    assert again["live"] is True and again["queue_position"] == 1
    assert again["ticket"]["queued_at"] is not None


async def test_the_queue_serves_urgent_first_then_first_come_first_served(bridge):
    await bridge.add(online=True, capacity=1)
    a = await bridge.handoff("a")
    b = await bridge.handoff("b")
    c = await bridge.handoff("c", priority="urgent")
    assert [a["queue_position"], b["queue_position"], c["queue_position"]] == [1, 2, 1]
    d = await bridge.handoff("d")
    assert d["queue_position"] == 4
    queue = await bridge.get("/api/queue")
    order = [t["conversation_id"] for t in queue["tickets"]]
    assert order == ["c", "a", "b", "d"]


async def test_a_freed_agent_is_offered_the_urgent_conversation_first(bridge):
    agent = await bridge.add(online=True, capacity=1)
    busy = await bridge.handoff("z")
    await bridge.offered(busy["ticket"]["id"], agent)
    normal = await bridge.handoff("a")
    urgent = await bridge.handoff("b", priority="urgent")
    await bridge.claim(busy["ticket"]["id"], agent)
    await bridge.set_status(busy["ticket"]["id"], "resolved", agent)
    await bridge.offered(urgent["ticket"]["id"], agent)
    assert (await bridge.ticket(normal["ticket"]["id"]))["offered_to_id"] is None


# --- listing ----------------------------------------------------------------------------


async def test_listing_filters_combine(bridge):
    t1 = await bridge.open_ticket("f1", category="technical", priority="urgent", channel="email")
    t2 = await bridge.open_ticket("f2", category="after_sales", channel="app")
    alice = await bridge.add("alice", online=True)
    t3 = (await bridge.handoff("c3"))["ticket"]
    await bridge.claim(t3["id"], alice)
    t4 = await bridge.open_ticket("f4")
    await bridge.set_status(t4["id"], "resolved")

    async def ids(query: str) -> list[int]:
        page = await bridge.get(f"/api/tickets?{query}")
        assert page["total"] == len(page["tickets"])
        return [t["id"] for t in page["tickets"]]

    one, two, three, four = t1["id"], t2["id"], t3["id"], t4["id"]
    assert await ids("") == [four, three, two, one]
    assert await ids("status=pending") == [two, one]
    assert await ids("status=pending&status=resolved") == [four, two, one]
    assert await ids("category=technical") == [one]
    assert await ids("priority=urgent") == [one]
    assert await ids(f"assignee_id={alice.id}") == [three]
    assert await ids("live=true") == [three]
    assert await ids("live=false") == [four, two, one]
    assert await ids("channel=email&channel=app") == [two, one]
    assert await ids("conversation_id=f1") == [one]
    assert await ids("status=pending&category=after_sales") == [two]
    assert await ids("status=in_progress&live=false") == []
    assert await ids("limit=500") == [four, three, two, one]

    page = await bridge.get("/api/tickets?limit=2")
    assert page["total"] == 4 and [t["id"] for t in page["tickets"]] == [four, three]
    page = await bridge.get("/api/tickets?limit=2&offset=2")
    assert page["total"] == 4 and [t["id"] for t in page["tickets"]] == [two, one]
    page = await bridge.get("/api/tickets?offset=10")
    assert page == {"total": 4, "tickets": []}

    boundary = t3["created_at"]
    assert await ids(f"created_from={boundary}") == [four, three]
    assert await ids(f"created_until={boundary}") == [two, one]
    moment = datetime.fromisoformat(boundary.replace("Z", "+00:00"))
    in_beijing = moment.astimezone(timezone(timedelta(hours=8))).isoformat()
    page = await bridge.get("/api/tickets", params={"created_from": in_beijing})
    assert [t["id"] for t in page["tickets"]] == [four, three]
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await ids(f"created_from={boundary}&created_until={later[:10]}") == [four, three]


# --- CSAT ----------------------------------------------------------------------------------


async def test_csat_is_recorded_once_after_resolution(bridge):
    ticket = await bridge.open_ticket("form-1")
    path = f"/api/tickets/{ticket['id']}/csat"
    answer = {"conversation_id": "form-1"}
    early = await bridge.post(path, json={**answer, "score": 5}, expect=409)
    assert "resolved" in early["error"]["message"]
    await bridge.set_status(ticket["id"], "resolved")
    for score in (0, 6, -1, "five", [5]):
        await bridge.post(path, json={**answer, "score": score}, expect=422)
    recorded = await bridge.post(path, json={**answer, "score": 4, "comment": "快"})
    assert recorded["csat"]["score"] == 4 and recorded["csat"]["comment"] == "快"
    assert recorded["csat"]["at"] is not None
    again = await bridge.post(path, json={**answer, "score": 1}, expect=409)
    assert again["error"]["code"] == "conflict"
    stored = await bridge.ticket(ticket["id"])
    assert stored["csat"]["score"] == 4
    assert history_names(stored).count("ticket.csat_recorded") == 1
    agent = await bridge.add()
    await bridge.post(path, agent, json={**answer, "score": 5}, expect=403)


async def test_a_fractional_csat_score_is_refused_not_truncated(bridge):
    ticket = await bridge.open_ticket("form-1")
    await bridge.set_status(ticket["id"], "resolved")
    await bridge.post(
        f"/api/tickets/{ticket['id']}/csat",
        json={"conversation_id": "form-1", "score": 4.5},
        expect=422,
    )
    assert (await bridge.ticket(ticket["id"]))["csat"] is None


async def test_a_skipped_survey_is_recorded_without_a_score(bridge):
    ticket = await bridge.open_ticket("form-1")
    await bridge.set_status(ticket["id"], "resolved")
    await bridge.set_status(ticket["id"], "closed")
    recorded = await bridge.post(
        f"/api/tickets/{ticket['id']}/csat", json={"conversation_id": "form-1", "score": None}
    )
    assert recorded["csat"]["score"] is None
    event = (await bridge.ticket(ticket["id"]))["history"][-1]
    assert event["details"] == {"skipped": True}


async def test_only_the_tickets_own_conversation_rates_it(bridge):
    """Ticket ids are sequential: a rating from another conversation is
    answered exactly as a missing ticket, and stores nothing."""
    mine = await bridge.open_ticket("customer-a")
    await bridge.set_status(mine["id"], "resolved")
    missing = await bridge.post(
        "/api/tickets/999/csat", json={"conversation_id": "customer-b", "score": 1}, expect=404
    )
    foreign = await bridge.post(
        f"/api/tickets/{mine['id']}/csat",
        json={"conversation_id": "customer-b", "score": 1},
        expect=404,
    )
    assert foreign["error"]["code"] == missing["error"]["code"] == "not_found"
    assert (
        foreign["error"]["message"].replace(str(mine["id"]), "999") == (missing["error"]["message"])
    )
    await bridge.post(
        f"/api/tickets/{mine['id']}/csat", json={"score": 1}, expect=422
    )  # which conversation it comes from is required
    assert (await bridge.ticket(mine["id"]))["csat"] is None


async def test_no_survey_answer_for_a_ticket_closed_without_resolution(bridge):
    """Closing an unresolved ticket offers no survey, so no answer is taken."""
    ticket = await bridge.open_ticket("customer-a")
    await bridge.set_status(ticket["id"], "closed")
    body = await bridge.post(
        f"/api/tickets/{ticket['id']}/csat",
        json={"conversation_id": "customer-a", "score": 5},
        expect=409,
    )
    assert body["error"]["code"] == "invalid_transition"
    assert (await bridge.ticket(ticket["id"]))["csat"] is None


async def test_two_answers_at_once_store_one(bridge):
    ticket = await bridge.open_ticket("customer-a")
    await bridge.set_status(ticket["id"], "resolved")
    path = f"/api/tickets/{ticket['id']}/csat"
    answers = await asyncio.gather(
        *(
            bridge.request(
                "POST", path, SERVICE, json={"conversation_id": "customer-a", "score": s}
            )
            for s in (1, 5)
        )
    )
    assert sorted(status for status, _ in answers) == [200, 409]
    stored = await bridge.ticket(ticket["id"])
    assert history_names(stored).count("ticket.csat_recorded") == 1


# --- claims ----------------------------------------------------------------------------------


async def test_two_agents_claiming_at_once_exactly_one_wins(bridge):
    agents = {
        "Alice": await bridge.add("alice", display_name="Alice"),
        "Bob": await bridge.add("bob", display_name="Bob"),
    }
    for attempt in range(3):
        ticket = await bridge.open_ticket(f"race-{attempt}")
        path = f"/api/tickets/{ticket['id']}/claim"
        answers = await asyncio.gather(
            *(bridge.request("POST", path, staff) for staff in agents.values())
        )
        assert sorted(status for status, _ in answers) == [200, 409]
        (winner,) = (body for status, body in answers if status == 200)
        (loser,) = (body for status, body in answers if status == 409)
        name = winner["assignee"]["display_name"]
        assert winner["assignee_id"] == agents[name].id
        assert loser["error"]["code"] == "already_claimed"
        assert loser["error"]["message"] == f"{name} has already taken this conversation."
        assert loser["error"]["details"] == {"assignee": name}
        stored = await bridge.ticket(ticket["id"])
        assert stored["assignee_id"] == agents[name].id
        assert history_names(stored).count("ticket.assigned") == 1


async def test_a_stampede_of_claims_has_one_winner(bridge):
    staff = [await bridge.add() for _ in range(6)]
    ticket = await bridge.open_ticket()
    path = f"/api/tickets/{ticket['id']}/claim"
    answers = await asyncio.gather(*(bridge.request("POST", path, who) for who in staff))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 5
    assert history_names(await bridge.ticket(ticket["id"])).count("ticket.assigned") == 1


async def test_a_claimed_ticket_cannot_be_claimed_again(bridge):
    alice, bob = await bridge.add("alice", display_name="Alice"), await bridge.add("bob")
    ticket = await bridge.open_ticket()
    await bridge.claim(ticket["id"], alice)
    body = await bridge.claim(ticket["id"], bob, expect=409)
    assert body["error"]["message"] == "Alice has already taken this conversation."
    await bridge.claim(999, bob, expect=404)


# --- restart ----------------------------------------------------------------------------------


async def test_everything_survives_a_restart(start_bridge):
    bridge: Bridge = await start_bridge()
    alice = await bridge.add("alice", online=True)
    live = (await bridge.handoff("c-live"))["ticket"]
    await bridge.claim(live["id"], alice)
    follow_up = await bridge.open_ticket("f1", title="发票抬头错了")
    await bridge.post(
        f"/api/tickets/{follow_up['id']}/notes", alice, json={"text": "call back"}, expect=201
    )
    before = {t["id"]: await bridge.ticket(t["id"]) for t in (live, follow_up)}
    await bridge.client.close()

    restarted = await start_bridge(disconnect_grace_seconds=0.1)
    restarted._admin = bridge._admin
    after = await restarted.ticket(follow_up["id"])
    assert after == before[follow_up["id"]]
    assert after["notes"][0]["text"] == "call back"
    assert (await restarted.get("/api/tickets"))["total"] == 2
    # sessions are in the database too
    me = await restarted.get("/api/session", alice)
    assert me["agent"]["username"] == "alice"
    # alice was online but has no console open: after the grace she is
    # offline and her live conversation goes back to the queue
    requeued = await eventually(
        lambda: restarted._ticket_if(live["id"], lambda t: t["status"] == "pending"),
        what="the live conversation back in the queue",
    )
    assert requeued["live"] is True and requeued["assignee_id"] is None
    assert (await restarted.agent(alice))["presence"] == "offline"
    assert history_names(requeued)[: len(before[live["id"]]["history"])] == history_names(
        before[live["id"]]
    )
    assert [t["id"] for t in (await restarted.get("/api/queue", SERVICE))["tickets"]] == [
        live["id"]
    ]


async def _bridge_with_claimed_ticket(
    start_bridge, conversation_id: str = "c-reply", **settings: Any
) -> tuple[Bridge, Any, dict[str, Any]]:
    bridge: Bridge = await start_bridge(**settings)
    alice = await bridge.add("alice", online=True)
    ticket = (await bridge.handoff(conversation_id))["ticket"]
    await bridge.claim(ticket["id"], alice)
    return bridge, alice, ticket


async def test_a_reply_sent_again_after_a_restart_reaches_the_customer_once(start_bridge):
    bridge, alice, ticket = await _bridge_with_claimed_ticket(start_bridge)
    path = f"/api/tickets/{ticket['id']}/messages"
    reply = {"text": "您好，我来看看", "client_message_id": "before-restart"}
    first = await bridge.post(path, alice, json=reply, expect=201)
    await bridge.client.close()

    restarted = await start_bridge()
    again = await restarted.post(path, alice, json=reply, expect=201)
    assert again == first
    assert bridge.rasa.logged_agent_messages("c-reply").count("您好，我来看看") == 1
    # The id still names that reply only.
    await restarted.post(
        path, alice, json={"text": "别的话", "client_message_id": "before-restart"}, expect=409
    )


async def test_a_send_cut_off_by_a_restart_is_found_not_sent_again(start_bridge):
    bridge, alice, ticket = await _bridge_with_claimed_ticket(start_bridge)
    path = f"/api/tickets/{ticket['id']}/messages"
    reply = {"text": "退款已提交", "client_message_id": "answer-lost"}
    bridge.rasa.loses_answers = True
    await bridge.post(path, alice, json=reply, expect=502)
    bridge.rasa.loses_answers = False
    await bridge.client.close()

    restarted = await start_bridge()
    retried = await restarted.post(path, alice, json=reply, expect=201)
    assert bridge.rasa.logged_agent_messages("c-reply").count("退款已提交") == 1
    logged = bridge.rasa.sent_events("c-reply")[-1]["metadata"]
    assert retried["message_id"] == logged["message_id"]
    # Found once, it is known as delivered: no more tracker reads for it.
    reads = len(bridge.rasa.calls)
    assert await restarted.post(path, alice, json=reply, expect=201) == retried
    assert len(bridge.rasa.calls) == reads


async def test_a_delivered_reply_the_database_failed_to_record_still_succeeds(
    start_bridge, monkeypatch
):
    bridge, alice, ticket = await _bridge_with_claimed_ticket(start_bridge)
    path = f"/api/tickets/{ticket['id']}/messages"
    reply = {"text": "已为您登记", "client_message_id": "db-hiccup"}

    async def database_locked(self, key, sent):
        raise OperationalError("UPDATE agent_replies", {}, Exception("database is locked"))

    monkeypatch.setattr(SentReplies, "_mark_delivered", database_locked)
    first = await bridge.post(path, alice, json=reply, expect=201)
    monkeypatch.undo()
    # The record still says "not known to be delivered": a retry finds it in
    # the tracker instead of sending it again.
    again = await bridge.post(path, alice, json=reply, expect=201)
    assert again["message_id"] == first["message_id"]
    assert bridge.rasa.logged_agent_messages("c-reply").count("已为您登记") == 1
    assert (await bridge.ticket(ticket["id"]))["first_response_at"] is not None


async def test_reply_records_are_forgotten_after_the_retry_window(start_bridge):
    bridge, alice, ticket = await _bridge_with_claimed_ticket(
        start_bridge, "c-old", sweep_interval_seconds=0.05
    )
    path = f"/api/tickets/{ticket['id']}/messages"
    for client_message_id, age in (("old-reply", RETRY_WINDOW * 2), ("new-reply", timedelta(0))):
        await bridge.post(
            path, alice, json={"text": "hi", "client_message_id": client_message_id}, expect=201
        )
        async with bridge.app[DATABASE].transaction() as db:
            await db.execute(
                update(AgentReply)
                .where(AgentReply.client_message_id == client_message_id)
                .values(created_at=utcnow() - age)
            )

    async def remembered() -> list[str] | None:
        async with bridge.app[DATABASE].reading() as db:
            ids = list((await db.execute(select(AgentReply.client_message_id))).scalars())
        return ids if ids == ["new-reply"] else None

    await eventually(remembered, what="the old reply's record forgotten")


async def test_handoffs_for_one_conversation_at_once_open_one_ticket(bridge):
    """A retried or doubled request must not open a second ticket."""
    for attempt in range(3):
        payload = {"conversation_id": f"c{attempt}", "title": "t"}
        answers = await asyncio.gather(
            *(bridge.request("POST", "/api/handoffs", SERVICE, json=payload) for _ in range(4))
        )
        assert sorted(status for status, _ in answers) == [200, 200, 200, 201]
        listing = await bridge.get(f"/api/tickets?conversation_id=c{attempt}")
        assert listing["total"] == 1
