"""The inbound guard's rules, on their own (no Sanic, no Rasa)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from addons.analysis import MAX_ANALYSED_CHARS
from addons.channels.errors import (
    InvalidMessage,
    InvalidMetadata,
    InvalidSenderId,
    MessageTooLong,
    MetadataTooLarge,
    RateLimited,
)
from addons.channels.guard import (
    MAX_METADATA_DEPTH,
    ChannelLimits,
    InboundGuard,
    SenderRateLimiter,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(**limits: Any) -> InboundGuard:
    return InboundGuard(ChannelLimits(**limits))


@pytest.mark.parametrize(
    "sender_id",
    [
        "0f8fa3b2c4d94f6e8a1b2c3d4e5f6a7b",  # socket.io session ids
        "customer-1a2b3c4d",
        "wechat:oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "someone@example.com",
        "a+b=c.d",
        "x" * 128,
    ],
)
def test_sender_ids_of_the_documented_shape_pass(sender_id):
    assert guard().admit(sender_id, "hi", None).sender_id == sender_id


@pytest.mark.parametrize(
    "sender_id",
    ["x\ud800", "", "x" * 129, "a/b", "../78", "a b", "客户", "x\x00", "x\n", 5, ["x"], {"a": 1}],
)
def test_other_sender_ids_are_refused(sender_id):
    with pytest.raises(InvalidSenderId) as refused:
        guard().admit(sender_id, "hi", None)
    assert "128" in refused.value.message


def test_a_missing_sender_id_is_left_to_rasa():
    assert guard().admit(None, "hi", None).sender_id is None


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("hi\ud800", "hi\ufffd"),
        ("\udc00\ud83d", "\ufffd\ufffd"),
        ("😀 退货", "😀 退货"),
        ("\x00\x01", "\x00\x01"),
        ("", ""),
        (None, None),
    ],
)
def test_text_keeps_what_was_written_and_repairs_lone_surrogates(sent, kept):
    assert guard().admit("c", sent, None).text == kept


def test_text_up_to_the_limit_is_kept_whole_and_beyond_it_refused():
    assert guard(max_message_chars=10).admit("c", "退" * 10, None).text == "退" * 10
    with pytest.raises(MessageTooLong) as refused:
        guard(max_message_chars=10).admit("c", "退" * 11, None)
    assert refused.value.details == {"limit_chars": 10}
    assert "11 characters" in refused.value.message


@pytest.mark.parametrize("text", [5, ["hi"], {"text": "hi"}, True])
def test_text_must_be_a_string(text):
    with pytest.raises(InvalidMessage):
        guard().admit("c", text, None)


def test_metadata_is_repaired_in_keys_and_values_at_any_depth():
    metadata = {"k\ud800": ["v\udfff", {"n": 1, "ok": True, "none": None}]}
    assert guard().admit("c", "hi", metadata).metadata == {
        "k\ufffd": ["v\ufffd", {"n": 1, "ok": True, "none": None}]
    }


def test_metadata_sent_as_json_text_is_parsed():
    assert guard().admit("c", "hi", '{"page": "/faq"}').metadata == {"page": "/faq"}


@pytest.mark.parametrize(
    "metadata", [[1], "[1]", "not json", 5, "NaN", {"x": float("nan")}, {"x": float("inf")}]
)
def test_metadata_must_be_a_json_object(metadata):
    with pytest.raises(InvalidMetadata):
        guard().admit("c", "hi", metadata)


def test_metadata_nested_too_deep_is_refused():
    deep: Any = "leaf"
    for _ in range(MAX_METADATA_DEPTH + 1):
        deep = {"d": deep}
    with pytest.raises(InvalidMetadata):
        guard().admit("c", "hi", deep)


@pytest.mark.parametrize("as_text", [False, True])
def test_metadata_is_bounded_by_its_utf8_size(as_text):
    limit = 100
    fits = {"k": "é" * ((limit - len('{"k":""}')) // 2)}  # two bytes each
    too_big = {"k": "é" * (len(fits["k"]) + 1)}

    def sent(value: dict[str, Any]) -> Any:
        return json.dumps(value, ensure_ascii=False) if as_text else value

    assert guard(max_metadata_bytes=limit).admit("c", "hi", sent(fits)).metadata == fits
    with pytest.raises(MetadataTooLarge):
        guard(max_metadata_bytes=limit).admit("c", "hi", sent(too_big))


def test_a_sender_gets_its_burst_then_the_sustained_rate():
    clock = Clock()
    limiter = SenderRateLimiter(messages_per_minute=60, burst=3, clock=clock)
    assert [limiter.acquire("flood") for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("flood") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.acquire("flood") == pytest.approx(0.5), "a refused message earns nothing"
    clock.now += 0.5
    assert limiter.acquire("flood") == 0
    assert limiter.acquire("flood") > 0


def test_one_sender_flooding_does_not_limit_another():
    clock = Clock()
    flooded = InboundGuard(ChannelLimits(burst=2), clock=clock)
    flooded.admit("flood", "a", None)
    flooded.admit("flood", "a", None)
    with pytest.raises(RateLimited) as refused:
        flooded.admit("flood", "a", None)
    assert refused.value.retry_after == pytest.approx(1.0)
    assert flooded.admit("honest", "a", None).text == "a"


def test_long_messages_take_their_analysis_cost_from_the_sender():
    """A sender of 9,000-character messages got 60 a minute, each holding
    Rasa for a third of a second: honest customers' p95 rose 5x (bench/abuse.py
    --flood-chars 9000). Each message now pays for the characters NLU reads."""
    clock = Clock()
    long_sender = InboundGuard(ChannelLimits(burst=20, chars_per_token=200), clock=clock)
    assert long_sender.cost("你好") == 1
    assert long_sender.cost("退" * 450) == 3
    assert long_sender.cost("退" * 9000) == 1 + MAX_ANALYSED_CHARS // 200, "only what NLU reads"
    long_sender.admit("paster", "退" * 9000, None)
    with pytest.raises(RateLimited) as refused:
        long_sender.admit("paster", "退" * 9000, None)
    assert refused.value.retry_after == pytest.approx(2.0)  # 11 tokens wanted, 9 left, 1 a second
    assert long_sender.admit("paster", "好的", None).text == "好的", "short ones still pass"


def test_a_long_message_leaves_room_for_the_customers_next_short_one():
    limiter = SenderRateLimiter(messages_per_minute=60, burst=5, clock=Clock())
    assert limiter.acquire("paster", cost=50) == 0
    assert limiter.acquire("paster") == 0
    assert limiter.acquire("paster") == pytest.approx(1.0)


def test_messages_without_a_sender_share_one_bucket():
    anonymous = InboundGuard(ChannelLimits(burst=1), clock=Clock())
    anonymous.admit(None, "a", None)
    with pytest.raises(RateLimited):
        anonymous.admit(None, "a", None)


def test_the_limiter_forgets_the_least_recently_seen_sender_first():
    limiter = SenderRateLimiter(messages_per_minute=1, burst=1, max_senders=2, clock=Clock())
    limiter.acquire("old")
    limiter.acquire("recent")
    limiter.acquire("recent")  # refused, but seen
    limiter.acquire("new")  # pushes "old" out
    assert limiter.acquire("old") == 0, "forgotten, so it starts with a full bucket"
    assert limiter.acquire("new") > 0


def test_limits_come_from_credentials_with_defaults_for_the_rest():
    limits = ChannelLimits.from_config({"max_message_chars": "500", "messages_per_minute": 6})
    assert limits.max_message_chars == 500
    assert limits.messages_per_minute == 6.0
    assert limits.max_body_bytes == ChannelLimits().max_body_bytes
    assert ChannelLimits.from_config(None) == ChannelLimits()


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"max_mesage_chars": 5}, "Unknown channel limit"),
        ({"burst": 0}, "positive"),
        ({"max_body_bytes": "lots"}, "number"),
    ],
)
def test_a_mistyped_limit_stops_the_start(config, complaint):
    with pytest.raises(ValueError, match=complaint):
        ChannelLimits.from_config(config)
