"""A service down while customers talk: real processes on loopback, one of
them stopped and started again by the test.

Its own stack (not the session's), since stopping the session's bridge
would disturb the other tests.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from handoff.rasa import rasa_api_jwt
from scripts.stack import Stack
from scripts.supervisor import Supervisor
from tests.integration.conftest import STARTUP_TIMEOUT, stack_on_free_ports, wait_for


class Outage:
    """A stack whose services the test can stop and start again."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.supervisor = Supervisor(stack)
        self.services = {service.name: service for service in stack.services()}

    def say(self, sender: str, text: str) -> list[str]:
        response = requests.post(
            f"{self.stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        )
        response.raise_for_status()
        return [message.get("text", "") for message in response.json()]

    def tickets_of(self, conversation_id: str) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.stack.bridge_url}/api/tickets",
            params={"conversation_id": conversation_id},
            headers={"Authorization": f"Bearer {self.stack.secrets.handoff_api_token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["tickets"]

    def events(self, conversation_id: str) -> list[dict[str, Any]]:
        token = rasa_api_jwt(self.stack.secrets.rasa_jwt_secret, expires_at=time.time() + 60)
        response = requests.get(
            f"{self.stack.rasa_url}/conversations/{conversation_id}/tracker",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["events"]

    def stop(self, name: str) -> None:
        process = self.supervisor.process(name)
        process.terminate()
        process.wait(20)

    def start(self, name: str) -> None:
        self.supervisor.start([self.services[name]], STARTUP_TIMEOUT)


@pytest.fixture(scope="module")
def outage(trained_model: Path, tmp_path_factory) -> Iterator[Outage]:
    workdir = tmp_path_factory.mktemp("resilience")
    stack = stack_on_free_ports(
        workdir,
        trained_model,
        HANDOFF_OUTBOX_RETRY_MAX_SECONDS="1",
        ACTION_RETRY_SECONDS="2",
    )
    stack.prepare()
    outage = Outage(stack)
    try:
        outage.supervisor.start(outage.services.values(), STARTUP_TIMEOUT)
        yield outage
    finally:
        outage.supervisor.stop()


def test_a_handoff_asked_for_while_the_bridge_is_down_becomes_one_ticket(
    outage: Outage, domain_dict: dict[str, Any]
):
    outage.stop("bridge")
    customer = f"bridge-down-{secrets.token_hex(4)}"
    outage.say(customer, "我的扫地机器人充不进电")
    first = outage.say(customer, "转人工")
    again = outage.say(customer, "人工客服")
    noted = domain_dict["responses"]["utter_handoff_unavailable"][0]["text"]
    assert noted in first and noted in again
    assert (outage.stack.var / "handoff-outbox.db").exists()  # the stack's own, not var/

    outage.start("bridge")
    [ticket] = wait_for(lambda: outage.tickets_of(customer), timeout=30, what="the held ticket")
    time.sleep(3)  # a few more retry rounds: none may open a second ticket
    assert [t["id"] for t in outage.tickets_of(customer)] == [ticket["id"]]
    assert (ticket["live"], ticket["status"], ticket["handoff_reason"]) == (
        False,
        "pending",
        "asked",
    )
    assert "customer: 我的扫地机器人充不进电" in ticket["description"]


def test_a_handoff_asked_for_while_the_action_server_is_down_is_opened_when_it_is_back(
    outage: Outage, domain_dict: dict[str, Any]
):
    outage.stop("actions")
    customer = f"actions-down-{secrets.token_hex(4)}"
    try:
        outage.say(customer, "我的订单一直没发货")
        asked = outage.say(customer, "转人工")
        noted = domain_dict["responses"]["utter_handoff_unavailable"][0]["text"]
        assert asked == [noted]
        time.sleep(5)  # Rasa asks again meanwhile, and tells the customer nothing more
        assert outage.tickets_of(customer) == []
    finally:
        outage.start("actions")
    [ticket] = wait_for(lambda: outage.tickets_of(customer), timeout=30, what="the ticket")
    assert "customer: 我的订单一直没发货" in ticket["description"]
    time.sleep(5)  # the retries stopped: no second ticket
    assert [t["id"] for t in outage.tickets_of(customer)] == [ticket["id"]]
    bot_said = [event["text"] for event in outage.events(customer) if event["event"] == "bot"]
    assert bot_said.count(noted) == 1, bot_said
