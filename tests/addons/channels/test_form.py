"""The ticket form's rules, without a server."""

from __future__ import annotations

import pytest

from addons.channels.form import InvalidForm, PageToken, form_language, read_form
from addons.channels.mail.attachments import Attachment

CATEGORIES = ["pre_sales", "after_sales", "general"]
GOOD = {
    "contact": " Alice@Example.com ",
    "name": "  Alice   Li ",
    "subject": "退款\n还没到",
    "description": "第一行\n第二行",
    "category": "after_sales",
}


def test_a_good_form_is_read_and_tidied():
    form = read_form(GOOD, [], CATEGORIES, "zh")
    assert (form.contact, form.contact_is_email, form.name) == (
        "alice@example.com",
        True,
        "Alice Li",
    )
    assert (form.subject, form.description) == ("退款 还没到", "第一行\n第二行")
    phone = read_form(
        {**GOOD, "contact": "+86 138-0013-8000", "category": ""}, [], CATEGORIES, "zh"
    )
    assert (phone.contact, phone.contact_is_email, phone.category) == (
        "+8613800138000",
        False,
        "general",
    )


def test_each_bad_field_is_named_in_the_submitters_language():
    with pytest.raises(InvalidForm) as refused:
        read_form(
            {"contact": "alice@", "subject": " ", "description": "x" * 4001, "category": "vip"},
            [Attachment(f"{n}.png", "image/png", b"x") for n in range(6)],
            CATEGORIES,
            "en",
        )
    fields = refused.value.details["fields"]
    assert set(fields) == {"contact", "subject", "description", "category", "attachments"}
    assert fields["contact"] == "Please give a valid e-mail address or phone number."
    assert fields["description"] == "Please keep it under 4000 characters."
    assert "5.png" in fields["attachments"]
    assert refused.value.as_dict()["error"]["code"] == "invalid_form"
    with pytest.raises(InvalidForm) as missing:
        read_form({}, [], CATEGORIES, "zh")
    assert missing.value.details["fields"]["contact"] == "请填写此项。"
    assert "name" not in missing.value.details["fields"]  # optional


@pytest.mark.parametrize("contact", ["12345", "abc", "+86 138 0013 8000 0000 1", "a@b", "<x@y.z>x"])
def test_contacts_that_reach_nobody_are_refused(contact: str):
    with pytest.raises(InvalidForm):
        read_form({**GOOD, "contact": contact}, [], CATEGORIES, "zh")


def test_the_page_token_expires_and_cannot_be_forged():
    now = [1_000_000.0]
    tokens = PageToken(b"key", clock=lambda: now[0])
    token = tokens.issue()
    assert tokens.valid(token)
    assert not PageToken(b"other", clock=lambda: now[0]).valid(token)
    assert not tokens.valid(token.replace(token[-1], "0" if token[-1] != "0" else "1"))
    assert not tokens.valid(None) and not tokens.valid("abc.def")
    now[0] += 2 * 3600 + 1
    assert not tokens.valid(token)


def test_the_language_is_asked_for_or_read_from_the_words():
    assert form_language({"language": "en", "subject": "退款"}, "") == "en"
    assert form_language({"subject": "refund", "description": "where"}, "zh-CN") == "en"
    assert form_language({"subject": "退款"}, "en-US") == "zh"
    assert form_language({"subject": "12345"}, "en-US") == "en"
