"""The handoff, ticket and CSAT actions against a real bridge on loopback."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from actions import bridge as bridge_module
from actions.bridge import BridgeClient, BridgeError
from actions.csat import ActionSubmitCsat, ValidateCsatForm, parse_score
from actions.handoff import ActionRequestHuman
from actions.outbox import HandoffOutbox
from actions.tickets import ActionOpenTicket, ticket_payload
from handoff.agents import service as agents
from handoff.agents.enums import Presence
from handoff.app import create_app
from handoff.app_keys import DATABASE, FLOWS
from handoff.settings import Settings
from handoff.tickets import service as tickets
from handoff.tickets.enums import TicketStatus
from tests.actions.conftest import responses, slot_events

TOKEN = "test-token"


@pytest.fixture
def bridge_requests() -> list[str]:
    """`METHOD raw-path` of every request the bridge answered, in order."""
    return []


@pytest.fixture
async def bridge(aiohttp_server, tmp_path, monkeypatch, bridge_requests) -> web.Application:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'handoff.db'}",
        api_token=TOKEN,
        rasa_url="http://127.0.0.1:9",
    )
    app = create_app(settings)

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        bridge_requests.append(f"{request.method} {request.raw_path}")

    app.on_response_prepare.append(record)
    server = await aiohttp_server(app)
    monkeypatch.setattr(
        bridge_module, "bridge", BridgeClient(str(server.make_url("")), TOKEN), raising=True
    )
    for module in ("actions.tickets", "actions.csat"):
        monkeypatch.setattr(f"{module}.bridge", bridge_module.bridge)
    return app


@pytest.fixture(autouse=True)
def outbox(tmp_path, monkeypatch) -> HandoffOutbox:
    """Every test holds requests in a file of its own, never in var/."""
    held = HandoffOutbox(tmp_path / "outbox.db")
    monkeypatch.setattr("actions.handoff.pending_handoffs", held)
    monkeypatch.setattr("actions.tickets.pending_handoffs", held)
    return held


async def put_agent_online(app: web.Application, **kwargs) -> None:
    async with app[DATABASE].transaction() as db:
        agent = await agents.create(db, username="amy", password="password-1", **kwargs)
        await agents.set_presence(db, agent=agent, presence=Presence.ONLINE)


async def stored_ticket(app: web.Application, ticket_id: str):
    async with app[DATABASE].reading() as db:
        return await tickets.get(db, ticket_id=int(ticket_id))


async def test_with_nobody_online_the_ticket_waits_and_the_bot_goes_on(
    bridge, dispatcher, tracker_for, domain_dict
):
    tracker = tracker_for(
        "我要转人工",
        intent="request_human",
        slots={"category": "after_sales", "order_id": "12345678"},
    )
    events = await ActionRequestHuman().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_handoff_no_agents"]
    assert not any(event["event"] == "pause" for event in events)
    ticket = await stored_ticket(bridge, slot_events(events)["ticket_id"])
    assert (ticket.status, ticket.live, ticket.category, ticket.order_id) == (
        "pending", False, "after_sales", "12345678",
    )  # fmt: skip
    assert ticket.handoff_reason == "asked"


async def test_with_an_agent_online_the_bot_pauses_and_tells_the_wait(
    bridge, dispatcher, tracker_for, domain_dict
):
    await put_agent_online(bridge)
    tracker = tracker_for("转人工", intent="request_human", slots={"language": "zh"})
    events = await ActionRequestHuman().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_handoff_queued"]
    assert dispatcher.messages[0]["position"] == 1 and dispatcher.messages[0]["minutes"] >= 1
    ticket_id = int(slot_events(events)["ticket_id"])
    assert dispatcher.messages[0]["custom"] == {
        "handoff": {"state": "queued", "position": 1, "ticket_id": ticket_id}
    }, "the web widget shows the place in the queue from it"
    assert events[-1]["event"] == "pause"
    ticket = await stored_ticket(bridge, slot_events(events)["ticket_id"])
    assert ticket.live and ticket.title == "客户请求人工服务"


def rendered(domain_dict, response: str, language: str, **values) -> str:
    """The response's text for a customer writing in `language`, filled as Rasa fills it."""
    from rasa.core.nlg.interpolator import interpolate_text

    variations = domain_dict["responses"][response]
    conditional = [v for v in variations if v.get("condition")]
    default = next(v for v in variations if not v.get("condition"))
    chosen = next((v for v in conditional if v["condition"][0]["value"] == language), default)
    return interpolate_text(chosen["text"], values)


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_the_first_in_the_queue_is_told_nobody_is_ahead(
    bridge, dispatcher, tracker_for, domain_dict, language
):
    """Position 1 is the next to be served: "您前面还有 1 位" said otherwise."""
    await put_agent_online(bridge)
    tracker = tracker_for("转人工", intent="request_human", slots={"language": language})
    await ActionRequestHuman().run(dispatcher, tracker, domain_dict)
    values = {k: v for k, v in dispatcher.messages[0].items() if k not in ("response",)}
    text = rendered(domain_dict, "utter_handoff_queued", language, **values)
    assert values["position"] == 1
    assert {"zh": "排在第 1 位", "en": "number 1 in the queue"}[language] in text
    assert "前面还有" not in text


