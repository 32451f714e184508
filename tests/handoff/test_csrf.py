"""Cross-site requests: a session cookie acts only for the console's own
origin (or an allowed one), bodies are JSON only, and the cookie is
HTTPS-only wherever the console is not reached as localhost."""

from __future__ import annotations

import json

import pytest

from tests.handoff.conftest import PASSWORD, SERVICE, Bridge

FOREIGN = {"Origin": "https://evil.example"}


async def queued_ticket(bridge: Bridge) -> int:
    return (await bridge.handoff("c1"))["ticket"]["id"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/tickets/{id}/claim", None),
        ("POST", "/api/tickets/{id}/notes", '{"text": "hi"}'),
        ("PUT", "/api/agents/me/presence", '{"presence": "online"}'),
        ("DELETE", "/api/session", None),
    ],
)
async def test_a_foreign_origin_cannot_act_with_the_session(bridge, method, path, body):
    agent = await bridge.add()
    ticket_id = await queued_ticket(bridge)
    for headers in (FOREIGN, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        status, answer = await bridge.request(
            method,
            path.format(id=ticket_id),
            agent,
            data=body,
            headers={**headers, "Content-Type": "text/plain"},
        )
        assert status == 403, answer
        assert answer["error"]["code"] == "foreign_origin"
    ticket = await bridge.ticket(ticket_id)
    assert ticket["assignee_id"] is None and ticket["notes"] == []
    assert (await bridge.agent(agent))["presence"] == "offline"
    await bridge.get("/api/session", agent)  # still signed in


async def test_the_consoles_own_and_allowed_origins_may_act(start_bridge):
    bridge = await start_bridge(allowed_origins=["https://console.example"])
    agent = await bridge.add()
    own = str(bridge.client.make_url("")).rstrip("/")
    for origin in (own, "https://console.example"):
        await bridge.call(
            "PUT",
            "/api/agents/me/presence",
            agent,
            json={"presence": "away"},
            headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"},
        )


async def test_the_api_token_is_not_bound_to_an_origin(bridge):
    await bridge.call(
        "POST",
        "/api/tickets",
        SERVICE,
        json={"conversation_id": "form-1", "title": "Help"},
        headers=FOREIGN,
        expect=201,
    )


async def test_sign_in_from_a_foreign_origin_is_refused(bridge):
    await bridge.add("amy")
    status, body = await bridge.request(
        "POST",
        "/api/session",
        data=json.dumps({"username": "amy", "password": PASSWORD}),
        headers={**FOREIGN, "Content-Type": "text/plain"},
    )
    assert status == 403 and body["error"]["code"] == "foreign_origin"


async def test_json_endpoints_refuse_other_content_types(bridge):
    agent = await bridge.add()
    ticket_id = await queued_ticket(bridge)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, body = await bridge.request(
            "POST",
            f"/api/tickets/{ticket_id}/notes",
            agent,
            data='{"text": "hi"}',
            headers={"Content-Type": content_type},
        )
        assert status == 415, body
        assert body["error"]["code"] == "unsupported_media_type"
    assert (await bridge.ticket(ticket_id))["notes"] == []


async def session_cookie(bridge: Bridge, host: str | None = None) -> str:
    await bridge.add("amy")
    headers = {"Host": host} if host else {}
    async with bridge.client.post(
        "/api/session", json={"username": "amy", "password": PASSWORD}, headers=headers
    ) as response:
        assert response.status == 200
        return response.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("setting", "host", "secure"),
    [
        ("auto", None, False),  # the test client calls 127.0.0.1
        ("auto", "localhost:5056", False),
        ("auto", "[::1]:5056", False),
        ("auto", "console.example.com", True),
        ("auto", "192.168.1.20:5056", True),
        ("false", "console.example.com", False),
        ("true", None, True),
    ],
)
async def test_session_cookies_are_https_only_off_localhost(start_bridge, setting, host, secure):
    bridge = await start_bridge(secure_cookies=setting)
    cookie = await session_cookie(bridge, host)
    assert ("; Secure" in cookie) is secure, cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
