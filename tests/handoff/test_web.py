"""Malformed requests get a 4xx that says what is wrong, and change nothing:
JSON too deep, text that is not Unicode, numbers out of range, dates out of
the calendar, loosely typed fields, and methods a route does not have."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.handoff.conftest import SERVICE, Bridge


async def send(bridge: Bridge, method: str, path: str, raw: str, who=SERVICE) -> tuple[int, dict]:
    """Sends `raw` as a JSON body byte for byte (lone surrogates included)."""
    return await bridge.request(
        method, path, who, data=raw.encode(), headers={"Content-Type": "application/json"}
    )


async def test_json_nested_past_the_limit_is_422(bridge):
    status, body = await send(bridge, "POST", "/api/session", "[" * 100_000, who=None)
    assert status == 422, body
    deep = {"conversation_id": "c1", "title": "t", "context": {}}
    level = deep["context"]
    for _ in range(40):
        level["a"] = {}
        level = level["a"]
    status, body = await send(bridge, "POST", "/api/tickets", json.dumps(deep))
    assert status == 422 and "nests deeper than 32" in body["error"]["message"]
    assert (await bridge.get("/api/tickets"))["total"] == 0


@pytest.mark.parametrize("field", ["title", "description", "conversation_id"])
async def test_a_lone_surrogate_in_any_text_is_422_and_stores_nothing(bridge, field):
    ticket = {"conversation_id": "c1", "title": "Help", field: "x\\ud800"}
    status, body = await send(
        bridge, "POST", "/api/tickets", json.dumps(ticket).replace("\\\\", "\\")
    )
    assert status == 422, body
    assert "not valid Unicode" in body["error"]["message"]
    assert (await bridge.get("/api/tickets"))["total"] == 0


async def test_a_lone_surrogate_in_a_key_or_a_sign_in_is_422(bridge):
    raw = '{"conversation_id": "c1", "title": "t", "context": {"\\udfff": 1}}'
    assert (await send(bridge, "POST", "/api/tickets", raw))[0] == 422
    raw = '{"username": "\\ud800", "password": "x"}'
    assert (await send(bridge, "POST", "/api/session", raw, who=None))[0] == 422


async def test_nul_in_stored_text_is_422(bridge):
    status, body = await bridge.request(
        "POST", "/api/tickets", SERVICE, json={"conversation_id": "c1", "title": "a\x00b"}
    )
    assert status == 422, body


@pytest.mark.parametrize(
    "path", [f"/api/tickets/{2**63}", f"/api/tickets/{2**31}", "/api/tickets/٣", "/api/tickets/3_0"]
)
async def test_path_ids_are_ascii_numbers_a_record_can_have(bridge, path):
    for _ in range(3):
        await bridge.open_ticket()
    body = await bridge.get(path, expect=422)
    assert body["error"]["code"] == "invalid_input"


@pytest.mark.parametrize(
    "query",
    [
        f"assignee_id={2**63}",
        f"offset={2**63}",
        "offset=-1",
        "limit=٣",
        "created_from=9999-12-31T23:59:59-23:59",
        "created_until=0001-01-01T00:00:00%2B23:59",
    ],
)
async def test_list_parameters_out_of_range_are_422(bridge, query):
    body = await bridge.get(f"/api/tickets?{query}", expect=422)
    assert body["error"]["code"] == "invalid_input"


async def test_agent_ids_in_bodies_are_bounded_json_numbers(bridge):
    admin = await bridge.admin()
    ticket = await bridge.open_ticket()
    for agent_id in (2**63, "1", 1.0, True):
        status, body = await bridge.request(
            "POST", f"/api/tickets/{ticket['id']}/assign", admin, json={"agent_id": agent_id}
        )
        assert status == 422, (agent_id, body)


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/tickets", {"conversation_id": "c1", "title": 123}),
        ("/api/tickets", {"conversation_id": 5, "title": "t"}),
        ("/api/tickets/{id}/notes", {"text": False}),
        ("/api/tickets/{id}/notes", {"text": 0}),
    ],
)
async def test_text_fields_take_strings_only(bridge, path, payload):
    ticket = await bridge.open_ticket()
    status, body = await bridge.request("POST", path.format(id=ticket["id"]), SERVICE, json=payload)
    assert status == 422, body
    assert body["error"]["details"]["errors"][0]["msg"] == "str type expected"


@pytest.mark.parametrize(
    "event",
    [
        {"event": {}, "sender_id": "c1"},
        {"event": "user", "sender_id": "c1", "metadata": "x"},
        {"event": "user", "sender_id": "c1", "metadata": [1]},
        {"event": "user", "sender_id": "c1", "parse_data": {"intent": "greet"}},
        {"event": "user", "sender_id": "c1", "timestamp": "soon"},
        "user",
    ],
)
async def test_malformed_rasa_events_are_422(bridge, event):
    status, body = await bridge.request("POST", "/api/rasa/events", SERVICE, json=[event])
    assert status == 422, body


async def test_well_formed_rasa_events_still_pass(bridge):
    events = [
        {"event": "user", "sender_id": "c1", "text": "hi", "metadata": {}, "timestamp": 1.0},
        {"event": "slot", "name": "x", "value": [1, {"y": 2}]},
    ]
    body = await bridge.post("/api/rasa/events", json=events)
    assert body["received"] == 2


async def test_405_answers_say_which_methods_are_allowed(bridge):
    status, body = await bridge.request("PUT", "/api/tickets", SERVICE, json={})
    assert status == 405, body
    async with bridge.client.put("/api/tickets", headers=SERVICE) as response:
        assert set(response.headers["Allow"].split(",")) >= {"GET", "POST"}
        assert response.content_type == "application/json"


async def test_a_body_that_is_not_an_object_is_422(bridge):
    ticket = await bridge.open_ticket()
    for raw in ("[[null, null]]", '[["text", "hi"]]', "3", '"x"'):
        status, body = await send(bridge, "POST", f"/api/tickets/{ticket['id']}/notes", raw)
        assert status == 422, (raw, body)
    assert (await bridge.ticket(ticket["id"]))["notes"] == []


async def raw_status(bridge: Bridge, path: str, header: bytes) -> int:
    """The status of a GET carrying `header` byte for byte: aiohttp's client
    sends only UTF-8, and browsers or scripts may send anything."""
    server = bridge.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n\r\n"
        % (path.encode(), header)
    )
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    "header", [b"Authorization: Bearer \xff\xfe", b'Cookie: handoff_session="\xc3\x28\xa0"']
)
async def test_credentials_that_are_not_utf8_are_401(bridge, header):
    # aiohttp decodes them to lone surrogates, which comparing or hashing raised on
    assert await raw_status(bridge, "/api/tickets", header) == 401
