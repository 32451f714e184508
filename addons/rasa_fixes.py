"""Fixes for Rasa 3.6 itself, applied when the Rasa server loads our event
broker or tracker store (endpoints.yml).

Rasa offers no plug-in point for these, so each one replaces a single Rasa
function with one that keeps its behaviour, and says why here. `apply()` is
idempotent. It is called from the modules only a Rasa server loads, so
importing our NLU components (training, benchmarks) stays light.

- The events endpoint (`POST /conversations/{id}/tracker/events`, which the
  handoff bridge calls for every agent message) validates the body with
  `jsonschema.validate`, which checks Rasa's whole events schema against its
  meta-schema before every use: about 14 ms of Rasa's event loop per call.
  The schema is a constant, so one validator built and checked once gives
  the same answers, and the same 400 error, in about 0.2 ms.
"""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import Any

import jsonschema
import rasa.server
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.utils.schemas.events import EVENTS_SCHEMA
from sanic.request import Request


@functools.cache
def _events_validator() -> Any:
    validator_class = jsonschema.validators.validator_for(EVENTS_SCHEMA)
    validator_class.check_schema(EVENTS_SCHEMA)
    return validator_class(EVENTS_SCHEMA)


def validate_events_in_request_body(request: Request) -> None:
    """`rasa.server.validate_events_in_request_body` with a validator built once."""
    events = request.json if isinstance(request.json, list) else [request.json]
    error = jsonschema.exceptions.best_match(_events_validator().iter_errors(events))
    if error is not None:
        raise rasa.server.ErrorResponse(
            HTTPStatus.BAD_REQUEST,
            "BadRequest",
            "Failed to validate the events format. "
            f"For more information about the format visit the docs. Error: {error}",
            help_url=f"{DOCS_BASE_URL}/pages/http-api",
        )


def apply() -> None:
    rasa.server.validate_events_in_request_body = validate_events_in_request_body
