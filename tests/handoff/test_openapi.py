"""`handoff/openapi.yaml` is a valid OpenAPI 3.0 document, served by the
bridge, and describes exactly the routes the bridge registers."""

from __future__ import annotations

import re
from functools import cache

import yaml
from jsonschema import RefResolver
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import openapi_v30_spec_validator, validate_spec

from handoff.api import OPENAPI
from handoff.app import create_app
from handoff.settings import Settings

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@cache
def document() -> dict:
    return yaml.safe_load(OPENAPI.read_text())


def registered_routes() -> set[tuple[str, str]]:
    """(method, path) of every route but the static files; HEAD comes with GET."""
    app = create_app(Settings(database_url="sqlite:///unused.db", api_token="x"))
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource.name != "console_static"
    }


def test_the_document_is_valid_openapi_3_0():
    spec = document()
    assert spec["openapi"] == "3.0.3"
    validate_spec(spec, validator=openapi_v30_spec_validator)


def test_every_route_is_documented_and_nothing_else():
    spec = document()
    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == registered_routes()


def test_every_operation_states_its_roles_and_security():
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            assert re.search(r"Roles:", operation["description"]), (method, path)
            assert "security" in operation, (method, path)


def test_the_schemas_the_clients_rely_on_are_there():
    schemas = document()["components"]["schemas"]
    for name in ("Ticket", "TicketEvent", "Note", "Agent", "Message", "HandoffResult", "Error"):
        assert name in schemas
    for body in ("TicketIn", "HandoffIn", "StatusIn", "AssignIn", "TransferIn", "NoteIn"):
        assert body in schemas
    for body in ("MessageIn", "CsatIn", "AgentIn", "PresenceIn", "LoginIn", "RasaEvents"):
        assert body in schemas
    schemes = document()["components"]["securitySchemes"]
    assert schemes["apiToken"] == {**schemes["apiToken"], "type": "http", "scheme": "bearer"}
    assert (schemes["session"]["in"], schemes["session"]["name"]) == ("cookie", "handoff_session")


async def test_the_bridge_serves_it(bridge):
    async with bridge.client.get("/api/openapi.yaml") as response:
        assert response.status == 200
        assert response.content_type == "application/yaml"
        assert yaml.safe_load(await response.text()) == document()


async def test_tickets_match_the_ticket_schema(bridge):
    """Every field the bridge sends is documented, and every required one sent."""
    schemas = document()["components"]["schemas"]
    result = await bridge.handoff("c-schema")
    for name, sent in (("HandoffResult", result), ("Ticket", result["ticket"])):
        schema = schemas[name]
        assert set(sent) == set(schema["properties"]), name
        assert set(schema["required"]) <= set(sent), name
    ticket = await bridge.ticket(result["ticket"]["id"])
    event = ticket["history"][0]
    assert set(event) == set(schemas["TicketEvent"]["properties"])


def conforms(instance: object, schema: str) -> None:
    spec = document()
    validator = OAS30Validator(
        {"$ref": f"#/components/schemas/{schema}"},
        resolver=RefResolver.from_schema(spec),
        format_checker=oas30_format_checker,
    )
    validator.validate(instance)


async def test_answers_match_their_documented_schemas(bridge):
    result = await bridge.handoff("c1", language="en", order_id="A1")
    conforms(result, "HandoffResult")
    alice = await bridge.add("alice", online=True)
    conforms(await bridge.agent(alice), "AgentWithLoad")
    conforms(await bridge.get("/api/session", alice), "Session")
    live = await bridge.handoff("c2")
    ticket_id = live["ticket"]["id"]
    conforms(await bridge.claim(ticket_id, alice), "Ticket")
    message = await bridge.post(
        f"/api/tickets/{ticket_id}/messages", alice, json={"text": "hi"}, expect=201
    )
    conforms(message, "Message")
    note = await bridge.post(
        f"/api/tickets/{ticket_id}/notes", alice, json={"text": "n"}, expect=201
    )
    conforms(note, "Note")
    conforms(await bridge.get(f"/api/tickets/{ticket_id}/context", alice), "TicketContext")
    conforms(await bridge.set_status(ticket_id, "resolved", alice), "Ticket")
    csat = {"score": 5, "conversation_id": "c2"}
    conforms(await bridge.post(f"/api/tickets/{ticket_id}/csat", json=csat), "Ticket")
    conforms(await bridge.ticket(ticket_id), "TicketDetail")
    conforms(await bridge.get("/api/tickets?limit=1"), "TicketPage")
    conforms(await bridge.set_status(ticket_id, "pending", expect=409), "Error")
    conforms(await bridge.post("/api/tickets", json={}, expect=422), "Error")
