from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.wechat import FakeWeChat


@pytest.fixture
async def wechat() -> AsyncIterator[FakeWeChat]:
    fake = FakeWeChat()
    await fake.start()
    yield fake
    await fake.stop()
