"""Reply mails: threading headers, subjects, numbered options."""

from __future__ import annotations

from email.headerregistry import Address

import pytest

from addons.channels.mail.composer import (
    base_subject,
    chosen_payload,
    compose_reply,
    language_of,
    numbered_options,
    readable,
)
from addons.channels.mail.threads import Thread

SENDER = Address("云选客服", addr_spec="support@cloudpick.test")
CSAT_BUTTONS = [{"title": f"{n} 分", "payload": str(n)} for n in (5, 4, 3, 2, 1)]


def thread(**changes) -> Thread:
    values = {
        "conversation_id": "email-x", "address": "alice@example.com", "name": "Alice",
        "subject": "订单没有到", "language": "zh", "last_message_id": "<2@example.com>",
        "references": ("<1@example.com>", "<a@cloudpick.test>", "<2@example.com>"),
        "options": (), "ticket_id": None,
    }  # fmt: skip
    return Thread(**{**values, **changes})


def test_one_reply_combines_the_bots_messages_and_numbers_all_buttons():
    reply = compose_reply(
        thread(),
        [
            {"text": "您好！"},
            {"text": "请选择：", "buttons": [
                {"title": "查订单", "payload": "/order_status"},
                {"title": "退货", "payload": "/return"},
            ]},
            {"text": "或者：", "buttons": [{"title": "转人工", "payload": "/request_human"}]},
        ],
        sender=SENDER,
    )  # fmt: skip
    body = reply.message.get_content()
    assert "您好！" in body and "1. 查订单\n2. 退货" in body and "3. 转人工" in body
    assert "请直接回复对应的数字" in body
    assert [o.payload for o in reply.options] == ["/order_status", "/return", "/request_human"]
    assert reply.message["In-Reply-To"] == "<2@example.com>"
    assert reply.message["References"] == "<1@example.com> <a@cloudpick.test> <2@example.com>"
    assert reply.message["Subject"] == "Re: 订单没有到"
    assert reply.message["Auto-Submitted"] == "auto-replied"
    assert reply.message["Message-ID"].endswith("@cloudpick.test>")
    assert reply.message["To"].addresses[0].addr_spec == "alice@example.com"


def test_an_agents_reply_carries_the_ticket_and_is_no_auto_reply():
    reply = compose_reply(
        thread(subject="RE: Re: [工单 #7] 订单没有到", language="en"),
        [{"text": "I checked it.", "agent_name": "Li Na", "agent_id": 3}],
        sender=SENDER,
        ticket_id=7,
        automatic=False,
    )
    assert reply.message["Subject"] == "[Ticket #7] Re: 订单没有到"
    assert reply.message["Auto-Submitted"] == "no"
    assert "Li Na" in reply.message.get_content()


def test_numeric_payloads_are_their_own_numbers():
    options = [o.as_dict() for o in numbered_options(CSAT_BUTTONS)]
    assert [(o["key"], o["title"]) for o in options][:2] == [("5", "分"), ("4", "分")]
    assert chosen_payload("5", options) == "5"
    assert chosen_payload("１", options) == "1"  # full-width, as Chinese keyboards type it


@pytest.mark.parametrize(("reply", "payload"), [
    ("2", "/return"), (" 2. ", "/return"), ("(1)", "/order_status"), ("２。", "/return"),
    ("3", None), ("2 please", None), ("退货", None), ("", None),
])  # fmt: skip
def test_a_reply_picks_an_offered_option_only(reply: str, payload: str | None):
    options = [o.as_dict() for o in numbered_options(
        [{"title": "查订单", "payload": "/order_status"}, {"title": "退货", "payload": "/return"}]
    )]  # fmt: skip
    assert chosen_payload(reply, options) == payload


def test_subjects_lose_reply_prefixes_and_our_tag():
    assert base_subject("Re: RE: 回复：[工单 #12] Fwd: 发票") == "发票"
    assert base_subject("[Ticket #3] Re: invoice") == "invoice"


def test_languages():
    assert (language_of("我的order"), language_of("hello"), language_of("123", "en")) == (
        "zh", "en", "en",
    )  # fmt: skip


def test_a_message_for_the_web_widget_only_is_not_mailed():
    assert not readable({"custom": {"handoff": {"state": "queued"}}})
    assert readable({"text": "hi", "custom": {}}) and readable({"buttons": CSAT_BUTTONS})
