"""WeChat's passive-reply rate under load, for bench/channels.py.

WeChat waits 5 seconds for a webhook's answer; the channel replies passively
when the bot is ready within `passive_reply_seconds` (4.5 s) and otherwise
answers `success` and sends the answer by 客服消息. `passive_reply_rate`
plays WeChat for `users` followers at once against a running stack whose
WeChat channel has the fake's credentials (tests.fakes.wechat.FakeWeChat's
`environment`): each follower sends a few messages, pausing between them
as a person reading and typing would (`think_seconds`), whether the answer
came passively or not; followers start spread over the first pause. The
result is the share of messages answered passively within 5 s.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from dataclasses import dataclass

import aiohttp

from tests.fakes.wechat import WeChatServer

# What a follower says, one message after the other's answer.
CONVERSATION = ("你好", "我的订单241108302211一直没发货", "退货运费谁出", "谢谢")
WECHAT_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class PassiveReplies:
    messages: int
    passive_in_time: int  # answered in the HTTP response within 5 s
    late: int  # answered `success` (the answer went by 客服消息) or after 5 s
    failed: int  # not a 200
    p50_seconds: float
    p95_seconds: float

    @property
    def rate(self) -> float:
        return self.passive_in_time / self.messages if self.messages else 0.0


async def passive_reply_rate(
    rasa_url: str,
    *,
    users: int = 50,
    safe: bool = True,
    think_seconds: tuple[float, float] = (3.0, 8.0),
    wechat: WeChatServer | None = None,
) -> PassiveReplies:
    """Runs `users` followers at once through `CONVERSATION` on the stack at `rasa_url`."""
    wechat = wechat or WeChatServer()
    url = f"{rasa_url.rstrip('/')}/webhooks/wechat/webhook"
    timings: list[float] = []
    outcomes: list[str] = []

    async def follower(http: aiohttp.ClientSession) -> None:
        openid = f"o-bench-{uuid.uuid4().hex[:12]}"
        await asyncio.sleep(random.uniform(0, think_seconds[0]))
        for text in CONVERSATION:
            query, body = wechat.request(wechat.text(openid, text), safe=safe)
            started = time.monotonic()
            async with http.post(f"{url}?{query}", data=body) as response:
                answer = await response.text()
                elapsed = time.monotonic() - started
            timings.append(elapsed)
            if response.status != 200:
                outcomes.append("failed")
            elif wechat.open_reply(answer, safe=safe) and elapsed < WECHAT_WAIT_SECONDS:
                outcomes.append("passive")
            else:
                outcomes.append("late")
            await asyncio.sleep(random.uniform(*think_seconds))

    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        await asyncio.gather(*(follower(http) for _ in range(users)))
    ordered = sorted(timings)
    return PassiveReplies(
        messages=len(outcomes),
        passive_in_time=outcomes.count("passive"),
        late=outcomes.count("late"),
        failed=outcomes.count("failed"),
        p50_seconds=statistics.median(ordered),
        p95_seconds=ordered[max(0, int(len(ordered) * 0.95) - 1)],
    )
