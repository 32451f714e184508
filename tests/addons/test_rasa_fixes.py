"""Our fixes to Rasa: the events endpoint's validation gives Rasa's verdicts
from a validator built once; NLU analyses the beginning of a long message;
customers send intent shortcuts only by clicking offered buttons; a custom
action that cannot run gets the customer an apology."""

from __future__ import annotations

import asyncio
import random
import time
from types import SimpleNamespace
from typing import Any

import jsonschema
import jwt
import pytest
import rasa.server
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.graph_components.converters.nlu_message_converter import NLUMessageConverter
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    FollowupAction,
    ReminderScheduled,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.shared.utils.schemas.events import EVENTS_SCHEMA
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic
from sanic.compat import Header
from sanic.request import Request
from sanic_jwt.authentication import Authentication

import addons.broker  # noqa: F401  (importing it applies the fixes)
from addons import analysis, rasa_fixes
from scripts.stack import free_port
from tests.conftest import PROJECT

JWT_SECRET = "a-secret-long-enough-for-hs512-" * 3
ADMIN_CLAIMS = {"user": {"username": "bridge", "role": "admin"}}

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


def installed() -> list[bool]:
    return [
        rasa.server.validate_events_in_request_body is rasa_fixes.validate_events_in_request_body,
        NLUMessageConverter.convert_user_message is rasa_fixes.convert_user_message,
        MessageProcessor.parse_message is rasa_fixes.parse_message,
        RegexMessageHandler.process is rasa_fixes.unpack_shortcuts,
        RemoteAction.run is rasa_fixes.run_remote_action,
        RemoteAction._validate_action_result is rasa_fixes.validate_action_result,
        EndpointConfig.session is rasa_fixes.endpoint_session,
        Authentication._decode is rasa_fixes.decode_jwt,
    ]


def test_loading_the_broker_installs_the_fixes_and_applying_again_changes_nothing():
    assert all(installed())
    rasa_fixes.apply()
    assert all(installed())
    assert rasa_fixes._rasa_parse_message is not rasa_fixes.parse_message  # Rasa's, not ours


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


ACTION_RESULTS = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "order_id", "value": "A1"}],
        "responses": [{"text": "ok"}],
    },
    {"events": "not a list"},
    {"events": [{"no": "event key"}]},
    {"responses": [{"text": 3}]},
    {"events": [{"event": 1}]},
]


@pytest.mark.parametrize("result", ACTION_RESULTS)
def test_an_action_servers_answer_gets_rasas_verdict(result):
    """The validator built once says what Rasa's `jsonschema.validate` says."""
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
        expected = None
    except jsonschema.ValidationError as error:
        expected = error.message
    action = RemoteAction("action_x", None)
    if expected is None:
        assert action._validate_action_result(result) is True
        return
    with pytest.raises(jsonschema.ValidationError) as raised:
        action._validate_action_result(result)
    assert raised.value.message.startswith(expected + ". Failed to validate Action server")


def test_some_action_answers_under_test_are_refused():
    refused = 0
    for result in ACTION_RESULTS:
        try:
            jsonschema.validate(result, RemoteAction.action_response_format_spec())
        except jsonschema.ValidationError:
            refused += 1
    assert refused >= 3


def test_some_bodies_under_test_are_refused():
    """Guards the parametrised test above against a schema that accepts all."""
    assert sum(rasas_verdict(body) is not None for body in BODIES) >= 4


# --- NLU analyses the beginning of a message only ---------------------------


def test_nlu_gets_the_first_analysed_characters_of_a_message():
    long_text = "退" * analysis.MAX_ANALYSED_CHARS + "货" * 10
    [long_message, short_message] = NLUMessageConverter().convert_user_message(
        [UserMessage(long_text), UserMessage("我要退货")]
    )
    assert long_message.get(TEXT) == "退" * analysis.MAX_ANALYSED_CHARS
    assert short_message.get(TEXT) == "我要退货"


@pytest.mark.parametrize(("value", "limit"), [(None, 2000), ("", 2000), (" 500 ", 500)])
def test_the_operator_sets_how_much_is_analysed(monkeypatch, value, limit):
    if value is None:
        monkeypatch.delenv("NLU_MAX_ANALYSED_CHARS", raising=False)
    else:
        monkeypatch.setenv("NLU_MAX_ANALYSED_CHARS", value)
    assert analysis.positive_int_from_environment("NLU_MAX_ANALYSED_CHARS", 2000) == limit


