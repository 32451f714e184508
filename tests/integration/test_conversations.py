"""Whole conversations over the REST channel, against the real servers."""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest
import requests

from addons.nlu.text import detect_language

pytestmark = pytest.mark.integration


def sender() -> str:
    return f"customer-{uuid.uuid4().hex[:8]}"


def joined(replies: list[str]) -> str:
    return "\n".join(replies)


def test_order_status_in_chinese(assistant):
    me = sender()
    assert "小云" in joined(assistant.texts(me, "你好"))
    assert "订单号" in joined(assistant.texts(me, "我想查一下我的订单"))
    reply = joined(assistant.texts(me, "241108302211"))
    assert "SF1402876653921" in reply and "顺丰速运" in reply
    assert assistant.slots(me)["category"] == "order_logistics"
    assert "不客气" in joined(assistant.texts(me, "谢谢"))


def test_order_status_in_english_in_one_message(assistant):
    me = sender()
    reply = joined(assistant.texts(me, "Where is my order 241112781203?"))
    assert "JD Logistics" in reply and "JD0087765431209" in reply
    assert assistant.slots(me)["language"] == "en"


def test_refund_with_an_faq_digression_in_chinese(assistant):
    me = sender()
    assert "订单号" in joined(assistant.texts(me, "我要退货"))
    assert "原因" in joined(assistant.texts(me, "订单号是241106117845"))
    digression = assistant.texts(me, "退货运费谁出呀")
    assert "运费" in digression[0]
    assert "原因" in digression[-1], "the form asks its question again after the answer"
    confirmation = joined(assistant.texts(me, "东西坏了，质量有问题"))
    assert "确认" in confirmation and "¥2499" in confirmation
    result = joined(assistant.texts(me, "确认"))
    assert re.search(r"售后单号 RF\d+", result)
    slots = assistant.slots(me)
    assert slots["order_id"] == "241106117845"
    assert slots["refund_reason"] is None and slots["refund_confirm"] is None
    # The shop now knows: the same order can't be returned twice.
    assert "退款流程" in joined(assistant.texts(me, "我要退货"))


def test_refund_in_english_abandoned_midway(assistant):
    me = sender()
    assert "reason" in joined(assistant.texts(me, "I want to return order 241109553318")).lower()
    assert "stopped" in joined(assistant.texts(me, "never mind")).lower()
    assert assistant.tracker(me)["active_loop"] == {}
    # Nothing was submitted: the order can still be returned.
    assert "reason" in joined(assistant.texts(me, "return order 241109553318 please")).lower()


def test_an_ineligible_refund_is_explained_and_a_human_offered(assistant):
    me = sender()
    replies = assistant.say(me, "我要退货，订单241020559031")
    assert "15天" in replies[0]["text"]
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["/request_human", "/deny"]
    assert "人工" in joined(assistant.texts(me, "/request_human"))
    assert assistant.slots(me)["handoff_reason"] == "form_failure"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("支持花呗分期吗", "花呗"),
        ("满多少包邮？", "99"),
        ("do you deliver to Hong Kong?", "Hong Kong"),
        ("how long do refunds take", "business days"),
        # A wording no phrasing has, answered by what it means.
        ("how long does a refund take to arrive", "business days"),
    ],
)
def test_faq_answers(assistant, question, expected):
    assert expected in joined(assistant.texts(sender(), question))


def test_an_unsure_faq_match_offers_the_likely_questions(assistant):
    me = sender()
    # Two questions in one: no single entry answers it.
    replies = assistant.say(me, "when do I get refunds and invoices")
    assert replies[0]["text"] == "Did you mean one of these?"
    buttons = {b["title"]: b["payload"] for b in replies[0]["buttons"]}
    assert len(buttons) == 3
    chosen = buttons["how long do refunds take"]
    assert "business days" in joined(assistant.texts(me, chosen))


def test_two_misunderstandings_lead_to_the_offer_of_a_human(assistant):
    me = sender()
    first = assistant.say(me, "qwpoeiru zmxncbv")
    assert "one of these" in first[0]["text"] or "another way" in first[0]["text"]
    second = assistant.say(me, "lkjhgf poiuyt")
    assert "human agent" in second[-1]["text"]
    assert "human agent" in joined(assistant.texts(me, "yes please"))
    slots = assistant.slots(me)
    assert (slots["handoff_reason"], slots["priority"]) == ("fallback", "urgent")


def test_an_angry_complaint_is_urgent(assistant):
    me = sender()
    replies = assistant.texts(me, "你们太垃圾了！！！再不处理我就打12315投诉")
    assert "抱歉" in replies[0]
    slots = assistant.slots(me)
    assert (slots["priority"], slots["category"]) == ("urgent", "complaint")
    urgency = assistant.tracker(me)["latest_message"]["urgency"]
    assert "escalation" in urgency["reasons"]


def test_the_reply_language_follows_the_customer(assistant):
    me = sender()
    assert detect_language(joined(assistant.texts(me, "你好"))) == "zh"
    assert detect_language(joined(assistant.texts(me, "hello, can you help me?"))) == "en"
    assert detect_language(joined(assistant.texts(me, "ok"))) == "en"
    assert detect_language(joined(assistant.texts(me, "满多少包邮"))) == "zh"


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "😀😀😀",
        "退" * 10_000,
        "<script>alert('x')</script>",
        "<img src=x onerror=alert(1)>",
        "\x00\x01",
    ],
)
def test_bad_input_gets_an_answer_and_the_server_survives(assistant, message):
    me = sender()
    replies = assistant.say(me, message)
    assert replies and all(r.get("text") for r in replies)
    assert assistant.alive()
    assert "小云" in joined(assistant.texts(me, "你好"))


def test_html_is_kept_as_text_not_interpreted(assistant):
    me = sender()
    message = "<b>我的订单</b><script>alert(1)</script>"
    assistant.say(me, message)
    stored = [e["text"] for e in assistant.tracker(me)["events"] if e["event"] == "user"]
    assert stored == [message]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("12345", "不是有效的订单号"), ("13812345678", "手机号"), ("999999999999", "没有找到订单")],
)
def test_invalid_order_numbers_are_explained(assistant, typed, expected):
    me = sender()
    assistant.say(me, "查订单")
    reply = joined(assistant.texts(me, typed))
    assert expected in reply
    assert "订单号" in reply, "and the number is asked for again"
    assert "SF1402876653921" in joined(assistant.texts(me, "241108302211"))


def test_malformed_requests_get_a_client_error(assistant):
    url = f"{assistant.url}/webhooks/rest/webhook"
    assert requests.post(url, data="not json", timeout=10).status_code == 400
    # Without a message Rasa would reach NLU with no text: refused, and says why.
    missing = requests.post(url, json={"sender": "x"}, timeout=10)
    assert missing.status_code == 400
    assert "message" in missing.text
    assert requests.post(url, json={"sender": "x", "message": "你好"}, timeout=10).ok
    assert assistant.alive()


def test_conversations_are_stored_in_the_sqlite_tracker_store(assistant):
    me = sender()
    assistant.say(me, "你好")
    with sqlite3.connect(assistant.tracker_db) as db:
        types = [
            row[0] for row in db.execute("select type_name from events where sender_id = ?", (me,))
        ]
    assert "user" in types and "bot" in types
