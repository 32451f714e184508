"""One customer across channels through the real stack: a site user whose
identity the channel verified asks for a human on REST and in the app; the
bridge files both tickets under one customer and the console's customer
panel lists them together. The same identity sent unverified gets a
customer of its own."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.integration.conftest import ADMIN_PASSWORD, HandoffStack, wait_for

pytestmark = pytest.mark.integration


def ask_for_a_human(
    stack: HandoffStack, sender: str, metadata: dict[str, Any], input_channel: str | None = None
) -> None:
    body: dict[str, Any] = {"sender": sender, "message": "我要转人工", "metadata": metadata}
    if input_channel:
        body["input_channel"] = input_channel
    response = requests.post(f"{stack.assistant.url}/webhooks/rest/webhook", json=body, timeout=60)
    response.raise_for_status()


def ticket_of(stack: HandoffStack, conversation_id: str) -> dict[str, Any] | None:
    response = stack.api("GET", "/api/tickets", params={"conversation_id": conversation_id})
    response.raise_for_status()
    tickets = response.json()["tickets"]
    return tickets[0] if tickets else None


def test_a_verified_customers_tickets_from_two_channels_are_read_together(
    handoff_stack: HandoffStack,
):
    run = uuid.uuid4().hex[:8]
    identity = {
        "customer_id": f"site-user-{run}",
        "identity_verified": True,
        "customer_name": "王小明",
        "contact": f"wang-{run}@example.com",
    }
    on_rest, in_app, claimed = f"cust-rest-{run}", f"cust-app-{run}", f"cust-claim-{run}"
    ask_for_a_human(handoff_stack, on_rest, identity)
    ask_for_a_human(handoff_stack, in_app, identity, input_channel="app")
    # Someone else sends the same id and contact, unverified.
    ask_for_a_human(handoff_stack, claimed, {**identity, "identity_verified": False})

    tickets = {
        sender: wait_for(lambda s=sender: ticket_of(handoff_stack, s), what=f"{sender}'s ticket")
        for sender in (on_rest, in_app, claimed)
    }
    assert (tickets[on_rest]["channel"], tickets[in_app]["channel"]) == ("rest", "app")
    customer_id = tickets[on_rest]["customer"]["id"]
    assert tickets[in_app]["customer"]["id"] == customer_id
    assert tickets[claimed]["customer"]["id"] != customer_id

    admin = handoff_stack.login("admin", ADMIN_PASSWORD)
    bridge = handoff_stack.bridge_url
    panel = admin.get(f"{bridge}/api/tickets/{tickets[in_app]['id']}/customer", timeout=30)
    panel.raise_for_status()
    found = panel.json()
    assert found["customer"]["verified"] is True
    assert found["customer"]["name"] == "王小明"
    assert [(i["kind"], i["value"]) for i in found["customer"]["identities"]] == [
        ("user", f"site-user-{run}")
    ]
    assert {(t["id"], t["channel"]) for t in found["tickets"]} == {
        (tickets[on_rest]["id"], "rest"),
        (tickets[in_app]["id"], "app"),
    }
    assert admin.get(f"{bridge}/api/customers/{customer_id}", timeout=30).json() == found
    unverified = admin.get(f"{bridge}/api/tickets/{tickets[claimed]['id']}/customer", timeout=30)
    assert [t["id"] for t in unverified.json()["tickets"]] == [tickets[claimed]["id"]]

    channels = admin.get(f"{bridge}/api/channels", timeout=30).json()["channels"]
    labels = {channel["name"]: channel["labels"] for channel in channels}
    assert labels["rest"] == {"zh": "接口", "en": "REST API"} and labels["app"]["en"] == "App"
