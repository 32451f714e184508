"""Fixes for Rasa 3.6 itself, applied when the Rasa server loads our event
broker or tracker store (endpoints.yml).

Rasa offers no plug-in point for these, so each one replaces a single Rasa
function (the shortcut rule a pair: one decides, one obeys) with one that
keeps its behaviour otherwise, and says why here. `apply()` is idempotent.
It is called from the modules only a Rasa server loads, so importing our NLU
components (training, benchmarks) stays light; Rasa loads those before the
model, and the model's graph binds its components' functions as it loads.

- The events endpoint (`POST /conversations/{id}/tracker/events`, which the
  handoff bridge calls for every agent message) validates the body with
  `jsonschema.validate`, which checks Rasa's whole events schema against its
  meta-schema before every use: about 14 ms of Rasa's event loop per call.
  The schema is a constant, so one validator built and checked once gives
  the same answers, and the same 400 error, in about 0.2 ms. Rasa does the
  same with every answer of the action server (`RemoteAction`'s
  `_validate_action_result`, 18 ms against 0.3 ms, an eighth of a message's
  time in Rasa): fixed the same way.
- NLU sees only the first `MAX_ANALYSED_CHARS` characters of a message.
  Several steps cost more than linearly in the length (jieba's HMM, the
  sequence tagger, regexes that retry from every position): a pasted
  100,000-character text held Rasa's event loop, and so every other
  customer, for minutes. The cap is applied where Rasa turns the incoming
  message into NLU's message, so every component, ours and Rasa's, sees the
  same capped text; the conversation keeps the whole text (`parse_data.text`
  holds the analysed part).
- Rasa's intent shortcut (`/intent{"entity": "value"}`) is for buttons, but
  every channel accepts it from customers: typing
  `/request_human{"priority": "urgent"}` set slots, and
  `/EXTERNAL_handoff_resolved{"ticket_id": "104"}` started another
  customer's survey. A message parsed in a conversation is unpacked only if
  its text is the payload of a button the bot offered since the last user
  turn, and never into an `EXTERNAL_*` intent; otherwise NLU reads it as
  plain text. Parsing outside a conversation (`/model/parse`, `rasa test`)
  and the bridge's paths (`trigger_intent`, the events endpoint) are
  unchanged. (An NLU server of its own, `nlu:` in endpoints.yml, would
  unpack shortcuts out of our reach; we run none.)
- When the action server cannot be reached, or fails, Rasa logs an error and
  the customer hears nothing. The custom action now utters
  `SERVICE_UNAVAILABLE_RESPONSE` and the bot listens again, so the customer
  knows to try again and the conversation goes on. An action that opens a
  ticket (`TICKET_ACTIONS`) is not left to the customer: Rasa tells them
  the request is noted and asks again by itself, every
  `ACTION_RETRY_SECONDS`, with a reminder re-triggering their intent, so
  the ticket is opened once the action server is back (a reminder lives in
  the Rasa process that scheduled it).
- Rasa opens a new HTTP session, so a new TCP connection, for every request
  to an endpoint (`EndpointConfig.request`): every call of a custom action
  paid a connection set-up. An endpoint now keeps one session per event
  loop and lends it to each request.
- sanic-jwt, which checks the JWTs of Rasa's HTTP API, answers 401 to a
  token it cannot decode but lets `InvalidAlgorithmError` through: a token
  of another algorithm (`alg: none`, HS512) got anyone a 500 and a
  traceback in Rasa's log. It is now refused like any other bad token.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Reversible
from contextvars import ContextVar
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import aiohttp
import jsonschema
import jwt
import rasa.server
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance
from rasa.core.processor import MessageProcessor
from rasa.graph_components.converters.nlu_message_converter import NLUMessageConverter
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.constants import DOCS_BASE_URL, INTENT_MESSAGE_PREFIX
from rasa.shared.core.constants import ACTION_LISTEN_NAME, EXTERNAL_MESSAGE_PREFIX
from rasa.shared.core.events import (
    BotUttered,
    Event,
    FollowupAction,
    ReminderScheduled,
    UserUttered,
)
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import INTENT_NAME_KEY, TEXT
from rasa.shared.utils.schemas.events import EVENTS_SCHEMA
from rasa.utils.endpoints import EndpointConfig
from sanic.request import Request
from sanic_jwt.authentication import Authentication

from addons.analysis import MAX_ANALYSED_CHARS

if TYPE_CHECKING:
    from rasa.core.channels.channel import OutputChannel, UserMessage
    from rasa.core.nlg import NaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)


# Intents only the bridge triggers (trigger_intent), never a customer.
EXTERNAL_INTENT_PREFIX = "EXTERNAL_"
# What the customer hears when a custom action cannot run (domain.yml).
SERVICE_UNAVAILABLE_RESPONSE = "utter_service_unavailable"
# Actions that open a ticket, tried again until the action server is back,
# and what the customer hears meanwhile (domain.yml).
TICKET_ACTIONS = frozenset({"action_request_human", "action_open_ticket"})
REQUEST_NOTED_RESPONSE = "utter_handoff_unavailable"
ACTION_RETRY_SECONDS = float(os.environ.get("ACTION_RETRY_SECONDS") or 30)
# Retries stop after about an hour of the action server being away.
MAX_ACTION_RETRIES = int(3600 // ACTION_RETRY_SECONDS)

# Whether the message being parsed may be unpacked as an intent shortcut:
# decided by `parse_message`, which has the conversation, and obeyed by the
# shortcut handler at the end of the NLU graph, which has not.
_shortcut_allowed: ContextVar[bool] = ContextVar("shortcut_allowed", default=True)

_rasa_convert_user_message = NLUMessageConverter.convert_user_message
_rasa_parse_message = MessageProcessor.parse_message
_rasa_unpack_shortcuts = RegexMessageHandler.process
_rasa_run_remote_action = RemoteAction.run
_sanic_jwt_decode = Authentication._decode
_rasa_endpoint_session = EndpointConfig.session


@functools.cache
def _events_validator() -> Any:
    validator_class = jsonschema.validators.validator_for(EVENTS_SCHEMA)
    validator_class.check_schema(EVENTS_SCHEMA)
    return validator_class(EVENTS_SCHEMA)


@functools.cache
def _action_result_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result` with a validator built once:
    the same `ValidationError`, with Rasa's hint, for a bad answer."""
    error = jsonschema.exceptions.best_match(_action_result_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        f"from the Action endpoint is valid. For more information about the format "
        f"visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


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


def convert_user_message(self: NLUMessageConverter, messages: list[UserMessage]) -> list[Message]:
    """`NLUMessageConverter.convert_user_message` giving NLU the analysed part only."""
    converted = _rasa_convert_user_message(self, messages)
    for message in converted:
        text = message.get(TEXT)
        if text and len(text) > MAX_ANALYSED_CHARS:
            message.set(TEXT, text[:MAX_ANALYSED_CHARS])
    return converted


def offered_payloads(events: Reversible[Event]) -> set[str]:
    """Payloads of the buttons (and quick replies) the bot offered since the last
    user turn: what a click may send now."""
    payloads: set[str] = set()
    for event in reversed(events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            for key in ("buttons", "quick_replies"):
                for button in event.data.get(key) or []:
                    payload = button.get("payload") if isinstance(button, dict) else None
                    if isinstance(payload, str):
                        payloads.add(payload.strip())
    return payloads


def shortcut_allowed(text: str | None, tracker: DialogueStateTracker) -> bool:
    """Whether a message in this conversation may be unpacked as an intent shortcut."""
    text = (text or "").strip()
    if not text.startswith(INTENT_MESSAGE_PREFIX):
        return True  # not a shortcut: nothing to unpack
    match = YAMLStoryReader._regex_message_pattern().match(text)
    if match and match.group(INTENT_NAME_KEY).strip().startswith(EXTERNAL_INTENT_PREFIX):
        return False
    return text in offered_payloads(tracker.events)


async def parse_message(
    self: MessageProcessor,
    message: UserMessage,
    tracker: DialogueStateTracker | None = None,
    only_output_properties: bool = True,
) -> dict[str, Any]:
    """`MessageProcessor.parse_message` that unpacks a shortcut typed in a
    conversation only if it is a button the bot just offered."""
    allowed = tracker is None or shortcut_allowed(message.text, tracker)
    if not allowed:
        logger.info(
            "Reading %r from %s as text, not as an intent shortcut.",
            message.text[:80],
            message.sender_id,
        )
    token = _shortcut_allowed.set(allowed)
    try:
        return await _rasa_parse_message(self, message, tracker, only_output_properties)
    finally:
        _shortcut_allowed.reset(token)


def unpack_shortcuts(
    self: RegexMessageHandler, messages: list[Message], domain: Domain | None = None
) -> list[Message]:
    """`RegexMessageHandler.process` that leaves NLU's reading of a refused shortcut."""
    if not _shortcut_allowed.get():
        return messages
    return _rasa_unpack_shortcuts(self, messages, domain)


async def run_remote_action(
    self: RemoteAction,
    output_channel: OutputChannel,
    nlg: NaturalLanguageGenerator,
    tracker: DialogueStateTracker,
    domain: Domain,
) -> list[Event]:
    """`RemoteAction.run` that tells the customer when the action server fails
    (unreachable, timing out or erring), then listens again."""
    try:
        return await _rasa_run_remote_action(self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise  # the action declined to run: Rasa predicts another one
    except (RasaException, TimeoutError):
        logger.exception("Custom action '%s' failed; telling the customer.", self.name())
    events: list[Event] = []
    response = SERVICE_UNAVAILABLE_RESPONSE
    if self.name() in TICKET_ACTIONS:
        response = REQUEST_NOTED_RESPONSE
        retry = _retry_later(self.name(), tracker)
        events += [retry] if retry else []
    retrying = (tracker.latest_message.text or "").startswith(EXTERNAL_MESSAGE_PREFIX)
    if not retrying:  # the customer heard it when they asked
        apology = await nlg.generate(response, tracker, output_channel.name())
        events += [create_bot_utterance(apology)] if apology else []
    return [*events, FollowupAction(ACTION_LISTEN_NAME)]


def _retry_later(action: str, tracker: DialogueStateTracker) -> ReminderScheduled | None:
    """A reminder that re-triggers the intent that asked for `action`, or
    None once it has been tried for long enough."""
    name = f"retry_{action}"
    tried = 0
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered) and not (event.text or "").startswith(
            EXTERNAL_MESSAGE_PREFIX
        ):
            break  # the customer's own request: count from there
        tried += isinstance(event, ReminderScheduled) and event.name == name
    intent = tracker.latest_message.intent.get(INTENT_NAME_KEY)
    if not intent or tried >= MAX_ACTION_RETRIES:
        logger.error("Gave up asking again for %s in %s", action, tracker.sender_id)
        return None
    return ReminderScheduled(
        intent,
        datetime.now() + timedelta(seconds=ACTION_RETRY_SECONDS),
        entities=[
            {"entity": e["entity"], "value": e["value"]} for e in tracker.latest_message.entities
        ],
        name=name,
        kill_on_user_message=False,
    )


class _LentSession:
    """What `async with endpoint.session()` gets: the endpoint's session,
    left open on exit for the next request."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *exc: object) -> None:
        return None


def endpoint_session(self: EndpointConfig) -> _LentSession:
    """`EndpointConfig.session`, made once per event loop and kept on the
    endpoint (its headers, auth and timeout are the endpoint's)."""
    loop = asyncio.get_running_loop()
    kept: tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession] | None = getattr(
        self, "_kept_session", None
    )
    if kept is None or kept[0] is not loop or kept[1].closed:
        kept = (loop, _rasa_endpoint_session(self))
        self._kept_session = kept
    return _LentSession(kept[1])


async def decode_jwt(
    self: Authentication, token: str, verify: bool = True, inline_claims: Any = None
) -> dict[str, Any]:
    """sanic-jwt's `Authentication._decode`, with a token of an algorithm
    other than Rasa's raised as the `DecodeError` sanic-jwt answers with 401."""
    try:
        return await _sanic_jwt_decode(self, token, verify=verify, inline_claims=inline_claims)
    except jwt.InvalidAlgorithmError as error:
        raise jwt.DecodeError(str(error)) from error


def apply() -> None:
    rasa.server.validate_events_in_request_body = validate_events_in_request_body
    NLUMessageConverter.convert_user_message = convert_user_message
    MessageProcessor.parse_message = parse_message
    RegexMessageHandler.process = unpack_shortcuts
    RemoteAction.run = run_remote_action
    RemoteAction._validate_action_result = validate_action_result
    EndpointConfig.session = endpoint_session
    Authentication._decode = decode_jwt
