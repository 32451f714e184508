from actions.faq import ActionAnswerFaq
from tests.actions.conftest import responses, slot_events

RANKING = [
    {
        "key": "faq/returns_shipping_cost",
        "question": {"zh": "退货运费谁出", "en": "who pays for return shipping"},
    },
    {
        "key": "faq/returns_refund_time",
        "question": {"zh": "退款多久到账", "en": "how long do refunds take"},
    },
    {"key": "faq/shipping_free_shipping", "question": {"zh": "满多少包邮"}},
]


def retrieval(confidence):
    return {"key": RANKING[0]["key"], "confidence": confidence, "ranking": RANKING}


async def test_a_confident_match_is_answered_and_categorised(dispatcher, tracker_for, domain_dict):
    events = await ActionAnswerFaq().run(
        dispatcher, tracker_for("退货运费谁出", intent="faq", faq=retrieval(0.9)), domain_dict
    )
    assert responses(dispatcher) == ["utter_faq/returns_shipping_cost"]
    assert slot_events(events) == {"category": "after_sales"}


async def test_a_clicked_suggestion_is_answered(dispatcher, tracker_for, domain_dict):
    entities = [{"entity": "faq_key", "value": "faq/shipping_free_shipping"}]
    events = await ActionAnswerFaq().run(
        dispatcher, tracker_for(intent="faq", entities=entities), domain_dict
    )
    assert responses(dispatcher) == ["utter_faq/shipping_free_shipping"]
    assert slot_events(events) == {"category": "order_logistics"}


async def test_an_unsure_match_asks_which_one_was_meant(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for("运费", intent="faq", faq=retrieval(0.3), slots={"language": "en"})
    await ActionAnswerFaq().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_faq_did_you_mean"]
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles == ["who pays for return shipping", "how long do refunds take", "满多少包邮"]


async def test_no_match_is_a_misunderstanding(dispatcher, tracker_for, domain_dict):
    await ActionAnswerFaq().run(
        dispatcher, tracker_for("嗯嗯", intent="faq", faq=retrieval(0.01)), domain_dict
    )
    assert responses(dispatcher)[0] in {"utter_clarify", "utter_rephrase"}


async def test_an_unknown_key_is_not_sent_to_rasa(dispatcher, tracker_for, domain_dict):
    entities = [{"entity": "faq_key", "value": "faq/<script>"}]
    await ActionAnswerFaq().run(
        dispatcher, tracker_for(intent="faq", entities=entities), domain_dict
    )
    assert "utter_faq/<script>" not in responses(dispatcher)
