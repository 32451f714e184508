"""Builders for rasa_sdk trackers and a fresh order store per test."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.shop.orders import default_store


@pytest.fixture(autouse=True)
def fresh_store():
    """The order store is the action server's memory; each test starts anew."""
    default_store.cache_clear()
    yield default_store()
    default_store.cache_clear()


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def tracker_for(domain_dict):
    def build(
        text: str = "",
        *,
        intent: str = "inform",
        entities: list[dict[str, Any]] | None = None,
        slots: dict[str, Any] | None = None,
        events: list[dict[str, Any]] | None = None,
        active_loop: str | None = None,
        sender: str = "customer",
        **parse_data: Any,
    ) -> Tracker:
        all_slots = {name: None for name in domain_dict["slots"]}
        all_slots.update(slots or {})
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": entities or [],
            **parse_data,
        }
        if events is None:
            events = [{"event": "user", "text": text, "parse_data": latest}]
        return Tracker(
            sender,
            all_slots,
            latest,
            events,
            False,
            None,
            {"name": active_loop} if active_loop else {},
            "action_listen",
        )

    return build


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [message.get("response") for message in dispatcher.messages]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
