"""Who may do what: every route of the served OpenAPI document, called as
each kind of caller on a ticket of its own, against the table in
`docs/handoff.md` (`handoff/policy.py`); then the object-level rules the
table cannot show in one cell, and what each role receives over the console
websocket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml

from handoff.policy import ADMIN, AGENT, ANALYST, EVERY, NONE, RULES, Action, Relation
from handoff.policy import SERVICE as TOKEN
from tests.handoff.conftest import PASSWORD, SERVICE, Bridge, Staff
from tests.handoff.test_openapi import conforms

ROLES = ("anonymous", "service", "admin", "owner", "other_agent", "analyst")
METHODS = {"get", "put", "post", "delete", "patch"}
PHONE = "13800138000"


def expect(
    *,
    anonymous: int = 401,
    service: int = 403,
    admin: int = 403,
    owner: int = 403,
    other_agent: int = 403,
    analyst: int = 403,
) -> dict[str, int]:
    return {
        "anonymous": anonymous,
        "service": service,
        "admin": admin,
        "owner": owner,
        "other_agent": other_agent,
        "analyst": analyst,
    }


EVERYONE = {role: 200 for role in ROLES}
STAFF = expect(admin=200, owner=200, other_agent=200, analyst=200)
READERS = {**STAFF, "service": 200}


@dataclass
class Scene:
    """The people, and one ticket per call in the state its row asks for."""

    bridge: Bridge
    admin: Staff
    owner: Staff  # the agent the ticket belongs to (or is offered to)
    other_agent: Staff  # an agent with the same skills, not the owner
    analyst: Staff
    conversation_id: str = ""
    ticket_id: int = 0
    attachment_id: int = 0
    customer_id: int = 0
    other_id: int = 0  # a second customer

    def who(self, role: str) -> Any:
        if role == "anonymous":
            return None
        if role == "service":
            return SERVICE
        return getattr(self, role)


Given = Callable[[Scene], Awaitable[None]]


async def live(scene: Scene) -> None:
    """A live conversation the owner has claimed."""
    result = await scene.bridge.handoff(scene.conversation_id)
    assert result["live"]
    scene.ticket_id = result["ticket"]["id"]
    await scene.bridge.claim(scene.ticket_id, scene.owner)


async def resolved(scene: Scene) -> None:
    await live(scene)
    await scene.bridge.set_status(scene.ticket_id, "resolved", scene.owner)


async def reopened(scene: Scene) -> None:
    """The owner's closed ticket, reopened: waiting, and still the owner's."""
    await resolved(scene)
    await scene.bridge.set_status(scene.ticket_id, "closed", scene.owner)
    await scene.bridge.set_status(scene.ticket_id, "reopened", scene.owner)


async def offered(scene: Scene) -> None:
    """Waiting in the live queue, offered to the owner."""
    result = await scene.bridge.handoff(scene.conversation_id)
    scene.ticket_id = result["ticket"]["id"]
    await scene.bridge.offered(scene.ticket_id, scene.owner)


async def customers_ticket(scene: Scene) -> None:
    """The owner's resolved ticket (still theirs), and its customer."""
    await resolved(scene)
    scene.customer_id = (await scene.bridge.ticket(scene.ticket_id))["customer"]["id"]


async def two_customers(scene: Scene) -> None:
    """Two customers known by verified ids, each with a follow-up ticket."""
    for name in ("customer_id", "other_id"):
        conversation_id = f"{scene.conversation_id}:{name}"
        verified = {"customer_id": conversation_id, "identity_verified": True}
        ticket = await scene.bridge.open_ticket(conversation_id, customer=verified)
        setattr(scene, name, ticket["customer"]["id"])


async def with_attachment(scene: Scene) -> None:
    """The owner's live conversation, with a file the customer sent."""
    await live(scene)
    kept = await scene.bridge.post(
        f"/api/conversations/{quote(scene.conversation_id, safe='')}/attachments",
        data=upload_form(scene, "service"),
        expect=201,
    )
    scene.attachment_id = kept["id"]