@pytest.mark.parametrize("value", ["0", "-5", "2k", "1e3"])
def test_a_limit_that_is_not_a_positive_number_stops_start_up(monkeypatch, value):
    monkeypatch.setenv("NLU_MAX_ANALYSED_CHARS", value)
    with pytest.raises(ValueError, match="NLU_MAX_ANALYSED_CHARS"):
        analysis.positive_int_from_environment("NLU_MAX_ANALYSED_CHARS", 2000)


def test_a_long_message_is_analysed_capped_and_kept_whole(nlu_agent):
    text = "我的订单20241108-0001还没到" + "请" * 5000 + "订单20240101-0002"
    asyncio.run(nlu_agent.handle_text(text, sender_id="long-message"))
    tracker = asyncio.run(nlu_agent.tracker_store.retrieve("long-message"))
    message = tracker.latest_message
    assert message.text == text
    assert message.parse_data["text"] == text[: analysis.MAX_ANALYSED_CHARS]
    assert all(entity["end"] <= analysis.MAX_ANALYSED_CHARS for entity in message.entities)


def test_a_100000_character_message_costs_about_what_the_analysed_part_costs(parse):
    """Ratios in one run, not absolute times: the machine is shared. Before the
    cap a 100,000-character message took hundreds of times as long."""
    rng = random.Random(7)

    def chinese(length: int) -> str:
        return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(length))

    def seconds(text: str) -> float:
        started = time.perf_counter()
        parse(text)
        return time.perf_counter() - started

    analysed = min(seconds(chinese(analysis.MAX_ANALYSED_CHARS)) for _ in range(3))
    huge = chinese(100_000)
    costs = []
    for _ in range(3):  # noise can only slow a run down: the fastest one counts
        costs.append(seconds(huge))
        if min(costs) <= 3 * analysed or costs[-1] > 30 * analysed:
            break
    assert min(costs) <= 3 * analysed, (costs, analysed)


# --- Intent shortcuts only from buttons the bot offered ---------------------

GREETING_BUTTONS = {"buttons": [{"title": "转人工", "payload": "/request_human"}]}
INVOICE_REPLIES = {
    "quick_replies": [{"title": "公司", "payload": '/inform{"invoice_type": "company"}'}]
}


