"""Agent assist: the knowledge-base answers the assistant's FAQ retriever
ranks highest for the customer's latest message, in the customer's
language, ready to send."""

from __future__ import annotations

from typing import Any

from handoff.rasa import RasaClient

SUGGESTIONS = 3


class AnswerSuggester:
    def __init__(self, *, rasa: RasaClient) -> None:
        self._rasa = rasa

    async def suggest(self, text: str, language: str) -> list[dict[str, Any]]:
        parse = await self._rasa.parse(text)
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
