"""The customer-service message client against the fake WeChat API: the
access token is fetched once, refreshed before it expires and after WeChat
rejects it, one refresh at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from addons.channels.wechat.client import CustomerServiceClient, WeChatAPIError
from tests.fakes.wechat import APP_ID, APP_SECRET, TOKEN_LIFETIME_SECONDS, FakeWeChat


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(wechat: FakeWeChat, clock: Clock) -> AsyncIterator[CustomerServiceClient]:
    client = CustomerServiceClient(
        app_id=APP_ID, app_secret=APP_SECRET, api_base_url=wechat.url, clock=clock
    )
    yield client
    await client.close()


async def test_fifty_concurrent_sends_fetch_one_token(
    wechat: FakeWeChat, client: CustomerServiceClient
):
    await wechat.set_delay(0.05)  # the token's fetch is in flight while the others ask
    await asyncio.gather(*(client.send_text(f"o{n}", f"消息 {n}") for n in range(50)))
    assert wechat.token_requests == 1
    assert sorted(await wechat.texts_to("o7")) == ["消息 7"]
    assert len(wechat.sent) == 50


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_a_rejected_token_is_refreshed_once_for_everyone(
    wechat: FakeWeChat, client: CustomerServiceClient, errcode: int
):
    await client.send_text("o1", "first")
    await wechat.expire_tokens(errcode)
    await asyncio.gather(*(client.send_text(f"o{n}", "again") for n in range(20)))
    assert wechat.token_requests == 2
    assert len(wechat.sent) == 21


async def test_the_token_is_refreshed_before_it_expires(
    wechat: FakeWeChat, client: CustomerServiceClient, clock: Clock
):
    await client.send_text("o1", "a")
    clock.now += TOKEN_LIFETIME_SECONDS - 600
    await client.send_text("o1", "b")
    assert wechat.token_requests == 1
    clock.now += 301  # within the last five minutes of its life
    await client.send_text("o1", "c")
    assert wechat.token_requests == 2


async def test_a_token_rejected_twice_is_not_retried_forever(
    wechat: FakeWeChat, client: CustomerServiceClient
):
    await client.send_text("o1", "a")
    await wechat.expire_tokens(40001, new_ones_too=True)
    with pytest.raises(WeChatAPIError) as raised:
        await client.send_text("o1", "b")
    assert raised.value.errcode == 40001
    assert wechat.token_requests == 2


async def test_the_48_hour_window_is_said_in_plain_words(
    wechat: FakeWeChat, client: CustomerServiceClient
):
    await wechat.refuse("o-silent", 45015)
    with pytest.raises(WeChatAPIError) as raised:
        await client.send_text("o-silent", "您好")
    assert raised.value.errcode == 45015
    assert "48" in raised.value.plain_words and "客户" in raised.value.plain_words


async def test_wrong_credentials_and_an_unreachable_api_are_errors(wechat: FakeWeChat):
    wrong = CustomerServiceClient(app_id=APP_ID, app_secret="wrong", api_base_url=wechat.url)
    with pytest.raises(WeChatAPIError) as raised:
        await wrong.send_text("o1", "x")
    assert raised.value.errcode == 40125
    await wrong.close()
    await wechat.stop()
    gone = CustomerServiceClient(app_id=APP_ID, app_secret=APP_SECRET, api_base_url=wechat.url)
    with pytest.raises(WeChatAPIError) as raised:
        await gone.send_text("o1", "x")
    assert raised.value.errcode is None and "could not be reached" in raised.value.plain_words
    await gone.close()
    await wechat.start()


async def test_a_picture_is_downloaded_within_its_limit(
    wechat: FakeWeChat, client: CustomerServiceClient
):
    url = await wechat.add_picture("p.png", b"\x89PNG" + b"0" * 100, "image/png")
    assert await client.download(url, 200) == (b"\x89PNG" + b"0" * 100, "image/png")
    with pytest.raises(WeChatAPIError, match="larger"):
        await client.download(url, 50)
    with pytest.raises(WeChatAPIError, match="404"):
        await client.download(f"{wechat.url}/pictures/none", 50)
