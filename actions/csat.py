"""The satisfaction survey after an agent resolves the customer's ticket.

It runs in the assistant, so it works on every channel: a score from 1 to 5
(digits, Chinese numerals, stars or words), then an optional comment. An
unreadable score is asked again once, then the survey is skipped.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.bridge import BridgeError, bridge

logger = logging.getLogger(__name__)

SKIPPED = "skipped"
RETRIES = 1
SCORE_WORDS = {
    "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "非常不满意": 1, "不满意": 2, "一般": 3, "满意": 4, "非常满意": 5,
    "very bad": 1, "bad": 2, "ok": 3, "okay": 3, "good": 4, "great": 5, "excellent": 5,
}  # fmt: skip
_WORDS_LONGEST_FIRST = sorted(SCORE_WORDS, key=len, reverse=True)
NO_COMMENT = re.compile(r"^(没有|无|不用|不了|没|算了|no|none|nope|nothing|skip|n/?a)\W*$", re.I)
DECLINING_INTENTS = frozenset({"stop", "deny"})
# The bridge's ticket ids; `int()` and `\d` would also take "٣" or " 3".
TICKET_ID = re.compile(r"[0-9]{1,10}")


def ticket_number(value: Any) -> int | None:
    """The `ticket_id` slot as a bridge ticket id, or None if it is not one."""
    text = "" if value is None else str(value)
    return int(text) if TICKET_ID.fullmatch(text) else None


def parse_score(text: str) -> int | None:
    """1–5 from what a customer types: "5", "5分", "⭐⭐⭐⭐", "五星", "very good"."""
    text = text.strip().lower()
    if stars := text.count("⭐") + text.count("★"):
        return stars if 1 <= stars <= 5 else None
    digits = re.findall(r"\d+", text)
    if digits:
        return int(digits[0]) if len(digits) == 1 and 1 <= int(digits[0]) <= 5 else None
    for word in _WORDS_LONGEST_FIRST:
        if word in text:
            return SCORE_WORDS[word]
    return None


class ValidateCsatForm(FormValidationAction):
    def name(self) -> str:
        return "validate_csat_form"

    def validate_csat_score(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        score = parse_score(str(value or ""))
        if score is not None:
            return {"csat_score": score, "csat_retries": 0}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        retries = int(tracker.get_slot("csat_retries") or 0)
        if intent in DECLINING_INTENTS or retries >= RETRIES:
            dispatcher.utter_message(response="utter_csat_skipped")
            return {"csat_score": SKIPPED, "csat_comment": SKIPPED, "csat_retries": 0}
        dispatcher.utter_message(response="utter_csat_invalid")
        return {"csat_score": None, "csat_retries": retries + 1}

    def validate_csat_comment(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if not text or NO_COMMENT.match(text) or intent in DECLINING_INTENTS:
            return {"csat_comment": ""}
        return {"csat_comment": text[:1000]}


class ActionSubmitCsat(Action):
    """Stores the result on the ticket and thanks the customer."""

    def name(self) -> str:
        return "action_submit_csat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        score = tracker.get_slot("csat_score")
        comment = tracker.get_slot("csat_comment")
        slot = tracker.get_slot("ticket_id")
        ticket_id = ticket_number(slot)
        answered = score not in (None, SKIPPED)
        if ticket_id is not None:
            try:
                # The bridge checks the ticket belongs to this conversation.
                await bridge.record_csat(
                    ticket_id,
                    conversation_id=tracker.sender_id,
                    score=int(score) if answered else None,
                    comment=comment if comment and comment != SKIPPED else None,
                )
            except BridgeError as error:
                logger.warning("CSAT for ticket %s not stored: %s", ticket_id, error)
        elif slot is not None:
            logger.warning("CSAT not stored: %r is not a ticket id", slot)
        if answered:
            dispatcher.utter_message(response="utter_csat_thanks")
        return [SlotSet("csat_score", None), SlotSet("csat_comment", None)]
