"""One customer across channels through the real stack: a site user whom
the shop's site signs for the web widget, and whom the shop's app names on
its signed messages, asks for a human on both; the bridge files both
tickets under one customer and the console's customer panel lists them
together. The same user id with a wrong signature gets a customer of its
own, and so does a REST client claiming it verified."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import requests

from tests.addons.channels.web_client import WebCustomer
from tests.integration.conftest import ADMIN_PASSWORD, HandoffStack, wait_for
from tests.integration.test_app_channel import post as post_from_app
from tests.integration.test_web_channel import replies

pytestmark = pytest.mark.integration

ASK_FOR_A_HUMAN = "我要转人工"


def ticket_of(stack: HandoffStack, conversation_id: str) -> dict[str, Any] | None:
    response = stack.api("GET", "/api/tickets", params={"conversation_id": conversation_id})
    response.raise_for_status()
    tickets = response.json()["tickets"]
    return tickets[0] if tickets else None


def web_ticket(stack: HandoffStack, customer: dict[str, Any]) -> dict[str, Any]:
    """A web customer (the widget's `customer`, named uniquely) asks for a
    human: their ticket, found by that name (the conversation id is the
    server's secret)."""
    client = WebCustomer(stack.assistant.url, ["websocket"])
    try:
        custom = {"language": "zh", "customer": customer}
        client.session(None, customData=custom)
        replies(client, "智能客服")
        client.say(ASK_FOR_A_HUMAN, customData=custom)
        # Queued, or told nobody is online and the ticket is noted.
        replies(client, "人工")
    finally:
        client.close()

    def named() -> dict[str, Any] | None:
        response = stack.api("GET", "/api/tickets", params={"channel": "socketio", "limit": 100})
        response.raise_for_status()
        found = [t for t in response.json()["tickets"] if t["customer"]["name"] == customer["name"]]
        return found[0] if found else None

    return wait_for(named, timeout=40, what=f"{customer['name']}'s web ticket")


def app_ticket(stack: HandoffStack, user_id: str, name: str) -> dict[str, Any]:
    """The app's signed-in user asks for a human: the app signs its message,
    vouching for the sender, which is the site's user id."""
    body = {
        "sender": user_id,
        "message": ASK_FOR_A_HUMAN,
        "customer": {"name": name},
        "message_id": uuid.uuid4().hex,
    }
    response = post_from_app(stack, body)
    assert response.status_code == 202, response.text
    return wait_for(lambda: ticket_of(stack, user_id), timeout=40, what="the app's ticket")


def customer_panel(stack: HandoffStack, ticket_id: int) -> dict[str, Any]:
    admin = stack.login("admin", ADMIN_PASSWORD)
    panel = admin.get(f"{stack.bridge_url}/api/tickets/{ticket_id}/customer", timeout=30)
    panel.raise_for_status()
    return panel.json()


async def test_a_verified_customers_tickets_from_two_channels_are_read_together(
    handoff_stack: HandoffStack,
):
    stack, site = handoff_stack, handoff_stack.fakes["web"]
    run = uuid.uuid4().hex[:8]
    user_id, name = f"site-user-{run}", f"王小明 {run}"
    on_web, in_app, claimed = await asyncio.gather(
        asyncio.to_thread(web_ticket, stack, site.signed_in(user_id, name=name)),
        asyncio.to_thread(app_ticket, stack, user_id, name),
        # Someone else sends the same user id with a signature they made up.
        asyncio.to_thread(
            web_ticket, stack, {"id": user_id, "name": f"冒名 {run}", "signature": "0" * 64}
        ),
    )

    assert [on_web["channel"], in_app["channel"], claimed["channel"]] == [
        "socketio",
        "app",
        "socketio",
    ]
    customer_id = on_web["customer"]["id"]
    assert in_app["customer"]["id"] == customer_id
    assert claimed["customer"]["id"] != customer_id

    found = await asyncio.to_thread(customer_panel, stack, in_app["id"])
    assert found["customer"]["verified"] is True
    assert found["customer"]["name"] == name
    assert [(i["kind"], i["value"]) for i in found["customer"]["identities"]] == [("user", user_id)]
    assert {(t["id"], t["channel"]) for t in found["tickets"]} == {
        (on_web["id"], "socketio"),
        (in_app["id"], "app"),
    }
    admin = stack.login("admin", ADMIN_PASSWORD)
    by_id = admin.get(f"{stack.bridge_url}/api/customers/{customer_id}", timeout=30)
    assert by_id.json() == found
    unverified = await asyncio.to_thread(customer_panel, stack, claimed["id"])
    assert unverified["customer"]["verified"] is False
    assert [t["id"] for t in unverified["tickets"]] == [claimed["id"]]

    channels = admin.get(f"{stack.bridge_url}/api/channels", timeout=30).json()["channels"]
    labels = {channel["name"]: channel["labels"] for channel in channels}
    assert labels["socketio"] == {"zh": "网页", "en": "Web"} and labels["app"]["en"] == "App"


def post_to_rest(stack: HandoffStack, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{stack.assistant.url}/webhooks/rest/webhook", json=body, timeout=60)


def test_a_rest_client_can_neither_verify_itself_nor_speak_as_another_channel(
    handoff_stack: HandoffStack,
):
    stack = handoff_stack
    run = uuid.uuid4().hex[:8]
    user_id, sender = f"site-user-{run}", f"rest-claim-{run}"
    claim = {
        "customer_id": user_id,
        "identity_verified": True,
        "customer_name": "王小明",
        "contact": f"wang-{run}@example.com",
    }

    # Naming WeChat would have the agent's replies sent there, to this sender
    # as an openid: refused, and nothing reaches the conversation.
    as_wechat = {"sender": sender, "message": ASK_FOR_A_HUMAN, "input_channel": "wechat"}
    refused = post_to_rest(stack, as_wechat)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "invalid_input_channel"
    user_said = [e for e in stack.assistant.tracker(sender)["events"] if e["event"] == "user"]
    assert user_said == []

    answered = post_to_rest(
        stack, {"sender": sender, "message": ASK_FOR_A_HUMAN, "metadata": claim}
    )
    assert answered.status_code == 200, answered.text
    ticket = wait_for(lambda: ticket_of(stack, sender), timeout=40, what="the REST ticket")
    assert ticket["channel"] == "rest"
    # The name and contact are shown, as what the client says.
    assert (ticket["customer"]["name"], ticket["customer"]["contact"]) == (
        "王小明",
        f"wang-{run}@example.com",
    )
    found = customer_panel(stack, ticket["id"])
    assert found["customer"]["verified"] is False, json.dumps(found, ensure_ascii=False)
    assert user_id not in [identity["value"] for identity in found["customer"]["identities"]]
    assert [t["id"] for t in found["tickets"]] == [ticket["id"]]
