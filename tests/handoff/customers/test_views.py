"""The customer panel over the API: a verified customer's tickets from every
channel together, an unverified claim kept apart, the channels' names, and
one customer when two channels open their first tickets at the same time."""

from __future__ import annotations

import asyncio

import pytest

from tests.handoff.conftest import SERVICE
from tests.handoff.test_openapi import conforms

PHONE = "13800138000"


def verified(**fields: str) -> dict:
    return {"customer": {**fields, "identity_verified": True}}


async def test_a_verified_customers_tickets_from_every_channel_show_together(bridge):
    alice = await bridge.add("alice", online=True)
    web = await bridge.handoff(
        "web-li", channel="socketio", **verified(name="李娜", contact=PHONE, customer_id="u-1")
    )
    await bridge.claim(web["ticket"]["id"], alice)
    await bridge.set_status(web["ticket"]["id"], "resolved", alice)
    await bridge.presence(alice, "offline")
    bob = await bridge.add("bob", online=True)
    # A form ticket from her site account, then the app; Telegram is another
    # customer until something verified joins them.
    form = await bridge.open_ticket("form-li", channel="form", **verified(customer_id="u-1"))
    telegram = await bridge.handoff("tg-li", channel="telegram", **verified(customer_id="u-1"))
    app = await bridge.handoff("app-li", channel="app", **verified(customer_id="u-1"))
    ticket_id = app["ticket"]["id"]
    await bridge.claim(ticket_id, bob)

    panel = await bridge.get(f"/api/tickets/{ticket_id}/customer", bob)
    conforms(panel, "CustomerTickets")
    customer = panel["customer"]
    assert customer["verified"] and customer["name"] == "李娜"
    assert [(i["kind"], i["value"]) for i in customer["identities"]] == [("user", "u-1")]
    shown = [(t["id"], t["channel"], t["status"], t["openable"]) for t in panel["tickets"]]
    assert shown == [
        (ticket_id, "app", "in_progress", True),
        (form["id"], "form", "pending", True),  # waiting, within his skills
        (web["ticket"]["id"], "socketio", "resolved", False),  # alice's
    ]
    assert app["ticket"]["customer"]["id"] == customer["id"]
    assert telegram["ticket"]["customer"]["id"] != customer["id"]
    by_id = await bridge.get(f"/api/customers/{customer['id']}", bob)
    assert by_id == panel


async def test_an_unverified_claim_of_her_phone_sees_only_its_own_tickets(bridge):
    bob = await bridge.add("bob", online=True)
    hers = await bridge.handoff(
        "web-li", channel="socketio", **verified(contact=PHONE, customer_id="u-1")
    )
    claimed = await bridge.handoff(
        "rest-x", channel="rest", customer={"name": "李娜", "contact": PHONE, "customer_id": "u-1"}
    )
    ticket_id = claimed["ticket"]["id"]
    await bridge.claim(ticket_id, bob)
    panel = await bridge.get(f"/api/tickets/{ticket_id}/customer", bob)
    assert panel["customer"]["verified"] is False
    assert [t["id"] for t in panel["tickets"]] == [ticket_id]
    assert panel["customer"]["id"] != hers["ticket"]["customer"]["id"]
    assert PHONE not in str(panel["customer"]["identities"])


async def test_the_channels_have_readable_names(bridge):
    listing = await bridge.get("/api/channels", await bridge.add("ana", role="analyst"))
    conforms(listing, "ChannelList")
    labels = {channel["name"]: channel["labels"] for channel in listing["channels"]}
    assert labels["socketio"] == {"zh": "网页", "en": "Web"}
    assert labels["wechat"] == {"zh": "微信公众号", "en": "WeChat"}
    assert set(labels) == {"socketio", "rest", "wechat", "telegram", "email", "form", "app"}
    offline = {channel["name"] for channel in listing["channels"] if channel["delivers_offline"]}
    assert offline == {"email", "form"}


async def test_identity_fields_are_checked(bridge):
    for customer in (
        {"identity_verified": "yes"},
        {"customer_id": 42},
        {"customer_id": "x" * 256},
    ):
        await bridge.post(
            "/api/tickets",
            json={"conversation_id": "c", "title": "t", "customer": customer},
            expect=422,
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_channels_first_tickets_at_once_find_one_customer(bridge):
    """On PostgreSQL the two transactions really overlap: the customer's
    identities serialise them, so neither creates a twin."""
    payloads = [
        {"conversation_id": f"c-{channel}", "title": "t", "channel": channel,
         **verified(customer_id="u-5")}
        for channel in ("socketio", "app", "rest", "form")
    ]  # fmt: skip
    created = await asyncio.gather(
        *(bridge.post("/api/tickets", SERVICE, json=payload, expect=201) for payload in payloads)
    )
    assert len({ticket["customer"]["id"] for ticket in created}) == 1


async def test_an_admin_merges_a_wechat_follower_into_their_site_account(bridge):
    admin = await bridge.admin()
    wechat = await bridge.open_ticket("oFan", channel="wechat", **verified(customer_id="oFan"))
    web = await bridge.open_ticket("web-fan", channel="socketio", **verified(customer_id="u-3"))
    into, other = web["customer"]["id"], wechat["customer"]["id"]
    merged = await bridge.post(f"/api/customers/{into}/merge", admin, json={"customer_id": other})
    conforms(merged, "CustomerTickets")
    assert merged["customer"]["id"] == min(into, other)
    assert {t["channel"] for t in merged["tickets"]} == {"wechat", "socketio"}
    await bridge.get(f"/api/customers/{max(into, other)}", admin, expect=404)
    await bridge.post(f"/api/customers/{into}/merge", admin, json={"customer_id": "2"}, expect=422)
