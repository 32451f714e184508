"""Loopback stand-ins for the platforms the tests cannot reach (WeChat's API,
Telegram's Bot API, a mail provider, an app's callback URL).

Each fake is an aiohttp (or aiosmtpd) server that speaks the platform's
documented protocol and records what it was sent. They all run on one
background event loop, started once per test session before the session's
stack, whose processes reach them through `environment`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class PlatformFake(Protocol):
    # Environment for the stack's processes, e.g. {"TELEGRAM_API_URL": ...};
    # filled by start().
    environment: dict[str, str]

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def every_fake() -> dict[str, PlatformFake]:
    """The session's fakes by name; each channel's tests add theirs here."""
    fakes: dict[str, PlatformFake] = {}
    from tests.fakes.wechat import FakeWeChat

    fakes["wechat"] = FakeWeChat()
    from tests.fakes.telegram import FakeTelegram

    fakes["telegram"] = FakeTelegram()
    from tests.fakes.mail import FakeMailProvider

    fakes["mail"] = FakeMailProvider()
    from tests.fakes.app_callback import FakeApp

    fakes["app"] = FakeApp()
    from tests.fakes.web import FakeWebSite

    fakes["web"] = FakeWebSite()
    return fakes


class FakePlatforms:
    """Runs the fakes on a loop in a thread of its own, so that blocking
    test code (requests, a browser) can talk to them."""

    def __init__(self, fakes: dict[str, PlatformFake]) -> None:
        self.fakes = fakes
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __getitem__(self, name: str) -> Any:
        return self.fakes[name]

    @property
    def environment(self) -> dict[str, str]:
        return {
            key: value for fake in self.fakes.values() for key, value in fake.environment.items()
        }

    def start(self) -> None:
        self._thread.start()
        for fake in self.fakes.values():
            self.run(fake.start())

    def stop(self) -> None:
        for fake in self.fakes.values():
            self.run(fake.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Runs a coroutine on the fakes' loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)
