"""A customer's messages are handled in the order they came, even when the
first one waits longer on the way (an emit through Redis)."""

from __future__ import annotations

import asyncio

from addons.channels.socketio import InOrder


async def test_turns_of_one_key_run_in_the_order_they_were_asked_for():
    in_order, done = InOrder(), []

    async def handle(key: str, text: str, delay: float) -> None:
        async with in_order.turn(key):
            await asyncio.sleep(delay)
            done.append(text)

    await asyncio.gather(
        handle("web-1", "first", 0.05), handle("web-1", "second", 0), handle("web-1", "third", 0)
    )
    assert done == ["first", "second", "third"]
    assert in_order._turns == {}  # nothing kept once a key has no turn waiting


async def test_other_keys_do_not_wait():
    in_order, done = InOrder(), []

    async def handle(key: str, delay: float) -> None:
        async with in_order.turn(key):
            await asyncio.sleep(delay)
            done.append(key)

    await asyncio.gather(handle("slow", 0.05), handle("fast", 0))
    assert done == ["fast", "slow"]