async def test_asking_twice_links_the_same_ticket(bridge, dispatcher, tracker_for, domain_dict):
    first = await ActionRequestHuman().run(dispatcher, tracker_for("转人工"), domain_dict)
    second = await ActionRequestHuman().run(dispatcher, tracker_for("人工"), domain_dict)
    assert slot_events(first)["ticket_id"] == slot_events(second)["ticket_id"]


async def test_an_unreachable_bridge_holds_the_request_until_it_answers(
    bridge, outbox, dispatcher, tracker_for, domain_dict, monkeypatch
):
    """The customer is told the request is noted, and it becomes one
    follow-up ticket once the bridge answers, even with an agent online (the
    customer no longer waits in the chat)."""
    live_bridge = bridge_module.bridge
    monkeypatch.setattr("actions.tickets.bridge", BridgeClient("http://127.0.0.1:9", TOKEN))
    tracker = tracker_for("我的耳机坏了", intent="repair_warranty", slots={"phone": "13800000000"})
    events = await ActionRequestHuman().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_handoff_unavailable"]
    assert slot_events(events) == {"handoff_reason": "asked"}
    assert not any(event["event"] == "pause" for event in events)

    await put_agent_online(bridge)
    down = BridgeClient("http://127.0.0.1:9", TOKEN)
    assert await outbox.deliver_due(down.request_handoff) == 0
    assert [held.attempts for held in await outbox.pending()] == [1]
    await make_due(outbox)
    # A new process reads what the last one held.
    reopened = HandoffOutbox(outbox.path)
    assert await reopened.deliver_due(live_bridge.request_handoff) == 1
    assert await reopened.pending() == []
    [ticket] = await conversation_tickets(bridge, "customer")
    assert (ticket.live, ticket.status, ticket.handoff_reason) == (False, "pending", "asked")
    assert (ticket.title, ticket.customer_contact) == ("我的耳机坏了", "13800000000")


async def test_a_held_request_delivered_twice_makes_one_ticket(
    bridge, outbox, dispatcher, tracker_for, domain_dict
):
    """The first attempt reached the bridge but its answer was lost: the
    retry links to the ticket it opened."""
    await outbox.hold(ticket_payload(tracker_for("转人工"), "asked"))

    async def answer_lost(payload):
        await bridge_module.bridge.request_handoff(payload)
        raise BridgeError("/api/handoffs: connection reset")

    assert await outbox.deliver_due(answer_lost) == 0
    await make_due(outbox)
    assert await outbox.deliver_due(bridge_module.bridge.request_handoff) == 1
    assert len(await conversation_tickets(bridge, "customer")) == 1


async def test_retries_back_off_and_a_refused_request_is_kept_aside(outbox, tracker_for):
    await outbox.hold(ticket_payload(tracker_for("转人工"), "asked"))
    down = BridgeClient("http://127.0.0.1:9", TOKEN)
    waits = []
    for _ in range(4):
        await make_due(outbox)
        await outbox.deliver_due(down.request_handoff)
        waits.append(await asyncio.to_thread(outbox._seconds_to_next_attempt))
    assert waits == sorted(waits) and waits[-1] > 4 * waits[0] * 0.8
    assert await outbox.deliver_due(down.request_handoff) == 0  # not due yet

    async def refused(payload):
        raise BridgeError("/api/handoffs: title is too long", 422)

    await make_due(outbox)
    await outbox.deliver_due(refused)
    assert await outbox.pending() == []
    [(error,)] = await asyncio.to_thread(
        outbox._query, "SELECT last_error FROM pending_handoffs WHERE rejected = 1"
    )
    assert "too long" in error


