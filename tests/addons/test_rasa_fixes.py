"""The events endpoint's validation gives Rasa's verdicts, from a validator
built once."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
import rasa.server
from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

import addons.broker  # noqa: F401  (importing it applies the fixes)
from addons import rasa_fixes

BODIES: list[Any] = [
    {"event": "bot", "text": "您好", "metadata": {"agent_id": "7"}},
    [{"event": "bot", "text": "hi"}, {"event": "pause"}, {"event": "resume"}],
    [{"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}}],
    {"event": "slot", "name": "priority", "value": "urgent"},
    {"event": "no_such_event"},
    {"text": "no event type"},
    [{"event": "bot", "text": "ok"}, {"event": "action"}],  # an action needs a name
    {"event": "bot", "timestamp": "yesterday"},
    "not an event",
    [],
]


def rasas_verdict(body: Any) -> str | None:
    events = body if isinstance(body, list) else [body]
    try:
        jsonschema.validate(events, EVENTS_SCHEMA)
    except jsonschema.ValidationError as error:
        return str(error)
    return None


def test_loading_the_broker_installs_the_fix():
    assert rasa.server.validate_events_in_request_body is rasa_fixes.validate_events_in_request_body


@pytest.mark.parametrize("body", BODIES)
def test_the_verdicts_and_errors_are_rasas(body):
    expected = rasas_verdict(body)
    request = SimpleNamespace(json=body)
    if expected is None:
        rasa_fixes.validate_events_in_request_body(request)
        return
    with pytest.raises(rasa.server.ErrorResponse) as raised:
        rasa_fixes.validate_events_in_request_body(request)
    assert raised.value.status == 400
    assert raised.value.error_info["message"].endswith(f"Error: {expected}")


def test_some_bodies_under_test_are_refused():
    """Guards the parametrised test above against a schema that accepts all."""
    assert sum(rasas_verdict(body) is not None for body in BODIES) >= 4
