from actions.fallback import ActionClarify, ActionCoreFallback, misunderstood_in_a_row
from tests.actions.conftest import responses, slot_events


def user(text="x"):
    return {"event": "user", "text": text}


def bot(response):
    return {"event": "bot", "text": "…", "metadata": {"utter_action": response}}


def test_counting_misunderstandings_in_a_row():
    assert misunderstood_in_a_row([user()]) == 0
    assert misunderstood_in_a_row([user(), bot("utter_clarify"), user()]) == 1
    assert (
        misunderstood_in_a_row(
            [user(), bot("utter_rephrase"), user(), bot("utter_clarify"), user()]
        )
        == 2
    )
    # An understood message in between starts the count again.
    assert (
        misunderstood_in_a_row([user(), bot("utter_clarify"), user(), bot("utter_greet"), user()])
        == 0
    )


RANKING = [
    {"name": "nlu_fallback", "confidence": 0.4},
    {"name": "greet", "confidence": 0.3},
    {"name": "return_refund", "confidence": 0.2},
    {"name": "order_status", "confidence": 0.05},
    {"name": "invoice", "confidence": 0.05},
]
FAQ = {
    "key": "faq/returns_shipping_cost",
    "confidence": 0.05,
    "ranking": [
        {
            "key": "faq/returns_shipping_cost",
            "question": {"zh": "退货运费谁出", "en": "who pays for return shipping"},
        },
        {
            "key": "faq/returns_refund_time",
            "question": {"zh": "退款多久到账", "en": "how long do refunds take"},
        },
    ],
}


async def test_first_misunderstanding_suggests_services_and_faq(
    dispatcher, tracker_for, domain_dict
):
    tracker = tracker_for(
        "运费咋算的",
        intent="nlu_fallback",
        intent_ranking=RANKING,
        faq=FAQ,
        slots={"language": "zh"},
    )
    events = await ActionClarify().run(dispatcher, tracker, domain_dict)
    assert events == []
    assert responses(dispatcher) == ["utter_clarify"]
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["title"] for b in buttons] == [
        "申请退货退款",
        "查询订单状态",
        "退货运费谁出",
        "退款多久到账",
    ]
    assert buttons[0]["payload"] == "/return_refund"
    assert buttons[2]["payload"] == '/faq{"faq_key": "faq/returns_shipping_cost"}'


async def test_english_titles_for_english_customers(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for(
        "hmm", intent="nlu_fallback", intent_ranking=RANKING, faq=FAQ, slots={"language": "en"}
    )
    await ActionClarify().run(dispatcher, tracker, domain_dict)
    assert dispatcher.messages[0]["buttons"][0]["title"] == "Return an item / get a refund"


async def test_nothing_to_suggest_asks_to_rephrase(dispatcher, tracker_for, domain_dict):
    await ActionClarify().run(dispatcher, tracker_for("???", intent="nlu_fallback"), domain_dict)
    assert responses(dispatcher) == ["utter_rephrase"]


async def test_second_misunderstanding_offers_a_human_and_marks_it_urgent(
    dispatcher, tracker_for, domain_dict
):
    events = [user("a"), bot("utter_clarify"), user("b")]
    tracker = tracker_for("b", intent="nlu_fallback", events=events)
    result = await ActionClarify().run(dispatcher, tracker, domain_dict)
    assert dispatcher.messages == []
    assert slot_events(result) == {"handoff_reason": "fallback", "priority": "urgent"}
    assert result[-1] == {"event": "followup", "timestamp": None, "name": "utter_offer_human"}


async def test_inside_a_form_the_form_asks_again_instead(dispatcher, tracker_for, domain_dict):
    events = [user("a"), bot("utter_clarify"), user("b")]
    tracker = tracker_for("b", intent="nlu_fallback", events=events, active_loop="refund_form")
    result = await ActionClarify().run(dispatcher, tracker, domain_dict)
    assert result == []
    assert responses(dispatcher) == ["utter_rephrase"]


async def test_an_empty_message_asks_to_rephrase(dispatcher, tracker_for, domain_dict):
    await ActionClarify().run(
        dispatcher, tracker_for("  ", intent="nlu_fallback", intent_ranking=RANKING), domain_dict
    )
    assert responses(dispatcher) == ["utter_rephrase"]


async def test_core_fallback_then_waits_for_the_customer(dispatcher, tracker_for, domain_dict):
    events = await ActionCoreFallback().run(
        dispatcher, tracker_for("好的", intent="affirm"), domain_dict
    )
    assert events[-1]["name"] == "action_listen"
