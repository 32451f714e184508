"""What bridge instances share through Redis (the real server on 6379):
console events, open consoles, relayed events, failed sign-ins."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from handoff.agents.throttle import RedisLoginThrottle
from handoff.cluster import RedisConsoles, RedisRelayLog
from handoff.errors import TooManyAttempts
from handoff.events import EventBus
from handoff.fanout import RedisFanout

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def client() -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(URL)
    yield connection
    await connection.close()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex}"


async def _nothing() -> None:
    return None


async def test_an_event_published_on_one_instance_reaches_the_others_once(prefix: str):
    buses = {name: EventBus() for name in ("a", "b")}
    heard: dict[str, list[tuple[str, Any]]] = {name: [] for name in buses}
    for name, bus in buses.items():
        bus.subscribe(lambda event, payload, name=name: heard[name].append((event, payload)))
    fanouts = [
        RedisFanout(
            url=URL, channel=f"{prefix}:events", instance_id=name, bus=bus, on_reconnect=_nothing
        )
        for name, bus in buses.items()
    ]
    for fanout in fanouts:
        fanout.start()
    try:
        while not all(fanout.reachable for fanout in fanouts):
            await asyncio.sleep(0.01)
        buses["a"].publish("ticket.created", {"ticket": {"id": 1}})
        for _ in range(200):
            if heard["b"]:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # and nothing more comes
        assert heard["b"] == [("ticket.created", {"ticket": {"id": 1}})]
        assert heard["a"] == heard["b"]  # its own listeners heard it directly, once
    finally:
        for fanout in fanouts:
            await fanout.close()


async def test_consoles_count_on_every_instance_and_a_dead_ones_are_orphans(client, prefix):
    first, second = RedisConsoles(client, prefix, "a"), RedisConsoles(client, prefix, "b")
    await first.start()
    await second.start()
    await first.opened(7)
    await second.opened(7)
    await first.closed(7)
    assert await first.is_open(7)  # still open on the other instance
    await second.closed(7)
    assert not await first.is_open(7)

    await second.opened(8)
    await second.close()  # the instance is gone (its heartbeat with it)
    assert not await first.is_open(8)
    assert await first.orphaned() == {8}
    assert await first.orphaned() == set()  # forgotten once reported
    await first.close()


async def test_an_instance_restarted_under_its_name_forgets_what_it_counted(client, prefix):
    before = RedisConsoles(client, prefix, "a")
    await before.start()
    await before.opened(9)  # then killed: nothing closed
    after = RedisConsoles(client, prefix, "a")
    await after.start()
    assert not await after.is_open(9)
    await after.close()
    await before.close()


async def test_an_event_is_relayed_once_whichever_instance_sees_it(client, prefix):
    first, second = RedisRelayLog(client, prefix), RedisRelayLog(client, prefix)
    assert await first.first_time("c1|user|1.0|m1")
    assert not await second.first_time("c1|user|1.0|m1")
    assert await second.first_time("c1|user|2.0|m2")


def redis_throttle(client: redis.Redis, prefix: str) -> RedisLoginThrottle:
    return RedisLoginThrottle(client, prefix, per_account=3, per_address=100, lockout_seconds=60)


async def test_guesses_spread_over_instances_lock_the_account_for_all(client, prefix):
    first, second = redis_throttle(client, prefix), redis_throttle(client, prefix)
    guesses = [
        throttle.attempt(username="admin", address=f"10.0.0.{n}")
        for n, throttle in enumerate([first, second] * 5)
    ]
    outcomes = await asyncio.gather(*guesses, return_exceptions=True)
    assert sum(outcome is None for outcome in outcomes) == 3  # the limit, between them
    with pytest.raises(TooManyAttempts) as locked:
        await second.attempt(username="admin", address="10.0.0.99")
    assert 0 < locked.value.retry_after <= 60


async def test_a_right_password_ends_the_streak_on_every_instance(client, prefix):
    first, second = redis_throttle(client, prefix), redis_throttle(client, prefix)
    for _ in range(2):
        await first.attempt(username="amy", address="10.0.1.1")
    await second.attempt(username="amy", address="10.0.1.1")  # the third: right this time
    await second.succeeded(username="amy", address="10.0.1.1")
    for _ in range(2):
        await first.attempt(username="amy", address="10.0.1.1")  # a fresh streak
    await first.not_checked(username="amy", address="10.0.1.1")
    await second.attempt(username="amy", address="10.0.1.1")  # still under the limit
