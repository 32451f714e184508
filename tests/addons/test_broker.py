"""The event broker delivers Rasa's events to a real bridge, in order,
retrying while the bridge is down."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable

import aio_pika
import pytest
from rasa.utils.endpoints import EndpointConfig

from addons.broker import HandoffEventBroker, RabbitMQEventBroker, slim
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


@pytest.fixture
async def rabbitmq() -> AsyncIterator[tuple[RabbitMQEventBroker, aio_pika.abc.AbstractQueue]]:
    """Our broker on the real RabbitMQ, on an exchange and queue of the
    test's own, and the queue as the bridge declares it (for a single
    active consumer, or RabbitMQ refuses one of the two declarations)."""
    name = f"test.broker.{uuid.uuid4().hex}"
    config = EndpointConfig(
        url="127.0.0.1",
        username="guest",
        password="guest",
        exchange_name=name,
        queues=[name],
        type="addons.broker.RabbitMQEventBroker",
    )
    broker = await RabbitMQEventBroker.from_endpoint_config(config)
    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-single-active-consumer": True}
        )
        yield broker, queue
    finally:
        channel = await connection.channel()
        await channel.queue_delete(name)
        await channel.exchange_delete(name)
        await connection.close()
        await broker.close()


async def received(queue: aio_pika.abc.AbstractQueue, count: int) -> list[dict]:
    """The first `count` events on the queue, acknowledged; fails after 30 s."""
    events: list[dict] = []

    async def receive() -> None:
        async with queue.iterator() as messages:
            async for message in messages:
                events.append(json.loads(message.body))
                await message.ack()
                if len(events) == count:
                    return

    await asyncio.wait_for(receive(), timeout=30)
    return events


async def test_the_rabbitmq_broker_sends_a_burst_in_order_without_waiting_for_each_confirmation(
    rabbitmq,
):
    """1,000 events published at once arrive complete and in order, sent in
    windows rather than one by one."""
    broker, queue = rabbitmq
    windows: list[int] = []
    publish_window = broker._publish_until_confirmed

    async def recording(events: list[dict]) -> None:
        windows.append(len(events))
        await publish_window(events)

    broker._publish_until_confirmed = recording
    for number in range(1000):
        broker.publish(user_event(number))

    assert [event["message_id"] for event in await received(queue, 1000)] == [
        f"m{number}" for number in range(1000)
    ]
    assert broker.published == 1000
    assert max(windows) > 1


async def test_events_from_the_first_unconfirmed_one_are_sent_again_in_order(monkeypatch):
    no_wait = asyncio.sleep
    monkeypatch.setattr("addons.broker.asyncio.sleep", lambda _: no_wait(0))
    sent: list[str] = []
    failures = {"m2"}

    class Exchange:
        async def publish(self, message: aio_pika.Message, routing_key: str, **_: object) -> None:
            event = json.loads(message.body)["message_id"]
            sent.append(event)
            if event in failures:
                failures.discard(event)
                raise aio_pika.exceptions.DeliveryError(None, None)

    broker = RabbitMQEventBroker("127.0.0.1", "guest", "guest")
    broker._exchange = Exchange()
    await broker._publish_until_confirmed([user_event(number) for number in range(5)])
    assert sent == ["m0", "m1", "m2", "m3", "m4", "m2", "m3", "m4"]
    assert broker.published == 5


async def test_the_rabbitmq_broker_sends_the_bridge_its_events_for_one_consumer_at_a_time(
    rabbitmq,
):
    """Only the types the bridge reads, slimmed, on a durable queue declared
    for a single active consumer."""
    broker, queue = rabbitmq
    broker.publish(user_event(1))
    broker.publish({"event": "action", "sender_id": "c1", "name": "action_listen"})
    broker.publish({"event": "bot", "sender_id": "c1", "text": "您好"})

    events = await received(queue, 2)
    assert [event["event"] for event in events] == ["user", "bot"]
    assert events[0]["parse_data"] == {"intent": {"name": "greet", "confidence": 0.9}}
