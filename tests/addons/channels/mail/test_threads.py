"""The thread store: conversation ids, replays, the reference chain."""

from __future__ import annotations

from pathlib import Path

from addons.channels.mail.threads import ThreadStore


def remember(store: ThreadStore, address: str, message_id: str | None, **kwargs) -> bool:
    return store.record_inbound(
        store.conversation_id(address),
        address=address,
        name=kwargs.get("name"),
        subject=kwargs.get("subject", "订单"),
        language="zh",
        message_id=message_id,
        references=kwargs.get("references", ()),
    )


def test_an_address_is_one_conversation_that_cannot_be_guessed(tmp_path: Path):
    store = ThreadStore(tmp_path / "threads.db")
    first = store.conversation_id("alice@example.com")
    assert first == store.conversation_id("alice@example.com")
    assert first.startswith("email-") and "alice" not in first
    assert first != store.conversation_id("bob@example.com")
    # The key is kept: the same file gives the same ids after a restart.
    assert ThreadStore(tmp_path / "threads.db").conversation_id("alice@example.com") == first
    assert ThreadStore(tmp_path / "other.db").conversation_id("alice@example.com") != first
    assert ThreadStore(tmp_path / "keyed.db", "k").conversation_id("alice@example.com") == (
        ThreadStore(tmp_path / "keyed2.db", "k").conversation_id("alice@example.com")
    )


def test_a_message_id_is_handled_once(tmp_path: Path):
    store = ThreadStore(tmp_path / "threads.db")
    assert remember(store, "alice@example.com", "<1@example.com>")
    assert not remember(store, "alice@example.com", "<1@example.com>")
    assert remember(store, "alice@example.com", "<2@example.com>")


def test_answers_thread_under_the_latest_mail_and_options_last_one_turn(tmp_path: Path):
    store = ThreadStore(tmp_path / "threads.db")
    conversation = store.conversation_id("alice@example.com")
    remember(store, "alice@example.com", "<1@example.com>", name="Alice", subject="订单")
    store.record_outbound(conversation, "<a@cloudpick.test>", options=[{"key": "1"}])
    thread = store.thread(conversation)
    assert (thread.address, thread.name, thread.subject) == ("alice@example.com", "Alice", "订单")
    assert thread.last_message_id == "<1@example.com>"
    assert thread.references == ("<1@example.com>", "<a@cloudpick.test>")
    assert thread.options == ({"key": "1"},)

    store.record_outbound(conversation, "<b@cloudpick.test>", ticket_id=42)
    assert store.thread(conversation).options == ({"key": "1"},)  # kept when none given
    assert store.thread(conversation).ticket_id == 42

    remember(
        store, "alice@example.com", "<2@example.com>", subject="",
        references=("<1@example.com>", "<a@cloudpick.test>", "<b@cloudpick.test>"),
    )  # fmt: skip
    thread = store.thread(conversation)
    assert thread.options == ()  # the customer answered: the offer is over
    assert thread.subject == "订单"  # an empty subject keeps the thread's
    assert thread.references[-1] == "<2@example.com>" and thread.ticket_id == 42


def test_a_form_registers_a_conversation_without_a_mail(tmp_path: Path):
    store = ThreadStore(tmp_path / "threads.db")
    assert remember(store, "carol@example.com", None)
    assert remember(store, "carol@example.com", None)
    assert store.thread(store.conversation_id("carol@example.com")).last_message_id is None
    assert store.thread("email-unknown") is None