async def test_a_later_request_the_bridge_took_drops_the_held_one(
    bridge, outbox, dispatcher, tracker_for, domain_dict
):
    """Else, once the agent resolved that ticket, the held one would open a second."""
    await outbox.hold(ticket_payload(tracker_for("转人工"), "asked"))
    await ActionRequestHuman().run(dispatcher, tracker_for("人工"), domain_dict)
    assert await outbox.pending() == []


async def test_a_failed_send_does_not_mark_the_request_that_replaced_it(outbox, tracker_for):
    """While an old held request was being sent, the customer asked again;
    the old send's refusal marked the new request rejected, and it was never
    sent, although the customer had been told it was noted."""
    await outbox.hold(ticket_payload(tracker_for("转人工"), "asked"))
    newer = ticket_payload(tracker_for("我的耳机坏了，转人工"), "asked")

    async def refused_while_the_customer_asked_again(payload):
        await outbox.hold(newer)
        raise BridgeError("/api/handoffs: title is too long", 422)

    await outbox.deliver_due(refused_while_the_customer_asked_again)
    [held] = await outbox.pending()
    assert (held.payload["title"], held.attempts) == (newer["title"], 0)


async def make_due(outbox: HandoffOutbox) -> None:
    await asyncio.to_thread(outbox._execute, "UPDATE pending_handoffs SET next_attempt_at = 0")


async def conversation_tickets(app: web.Application, conversation_id: str):
    async with app[DATABASE].reading() as db:
        rows, _ = await tickets.list_tickets(db, filters={"conversation_id": [conversation_id]})
    return rows


async def test_accepting_an_offer_keeps_the_offers_reason(
    bridge, dispatcher, tracker_for, domain_dict
):
    events = [
        {"event": "user", "text": "??"},
        {"event": "bot", "text": "…", "metadata": {"utter_action": "utter_offer_human"}},
        {"event": "user", "text": "好的"},
    ]
    tracker = tracker_for(
        "好的", intent="affirm", events=events, slots={"handoff_reason": "fallback"}
    )
    result = await ActionRequestHuman().run(dispatcher, tracker, domain_dict)
    assert slot_events(result)["handoff_reason"] == "fallback"
    ticket = await stored_ticket(bridge, slot_events(result)["ticket_id"])
    assert ticket.handoff_reason == "fallback"


async def test_a_form_in_progress_is_stopped(bridge, dispatcher, tracker_for, domain_dict):
    tracker = tracker_for(
        "转人工",
        intent="request_human",
        active_loop="refund_form",
        slots={"refund_reason": "quality"},
    )
    result = await ActionRequestHuman().run(dispatcher, tracker, domain_dict)
    assert {"event": "active_loop", "name": None} in [
        {"event": e["event"], "name": e.get("name")} for e in result
    ]
    assert slot_events(result)["refund_reason"] is None


async def test_a_complaint_opens_an_urgent_ticket(bridge, dispatcher, tracker_for, domain_dict):
    tracker = tracker_for(
        "你们太坑了，我要去12315投诉",
        intent="complaint",
        slots={"priority": "urgent", "category": "complaint", "language": "zh"},
    )
    events = await ActionOpenTicket().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_ticket_opened"]
    ticket = await stored_ticket(bridge, slot_events(events)["ticket_id"])
    assert (ticket.priority, ticket.category, ticket.live) == ("urgent", "complaint", False)
    assert ticket.title == "你们太坑了，我要去12315投诉"
    assert ticket.handoff_reason == "urgent"


async def test_a_complaint_with_the_bridge_down_becomes_a_ticket_once_it_answers(
    bridge, outbox, monkeypatch, dispatcher, tracker_for, domain_dict
):
    """The complaint's ticket was only logged as failed, and lost."""
    live_bridge = bridge_module.bridge
    monkeypatch.setattr("actions.tickets.bridge", BridgeClient("http://127.0.0.1:9", TOKEN))
    tracker = tracker_for("你们太坑了，我要投诉", intent="complaint", slots={"priority": "urgent"})
    assert await ActionOpenTicket().run(dispatcher, tracker, domain_dict) == []
    assert await outbox.deliver_due(live_bridge.request_handoff) == 1
    [ticket] = await conversation_tickets(bridge, "customer")
    assert (ticket.title, ticket.priority, ticket.live) == ("你们太坑了，我要投诉", "urgent", False)