def upload_form(scene: Scene, role: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4\n", filename="a.pdf", content_type="application/pdf")
    return form


async def nothing(scene: Scene) -> None:
    """For routes that are not about a ticket."""


@dataclass
class Row:
    expected: dict[str, int]
    given: Given = nothing
    body: Callable[[Scene, str], Any] | None = None


# (method, path as the OpenAPI document writes it) -> who gets which status.
TABLE: dict[tuple[str, str], Row] = {
    ("get", "/health"): Row(EVERYONE),
    ("get", "/api/openapi.yaml"): Row(EVERYONE),
    ("get", "/"): Row({role: 302 for role in ROLES}),
    ("get", "/console/"): Row(EVERYONE),
    ("get", "/console/ws"): Row(expect(admin=101, owner=101, other_agent=101, analyst=101)),
    # Agents may not open tickets: a ticket on any conversation would let
    # them read it, and route its next handoff to them.
    ("post", "/api/tickets"): Row(
        expect(service=201, admin=201),
        body=lambda s, role: {"conversation_id": f"new-{role}", "title": "t"},
    ),
    ("get", "/api/tickets"): Row(READERS),
    ("get", "/api/tickets/{ticket_id}"): Row(READERS, given=live),
    ("get", "/api/tickets/{ticket_id}/context"): Row(expect(admin=200, owner=200), given=live),
    ("get", "/api/tickets/{ticket_id}/suggestions"): Row(expect(admin=200, owner=200), given=live),
    # A resolved ticket stays its assignee's: it takes none of their capacity.
    ("get", "/api/tickets/{ticket_id}/customer"): Row(expect(admin=200, owner=200), given=resolved),
    ("get", "/api/customers/{customer_id}"): Row(
        expect(admin=200, owner=200), given=customers_ticket
    ),
    ("get", "/api/channels"): Row(READERS),
    ("post", "/api/customers/{customer_id}/merge"): Row(
        expect(admin=200), given=two_customers, body=lambda s, role: {"customer_id": s.other_id}
    ),
    ("patch", "/api/tickets/{ticket_id}/status"): Row(
        expect(service=200, admin=200, owner=200),
        given=resolved,
        body=lambda s, role: {"status": "closed"},
    ),
    ("post", "/api/tickets/{ticket_id}/claim"): Row(expect(admin=200, owner=200), given=reopened),
    ("post", "/api/tickets/{ticket_id}/decline"): Row(
        expect(admin=409, owner=200, other_agent=409), given=offered
    ),
    ("post", "/api/tickets/{ticket_id}/assign"): Row(
        expect(admin=200, owner=200),
        given=reopened,
        body=lambda s, role: {"agent_id": s.owner.id},
    ),
    ("post", "/api/tickets/{ticket_id}/transfer"): Row(
        expect(admin=200, owner=200), given=live, body=lambda s, role: {"skill_group": "general"}
    ),
    ("post", "/api/tickets/{ticket_id}/release"): Row(expect(admin=200, owner=200), given=live),
    # Talking to the customer stays with the assignee, admins included.
    ("post", "/api/tickets/{ticket_id}/messages"): Row(
        expect(owner=201), given=live, body=lambda s, role: {"text": "hello"}
    ),
    ("post", "/api/tickets/{ticket_id}/notes"): Row(
        expect(service=201, admin=201, owner=201), given=live, body=lambda s, role: {"text": "n"}
    ),
    ("post", "/api/tickets/{ticket_id}/csat"): Row(
        expect(service=200),
        given=resolved,
        body=lambda s, role: {"conversation_id": s.conversation_id, "score": 5},
    ),
    ("post", "/api/handoffs"): Row(
        expect(service=201), body=lambda s, role: {"conversation_id": f"h-{role}", "title": "t"}
    ),
    ("post", "/api/rasa/events"): Row(expect(service=200), body=lambda s, role: []),
    ("post", "/api/conversations/{conversation_id}/attachments"): Row(
        expect(service=201), given=live, body=upload_form
    ),
    ("get", "/api/attachments/{attachment_id}"): Row(
        expect(admin=200, owner=200), given=with_attachment
    ),
    ("get", "/api/queue"): Row(READERS),
    ("get", "/api/agents"): Row(STAFF),
    ("post", "/api/agents"): Row(
        expect(admin=201),
        body=lambda s, role: {"username": f"new-{role}", "password": "long enough"},
    ),
    # Rows that change the people come last, in this order: later calls
    # would otherwise be offered to them, or find them signed out.
    ("patch", "/api/agents/me"): Row(
        expect(admin=200, owner=200, other_agent=200),
        body=lambda s, role: {"avatar_url": "https://cdn.example.com/a.png"},
    ),
    ("put", "/api/agents/me/presence"): Row(
        expect(admin=200, owner=200, other_agent=200),
        body=lambda s, role: {"presence": "online"},
    ),
    ("post", "/api/session"): Row(
        EVERYONE, body=lambda s, role: {"username": s.owner.username, "password": PASSWORD}
    ),
    ("get", "/api/session"): Row(STAFF),
    ("delete", "/api/session"): Row(EVERYONE),
}


async def served_routes(bridge: Bridge) -> set[tuple[str, str]]:
    async with bridge.client.get("/api/openapi.yaml") as response:
        document = yaml.safe_load(await response.text())
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


async def scene_for(bridge: Bridge) -> Scene:
    return Scene(
        bridge=bridge,
        admin=await bridge.admin(),
        # Capacity enough for one live conversation per call.
        owner=await bridge.add("owner", online=True, capacity=50),
        other_agent=await bridge.add("other"),
        analyst=await bridge.add("ana", role="analyst"),
    )


async def call(scene: Scene, method: str, path: str, role: str, body: Any) -> int:
    bridge = scene.bridge
    who = scene.who(role)
    headers = who.headers if isinstance(who, Staff) else dict(who or {})
    if path == "/console/ws":
        try:
            socket = await bridge.client.ws_connect(path, headers=headers)
        except aiohttp.WSServerHandshakeError as error:
            return error.status
        await socket.close()
        return 101
    kwargs: dict[str, Any] = {"allow_redirects": False}
    if isinstance(body, aiohttp.FormData):
        kwargs["data"] = body
    elif body is not None:
        kwargs["json"] = body
    async with bridge.client.request(method, path, headers=headers, **kwargs) as response:
        return response.status


async def test_every_documented_route_answers_each_role_as_the_table_says(start_bridge):
    # The owner's console closes at the `/console/ws` row; with the usual
    # grace they would go offline mid-table on a busy machine, and the
    # later rows could no longer hand them live conversations.
    bridge = await start_bridge(disconnect_grace_seconds=600)
    routes = await served_routes(bridge)
    unclassified = sorted(routes - TABLE.keys())
    assert not unclassified, f"routes without a row in TABLE (classify them): {unclassified}"
    assert not TABLE.keys() - routes, "rows for routes the document does not have"
    scene = await scene_for(bridge)
    wrong = []
    for (method, template), row in TABLE.items():
        for role in ROLES:
            scene.conversation_id = f"{method}{template}:{role}"
            await row.given(scene)
            path = template.format(
                ticket_id=scene.ticket_id,
                customer_id=scene.customer_id,
                conversation_id=quote(scene.conversation_id, safe=""),
                attachment_id=scene.attachment_id,
            )
            body = row.body(scene, role) if row.body else None
            status = await call(scene, method.upper(), path, role, body)
            if status != row.expected[role]:
                wrong.append(
                    f"{method.upper()} {template} as {role}: {status}, "
                    f"expected {row.expected[role]}"
                )
    assert not wrong, "\n".join(wrong)


def documented_rules() -> dict[str, list[str]]:
    """The "Who may do what" table of docs/handoff.md: action -> its cells."""
    doc = Path(__file__).parents[2] / "docs" / "handoff.md"
    section = doc.read_text().split("## Who may do what", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {
        row.split("|")[1].strip(" `"): [cell.strip() for cell in row.split("|")[3:-1]]
        for row in rows
    }


def test_the_documented_table_is_the_one_the_bridge_applies():
    columns = [
        (TOKEN, EVERY),
        (ADMIN, EVERY),
        *((AGENT, frozenset({relation})) for relation in Relation),
        (ANALYST, EVERY),
    ]
    cells = {"✓": True, "—": False}
    documented = documented_rules()
    assert set(documented) == {action.value for action in Action}
    for action in Action:
        for (role, relations), cell in zip(columns, documented[action], strict=True):
            granted = RULES[action].get(role, NONE)
            if cell == "assignee":
                assert granted == {Relation.ASSIGNEE}, (action, role)
            else:
                assert cells[cell] == (relations <= granted), (action, role, sorted(relations))
                assert cells[cell] or not relations & granted, (action, role)


# --- owner, not owner, unassigned ----------------------------------------------------------


async def test_an_agent_cannot_take_over_a_colleagues_ticket(bridge):
    """The reported takeover: close a resolved ticket, reopen it, claim it."""
    alice = await bridge.add("alice", online=True)
    bob = await bridge.add("bob")
    result = await bridge.handoff("c1")
    ticket_id = result["ticket"]["id"]
    await bridge.claim(ticket_id, alice)
    await bridge.set_status(ticket_id, "resolved", alice)
    body = await bridge.set_status(ticket_id, "closed", bob, expect=403)
    assert body["error"]["code"] == "forbidden"
    await bridge.set_status(ticket_id, "closed", alice)
    await bridge.set_status(ticket_id, "reopened", bob, expect=403)
    await bridge.set_status(ticket_id, "reopened", alice)
    await bridge.claim(ticket_id, bob, expect=403)
    await bridge.set_status(ticket_id, "in_progress", bob, expect=403)
    await bridge.post(
        f"/api/tickets/{ticket_id}/assign", bob, json={"agent_id": bob.id}, expect=403
    )
    await bridge.get(f"/api/tickets/{ticket_id}/context", bob, expect=403)
    stored = await bridge.ticket(ticket_id)
    assert (stored["status"], stored["assignee_id"]) == ("reopened", alice.id)
    assert (await bridge.claim(ticket_id, alice))["assignee_id"] == alice.id


async def test_agents_cannot_bind_a_ticket_to_someones_conversation(bridge):
    """A ticket opened by an agent for a customer's conversation would show
    them the conversation, and route the customer's next handoff to them."""
    mallory = await bridge.add("mallory", online=True)
    forged = {"conversation_id": "victim", "title": "mine now", "source": "assistant"}
    await bridge.post("/api/tickets", mallory, json=forged, expect=403)
    await bridge.add("alice", online=True, skills=["technical"])
    result = await bridge.handoff("victim", category="technical")
    assert result["linked"] is False
    assert result["ticket"]["assignee_id"] is None


async def test_agents_take_waiting_tickets_within_their_skills_and_languages(bridge):
    tech = await bridge.add("tech", skills=["technical"], languages=["zh"])
    ticket = await bridge.open_ticket("c1", category="technical", language="zh")
    english = await bridge.open_ticket("c2", category="technical", language="en")
    sales = await bridge.open_ticket("c3", category="pre_sales")
    for outside in (english, sales):
        await bridge.get(f"/api/tickets/{outside['id']}/context", tech, expect=403)
        body = await bridge.claim(outside["id"], tech, expect=403)
        assert "skills" in body["error"]["message"]
        hidden = await bridge.get(f"/api/tickets/{outside['id']}", tech)
        assert hidden["title"] is None and hidden["customer"] is None
    await bridge.get(f"/api/tickets/{ticket['id']}/context", tech)
    assert (await bridge.get(f"/api/tickets/{ticket['id']}", tech))["title"] == "A follow-up"
    assert (await bridge.claim(ticket["id"], tech))["assignee_id"] == tech.id


async def test_agents_see_in_the_queue_what_they_may_take(bridge):
    tech = await bridge.add("tech", skills=["technical"])
    await bridge.add("anyone", online=True, capacity=1)
    first = await bridge.handoff("c1", category="technical")
    second = await bridge.handoff("c2", category="pre_sales")
    ids = {first["ticket"]["id"], second["ticket"]["id"]}
    queue = await bridge.get("/api/queue", tech)
    assert [t["id"] for t in queue["tickets"]] == [first["ticket"]["id"]]
    everything = await bridge.get("/api/queue", await bridge.admin())
    assert {t["id"] for t in everything["tickets"]} == ids


async def test_analysts_read_tickets_without_their_content(bridge):
    analyst = await bridge.add("ana", role="analyst")
    agent = await bridge.add("alice", online=True)
    result = await bridge.handoff(
        "c1",
        description=f"customer: 我的电话是 {PHONE}",
        customer={"name": "张三", "contact": PHONE},
        order_id="20240101-0001",
        context={"slots": {"phone": PHONE}},
    )
    ticket_id = result["ticket"]["id"]
    await bridge.claim(ticket_id, agent)
    await bridge.post(f"/api/tickets/{ticket_id}/notes", agent, json={"text": PHONE}, expect=201)
    await bridge.set_status(ticket_id, "resolved", agent, comment=f"called {PHONE}")
    await bridge.post(
        f"/api/tickets/{ticket_id}/csat",
        json={"conversation_id": "c1", "score": 2, "comment": PHONE},
    )
    for path in (f"/api/tickets/{ticket_id}", "/api/tickets", "/api/queue"):
        async with bridge.client.get(path, headers=analyst.headers) as response:
            assert response.status == 200
            assert PHONE not in await response.text(), path
    seen = await bridge.get(f"/api/tickets/{ticket_id}", analyst)
    assert (seen["status"], seen["category"], seen["csat"]["score"]) == ("resolved", "general", 2)
    assert seen["title"] is None and seen["notes"] == []
    conforms(seen, "TicketDetail")  # the document says which fields may be null
    assert PHONE in str(await bridge.get(f"/api/tickets/{ticket_id}", agent))


# --- the console websocket ------------------------------------------------------------------


async def test_the_websocket_gives_analysts_no_conversation_content(bridge):
    analyst = await bridge.add("ana", role="analyst")
    alice = await bridge.add("alice", online=True)
    watching, working = await bridge.console(analyst), await bridge.console(alice)
    ticket = (
        await bridge.handoff(
            "c1",
            title="耳机坏了",
            description=f"customer: 我的电话是 {PHONE}",
            customer={"name": "张三", "contact": PHONE},
            context={"slots": {"phone": PHONE}},
        )
    )["ticket"]
    created = await watching.next("ticket.created")
    assert created["ticket"]["id"] == ticket["id"]
    assert created["ticket"]["status"] == "pending" and created["ticket"]["live"] is True
    for field in ("title", "description", "customer", "context", "order_id", "conversation_id"):
        assert created["ticket"][field] is None, field
    assert (await working.next("ticket.created"))["ticket"]["description"].endswith(PHONE)
    await bridge.claim(ticket["id"], alice)
    await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", alice, json={"text": PHONE}, expect=201
    )
    await bridge.set_status(ticket["id"], "resolved", alice, comment=PHONE)
    frames = []
    while True:
        frame = await watching.socket.receive_str(timeout=3)
        frames.append(frame)
        if '"ticket.status_changed"' in frame and '"resolved"' in frame:
            break
    assert frames and not any(PHONE in frame or "张三" in frame for frame in frames)
    await watching.close()
    await working.close()


async def test_the_websocket_shows_agents_only_their_own_conversations(bridge):
    alice = await bridge.add("alice", online=True)
    bob = await bridge.add("bob", skills=["technical"])
    bobs_console = await bridge.console(bob)
    ticket = (await bridge.handoff("c1", description=f"customer: {PHONE}"))["ticket"]
    created = await bobs_console.next("ticket.created")
    assert created["ticket"]["id"] == ticket["id"] and created["ticket"]["description"] is None
    await bridge.claim(ticket["id"], alice)
    await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", alice, json={"text": "hi"}, expect=201
    )
    await bridge.handoff("sentinel", category="technical")
    seen = await bobs_console.until(
        lambda event, data: event == "ticket.created" and data["ticket"]["category"] == "technical"
    )
    assert not any(event.startswith("message.") for event, _ in seen)
    assert seen[-1][1]["ticket"]["conversation_id"] == "sentinel"  # his to take: in full
    await bobs_console.close()


