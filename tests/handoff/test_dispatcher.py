"""The live queue moving on its own: offers by skill, language and load,
offers nobody accepts, agents who vanish, and customers who leave."""

from __future__ import annotations

import asyncio
import time

from tests.handoff.conftest import Bridge, eventually, history_names

# Fast housekeeping for the tests that wait on it.
QUICK = {"sweep_interval_seconds": 0.05}


async def settled(bridge: Bridge, ticket_id: int, check, what: str) -> dict:
    return await eventually(lambda: bridge._ticket_if(ticket_id, check), what=what)


async def test_offers_follow_skills_and_languages(bridge):
    tech = await bridge.add("tech", online=True, skills=["technical"])
    english = await bridge.add("english", online=True, languages=["en"])
    nobody = await bridge.handoff("c0", category="after_sales", language="zh")
    assert (nobody["live"], nobody["agents_online"]) == (False, 0)

    generalist = await bridge.add("generalist", online=True, capacity=1)
    first = await bridge.handoff("c1", category="after_sales", language="zh")
    assert first["agents_online"] == 1
    await bridge.offered(first["ticket"]["id"], generalist)
    waiting = await bridge.handoff("c2", category="after_sales", language="zh")
    technical = await bridge.handoff("c3", category="technical", language="zh")
    await bridge.offered(technical["ticket"]["id"], tech)
    in_english = await bridge.handoff("c4", category="technical", language="en")
    await bridge.offered(in_english["ticket"]["id"], english)
    # the generalist is full; the others lack the skill or the language
    assert (await bridge.ticket(waiting["ticket"]["id"]))["offered_to_id"] is None


async def test_the_least_busy_agent_gets_the_next_conversation(bridge):
    alice = await bridge.add("alice", online=True)
    bob = await bridge.add("bob", online=True)
    t1 = (await bridge.handoff("c1"))["ticket"]["id"]
    t2 = (await bridge.handoff("c2"))["ticket"]["id"]
    await bridge.offered(t1, alice)
    await bridge.offered(t2, bob)
    await bridge.claim(t1, alice)
    await bridge.claim(t2, bob)
    # equally busy: whoever has waited longest since their last conversation
    t3 = (await bridge.handoff("c3"))["ticket"]["id"]
    await bridge.offered(t3, alice)
    await bridge.claim(t3, alice)
    t4 = (await bridge.handoff("c4"))["ticket"]["id"]
    await bridge.offered(t4, bob)
    listing = await bridge.get("/api/agents", alice)
    load = {agent["username"]: agent["active"] for agent in listing["agents"]}
    assert load == {"admin": 0, "alice": 2, "bob": 2}


async def test_capacity_is_respected_until_a_conversation_ends(bridge):
    agent = await bridge.add(online=True, capacity=1)
    first = (await bridge.handoff("c1"))["ticket"]["id"]
    await bridge.offered(first, agent)
    second = (await bridge.handoff("c2"))["ticket"]["id"]
    await bridge.claim(first, agent)
    third = (await bridge.handoff("c3"))["ticket"]["id"]
    assert (await bridge.ticket(second))["offered_to_id"] is None
    assert (await bridge.ticket(third))["offered_to_id"] is None
    await bridge.set_status(first, "resolved", agent)
    await bridge.offered(second, agent)
    assert (await bridge.ticket(third))["offered_to_id"] is None


async def test_an_offer_nobody_accepts_goes_to_the_next_agent(start_bridge):
    bridge = await start_bridge(accept_timeout_seconds=0.2, **QUICK)
    alice = await bridge.add("alice", online=True)
    bob = await bridge.add("bob", online=True)
    ticket = (await bridge.handoff("c1"))["ticket"]["id"]
    await bridge.offered(ticket, alice)
    await bridge.offered(ticket, bob)
    # bob does not answer either: it waits in the queue for whoever claims it
    stored = await settled(
        bridge,
        ticket,
        lambda t: history_names(t).count("ticket.requeued") == 2,
        "both offers expired",
    )
    expiries = [e for e in stored["history"] if e["name"] == "ticket.requeued"]
    assert [(e["agent_id"], e["details"]["reason"]) for e in expiries] == [
        (alice.id, "offer_expired"),
        (bob.id, "offer_expired"),
    ]
    assert stored["status"] == "pending" and stored["live"] is True
    assert stored["offered_to_id"] is None
    queue = await bridge.get("/api/queue")
    assert [t["id"] for t in queue["tickets"]] == [ticket]
    await bridge.claim(ticket, alice)


