import pytest

from actions.orders import (
    FORM_SLOTS,
    ActionCancelForm,
    ActionCancelOrder,
    ActionChangeAddress,
    ActionOrderStatus,
    ActionRequestInvoice,
    ActionSubmitRefund,
)
from actions.shop.orders import OrderStatus
from tests.actions.conftest import responses, slot_events


@pytest.mark.parametrize(
    ("order_id", "response"),
    [
        ("241115902216", "utter_order_status_pending_payment"),
        ("241115000457", "utter_order_status_paid"),
        ("241108302211", "utter_order_status_shipped"),
        ("241106117845", "utter_order_status_delivered"),
        ("241020559031", "utter_order_status_completed"),
        ("241101330087", "utter_order_status_cancelled"),
        ("241028664410", "utter_order_status_refunding"),
        ("241012447720", "utter_order_status_refunded"),
    ],
)
async def test_order_status_reply_per_status(
    order_id, response, dispatcher, tracker_for, domain_dict
):
    await ActionOrderStatus().run(
        dispatcher, tracker_for(slots={"order_id": order_id}), domain_dict
    )
    assert responses(dispatcher) == [response]
    # Every placeholder of the response's text is filled.
    message = dispatcher.messages[0]
    for variation in domain_dict["responses"][response]:
        for name in _placeholders(variation["text"]):
            assert message.get(name) not in (None, ""), name


def _placeholders(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


async def test_shipped_order_details_in_english(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for(slots={"order_id": "241108302211", "language": "en"})
    await ActionOrderStatus().run(dispatcher, tracker, domain_dict)
    message = dispatcher.messages[0]
    assert message["carrier"] == "SF Express"
    assert message["tracking_number"] == "SF1402876653921"


async def test_a_confirmed_refund_is_submitted_and_the_form_slots_cleared(
    fresh_store, dispatcher, tracker_for, domain_dict
):
    slots = {"order_id": "241106117845", "refund_reason": "quality", "refund_confirm": True}
    events = await ActionSubmitRefund().run(dispatcher, tracker_for(slots=slots), domain_dict)
    assert responses(dispatcher) == ["utter_refund_submitted"]
    assert dispatcher.messages[0]["refund_id"].startswith("RF")
    assert fresh_store.get("241106117845").status is OrderStatus.REFUNDING
    cleared = slot_events(events)
    assert set(cleared) == set(FORM_SLOTS) and not any(cleared.values())


async def test_no_reason_returns_mention_who_pays_shipping(dispatcher, tracker_for, domain_dict):
    slots = {"order_id": "241106117845", "refund_reason": "changed_mind", "refund_confirm": True}
    await ActionSubmitRefund().run(dispatcher, tracker_for(slots=slots), domain_dict)
    assert responses(dispatcher) == ["utter_refund_submitted_customer_pays"]


async def test_a_declined_refund_is_not_submitted(
    fresh_store, dispatcher, tracker_for, domain_dict
):
    slots = {"order_id": "241106117845", "refund_reason": "quality", "refund_confirm": False}
    await ActionSubmitRefund().run(dispatcher, tracker_for(slots=slots), domain_dict)
    assert responses(dispatcher) == ["utter_refund_not_submitted"]
    assert fresh_store.get("241106117845").status is OrderStatus.DELIVERED


async def test_a_stopped_form_offers_a_human_where_one_can_help(
    dispatcher, tracker_for, domain_dict
):
    slots = {"order_id": "241020559031", "order_problem": "window_passed"}
    events = await ActionSubmitRefund().run(dispatcher, tracker_for(slots=slots), domain_dict)
    assert dispatcher.messages == []
    assert slot_events(events)["handoff_reason"] == "form_failure"
    assert {"event": "followup", "name": "utter_offer_human"} in [
        {"event": e["event"], "name": e.get("name")} for e in events
    ]


async def test_a_stopped_form_without_human_help_just_ends(dispatcher, tracker_for, domain_dict):
    slots = {"order_id": "241028664410", "order_problem": "already"}
    events = await ActionSubmitRefund().run(dispatcher, tracker_for(slots=slots), domain_dict)
    assert not [e for e in events if e["event"] == "followup"]
    assert "handoff_reason" not in slot_events(events)


async def test_the_order_changed_since_the_form_checked_it(
    fresh_store, dispatcher, tracker_for, domain_dict
):
    fresh_store.cancel("241115000457")
    slots = {
        "order_id": "241115000457",
        "new_address": "上海市黄浦区南京东路1号",
        "address_confirm": True,
    }
    await ActionChangeAddress().run(dispatcher, tracker_for(slots=slots), domain_dict)
    assert responses(dispatcher) == ["utter_address_locked"]


async def test_address_change(fresh_store, dispatcher, tracker_for, domain_dict):
    slots = {
        "order_id": "241115000457",
        "new_address": "上海市黄浦区南京东路1号",
        "address_confirm": True,
    }
    await ActionChangeAddress().run(dispatcher, tracker_for(slots=slots), domain_dict)
    assert responses(dispatcher) == ["utter_address_changed"]
    assert fresh_store.get("241115000457").address == "上海市黄浦区南京东路1号"


@pytest.mark.parametrize(
    ("order_id", "response"),
    [("241115902216", "utter_order_cancelled_unpaid"), ("241115000457", "utter_order_cancelled")],
)
async def test_cancellation(order_id, response, fresh_store, dispatcher, tracker_for, domain_dict):
    slots = {"order_id": order_id, "cancel_confirm": True}
    await ActionCancelOrder().run(dispatcher, tracker_for(slots=slots), domain_dict)
    assert responses(dispatcher) == [response]
    assert fresh_store.get(order_id).status is OrderStatus.CANCELLED


async def test_invoices(dispatcher, tracker_for, domain_dict):
    company = {
        "order_id": "241106117845",
        "invoice_type": "company",
        "invoice_title": "云选科技有限公司",
        "tax_id": "91350100M000100Y43",
        "email": "finance@example.com",
    }
    await ActionRequestInvoice().run(dispatcher, tracker_for(slots=company), domain_dict)
    personal = {"order_id": "241106117845", "invoice_type": "personal", "email": "zw@example.com"}
    await ActionRequestInvoice().run(dispatcher, tracker_for(slots=personal), domain_dict)
    assert responses(dispatcher) == ["utter_invoice_requested", "utter_invoice_requested_personal"]
    assert dispatcher.messages[0]["tax_id"] == "91350100M000100Y43"


async def test_cancelling_a_form(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for(
        "算了", intent="stop", slots={"refund_reason": "quality"}, active_loop="refund_form"
    )
    events = await ActionCancelForm().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_form_cancelled"]
    assert {"event": "active_loop", "name": None} in [
        {"event": e["event"], "name": e.get("name")} for e in events
    ]
    assert slot_events(events)["refund_reason"] is None
