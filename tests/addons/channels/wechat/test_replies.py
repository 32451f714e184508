"""The bot's and agents' messages as WeChat text and passive replies."""

from __future__ import annotations

import xmltodict

from addons.channels.wechat import parser, replies
from tests.fakes.wechat import WeChatServer

GREETING = {
    "text": "您好，我是小云",
    "buttons": [
        {"title": "查询订单", "payload": "/order_status"},
        {"title": "转人工", "payload": "/request_human"},
    ],
}
CSAT = {
    "text": "请为本次人工服务打分",
    "buttons": [{"title": "5 非常满意", "payload": "5"}, {"title": "1 非常不满意", "payload": "1"}],
}


def test_shortcut_buttons_are_numbered_and_read_back_by_number_or_title():
    outgoing = replies.render(GREETING)
    assert outgoing.text == "您好，我是小云\n1. 查询订单\n2. 转人工\n" + replies.OPTIONS_HINT
    options = replies.OfferedOptions()
    options.offer("o1", outgoing.choices)
    assert options.read("o1", " 2 ") == "/request_human"
    # Answered once, the options are gone: "1" is words again.
    assert options.read("o1", "1") == "1"
    options.offer("o1", outgoing.choices)
    assert options.read("o1", "查询订单") == "/order_status"
    assert options.read("o2", "1") == "1"  # offered to someone else


def test_plain_payload_buttons_are_typed_as_they_are():
    outgoing = replies.render(CSAT)
    assert outgoing.text == "请为本次人工服务打分\n5 非常满意\n1 非常不满意"
    assert outgoing.choices == {}  # "1" stays "1": the lowest score, not the first line


def test_an_agent_is_named_and_the_bridges_notices_are_not():
    agent = {"text": "您好，我来帮您查", "agent_id": 3, "agent_name": "小王", "ticket_id": 9}
    assert replies.render(agent).text == "【小王】您好，我来帮您查"
    notice = {**agent, "text": "客服已接入", "handoff_state": "connected"}
    assert replies.render(notice).text == "客服已接入"
    assert replies.render({"image": "https://x/p.png"}).text == "[图片 / image] https://x/p.png"
    assert replies.render({"custom": {"x": 1}}).text == ""


def test_a_passive_reply_holds_what_fits_in_one_text():
    short = [replies.Outgoing("a"), replies.Outgoing("b")]
    assert replies.passive_text(short) == "a\n\nb"
    assert replies.passive_text([replies.Outgoing("长" * 683)]) is None  # 2,049 bytes
    assert replies.passive_text([replies.Outgoing("长" * 682)]) == "长" * 682
    assert replies.passive_text([]) is None


def test_a_reply_cannot_be_broken_out_of_its_cdata():
    wechat = WeChatServer()
    message = parser.parse_message(wechat.xml(wechat.text("o1", "hi")))
    hostile = "]]></Content><Content>forged</Content><x><![CDATA[\x00\x1f"
    reply = xmltodict.parse(replies.text_reply(message, hostile))["xml"]
    assert reply["Content"] == "]]></Content><Content>forged</Content><x><![CDATA["
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == (
        "o1",
        wechat.account,
        "text",
    )
