"""Signing in: passwords are checked off the event loop, and failed attempts
are throttled per account and per client address (429 with Retry-After)."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest
from argon2 import PasswordHasher

from handoff.agents import security
from handoff.agents import throttle as throttle_module
from handoff.agents.throttle import LoginThrottle
from handoff.errors import TooManyAttempts
from tests.handoff.conftest import PASSWORD, Bridge

WRONG = "not the password"


async def sign_in(
    bridge: Bridge, username: str, password: str, **headers: str
) -> tuple[int, dict, dict]:
    """(status, body, headers) of one console sign-in."""
    async with bridge.client.post(
        "/api/session", json={"username": username, "password": password}, headers=headers
    ) as response:
        return response.status, await response.json(), dict(response.headers)


@pytest.fixture
def costly_hashing(monkeypatch: pytest.MonkeyPatch) -> float:
    """Argon2 at about production cost; returns the seconds one check takes."""
    hasher = PasswordHasher(time_cost=2, memory_cost=32 * 1024, parallelism=1)
    monkeypatch.setattr(security, "_hasher", hasher)
    monkeypatch.setattr(security, "_DUMMY_HASH", hasher.hash("not-a-real-password"))
    digest = hasher.hash(PASSWORD)
    started = time.perf_counter()
    for _ in range(3):
        security.verify_password(digest, WRONG)
    return (time.perf_counter() - started) / 3


async def test_sign_ins_do_not_stall_other_requests(start_bridge, costly_hashing):
    bridge = await start_bridge(login_failures_per_account=1000, login_failures_per_address=1000)
    staff = await bridge.add("amy")
    stop = asyncio.Event()

    async def keep_signing_in() -> None:
        while not stop.is_set():
            await sign_in(bridge, staff.username, WRONG)

    logins = [asyncio.create_task(keep_signing_in()) for _ in range(4)]
    await asyncio.sleep(costly_hashing)  # every worker busy
    latencies = []
    for _ in range(15):
        started = time.perf_counter()
        await bridge.get("/health", None)
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*logins)
    # On the loop, each check held /health for a whole check or more.
    assert statistics.median(latencies) < costly_hashing / 2, (latencies, costly_hashing)


async def test_a_sign_in_flood_is_refused_rather_than_queued(start_bridge, costly_hashing):
    bridge = await start_bridge(
        password_threads=1,
        password_queue=1,
        login_failures_per_account=100,
        login_failures_per_address=100,
    )
    await bridge.add("amy")
    results = await asyncio.gather(*(sign_in(bridge, "amy", WRONG) for _ in range(6)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(401) == 2 and statuses.count(503) == 4, statuses
    busy = next(headers for status, _, headers in results if status == 503)
    assert busy["Retry-After"] == "1"
    assert (await sign_in(bridge, "amy", PASSWORD))[0] == 200


async def test_guesses_sent_at_once_get_no_more_tries_than_the_limit(start_bridge, costly_hashing):
    """Counted only after each check, 30 parallel guesses all passed the
    throttle before the first one failed."""
    bridge = await start_bridge(login_failures_per_account=5, login_failures_per_address=100)
    await bridge.add("amy")
    results = await asyncio.gather(*(sign_in(bridge, "amy", WRONG) for _ in range(30)))
    statuses = [status for status, _, _ in results]
    assert statuses.count(401) + statuses.count(503) == 5, statuses
    assert statuses.count(429) == 25, statuses
    assert (await sign_in(bridge, "amy", PASSWORD))[0] == 429


async def test_a_right_password_gives_the_address_its_attempt_back(start_bridge):
    bridge = await start_bridge(login_failures_per_account=100, login_failures_per_address=3)
    await bridge.add("amy")
    for _ in range(5):
        assert (await sign_in(bridge, "amy", PASSWORD))[0] == 200
    assert (await sign_in(bridge, "amy", WRONG))[0] == 401


async def test_failed_sign_ins_lock_the_account_for_a_while(start_bridge):
    bridge = await start_bridge(login_failures_per_account=3, login_lockout_seconds=1.5)
    await bridge.add("amy")
    for _ in range(3):
        assert (await sign_in(bridge, "amy", WRONG))[0] == 401
    locked = [await sign_in(bridge, "amy", password) for password in (PASSWORD, WRONG)]
    # The right password and a wrong one get the same answer while locked.
    for status, body, headers in locked:
        assert status == 429
        assert body["error"]["code"] == "too_many_attempts"
        assert 1 <= int(headers["Retry-After"]) <= 2
    assert locked[0][1] == locked[1][1]
    await asyncio.sleep(1.6)
    status, body, headers = await sign_in(bridge, "amy", PASSWORD)
    assert status == 200, body
    assert "handoff_session" in headers["Set-Cookie"]


async def test_a_successful_sign_in_ends_the_accounts_streak(start_bridge):
    bridge = await start_bridge(login_failures_per_account=3)
    await bridge.add("amy")
    for _ in range(3):
        assert (await sign_in(bridge, "amy", WRONG))[0] == 401
        assert (await sign_in(bridge, "amy", WRONG))[0] == 401
        assert (await sign_in(bridge, "amy", PASSWORD))[0] == 200


async def test_one_address_guessing_many_accounts_is_stopped(start_bridge):
    bridge = await start_bridge(login_failures_per_account=100, login_failures_per_address=4)
    await bridge.add("amy")
    for name in ("bob", "carl", "dora", "amy"):
        assert (await sign_in(bridge, name, WRONG))[0] == 401
    status, body, _ = await sign_in(bridge, "amy", PASSWORD)
    assert status == 429, body


async def test_forwarded_for_names_the_client_only_behind_a_trusted_proxy(start_bridge):
    untrusted = await start_bridge(login_failures_per_address=2, login_failures_per_account=100)
    await untrusted.add("amy")
    for client in ("203.0.113.1", "203.0.113.2"):
        await sign_in(untrusted, "amy", WRONG, **{"X-Forwarded-For": client})
    # Anyone can write the header: without a trusted proxy it changes nothing.
    status, _, _ = await sign_in(untrusted, "amy", PASSWORD, **{"X-Forwarded-For": "198.51.100.9"})
    assert status == 429
    await untrusted.client.close()

    proxied = await start_bridge(
        login_failures_per_address=2, login_failures_per_account=100, trusted_proxies=["127.0.0.1"]
    )
    for _ in range(2):
        # The left-most hop is the client's own claim; the proxy appended the right-most.
        forwarded = {"X-Forwarded-For": "10.9.9.9, 203.0.113.1"}
        assert (await sign_in(proxied, "amy", WRONG, **forwarded))[0] == 401
    assert (await sign_in(proxied, "amy", WRONG, **{"X-Forwarded-For": "10.9.9.9, 203.0.113.1"}))[
        0
    ] == 429
    assert (await sign_in(proxied, "amy", PASSWORD, **{"X-Forwarded-For": "203.0.113.2"}))[0] == 200


async def test_filling_the_counters_with_made_up_names_never_unlocks_an_account(monkeypatch):
    """The counters forget the least recently failed first; a lock is never
    forgotten, or 10,000 made-up usernames unlocked 'admin' again."""
    monkeypatch.setattr(throttle_module, "CAPACITY", 50)
    clock = [0.0]
    throttle = LoginThrottle(
        per_account=5, per_address=10_000, lockout_seconds=300, clock=lambda: clock[0]
    )
    for _ in range(5):
        await throttle.attempt(username="admin", address="10.0.0.1")
    for number in range(200):
        clock[0] += 0.01
        await throttle.attempt(username=f"made-up-{number}", address="10.0.0.1")
        await throttle.not_checked(username=f"made-up-{number}", address="10.0.0.1")
    with pytest.raises(TooManyAttempts):
        await throttle.attempt(username="admin", address="10.0.0.2")
