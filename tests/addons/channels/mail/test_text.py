"""Quoted history in the shapes the common clients write it."""

from __future__ import annotations

import pytest

from addons.channels.mail.text import html_to_text, new_words


@pytest.mark.parametrize(
    "history",
    [
        "On Mon, Dec 7, 2026 at 9:00 AM CloudPick <support@cloudpick.test> wrote:\n> old",
        "On Mon, Dec 7, 2026 at 9:00 AM CloudPick <support@cloudpick.test>\nwrote:\n> old",
        "-----Original Message-----\nFrom: CloudPick\nSent: Monday\nold",
        "------------------ 原始邮件 ------------------\n发件人: 云选客服\nold",
        "在 2026年12月7日 09:00，云选客服 <support@cloudpick.test> 写道：\n> old",
        '于 2026-12-07 09:00:00，"云选客服" 写道：\nold',
        "From: CloudPick <support@cloudpick.test>\nSent: Monday, December 7, 2026\n"
        "To: Zhang San\nSubject: Re: order\n\nold",
        "发件人: 云选客服\n发送时间: 2026年12月7日\n收件人: 张三\n主题: 订单\nold",
        "-- \nZhang San\nSales, Contoso",
    ],
)
def test_history_below_the_new_words_is_cut(history: str):
    assert new_words(f"Still not here.\n\n{history}\nmore old text") == "Still not here."


def test_quoted_lines_between_inline_answers_are_dropped():
    text = "> Which order?\n241108302211\n> Since when?\nMonday\n\nSent from my iPhone"
    assert new_words(text) == "241108302211\nMonday"


def test_a_forwarded_mail_is_kept_because_it_is_the_question():
    text = "See below\n\n---------- Forwarded message ---------\nFrom: shop\nYour refund failed"
    assert new_words(text) == text


def test_a_line_merely_mentioning_from_is_kept():
    text = "From: my home address\nto the office"
    assert new_words(text) == text


def test_html_blocks_become_lines_and_quotes_are_skipped():
    html = (
        "<div>Hello<br>second&nbsp;line</div><ul><li>one</li><li>two</li></ul>"
        "<blockquote><blockquote>nested</blockquote>old</blockquote><p>after</p>"
        "<div class='gmail_quote'>history</div>"
    )
    assert html_to_text(html) == "Hello\nsecond line\n\n- one\n- two\n\nafter"


def test_outlook_html_history_ends_the_text():
    html = "<p>new</p><hr><div id='divRplyFwdMsg'>From: x</div><p>old body</p>"
    assert html_to_text(html) == "new"


def test_broken_markup_is_read_without_error():
    assert html_to_text("<div><p>unclosed <b>bold<td>cell</div></span>&#xffffff;").startswith(
        "unclosed bold"
    )