async def test_a_repeated_complaint_adds_to_the_open_ticket(
    bridge, dispatcher, tracker_for, domain_dict
):
    """Each complaint opened a new urgent ticket: one customer repeating it
    (60 a minute within the channel's rate) filled the queue with them."""
    ids = set()
    for words in ("我要投诉，快递太慢了", "我要投诉！还没到"):
        tracker = tracker_for(
            words, intent="complaint", slots={"priority": "urgent", "category": "complaint"}
        )
        ids.add(
            slot_events(await ActionOpenTicket().run(dispatcher, tracker, domain_dict))["ticket_id"]
        )
    assert len(ids) == 1
    ticket = await stored_ticket(bridge, ids.pop())
    assert (ticket.priority, ticket.live) == ("urgent", False)
    assert "还没到" in ticket.description


async def test_what_the_customer_sent_never_keeps_them_from_a_ticket(
    bridge, dispatcher, tracker_for, domain_dict
):
    """The channels keep text as written, NUL included, and let a REST
    client name an input channel of up to 128 characters; the bridge refuses
    NUL (PostgreSQL cannot store it) and channels over 64. The handoff was
    refused, the customer told it was noted, and no ticket ever came."""
    events = [
        {
            "event": "user",
            "text": "我的快递\x00丢了",
            "input_channel": "app-" + "x" * 100,
            "parse_data": {"intent": {"name": "order_status"}},
        },
        {"event": "bot", "text": "“\x00”不是有效的订单号"},
        {
            "event": "user",
            "text": "转人工",
            "input_channel": "app-" + "x" * 100,
            "parse_data": {"intent": {"name": "request_human"}},
        },
    ]
    tracker = tracker_for(
        "转人工",
        intent="request_human",
        events=events,
        metadata={"name": "Li\x00", "contact": {"phone": "138"}},
        slots={"order_id": "2411\x00"},
    )
    events = await ActionRequestHuman().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_handoff_no_agents"]
    ticket = await stored_ticket(bridge, slot_events(events)["ticket_id"])
    assert ticket.title == "我的快递\ufffd丢了"
    assert "\x00" not in ticket.description and "bot: “\ufffd”" in ticket.description
    assert ticket.channel == ("app-" + "x" * 100)[:64]
    assert (ticket.customer_name, ticket.order_id) == ("Li\ufffd", "2411\ufffd")


async def test_long_messages_never_keep_the_customer_from_a_ticket(
    bridge, dispatcher, tracker_for, domain_dict
):
    """Five messages within the channels' 10,000 characters, quoted whole in
    the ticket's context (and a refund reason taken from the text), made a
    body over the bridge's 256 KiB: the handoff was refused with 413."""
    long_turn = {
        "event": "user",
        "text": "退" * 9_990,
        "parse_data": {"intent": {"name": "return_refund"}},
    }
    tracker = tracker_for(
        "转人工",
        intent="request_human",
        events=[long_turn] * 6,
        slots={"refund_reason": "坏" * 9_990},
    )
    events = await ActionRequestHuman().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_handoff_no_agents"]
    ticket = await stored_ticket(bridge, slot_events(events)["ticket_id"])
    assert ticket.context["slots"]["refund_reason"].startswith("坏")
    assert all(turn["text"].startswith("退") for turn in ticket.context["intents"])


def test_the_ticket_is_written_from_the_conversation(tracker_for):
    events = [
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
        {"event": "bot", "text": "Hello!"},
        {
            "event": "user",
            "text": "my <b>blender</b> arrived broken",
            "parse_data": {"intent": {"name": "repair_warranty"}},
        },
        {"event": "user", "text": "/request_human", "parse_data": {"intent": {"name": "x"}}},
    ]
    tracker = tracker_for("/request_human", events=events, slots={"language": "en"})
    payload = ticket_payload(tracker, "asked")
    assert payload["title"] == "my <b>blender</b> arrived broken"
    assert payload["description"].splitlines() == [
        "customer: hi",
        "bot: Hello!",
        "customer: my <b>blender</b> arrived broken",
    ]
    assert (payload["language"], payload["category"], payload["priority"]) == (
        "en",
        "general",
        "normal",
    )


@pytest.mark.parametrize(
    ("text", "score"),
    [("5", 5), ("4分", 4), ("⭐⭐⭐", 3), ("五星好评", 5), ("非常满意", 5), ("不满意", 2),
     ("good", 4), ("7", None), ("3 or 4", None), ("还行吧", None), ("", None)],
)  # fmt: skip
def test_scores_are_read_from_what_customers_type(text, score):
    assert parse_score(text) == score


