"""Agent assist and the console's reads when the assistant is slow, down or
unsure: the console opens at once with what the bridge holds, and assist
suggests nothing rather than unrelated answers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import web

from handoff import rasa as rasa_module
from handoff.assist import AnswerSuggester
from tests.handoff.test_api import live_ticket


@pytest.fixture
async def hanging_rasa(aiohttp_server) -> str:
    """A Rasa that accepts connections and never answers (busy, or stuck)."""

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_a_slow_assistant_does_not_hold_the_console(start_bridge, hanging_rasa, monkeypatch):
    monkeypatch.setattr(rasa_module, "READ_TIMEOUT", rasa_module.aiohttp.ClientTimeout(total=0.5))
    bridge = await start_bridge()
    ticket, agent = await live_ticket(bridge, "slow-1", description="customer: 耳机坏了\nbot: 抱歉")
    slow = await start_bridge(rasa_url=hanging_rasa)
    started = time.monotonic()
    context = await slow.get(f"/api/tickets/{ticket['id']}/context", agent)
    found = await slow.get(f"/api/tickets/{ticket['id']}/suggestions", agent)
    assert time.monotonic() - started < 5
    assert context["assistant_unreachable"] and found["assistant_unreachable"]
    assert found["suggestions"] == []


async def test_without_rasa_the_console_shows_the_saved_transcript(bridge):
    description = "customer: 我的耳机坏了\nbot: 很抱歉\n给您带来不便\ncustomer: 转人工"
    ticket, agent = await live_ticket(
        bridge, "down-1", description=description, context={"slots": {"order_id": "A1"}}
    )
    bridge.rasa.down = True
    context = await bridge.get(f"/api/tickets/{ticket['id']}/context", agent)
    assert context["assistant_unreachable"] is True and context["ticket"]["id"] == ticket["id"]
    assert [(t["sender"], t["text"], t["saved"]) for t in context["transcript"]] == [
        ("customer", "我的耳机坏了", True),
        ("bot", "很抱歉\n给您带来不便", True),
        ("customer", "转人工", True),
    ]
    assert context["slots"] == {"order_id": "A1"}
    found = await bridge.get(f"/api/tickets/{ticket['id']}/suggestions?text=退货", agent)
    assert found == {"text": "退货", "suggestions": [], "assistant_unreachable": True}

    bridge.rasa.down = False  # back: the console's next read shows the live conversation
    context = await bridge.get(f"/api/tickets/{ticket['id']}/context", agent)
    assert context["assistant_unreachable"] is False and context["rasa_error"] is None


async def test_suggestions_skip_what_the_bridge_triggered(bridge):
    ticket, agent = await live_ticket(bridge, "c9")
    bridge.rasa.trackers["c9"] = {
        "events": [
            {"event": "user", "text": "退货要运费吗", "parse_data": {"intent": {"name": "faq"}}},
            {
                "event": "user",
                "text": "EXTERNAL: EXTERNAL_handoff_resolved",
                "parse_data": {"intent": {"name": "EXTERNAL_handoff_resolved"}},
            },
        ]
    }
    found = await bridge.get(f"/api/tickets/{ticket['id']}/suggestions", agent)
    assert found["text"] == "退货要运费吗"


class ModelRasa:
    """Rasa's API answering with the trained model's parse and the domain."""

    def __init__(self, parsed: dict[str, Any], domain: dict[str, Any]) -> None:
        self._parsed, self._domain = parsed, domain

    async def parse(self, text: str) -> dict[str, Any]:
        return self._parsed

    async def domain(self) -> dict[str, Any]:
        return self._domain


def suggest(parse, domain_dict, text: str, language: str) -> list[dict[str, Any]]:
    suggester = AnswerSuggester(rasa=ModelRasa(parse(text), domain_dict))
    return asyncio.run(suggester.suggest(text, language))


@pytest.mark.parametrize("text", ["转人工", "talk to a human", "谢谢", "你好"])
def test_no_answer_is_suggested_for_what_is_no_faq_question(parse, domain_dict, text):
    """ "转人工" ranked a bank-transfer answer first, labelled "Best match"."""
    assert suggest(parse, domain_dict, text, "zh") == []


@pytest.mark.parametrize(
    ("text", "language", "topic"),
    [("发票怎么开", "zh", "faq/invoice_"), ("how do I return an item", "en", "faq/returns_")],
)
def test_faq_questions_still_get_their_answers(parse, domain_dict, text, language, topic):
    found = suggest(parse, domain_dict, text, language)
    assert found and found[0]["key"].startswith(topic) and found[0]["answer"]
