"""Hands the conversation to a human agent through the handoff bridge."""

from __future__ import annotations

import logging
import math
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.orders import reset_form_slots
from actions.outbox import pending_handoffs
from actions.tickets import request_or_hold, ticket_payload

logger = logging.getLogger(__name__)

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


def handoff_step(state: str, ticket_id: Any, *, position: int | None = None) -> dict[str, Any]:
    """The machine-readable side of the utterance (its `custom`), one message
    with its text: the web widget shows "connecting / you are number N" from
    it (addons/channels/web_messages.py)."""
    step: dict[str, Any] = {"state": state, "ticket_id": ticket_id}
    if position is not None:
        step["position"] = position
    return {"handoff": step}


def wait_minutes(seconds: int | None) -> int:
    return max(1, math.ceil((seconds or 0) / 60))


class ActionRequestHuman(Action):
    """Creates or links the conversation's ticket and, when an agent is
    online, pauses the bot so the agent takes over.

    With nobody online the ticket stays pending for follow-up and the bot
    carries on. With the bridge unreachable the request is held in the
    outbox (`actions.outbox`), which files it as a follow-up ticket once the
    bridge answers; the customer is told so, and the bot carries on too.
    """

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        reason = handoff_reason(tracker)
        events: list[dict[str, Any]] = [SlotSet("handoff_reason", reason)]
        if tracker.active_loop and tracker.active_loop.get("name"):
            events += [ActiveLoop(None), SlotSet("requested_slot", None), *reset_form_slots()]
        result = await request_or_hold(ticket_payload(tracker, reason))
        if result is None:
            dispatcher.utter_message(response="utter_handoff_unavailable")
            return events
        await pending_handoffs.forget(tracker.sender_id)
        ticket_id = result["ticket"]["id"]
        events.append(SlotSet("ticket_id", str(ticket_id)))
        if not result["live"]:
            dispatcher.utter_message(response="utter_handoff_no_agents", ticket_id=ticket_id)
            return events
        position = result.get("queue_position")
        if position:
            dispatcher.utter_message(
                response="utter_handoff_queued",
                json_message=handoff_step("queued", ticket_id, position=position),
                ticket_id=ticket_id,
                position=position,
                minutes=wait_minutes(result.get("estimated_wait_seconds")),
            )
        else:
            dispatcher.utter_message(
                response="utter_handoff_connecting",
                json_message=handoff_step("connecting", ticket_id),
                ticket_id=ticket_id,
            )
        return [*events, ConversationPaused()]
