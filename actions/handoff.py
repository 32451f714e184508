"""Hands the conversation to a human agent."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.orders import reset_form_slots

OFFER = "utter_offer_human"


def handoff_reason(tracker: Tracker) -> str:
    """`asked` unless the customer is accepting an offer the bot made, which
    already recorded why (fallback, form failure, urgency)."""
    offered = _last_bot_utterance(tracker) == OFFER
    return (tracker.get_slot("handoff_reason") if offered else None) or "asked"


def _last_bot_utterance(tracker: Tracker) -> str | None:
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action")
    return None


class ActionRequestHuman(Action):
    """Records that the customer needs a human and tells them so.

    Any form in progress is stopped. The human side (tickets, queue, agent
    console) belongs to the handoff bridge; until it is connected, the
    customer is told an agent will follow up.
    """

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SlotSet("handoff_reason", handoff_reason(tracker))]
        if tracker.active_loop and tracker.active_loop.get("name"):
            events += [
                ActiveLoop(None),
                SlotSet("requested_slot", None),
                *reset_form_slots(),
            ]
        dispatcher.utter_message(response="utter_handoff_pending")
        return events
