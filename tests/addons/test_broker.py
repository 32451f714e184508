"""The event broker delivers Rasa's events to a real bridge, in order,
retrying while the bridge is down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rasa.utils.endpoints import EndpointConfig

from addons.broker import HandoffEventBroker, slim
from handoff.app import create_app
from handoff.settings import Settings
from scripts.stack import free_port

TOKEN = "broker-test-token"


def user_event(number: int) -> dict:
    return {
        "event": "user",
        "sender_id": "c1",
        "timestamp": 1_700_000_000 + number,
        "text": f"message {number}",
        "message_id": f"m{number}",
        "parse_data": {
            "intent": {"name": "greet", "confidence": 0.9},
            "entities": [{"entity": "x"}],
            "faq": {"ranking": [{"key": "faq/a"}] * 5},
        },
    }


def test_only_the_intent_of_the_parse_data_travels():
    slimmed = slim(user_event(1))
    assert slimmed["parse_data"] == {"intent": {"name": "greet", "confidence": 0.9}}
    assert slimmed["text"] == "message 1" and slimmed["message_id"] == "m1"
    bot = {"event": "bot", "text": "hi", "metadata": {"agent_id": 3}}
    assert slim(bot) is bot


async def wait_for(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_events_wait_for_the_bridge_and_arrive_once(aiohttp_server, tmp_path):
    port = free_port()
    broker = HandoffEventBroker(url=f"http://127.0.0.1:{port}", token=TOKEN, max_backoff=0.2)
    for number in range(3):
        broker.publish(user_event(number))
    broker.publish({"event": "slot", "sender_id": "c1", "name": "x"})  # not forwarded
    await asyncio.sleep(0.5)
    assert broker.delivered == 0  # nobody listening yet: kept, retried

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'h.db'}", api_token=TOKEN)
    await aiohttp_server(create_app(settings), port=port)
    await wait_for(lambda: broker.delivered == 3)
    broker.publish(user_event(3))
    await wait_for(lambda: broker.delivered == 4)
    await broker.close()


async def test_without_a_token_nothing_is_sent():
    broker = HandoffEventBroker(url="http://127.0.0.1:9", token="")
    broker.publish(user_event(1))
    assert broker._queue is None
    await broker.close()


async def test_the_environment_overrides_endpoints_yml(monkeypatch):
    """`make run` tells Rasa where it started the bridge through HANDOFF_URL."""
    config = EndpointConfig.from_dict(
        {"type": "addons.broker.HandoffEventBroker", "url": "http://127.0.0.1:5056", "token": "t1"}
    )
    monkeypatch.delenv("HANDOFF_API_TOKEN", raising=False)
    monkeypatch.setenv("HANDOFF_URL", "http://127.0.0.1:6001")
    broker = await HandoffEventBroker.from_endpoint_config(config)
    assert broker.url == "http://127.0.0.1:6001/api/rasa/events"
    assert broker._token == "t1"  # a token in endpoints.yml is used, not dropped
