"""What a channel remembers of the messages it took."""

from __future__ import annotations

from addons.channels.replays import RecentlySeen


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_new_once_within_its_window_and_again_after_it():
    clock = Clock()
    seen = RecentlySeen(ttl_seconds=60, clock=clock)
    assert seen.first_time("update-1") is True
    clock.now = 59
    assert seen.first_time("update-1") is False
    clock.now = 61
    assert seen.first_time("update-1") is True


def test_memory_is_bounded_and_the_oldest_forgotten_first():
    seen = RecentlySeen(max_keys=2, clock=Clock())
    for key in ("a", "b", "c"):
        assert seen.first_time(key)
    assert seen.first_time("a") is True  # pushed out by "c"
    assert seen.first_time("c") is False


def test_a_forgotten_key_counts_as_new():
    seen = RecentlySeen(clock=Clock())
    seen.first_time("m-1")
    seen.forget("m-1")
    assert seen.first_time("m-1") is True