async def test_an_unreadable_score_is_asked_again_once_then_skipped(
    dispatcher, tracker_for, domain_dict
):
    form = ValidateCsatForm()
    first = form.validate_csat_score("嗯嗯", dispatcher, tracker_for("嗯嗯"), domain_dict)
    assert first == {"csat_score": None, "csat_retries": 1}
    tracker = tracker_for("不知道", slots={"csat_retries": 1})
    second = form.validate_csat_score("不知道", dispatcher, tracker, domain_dict)
    assert second["csat_score"] == "skipped" and second["csat_comment"] == "skipped"
    assert responses(dispatcher) == ["utter_csat_invalid", "utter_csat_skipped"]


async def test_the_survey_result_is_stored_on_the_ticket(
    bridge, dispatcher, tracker_for, domain_dict
):
    opened = await ActionOpenTicket().run(dispatcher, tracker_for("坏了"), domain_dict)
    ticket_id = slot_events(opened)["ticket_id"]
    await bridge[FLOWS].set_status(int(ticket_id), to=TicketStatus.RESOLVED, by=None)
    tracker = tracker_for(
        "没有", slots={"ticket_id": ticket_id, "csat_score": 2, "csat_comment": "等太久"}
    )
    await ActionSubmitCsat().run(dispatcher, tracker, domain_dict)
    ticket = await stored_ticket(bridge, ticket_id)
    assert (ticket.csat_score, ticket.csat_comment) == (2, "等太久")
    assert responses(dispatcher)[-1] == "utter_csat_thanks"


async def test_a_survey_comment_with_nul_is_stored_not_lost(
    bridge, dispatcher, tracker_for, domain_dict
):
    """The bridge refused the comment (NUL), and with it the score."""
    ticket_id = await resolved_ticket(bridge, dispatcher, tracker_for, domain_dict)
    tracker = tracker_for(
        "没有", slots={"ticket_id": ticket_id, "csat_score": 4, "csat_comment": "还\x00行"}
    )
    await ActionSubmitCsat().run(dispatcher, tracker, domain_dict)
    ticket = await stored_ticket(bridge, ticket_id)
    assert (ticket.csat_score, ticket.csat_comment) == (4, "还\ufffd行")


async def resolved_ticket(bridge, dispatcher, tracker_for, domain_dict, sender="customer") -> str:
    opened = await ActionOpenTicket().run(
        dispatcher, tracker_for("坏了", sender=sender), domain_dict
    )
    ticket_id = slot_events(opened)["ticket_id"]
    await bridge[FLOWS].set_status(int(ticket_id), to=TicketStatus.RESOLVED, by=None)
    return ticket_id


async def test_a_survey_answer_reaches_only_the_customers_own_ticket(
    bridge, dispatcher, tracker_for, domain_dict
):
    """Ticket ids are sequential: a stranger who sets the slot to someone
    else's ticket rates nothing."""
    ticket_id = await resolved_ticket(bridge, dispatcher, tracker_for, domain_dict, "victim")
    answer = {"ticket_id": ticket_id, "csat_score": 1, "csat_comment": "差"}
    stranger = tracker_for("1", sender="stranger", slots=answer)
    await ActionSubmitCsat().run(dispatcher, stranger, domain_dict)
    assert (await stored_ticket(bridge, ticket_id)).csat_at is None
    victim = tracker_for("5", sender="victim", slots={**answer, "csat_score": 5})
    await ActionSubmitCsat().run(dispatcher, victim, domain_dict)
    assert (await stored_ticket(bridge, ticket_id)).csat_score == 5


@pytest.mark.parametrize("slot", ["99999/../1", "١", "1/", " 1", "1.0", "-1", "0x1"])
async def test_a_ticket_id_that_is_not_ascii_digits_is_never_sent(
    bridge, bridge_requests, dispatcher, tracker_for, domain_dict, slot
):
    """ "99999/../1" once rated ticket 1, and int() reads the Arabic-Indic "١" as 1."""
    ticket_id = await resolved_ticket(bridge, dispatcher, tracker_for, domain_dict)
    assert ticket_id == "1"
    answer = {"ticket_id": slot, "csat_score": 5, "csat_comment": ""}
    await ActionSubmitCsat().run(dispatcher, tracker_for("5", slots=answer), domain_dict)
    assert not [request for request in bridge_requests if request.endswith("/csat")]
    assert (await stored_ticket(bridge, ticket_id)).csat_at is None


async def test_the_bridge_client_keeps_a_ticket_id_in_its_path_segment(bridge, bridge_requests):
    with pytest.raises(BridgeError) as refused:
        await bridge_module.bridge.record_csat(
            "1/../2", conversation_id="customer", score=5, comment=None
        )
    assert refused.value.status == 422
    assert bridge_requests[-1] == "POST /api/tickets/1%2F..%2F2/csat"
