"""Answers FAQ questions from the knowledge base, or asks which one was meant."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.fallback import clarify

# Confidence of addons.nlu.faq.FaqRetriever from which the best entry is
# answered outright; below it the customer is asked which entry they meant.
ANSWER_CONFIDENCE = 0.5

# FAQ keys are `faq/<topic>_<name>`; a topic says what the conversation is about.
TOPIC_CATEGORIES = {
    "shipping": "order_logistics",
    "orders": "order_logistics",
    "payment": "pre_sales",
    "promotions": "pre_sales",
    "membership": "pre_sales",
    "returns": "after_sales",
    "invoice": "after_sales",
    "aftersales": "after_sales",
    "account": "technical",
}


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        message = tracker.latest_message
        chosen = next(
            (e.get("value") for e in message.get("entities", []) if e.get("entity") == "faq_key"),
            None,
        )
        retrieval = message.get("faq") or {}
        if chosen is None and retrieval.get("confidence", 0.0) >= ANSWER_CONFIDENCE:
            chosen = retrieval.get("key")
        if chosen is not None:
            response = f"utter_{chosen}"
            if response in domain.get("responses", {}):
                dispatcher.utter_message(response=response)
                return _category_event(chosen)
        return clarify(dispatcher, tracker, domain)


def _category_event(key: str) -> list[dict[str, Any]]:
    topic = key.split("/", 1)[-1].split("_", 1)[0]
    category = TOPIC_CATEGORIES.get(topic)
    return [SlotSet("category", category)] if category else []
