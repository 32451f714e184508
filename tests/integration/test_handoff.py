"""End to end over loopback: a customer on Rasa's REST channel asks for a
human, an agent (a websocket + API client) takes over through the bridge,
they talk both ways, the agent resolves, the bot comes back and the CSAT
survey lands on the ticket."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.integration.conftest import ADMIN_PASSWORD, HandoffStack

pytestmark = pytest.mark.integration


class ConsoleAgent:
    """What the agent console does, without the page."""

    def __init__(self, stack: HandoffStack, username: str, password: str) -> None:
        self.stack = stack
        self.username, self.password = username, password
        self.http: aiohttp.ClientSession | None = None
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> ConsoleAgent:
        # unsafe: the jar must keep cookies of an IP address (127.0.0.1).
        self.http = aiohttp.ClientSession(
            base_url=self.stack.bridge_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        response = await self.http.post(
            "/api/session", json={"username": self.username, "password": self.password}
        )
        assert response.status == 200, await response.text()
        self.socket = await self.http.ws_connect("/console/ws")
        self._reader = asyncio.create_task(self._read())
        await self.socket.send_json({"action": "presence", "presence": "online"})
        # Handled in order: the pong says the agent is online (a console
        # reconnecting finds them online already, and hears no change).
        await self.socket.send_json({"action": "ping"})
        await self.next_event("pong")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reader.cancel()
        await self.socket.close()
        await self.http.close()

    async def _read(self) -> None:
        async for message in self.socket:
            await self.events.put(message.json())

    async def next_event(
        self,
        name: str,
        timeout: float = 30,
        where: Callable[[dict[str, Any]], bool] = lambda data: True,
        **match: Any,
    ) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                event = await self.events.get()
                data = event["data"]
                if (
                    event["event"] == name
                    and all(data.get(k) == v for k, v in match.items())
                    and where(data)
                ):
                    return data

        return await asyncio.wait_for(find(), timeout)

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = await self.http.request(method, path, **kwargs)
        return response.status, await response.json()

    async def offered(
        self,
        agent_id: int,
        mine: str | Callable[[dict[str, Any]], bool],
        timeout: float = 30,
    ) -> dict[str, Any]:
        """The ticket offered to this agent that is `mine`: that conversation's,
        or the one the predicate accepts. Other offers (customers the
        session's earlier tests left waiting, who are offered first) are
        declined, as an agent would, so they go on to others and never come
        back to this agent."""
        is_mine = mine if callable(mine) else lambda ticket: ticket["conversation_id"] == mine

        async def own_offer() -> dict[str, Any]:
            while True:
                offer = await self.next_event("ticket.offered", agent_id=agent_id)
                ticket = offer["ticket"]
                if is_mine(ticket):
                    return ticket
                await self.call("POST", f"/api/tickets/{ticket['id']}/decline")

        return await asyncio.wait_for(own_offer(), timeout)

    async def claim(self, ticket_id: int) -> dict[str, Any]:
        status, claimed = await self.call("POST", f"/api/tickets/{ticket_id}/claim")
        assert status == 200, claimed
        return claimed

    async def reply(self, ticket_id: int, text: str) -> tuple[int, Any]:
        """The agent's message: the bridge's status and answer."""
        return await self.call("POST", f"/api/tickets/{ticket_id}/messages", json={"text": text})

    async def resolve(self, ticket_id: int) -> dict[str, Any]:
        status, resolved = await self.call(
            "PATCH", f"/api/tickets/{ticket_id}/status", json={"status": "resolved"}
        )
        assert status == 200, resolved
        return resolved


def agent_events(tracker: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        event
        for event in tracker["events"]
        if event["event"] == "bot" and (event.get("metadata") or {}).get("agent_id")
    ]


async def test_a_customer_is_handed_to_an_agent_and_back(handoff_stack: HandoffStack):
    stack, assistant = handoff_stack, handoff_stack.assistant
    name, customer = f"agent-{uuid.uuid4().hex[:6]}", f"customer-{uuid.uuid4().hex[:8]}"
    agent = await asyncio.to_thread(stack.create_agent, name, "password-123")

    async with ConsoleAgent(stack, name, "password-123") as console:
        await asyncio.to_thread(assistant.say, customer, "我的订单241108302211一直没发货")
        replies = await asyncio.to_thread(assistant.texts, customer, "我要转人工")
        # Other tests' customers may still be waiting: the position is at least 1.
        assert any(re.search(r"转接人工客服.*排在第 \d+ 位", text) for text in replies), replies
        ticket = await console.offered(agent["id"], customer)
        assert (ticket["live"], ticket["status"], ticket["handoff_reason"]) == (
            True, "pending", "asked",
        )  # fmt: skip
        assert "没发货" in ticket["title"]
        tracker = await asyncio.to_thread(assistant.tracker, customer)
        assert tracker["latest_event_time"] and tracker["events"][-1]["event"] in (
            "pause",
            "action",
        )
        assert any(event["event"] == "pause" for event in tracker["events"])

        status, claimed = await console.call("POST", f"/api/tickets/{ticket['id']}/claim")
        assert status == 200, claimed
        assert (claimed["status"], claimed["assignee"]["id"]) == ("in_progress", agent["id"])

        # The paused bot stays silent; the customer's words reach the agent live.
        assert await asyncio.to_thread(assistant.say, customer, "你好，在吗？") == []
        heard = await console.next_event("message.customer", ticket_id=ticket["id"])
        assert heard["text"] == "你好，在吗？"

        status, sent = await console.call(
            "POST", f"/api/tickets/{ticket['id']}/messages", json={"text": "您好，我来帮您查一下"}
        )
        assert status == 201, sent

        status, context = await console.call("GET", f"/api/tickets/{ticket['id']}/context")
        assert status == 200
        senders = [(turn["sender"], turn["text"]) for turn in context["transcript"]]
        assert ("customer", "我的订单241108302211一直没发货") in senders
        assert ("agent", "您好，我来帮您查一下") in senders
        assert any(
            turn.get("intent") for turn in context["transcript"] if turn["sender"] == "customer"
        )
        assert context["slots"]["order_id"] == "241108302211"

        status, resolved = await console.call(
            "PATCH", f"/api/tickets/{ticket['id']}/status", json={"status": "resolved"}
        )
        assert (status, resolved["status"], resolved["live"]) == (200, "resolved", False)

    tracker = await asyncio.to_thread(assistant.tracker, customer)
    said_by_agent = [event["text"] for event in agent_events(tracker)]
    assert "您好，我来帮您查一下" in said_by_agent
    kinds = [event["event"] for event in tracker["events"]]
    assert kinds.index("resume") > kinds.index("pause")
    bot_after_resume = [
        event.get("metadata", {}).get("utter_action")
        for event in tracker["events"][kinds.index("resume") :]
        if event["event"] == "bot"
    ]
    assert bot_after_resume[-2:] == ["utter_handoff_resolved", "utter_ask_csat_score"]

    assert "没看懂" in " ".join(await asyncio.to_thread(assistant.texts, customer, "还行吧嗯"))
    await asyncio.to_thread(assistant.say, customer, "4")
    thanks = await asyncio.to_thread(assistant.texts, customer, "客服很耐心")
    assert any("感谢您的评价" in text for text in thanks), thanks
    stored = await asyncio.to_thread(stack.ticket, ticket["id"])
    assert stored["csat"]["score"] == 4 and stored["csat"]["comment"] == "客服很耐心"
    assert stored["first_response_at"] is not None
    assert [e["name"] for e in stored["history"]][-1] == "ticket.csat_recorded"


async def test_with_nobody_online_the_ticket_waits_and_the_bot_goes_on(
    handoff_stack: HandoffStack,
):
    stack, assistant = handoff_stack, handoff_stack.assistant

    def nobody_online() -> bool:
        admin = stack.login("admin", ADMIN_PASSWORD)
        agents = admin.get(f"{stack.bridge_url}/api/agents", timeout=10).json()["agents"]
        return all(agent["presence"] != "online" for agent in agents)

    # Agents of earlier tests go offline once their disconnect grace passes.
    await asyncio.to_thread(stack.wait_for, nobody_online, 30, 0.5)
    customer = f"customer-{uuid.uuid4().hex[:8]}"
    replies = await asyncio.to_thread(assistant.texts, customer, "I want to talk to a human")
    assert any("no human agent is online" in text for text in replies), replies
    ticket_id = int((await asyncio.to_thread(assistant.slots, customer))["ticket_id"])
    ticket = await asyncio.to_thread(stack.ticket, ticket_id)
    assert (ticket["status"], ticket["live"], ticket["language"]) == ("pending", False, "en")
    # Not paused: the bot still answers.
    assert await asyncio.to_thread(assistant.texts, customer, "how long does delivery take")