# --- customers across channels ---------------------------------------------------------------


async def test_only_those_who_may_read_one_of_a_customers_tickets_read_the_customer(bridge):
    alice = await bridge.add("alice", online=True, skills=["technical"])
    bob = await bridge.add("bob", skills=["pre_sales"])
    analyst = await bridge.add("ana", role="analyst")
    identity = {"contact": PHONE, "customer_id": "u-1", "identity_verified": True}
    ticket = (await bridge.handoff("c1", category="technical", customer=identity))["ticket"]
    await bridge.claim(ticket["id"], alice)
    customer_id = ticket["customer"]["id"]
    for path in (f"/api/tickets/{ticket['id']}/customer", f"/api/customers/{customer_id}"):
        assert (await bridge.get(path, alice))["customer"]["id"] == customer_id
        assert (await bridge.get(path, await bridge.admin()))["customer"]["id"] == customer_id
        for outsider in (bob, analyst, SERVICE):
            body = await bridge.get(path, outsider, expect=403)
            assert PHONE not in str(body)
    # Bob gets a ticket of hers to take (pre-sales, waiting): now he may.
    await bridge.open_ticket("c2", category="pre_sales", customer=identity)
    panel = await bridge.get(f"/api/customers/{customer_id}", bob)
    assert [t["openable"] for t in panel["tickets"]] == [True, False]
    await bridge.get(f"/api/customers/{customer_id + 1000}", bob, expect=404)
