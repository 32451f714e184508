"""Property-based checks of the bridge's parsers and wire schemas: whatever
arrives, the answer is a value or `InvalidInput` (a 422), never another
error, and what is accepted is what was meant."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from handoff.api import RasaEvents, _datetime, _int
from handoff.db import MAX_ID
from handoff.errors import InvalidInput
from handoff.tickets.models import AssignIn, NoteIn, TicketIn
from handoff.web import check_json, parse_id

BOUNDED = settings(max_examples=100, deadline=None)
texts = st.text(st.characters(), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


@BOUNDED
@given(st.one_of(texts, st.integers(min_value=-1, max_value=2**70).map(str)))
def test_an_id_is_a_plain_ascii_number_in_range_or_refused(text):
    try:
        number = parse_id(text, "ticket_id")
    except InvalidInput:
        assert not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID)
    else:
        assert str(number) == text.lstrip("0") and 1 <= number <= MAX_ID


@BOUNDED
@given(st.one_of(texts, st.integers(min_value=-5, max_value=2**70).map(str)))
def test_a_count_is_a_plain_ascii_number_in_range_or_refused(text):
    try:
        number = _int(text, 50)
    except InvalidInput:
        assert not (text.isascii() and text.isdigit() and int(text) <= MAX_ID)
    else:
        assert 0 <= number <= MAX_ID and number == int(text)


@BOUNDED
@given(
    st.one_of(
        texts,
        st.datetimes().map(datetime.isoformat),
        st.builds(
            lambda moment, minutes: f"{moment.isoformat()}{'+' if minutes >= 0 else '-'}"
            f"{abs(minutes) // 60:02}:{abs(minutes) % 60:02}",
            st.datetimes(),
            st.integers(min_value=-1439, max_value=1439),
        ),
    )
)
def test_a_date_parses_to_naive_utc_or_is_refused(text):
    try:
        moment = _datetime(text)
    except InvalidInput:
        return
    assert moment is None or moment.tzinfo is None


@BOUNDED
@given(json_values, st.integers(min_value=2, max_value=10))
def test_json_is_accepted_only_shallow_and_storable(value, depth):
    def nesting(item) -> int:
        if isinstance(item, dict | list):
            children = item.values() if isinstance(item, dict) else item
            return 1 + max((nesting(child) for child in children), default=0)
        return 0

    try:
        check_json(value, max_depth=depth)
    except InvalidInput:
        encodable = True
        try:
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            encodable = False
        assert nesting(value) > depth or not encodable
    else:
        assert nesting(value) <= depth
        json.dumps(value, ensure_ascii=False).encode()  # storable as UTF-8


@pytest.mark.parametrize("model", [TicketIn, NoteIn, AssignIn, RasaEvents])
@BOUNDED
@given(payload=json_values)
def test_schemas_accept_or_refuse_with_a_validation_error(model, payload):
    """As `parse_body` hands them over: objects (lists only to list models)."""
    if isinstance(payload, dict) or "__root__" in model.__fields__:
        with contextlib.suppress(ValidationError):
            model.parse_obj(payload)


@BOUNDED
@given(st.one_of(st.integers(), st.booleans(), st.floats(), texts))
def test_ticket_text_fields_take_only_strings(value):
    payload = {"conversation_id": "c1", "title": value}
    try:
        ticket = TicketIn.parse_obj(payload)
    except ValidationError:
        assert (
            not isinstance(value, str)
            or not value.strip()
            or "\x00" in value
            or len(value.strip()) > 255
        )
    else:
        assert isinstance(value, str) and ticket.title == value.strip()
