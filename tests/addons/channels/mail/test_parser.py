"""Mails as Outlook, Gmail, QQ Mail and NetEase write them, and broken ones."""

from __future__ import annotations

import pytest

from addons.channels.mail.parser import (
    MalformedMail,
    normalise_address,
    parse_inbound_form,
    parse_mime,
)
from tests.addons.channels.mail import samples


def test_an_outlook_reply_keeps_the_new_words_and_its_thread():
    mail = parse_mime(samples.OUTLOOK_REPLY)
    assert (mail.sender, mail.sender_name) == ("zhang.san@contoso.com", "张三")
    assert mail.text == "好的，我再等两天。\n\n张三"
    assert "发件人" not in mail.text and "已经发货" not in mail.text
    assert mail.in_reply_to == "<170000.1@cloudpick.test>"
    assert mail.references == ("<160000.1@contoso.com>", "<170000.1@cloudpick.test>")
    assert mail.subject == "RE: [工单 #42] Re: 订单没有到"
    assert mail.automatic is None


def test_a_gmail_reply_with_a_wrapped_quote_introduction_is_only_the_choice():
    mail = parse_mime(samples.GMAIL_REPLY)
    assert mail.text == "2"
    assert mail.message_id == "<CAF=abc123@mail.gmail.com>"


def test_an_html_only_qq_mail_in_gb18030_loses_its_quoted_original():
    mail = parse_mime(samples.QQ_MAIL_HTML_ONLY)
    assert (mail.sender, mail.sender_name, mail.subject) == ("10001@qq.com", "李四", "退货")
    assert mail.text == "我要退货，订单号 241106117845"


def test_gbk_text_labelled_gb2312_is_read_whole():
    mail = parse_mime(samples.GB2312_PLAIN)
    assert mail.text == "朱镕基同志的发票怎么开？"  # 镕 is GBK only
    assert (mail.sender_name, mail.subject) == ("李先生", "发票")


def test_scripts_styles_handlers_and_comments_never_reach_the_text():
    mail = parse_mime(samples.HTML_WITH_SCRIPT)
    assert mail.text == "Where is my order?\n\nThanks"


def test_malformed_mime_and_unknown_charsets_give_a_readable_mail():
    mail = parse_mime(samples.MALFORMED)
    assert mail.sender == "bob@example.org"
    assert mail.text.startswith("Hello") and mail.text.endswith("there")
    [attachment] = mail.attachments
    # No path survives in a file name.
    assert "/" not in attachment.filename and "\x00" not in attachment.filename
    assert attachment.data.startswith(b"%PDF")


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\xff garbage", b"Subject: no sender\n\nhi", b"From: not an address\n\nhi"],
)
def test_a_mail_without_a_sender_address_is_refused_plainly(raw: bytes):
    with pytest.raises(MalformedMail):
        parse_mime(raw)


@pytest.mark.parametrize(
    ("raw", "envelope_sender", "reason"),
    [
        (samples.AUTO_REPLY, None, "Auto-Submitted: auto-replied"),
        (samples.BOUNCE, None, "delivery report"),
        (samples.HTML_WITH_SCRIPT, "", "empty envelope sender (a bounce)"),
        (samples.HTML_WITH_SCRIPT.replace(b"Subject:", b"Precedence: bulk\nSubject:"), None,
         "Precedence: bulk"),
        (samples.HTML_WITH_SCRIPT.replace(b"mallory@", b"no-reply@"), None,
         "robot sender no-reply@example.net"),
    ],
)  # fmt: skip
def test_robots_are_recognised(raw: bytes, envelope_sender: str | None, reason: str):
    assert parse_mime(raw, envelope_sender=envelope_sender).automatic == reason


def test_a_person_is_no_robot():
    assert parse_mime(samples.GMAIL_REPLY, envelope_sender="alice@gmail.com").automatic is None


def test_attachments_are_files_not_bodies_nor_inline_logos():
    raw = samples.with_attachments(("发票.pdf", "application/pdf", b"%PDF-1.4"))
    [attachment] = parse_mime(raw).attachments
    assert (attachment.filename, attachment.content_type) == ("发票.pdf", "application/pdf")
    logo = raw.replace(
        b"Content-Disposition: attachment", b"Content-ID: <logo>\nContent-Disposition: inline"
    )
    assert parse_mime(logo).attachments == ()


def test_the_inbound_parse_form_reads_fields_headers_and_raw_mime():
    mail = parse_inbound_form(
        {
            "from": "Dave <DAVE@Example.com>",
            "to": "support@cloudpick.test",
            "subject": "Re: Your enquiry",
            "text": "1\n\nOn Sun, Dec 6, 2026, CloudPick wrote:\n> pick one",
            "headers": "Message-ID: <m.1@example.com>\nIn-Reply-To: <x@cloudpick.test>\n",
        },
        [],
    )
    assert (mail.sender, mail.text) == ("dave@example.com", "1")
    assert mail.message_id == "<m.1@example.com>"
    assert mail.in_reply_to == "<x@cloudpick.test>"
    html_only = parse_inbound_form(
        {"from": "e@example.com", "html": "<p>hi<script>x()</script></p>"}, []
    )
    assert html_only.text == "hi"
    raw = parse_inbound_form({"email": samples.GMAIL_REPLY.decode()}, [])
    assert (raw.sender, raw.text) == ("alice@gmail.com", "2")
    auto = parse_inbound_form(
        {"from": "f@example.com", "text": "away", "headers": "Auto-Submitted: auto-replied\n"}, []
    )
    assert auto.automatic


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Alice <Alice@Example.COM>", "alice@example.com"),
        ("bob@example.org", "bob@example.org"),
        ("not an address", None),
        ("<>", None),
        ("a@b", None),
    ],
)
def test_addresses_are_normalised(value: str, expected: str | None):
    assert normalise_address(value) == expected


def test_a_huge_html_mail_is_read_only_as_far_as_new_words_go():
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"] = "news@example.com"
    mail.set_content("<p>top words</p>" + "<div><p>filler <b>x</b></p></div>" * 100_000, "html")
    parsed = parse_mime(mail.as_bytes())
    assert parsed.text.startswith("top words")
    assert len(parsed.text) < 100_000  # the rest of 3.3 MB of HTML was not read
