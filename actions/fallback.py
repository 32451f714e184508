"""What the bot does when it did not understand: ask, suggest, then offer a human."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import customer_language
from actions.suggestions import faq_buttons, intent_buttons

# Replies that mean "I did not understand you".
CLARIFICATIONS = frozenset({"utter_clarify", "utter_rephrase", "utter_faq_did_you_mean"})
# After this many misunderstood messages in a row the customer is offered a human.
FAILURES_BEFORE_HUMAN = 2
INTENT_SUGGESTIONS = 2
FAQ_SUGGESTIONS = 2
# An FAQ question whose best match is at least this likely right gets a
# "did you mean" with this many entries instead of the general suggestions.
FAQ_SUGGEST_CONFIDENCE = 0.1
FAQ_ONLY_SUGGESTIONS = 3


def misunderstood_in_a_row(events: list[dict[str, Any]]) -> int:
    """How many user messages just before the latest one, in a row, the bot
    answered with a clarification. The latest is the one being answered now."""
    clarified_turns: list[bool] = []
    for event in events:
        if event.get("event") == "user":
            clarified_turns.append(False)
        elif event.get("event") == "bot" and clarified_turns:
            utterance = (event.get("metadata") or {}).get("utter_action")
            clarified_turns[-1] = clarified_turns[-1] or utterance in CLARIFICATIONS
    count = 0
    for clarified in reversed(clarified_turns[:-1]):
        if not clarified:
            break
        count += 1
    return count


def clarify(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
) -> list[dict[str, Any]]:
    """Asks what the customer meant, with suggestions; offers a human after
    repeated failures (except inside a form, which asks its question again).

    A question the classifier took for an FAQ gets the closest FAQ entries
    ("did you mean…"); anything else the likeliest services and FAQ entries.
    """
    message = tracker.latest_message
    if not (message.get("text") or "").strip():
        dispatcher.utter_message(response="utter_rephrase")
        return []
    failures = misunderstood_in_a_row(tracker.events) + 1
    in_form = bool((tracker.active_loop or {}).get("name"))
    if failures >= FAILURES_BEFORE_HUMAN and not in_form:
        return [
            SlotSet("handoff_reason", "fallback"),
            SlotSet("priority", "urgent"),
            FollowupAction("utter_offer_human"),
        ]
    language = customer_language(tracker)
    retrieval = message.get("faq") or {}
    ranking = retrieval.get("ranking") or []
    asked_faq = (message.get("intent") or {}).get("name") == "faq"
    if asked_faq and retrieval.get("confidence", 0.0) >= FAQ_SUGGEST_CONFIDENCE:
        buttons = faq_buttons(ranking, language, FAQ_ONLY_SUGGESTIONS)
        if buttons:
            dispatcher.utter_message(response="utter_faq_did_you_mean", buttons=buttons)
            return []
    buttons = intent_buttons(tracker, domain, language, INTENT_SUGGESTIONS) + faq_buttons(
        ranking, language, FAQ_SUGGESTIONS
    )
    if buttons:
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
    else:
        dispatcher.utter_message(response="utter_rephrase")
    return []


class ActionClarify(Action):
    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return clarify(dispatcher, tracker, domain)


class ActionCoreFallback(Action):
    """Runs when no dialogue policy is confident about what to do next.

    The message was understood but fits no known path (e.g. "yes" out of the
    blue), so the customer gets the same clarifying question — and the bot
    then waits for them, instead of being asked to predict again.
    """

    def name(self) -> str:
        return "action_core_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events = clarify(dispatcher, tracker, domain)
        if not any(event.get("event") == "followup" for event in events):
            events.append(FollowupAction("action_listen"))
        return events
