from actions.handoff import ActionRequestHuman
from tests.actions.conftest import responses, slot_events


async def test_asking_for_a_human(dispatcher, tracker_for, domain_dict):
    events = await ActionRequestHuman().run(
        dispatcher, tracker_for("转人工", intent="request_human"), domain_dict
    )
    assert responses(dispatcher) == ["utter_handoff_pending"]
    assert slot_events(events) == {"handoff_reason": "asked"}


async def test_accepting_an_offer_keeps_the_offers_reason(dispatcher, tracker_for, domain_dict):
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


async def test_a_form_in_progress_is_stopped(dispatcher, tracker_for, domain_dict):
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
