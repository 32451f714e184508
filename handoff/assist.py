"""Agent assist: the knowledge-base answers the assistant's FAQ retriever
ranks highest for the customer's latest message, in the customer's
language, ready to send."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handoff import transcript
from handoff.errors import NotFound, RasaUnavailable
from handoff.rasa import RasaClient

if TYPE_CHECKING:
    from handoff.tickets.models import Ticket

SUGGESTIONS = 3
# How likely the message must be an FAQ question whose answer is the top
# entry (the intent classifier's P(faq) times the FAQ retriever's calibrated
# confidence in its top entry) before any entry is suggested. Below it the
# entries are unrelated more often than not ("转人工" ranked a bank-transfer
# answer first), so none is shown. The same level as the assistant's own
# "did you mean" buttons (actions.fallback.FAQ_SUGGEST_CONFIDENCE).
CONFIDENCE_FLOOR = 0.1


class AnswerSuggester:
    def __init__(self, *, rasa: RasaClient) -> None:
        self._rasa = rasa

    async def for_ticket(self, ticket: Ticket, *, text: str | None) -> dict[str, Any]:
        """Suggestions for `text`, else for the customer's latest words. With
        Rasa unreachable the answer is empty and says so: assist is a help,
        and the console must not fail over it."""
        try:
            if not text:
                tracker = await self._rasa.tracker(ticket.conversation_id)
                text = transcript.latest_customer_text(tracker)
            found = await self.suggest(text, ticket.language) if text else []
        except (RasaUnavailable, NotFound):
            return {"text": text, "suggestions": [], "assistant_unreachable": True}
        return {"text": text, "suggestions": found, "assistant_unreachable": False}

    async def suggest(self, text: str, language: str) -> list[dict[str, Any]]:
        parse = await self._rasa.parse(text)
        if match_confidence(parse) < CONFIDENCE_FLOOR:
            return []
        ranking = (parse.get("faq") or {}).get("ranking") or []
        responses = (await self._rasa.domain()).get("responses") or {}
        suggestions = []
        for entry in ranking[:SUGGESTIONS]:
            key = entry.get("key") or ""
            answer = answer_in(responses.get(response_name(key)) or [], language)
            if not answer:
                continue
            question = entry.get("question") or {}
            suggestions.append(
                {
                    "key": key,
                    "score": entry.get("score"),
                    "question": question.get(language) or question.get("zh") or key,
                    "answer": answer,
                }
            )
        return suggestions


def match_confidence(parse: dict[str, Any]) -> float:
    """P(the message asks an FAQ question) × P(the top entry is the one)."""
    faq = parse.get("faq") or {}
    intents = [parse.get("intent") or {}, *(parse.get("intent_ranking") or [])]
    asked = next((i.get("confidence") or 0.0 for i in intents if i.get("name") == "faq"), 0.0)
    return float(asked) * float(faq.get("confidence") or 0.0)


def response_name(key: str) -> str:
    return f"utter_{key}" if "/" in key else f"utter_faq/{key}"


def answer_in(variations: list[dict[str, Any]], language: str) -> str | None:
    """The variation whose `language` slot condition matches, else the
    unconditional one (the domain's default language)."""
    default = None
    for variation in variations:
        conditions = variation.get("condition") or []
        if not conditions:
            default = default or variation.get("text")
        elif any(c.get("name") == "language" and c.get("value") == language for c in conditions):
            return variation.get("text")
    return default
