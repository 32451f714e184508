"""Property-based checks of the inbound guard: whatever a client sends, the
answer is a message every later layer can store and encode, or a
`ChannelError` (a 4xx), never another error."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from addons.channels.errors import ChannelError
from addons.channels.guard import (
    SENDER_ID_CHARACTERS,
    ChannelLimits,
    InboundGuard,
    SenderRateLimiter,
)

BOUNDED = settings(max_examples=100, deadline=None)
# Every code point, lone surrogates included (what JSON's "\udXXX" yields).
texts = st.text(st.characters(), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
anything = json_values | st.binary(max_size=8)
SHAPE = re.compile(rf"[{SENDER_ID_CHARACTERS}-]{{1,128}}")


def unlimited_rate() -> InboundGuard:
    return InboundGuard(ChannelLimits(burst=10**9, max_metadata_bytes=512, max_message_chars=30))


def storable(value: Any) -> None:
    """What the tracker store and the event broker will do with it."""
    json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


@BOUNDED
@given(sender=texts | anything, text=texts | anything, metadata=json_values | texts)
def test_anything_is_admitted_storable_or_refused_with_a_channel_error(sender, text, metadata):
    try:
        admitted = unlimited_rate().admit(sender, text, metadata)
    except ChannelError:
        return  # a 4xx with its code
    assert admitted.sender_id is None or SHAPE.fullmatch(admitted.sender_id)
    storable([admitted.sender_id, admitted.text, admitted.metadata])
    if admitted.text is not None:
        assert len(admitted.text) == len(text), "repaired character for character"
        assert all(a == b or a == "\ufffd" for a, b in zip(admitted.text, text, strict=True))


@BOUNDED
@given(metadata=st.dictionaries(texts, json_values, max_size=4))
def test_metadata_sent_as_json_text_gets_the_same_answer_as_the_object(metadata):
    guard = unlimited_rate()

    def answer(sent: Any) -> Any:
        try:
            return guard.metadata(sent)
        except ChannelError as refused:
            return refused.code

    as_text = json.dumps(metadata)  # NaN is written as NaN, which json.loads reads back
    assert answer(as_text) == answer(metadata)


@BOUNDED
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(min_value=0, max_value=3)),
        max_size=60,
    ),
    per_minute=st.integers(min_value=1, max_value=600),
    burst=st.integers(min_value=1, max_value=10),
)
def test_no_sender_gets_more_than_its_burst_plus_its_rate(steps, per_minute, burst):
    now = [0.0]
    limiter = SenderRateLimiter(messages_per_minute=per_minute, burst=burst, clock=lambda: now[0])
    accepted = {"a": 0, "b": 0, "c": 0}
    for sender, pause in steps:
        now[0] += pause
        wait = limiter.acquire(sender)
        assert wait >= 0
        accepted[sender] += wait == 0
    for count in accepted.values():
        assert count <= burst + now[0] * per_minute / 60 + 1e-9