async def test_offers_expire_while_the_queue_keeps_moving(start_bridge):
    """Housekeeping must run on time even when dispatches are asked for more
    often than every sweep interval, as in a busy contact centre."""
    bridge = await start_bridge(accept_timeout_seconds=0.1, sweep_interval_seconds=1.0)
    alice = await bridge.add("alice", online=True)
    bob = await bridge.add("bob", online=True)
    ticket = (await bridge.handoff("c1"))["ticket"]["id"]
    await bridge.offered(ticket, alice)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3.0
    moved = False
    while loop.time() < deadline and not moved:
        # the customer keeps asking for a human; each request asks for a dispatch
        await bridge.handoff("c1", expect=200)
        moved = (await bridge.ticket(ticket))["offered_to_id"] == bob.id
    assert moved, "the offer to alice never expired while dispatches kept coming"


async def test_a_vanished_agent_goes_offline_and_their_conversation_returns(start_bridge):
    bridge = await start_bridge(disconnect_grace_seconds=0.15, **QUICK)
    alice = await bridge.add("alice", online=True)
    console = await bridge.console(alice)
    ticket = (await bridge.handoff("c1"))["ticket"]["id"]
    await bridge.claim(ticket, alice)
    await console.close()
    stored = await settled(
        bridge, ticket, lambda t: t["status"] == "pending", "the conversation back in the queue"
    )
    assert stored["live"] is True and stored["assignee_id"] is None
    event = stored["history"][-1]
    assert event["name"] == "ticket.requeued" and event["agent_id"] == alice.id
    assert event["details"] == {"reason": "agent_disconnected"}
    assert (await bridge.agent(alice))["presence"] == "offline"
    # it keeps its place and goes to the next agent, not back to alice
    bob = await bridge.add("bob", online=True)
    await bridge.offered(ticket, bob)


async def test_a_reload_within_the_grace_keeps_the_agent_online(start_bridge):
    bridge = await start_bridge(disconnect_grace_seconds=0.5, **QUICK)
    alice = await bridge.add("alice", online=True)
    first, second = await bridge.console(alice), await bridge.console(alice)
    ticket = (await bridge.handoff("c1"))["ticket"]["id"]
    await bridge.claim(ticket, alice)
    await first.close()  # another tab is still open
    await second.close()
    reloaded = await bridge.console(alice)  # the page reloads at once
    await asyncio.sleep(0.7)
    assert (await bridge.agent(alice))["presence"] == "online"
    assert (await bridge.ticket(ticket))["assignee_id"] == alice.id
    await reloaded.close()


async def test_a_silent_customer_is_marked_abandoned_and_the_bot_resumes(start_bridge):
    # Two seconds of silence abandon: long enough that a loaded machine
    # never stalls the writing customer that long (0.5 s did, in full runs).
    bridge = await start_bridge(abandon_timeout_seconds=2, **QUICK)
    await bridge.add(online=True)
    ticket = (await bridge.handoff("c1"))["ticket"]["id"]
    # while the customer keeps writing the conversation stays live
    loop = asyncio.get_running_loop()
    until = loop.time() + 2.5
    while loop.time() < until:
        await bridge.post(
            "/api/rasa/events",
            json=[{"event": "user", "sender_id": "c1", "text": "还在吗", "timestamp": time.time()}],
        )
        await asyncio.sleep(0.05)
    assert (await bridge.ticket(ticket))["live"] is True
    stored = await settled(bridge, ticket, lambda t: not t["live"], "the customer abandoned")
    assert stored["abandoned_at"] is not None and stored["status"] == "pending"
    assert stored["offered_to_id"] is None
    assert history_names(stored)[-1] == "ticket.abandoned"
    assert bridge.rasa.trail("c1") == ["resume", "action"]


async def test_a_declined_offer_goes_to_the_next_agent_at_once(bridge):
    alice = await bridge.add("alice", online=True)
    bob = await bridge.add("bob", online=True)
    ticket = (await bridge.handoff("c1"))["ticket"]["id"]
    offered = await bridge.offered(ticket, alice)
    assert offered["offered_at"] is not None
    body = await bridge.post(f"/api/tickets/{ticket}/decline", bob, expect=409)
    assert body["error"]["code"] == "conflict"
    assert await bridge.post(f"/api/tickets/{ticket}/decline", alice) == {"declined": True}
    stored = await bridge.offered(ticket, bob)
    requeued = [e for e in stored["history"] if e["name"] == "ticket.requeued"]
    assert [(e["agent_id"], e["details"]) for e in requeued] == [
        (alice.id, {"reason": "offer_declined"})
    ]
    await bridge.post(f"/api/tickets/{ticket}/decline", alice, expect=409)
    analyst = await bridge.add("ana", role="analyst")
    await bridge.post(f"/api/tickets/{ticket}/decline", analyst, expect=403)
    await bridge.post(f"/api/tickets/{ticket}/decline", expect=403)
    await bridge.post("/api/tickets/999/decline", bob, expect=404)