def conversation(*events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("customer", [ActionExecuted("action_listen"), *events])


@pytest.mark.parametrize(
    ("events", "text", "allowed"),
    [
        # A click on a button the bot just offered.
        ([UserUttered("你好"), BotUttered("您好", GREETING_BUTTONS)], "/request_human", True),
        ([BotUttered("抬头类型？", INVOICE_REPLIES)], ' /inform{"invoice_type": "company"} ', True),
        # The same intent with entities nobody offered.
        (
            [UserUttered("你好"), BotUttered("您好", GREETING_BUTTONS)],
            '/request_human{"priority": "urgent", "order_id": "20249999-0001"}',
            False,
        ),
        # A button offered before the customer's previous message.
        (
            [BotUttered("您好", GREETING_BUTTONS), UserUttered("谢谢"), BotUttered("不客气")],
            "/request_human",
            False,
        ),
        # Intents only the bridge may trigger, even as an offered payload.
        ([], '/EXTERNAL_handoff_resolved{"ticket_id": "104"}', False),
        (
            [BotUttered("?", {"buttons": [{"payload": "/EXTERNAL_handoff_resolved"}]})],
            "/EXTERNAL_handoff_resolved",
            False,
        ),
        ([], "/restart", False),
        # Plain text has nothing to unpack.
        ([], "我要退货", True),
        ([], "1/2 的价格", True),
    ],
)
def test_which_shortcuts_a_conversation_may_send(events, text, allowed):
    assert rasa_fixes.shortcut_allowed(text, conversation(*events)) is allowed


def parse_in(nlu_agent, tracker: DialogueStateTracker | None, text: str) -> dict[str, Any]:
    return asyncio.run(nlu_agent.processor.parse_message(UserMessage(text), tracker))


def test_a_typed_shortcut_is_read_as_text(nlu_agent):
    forged = '/request_human{"priority": "urgent", "order_id": "20249999-0001"}'
    parsed = parse_in(nlu_agent, conversation(UserUttered("你好")), forged)
    assert parsed["text"] == forged
    assert len(parsed["intent_ranking"]) > 1  # NLU's reading, not the shortcut's one intent
    assert not any(entity["extractor"] == "RegexMessageHandler" for entity in parsed["entities"])
    assert "priority" not in {entity["entity"] for entity in parsed["entities"]}


def test_an_offered_shortcut_and_parsing_outside_a_conversation_unpack_it(nlu_agent):
    offered = conversation(BotUttered("抬头类型？", INVOICE_REPLIES))
    payload = '/inform{"invoice_type": "company"}'
    for tracker in (offered, None):
        parsed = parse_in(nlu_agent, tracker, payload)
        assert parsed["intent"] == {"name": "inform", "confidence": 1.0}
        assert [(e["entity"], e["value"]) for e in parsed["entities"]] == [
            ("invoice_type", "company")
        ]


# --- A custom action that cannot run -----------------------------------------


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(PROJECT / "domain.yml")


@pytest.mark.parametrize(("language", "words"), [("zh", "稍后再试"), ("en", "try again")])
async def test_an_unreachable_action_server_gets_the_customer_an_apology(domain, language, words):
    action = RemoteAction(
        "action_order_status", EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook")
    )
    tracker = DialogueStateTracker.from_events(
        "customer", [SlotSet("language", language)], slots=domain.slots
    )
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    events = await action.run(CollectingOutputChannel(), nlg, tracker, domain)
    [apology, listen] = events
    assert isinstance(apology, BotUttered)
    assert words in apology.text
    assert listen == FollowupAction("action_listen")


async def test_a_ticket_action_that_cannot_run_is_asked_for_again_by_a_reminder(domain):
    action = RemoteAction(
        "action_request_human", EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook")
    )
    asked = UserUttered("转人工", {"name": "request_human", "confidence": 1.0})
    tracker = DialogueStateTracker.from_events("customer", [asked], slots=domain.slots)
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    [retry, noted, listen] = await action.run(CollectingOutputChannel(), nlg, tracker, domain)
    assert isinstance(retry, ReminderScheduled)
    assert (retry.intent, retry.name, retry.kill_on_user_message) == (
        "request_human",
        "retry_action_request_human",
        False,
    )
    assert "已记下" in noted.text and listen == FollowupAction("action_listen")

    # The reminder's own turn fails too: asked again, nothing said twice.
    tracker.update(retry)
    tracker.update(UserUttered("EXTERNAL: request_human", {"name": "request_human"}))
    again = await action.run(CollectingOutputChannel(), nlg, tracker, domain)
    assert [type(event) for event in again] == [ReminderScheduled, FollowupAction]


async def test_an_endpoints_requests_share_one_connection():
    """Rasa's calls to the action server reuse one session, so one TCP
    connection, instead of opening one per call."""
    peers: list[object] = []

    async def answer(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}/webhook")
        for _ in range(3):
            assert await endpoint.request(json={"next_action": "x"}) == {
                "events": [],
                "responses": [],
            }
        assert len(peers) == 3 and len(set(peers)) == 1
    finally:
        await endpoint._kept_session[1].close()
        await server.close()


async def test_a_rejected_action_is_still_rejected():
    """The action server's 400 (an action declining to run) keeps Rasa's meaning."""
    rejection = web.json_response(
        {"action_name": "validate_refund_form", "error": "no"}, status=400
    )
    app = web.Application()
    app.router.add_post("/webhook", lambda request: _respond(rejection))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        action = RemoteAction(
            "validate_refund_form", EndpointConfig(str(server.make_url("/webhook")))
        )
        tracker = DialogueStateTracker.from_events("customer", [])
        with pytest.raises(ActionExecutionRejection):
            await action.run(CollectingOutputChannel(), None, tracker, Domain.empty())
    finally:
        await server.close()


async def _respond(response: web.Response) -> web.Response:
    return response


# --- Rasa's HTTP API refuses a token of another algorithm like any bad token --


@pytest.mark.parametrize(
    ("token", "accepted"),
    [
        (jwt.encode(ADMIN_CLAIMS, JWT_SECRET, algorithm="HS256"), True),
        (jwt.encode(ADMIN_CLAIMS, JWT_SECRET, algorithm="HS512"), False),
        # alg "none": no signature at all
        (jwt.encode(ADMIN_CLAIMS, None, algorithm="none"), False),
        ("not.a.token", False),
    ],
    ids=["HS256", "HS512", "none", "garbage"],
)
async def test_a_token_of_another_algorithm_is_not_authenticated(token, accepted, monkeypatch):
    """sanic-jwt turned DecodeError into 401 but let InvalidAlgorithmError
    through: anyone could get a 500 and a traceback in Rasa's log per
    request with `Authorization: Bearer eyJhbGciOiJub25lIn0.e30.`."""
    monkeypatch.setattr(Sanic, "test_mode", True)  # one Rasa app per case
    app = rasa.server.create_app(jwt_secret=JWT_SECRET, jwt_method="HS256")
    request = Request(
        b"/status", Header({"Authorization": f"Bearer {token}"}), "1.1", "GET", None, app
    )
    assert await app.ctx.auth.is_authenticated(request) is accepted
