"""The customer's language and texts from the domain's responses.

Rasa renders responses itself when an action names them, and picks the
variation for the `language` slot. Only texts that go *inside* a message an
action builds — button titles, labels — need rendering here. The domain comes
with every action call, so they stay in domain.yml with all the other texts.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.types import DomainDict

DEFAULT_LANGUAGE = "zh"


def customer_language(tracker: Tracker) -> str:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE


def response_text(domain: DomainDict, response: str, language: str, **values: Any) -> str:
    """The text of the response's variation for `language`, filled with values.

    Falls back to the variation without a condition, as Rasa does.
    """
    variations = domain.get("responses", {}).get(response)
    if not variations:
        raise KeyError(f"The domain has no response '{response}'.")
    chosen = next((v for v in variations if _is_for_language(v, language)), None)
    if chosen is None:
        chosen = next((v for v in variations if not v.get("condition")), variations[0])
    text = chosen.get("text", "")
    try:
        return text.format(**values)
    except (KeyError, IndexError):
        return text


def _is_for_language(variation: dict[str, Any], language: str) -> bool:
    return any(
        condition.get("name") == "language" and condition.get("value") == language
        for condition in variation.get("condition") or []
    )


def format_date(day: date, language: str) -> str:
    if language == "en":
        return day.strftime("%-d %b %Y")
    return f"{day.year}年{day.month}月{day.day}日"
