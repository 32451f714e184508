"""What a channel remembers of the messages it took."""

from __future__ import annotations

import uuid

from addons.channels.replays import RecentlySeen, SharedSeen, recently_seen


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_is_new_once_within_its_window_and_again_after_it():
    clock = Clock()
    seen = RecentlySeen(ttl_seconds=60, clock=clock)
    assert await seen.first_time("update-1") is True
    clock.now = 59
    assert await seen.first_time("update-1") is False
    clock.now = 61
    assert await seen.first_time("update-1") is True


async def test_memory_is_bounded_and_the_oldest_forgotten_first():
    seen = RecentlySeen(max_keys=2, clock=Clock())
    for key in ("a", "b", "c"):
        assert await seen.first_time(key)
    assert await seen.first_time("a") is True  # pushed out by "c"
    assert await seen.first_time("c") is False


async def test_a_forgotten_key_counts_as_new():
    seen = RecentlySeen(clock=Clock())
    await seen.first_time("m-1")
    await seen.forget("m-1")
    assert await seen.first_time("m-1") is True


async def test_with_redis_every_process_remembers_what_one_saw(monkeypatch):
    """Two channel objects stand for two Rasa processes: a retry that
    reaches the other is still a duplicate (the real Redis on 6379)."""
    monkeypatch.setenv("CHANNELS_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("REDIS_KEY_PREFIX", f"test-{uuid.uuid4().hex}")
    first, second = recently_seen("updates", ttl_seconds=60), recently_seen("updates")
    assert isinstance(first, SharedSeen)
    assert await first.first_time(42) is True
    assert await second.first_time(42) is False
    assert await recently_seen("other", ttl_seconds=60).first_time(42) is True  # names do not mix
    await second.forget(42)
    assert await first.first_time(42) is True


async def test_without_redis_the_memory_is_the_process_own(monkeypatch):
    monkeypatch.delenv("CHANNELS_REDIS_URL", raising=False)
    assert isinstance(recently_seen("updates"), RecentlySeen)
