"""Console sessions (sign in, expiry, sign out) and the console websocket:
who may open it, from where, and what it says."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from handoff.web import SESSION_COOKIE
from tests.handoff.conftest import PASSWORD, SERVICE, Staff


async def test_signing_in_sets_a_strict_http_only_cookie(bridge):
    await bridge.add("alice")
    async with bridge.client.post(
        "/api/session", json={"username": "alice", "password": PASSWORD}
    ) as response:
        assert response.status == 200
        body = await response.json()
        cookie = response.cookies[SESSION_COOKIE]
    assert body["agent"]["username"] == "alice" and "password_hash" not in body["agent"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == int(bridge.settings.session_ttl_seconds)
    assert not cookie["secure"]
    me = await bridge.get("/api/session", {"Cookie": f"{SESSION_COOKIE}={cookie.value}"})
    assert me["agent"]["username"] == "alice"


async def test_secure_cookies_when_served_over_https(start_bridge):
    bridge = await start_bridge(secure_cookies=True)
    await bridge.add("alice")
    async with bridge.client.post(
        "/api/session", json={"username": "alice", "password": PASSWORD}
    ) as response:
        assert response.cookies[SESSION_COOKIE]["secure"]


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "alice", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
    ],
)
async def test_wrong_credentials_are_401_without_saying_which_part(bridge, credentials):
    await bridge.add("alice")
    body = await bridge.post("/api/session", None, json=credentials, expect=401)
    assert body["error"]["message"] == "Wrong username or password."


async def test_a_login_needs_both_fields(bridge):
    await bridge.post("/api/session", None, json={"username": "alice"}, expect=422)


async def test_a_made_up_session_is_401(bridge):
    await bridge.get("/api/session", {"Cookie": f"{SESSION_COOKIE}=forged"}, expect=401)


async def test_signing_out_ends_the_session(bridge):
    alice = await bridge.add("alice")
    async with bridge.client.delete("/api/session", headers=alice.headers) as response:
        assert response.status == 200 and await response.json() == {"signed_out": True}
        cleared = response.cookies[SESSION_COOKIE]
        assert cleared.value == "" and int(cleared["max-age"]) == 0
    await bridge.get("/api/session", alice, expect=401)
    await bridge.get("/api/tickets", alice, expect=401)


async def test_an_idle_session_expires(start_bridge):
    bridge = await start_bridge(session_idle_seconds=0.5)
    alice = await bridge.add("alice")
    await bridge.get("/api/session", alice)
    await asyncio.sleep(0.55)
    body = await bridge.get("/api/session", alice, expect=401)
    assert body["error"]["code"] == "not_authenticated"


async def test_a_session_ends_after_its_lifetime(start_bridge):
    bridge = await start_bridge(session_ttl_seconds=0.5)
    alice = await bridge.add("alice")
    await bridge.get("/api/session", alice)
    await asyncio.sleep(0.55)
    await bridge.get("/api/session", alice, expect=401)
    again = await bridge.login("alice")
    await bridge.get("/api/session", again)


async def test_the_api_token_is_not_a_console_session(bridge):
    await bridge.get("/api/session", SERVICE, expect=403)


# --- the websocket --------------------------------------------------------------------------


async def handshake_status(bridge, headers: dict[str, str]) -> int:
    try:
        socket = await bridge.client.ws_connect("/console/ws", headers=headers)
    except aiohttp.WSServerHandshakeError as error:
        return error.status
    await socket.close()
    return 101


async def test_the_websocket_needs_a_session(bridge):
    assert await handshake_status(bridge, {}) == 401
    assert await handshake_status(bridge, {"Cookie": f"{SESSION_COOKIE}=forged"}) == 401
    assert await handshake_status(bridge, SERVICE) == 403


async def test_the_websocket_refuses_a_foreign_origin(bridge):
    alice = await bridge.add("alice")
    own = f"http://{bridge.client.host}:{bridge.client.port}"
    assert (
        await handshake_status(bridge, {**alice.headers, "Origin": "https://evil.example"}) == 403
    )
    assert await handshake_status(bridge, {**alice.headers, "Origin": "null"}) == 403
    assert await handshake_status(bridge, {**alice.headers, "Origin": own}) == 101


async def test_allowed_origins_may_open_the_console(start_bridge):
    bridge = await start_bridge(allowed_origins=["https://console.example"])
    alice = await bridge.add("alice")
    headers = {**alice.headers, "Origin": "https://console.example"}
    assert await handshake_status(bridge, headers) == 101
    assert (
        await handshake_status(bridge, {**alice.headers, "Origin": "https://evil.example"}) == 403
    )


async def test_the_websocket_greets_answers_pings_and_takes_presence(bridge):
    alice = await bridge.add("alice")
    console = await bridge.console(alice)
    await console.socket.send_json({"action": "ping"})
    assert await console.next("pong") == {}
    await console.socket.send_str("not json")
    assert await console.next("error") == {"message": "Send JSON objects."}
    await console.socket.send_json({"action": "presence", "presence": "busy"})
    assert await console.next("error") == {"message": "Unknown presence."}
    await console.socket.send_json({"action": "presence", "presence": "online"})
    changed = await console.next("agent.presence_changed")
    assert changed["agent"]["id"] == alice.id and changed["agent"]["presence"] == "online"
    assert (await bridge.agent(alice))["presence"] == "online"
    await console.close()


async def test_the_websocket_survives_json_nested_too_deeply_and_bounds_messages(start_bridge):
    """Any signed-in staff member could send `[` 3,000 times: json.loads
    raised RecursionError, the socket died with a traceback and the error
    middleware wrote an HTTP 500 into the open websocket. A message over
    `max_body_bytes` closes the socket instead of being read (aiohttp's
    default is 4 MB)."""
    bridge = await start_bridge(max_body_bytes=4096)
    alice = await bridge.add("alice")
    console = await bridge.console(alice)
    await console.socket.send_str("[" * 3000)
    assert await console.next("error") == {"message": "Send JSON objects."}
    await console.socket.send_json({"action": "ping"})
    assert await console.next("pong") == {}
    await console.socket.send_str(" " * 5000)
    closing = await console.socket.receive(timeout=3)
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert closing.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_offers_go_only_to_the_agent_offered(bridge):
    alice = await bridge.add("alice", online=True)
    bob = await bridge.add("bob", skills=["technical"], online=True)
    alice_console, bob_console = await bridge.console(alice), await bridge.console(bob)
    ticket = (await bridge.handoff("c1", category="after_sales"))["ticket"]
    offer = await alice_console.next("ticket.offered")
    assert offer["agent_id"] == alice.id and offer["ticket"]["id"] == ticket["id"]
    await bridge.handoff("sentinel", category="technical")
    seen = await bob_console.until(
        lambda event, data: event == "ticket.offered"
        and data["ticket"]["conversation_id"] == "sentinel"
    )
    offered = [data["ticket"]["id"] for event, data in seen if event == "ticket.offered"]
    assert ticket["id"] not in offered


async def test_analysts_see_ticket_changes_but_no_conversation(bridge):
    analyst: Staff = await bridge.add("ana", role="analyst")
    alice = await bridge.add("alice", online=True)
    watching = await bridge.console(analyst)
    ticket = (await bridge.handoff("c1"))["ticket"]
    await bridge.claim(ticket["id"], alice)
    await bridge.post(
        f"/api/tickets/{ticket['id']}/messages", alice, json={"text": "hi"}, expect=201
    )
    await bridge.post(f"/api/tickets/{ticket['id']}/notes", alice, json={"text": "n"}, expect=201)
    await bridge.set_status(ticket["id"], "resolved", alice)
    seen = await watching.until(
        lambda event, data: event == "ticket.status_changed"
        and data["ticket"]["status"] == "resolved"
    )
    names = [event for event, _ in seen]
    assert "ticket.created" in names and "ticket.assigned" in names
    assert not any(
        name.startswith("message.") or name in ("ticket.note_added", "ticket.offered")
        for name in names
    )


async def test_the_hello_tells_how_long_an_offer_lasts(start_bridge):
    bridge = await start_bridge(accept_timeout_seconds=42)
    alice = await bridge.add("alice")
    socket = await bridge.client.ws_connect("/console/ws", headers=alice.headers)
    hello = await socket.receive_json(timeout=3)
    assert hello["event"] == "hello"
    assert hello["data"]["accept_timeout_seconds"] == 42
    assert hello["data"]["agent"]["username"] == "alice"
    await socket.close()


async def test_signing_out_closes_the_sessions_console(bridge):
    """The socket kept streaming tickets and messages after signing out."""
    alice = await bridge.add("alice")
    console = await bridge.console(alice)
    async with bridge.client.delete("/api/session", headers=alice.headers) as response:
        assert response.status == 200
    message = await console.socket.receive(timeout=3)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == aiohttp.WSCloseCode.POLICY_VIOLATION


async def test_consoles_are_told_when_the_bridge_shuts_down(bridge):
    alice = await bridge.add("alice")
    console = await bridge.console(alice)
    await bridge.app.shutdown()
    message = await console.socket.receive(timeout=3)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == aiohttp.WSCloseCode.GOING_AWAY
