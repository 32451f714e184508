from actions.products import ActionProductInfo
from tests.actions.conftest import responses, slot_events


def mentioning(product):
    return [{"entity": "product", "value": product}]


async def test_one_product(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for(
        "声浪Pro降噪耳机有货吗", intent="product_consult", entities=mentioning("声浪Pro降噪耳机")
    )
    events = await ActionProductInfo().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_product_info"]
    assert dispatcher.messages[0]["price"] == "899"
    assert slot_events(events) == {"product": "声浪Pro降噪耳机"}


async def test_out_of_stock(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for(
        intent="product_consult", entities=mentioning("Aurora Band 5"), slots={"language": "en"}
    )
    await ActionProductInfo().run(dispatcher, tracker, domain_dict)
    assert responses(dispatcher) == ["utter_product_info_out_of_stock"]
    assert dispatcher.messages[0]["name"] == "Aurora Band 5"


async def test_a_generic_word_lists_the_candidates(dispatcher, tracker_for, domain_dict):
    await ActionProductInfo().run(
        dispatcher, tracker_for(intent="product_consult", entities=mentioning("耳机")), domain_dict
    )
    assert responses(dispatcher) == ["utter_product_candidates"]
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        '/product_consult{"product": "声浪Pro降噪耳机"}',
        '/product_consult{"product": "声浪Lite蓝牙耳机"}',
    ]


async def test_unknown_and_missing_products(dispatcher, tracker_for, domain_dict):
    await ActionProductInfo().run(
        dispatcher, tracker_for(intent="product_consult", entities=mentioning("冰箱")), domain_dict
    )
    await ActionProductInfo().run(dispatcher, tracker_for(intent="product_consult"), domain_dict)
    assert responses(dispatcher) == ["utter_product_unknown", "utter_ask_which_product"]


async def test_the_product_slot_answers_a_follow_up(dispatcher, tracker_for, domain_dict):
    tracker = tracker_for("多少钱", intent="product_consult", slots={"product": "青松扫地机器人S7"})
    await ActionProductInfo().run(dispatcher, tracker, domain_dict)
    assert dispatcher.messages[0]["price"] == "2499"
