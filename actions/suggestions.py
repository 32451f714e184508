"""Buttons that suggest what the customer may have meant."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.types import DomainDict

from actions.language import response_text

# Intents worth suggesting: the services, not "hello" or "yes". Each has a
# button title `utter_label_<intent>` in the domain.
SUGGESTIBLE_INTENTS = (
    "order_status",
    "logistics",
    "change_address",
    "cancel_order",
    "return_refund",
    "invoice",
    "product_consult",
    "repair_warranty",
    "tech_support",
    "complaint",
)


def faq_buttons(ranking: list[dict[str, Any]], language: str, limit: int) -> list[dict[str, str]]:
    """Buttons that ask the ranked FAQ entries, titled in the customer's language."""
    buttons = []
    for entry in ranking[:limit]:
        questions = entry.get("question") or {}
        title = questions.get(language) or next(iter(questions.values()), None)
        if title:
            payload = "/faq" + json.dumps({"faq_key": entry["key"]}, ensure_ascii=False)
            buttons.append({"title": title, "payload": payload})
    return buttons


def intent_buttons(
    tracker: Tracker, domain: DomainDict, language: str, limit: int
) -> list[dict[str, str]]:
    """Buttons for the services the NLU ranked highest for the latest message."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    intents = [r["name"] for r in ranking if r.get("name") in SUGGESTIBLE_INTENTS]
    return [
        {
            "title": response_text(domain, f"utter_label_{intent}", language),
            "payload": f"/{intent}",
        }
        for intent in intents[:limit]
    ]
