"""What the channels cost customers and the server, against baselines
measured in the same run.

    python -m bench.channels                 # 50 WeChat followers, 60 s idle sockets
    python -m bench.channels --small         # 5 followers, 10 s idle sockets
    python -m bench.channels --json out.json

The benchmark starts its own stack on free loopback ports in a temporary
directory through the launcher (`scripts/stack.py`), with the trained model
(`make train`), the default credentials.yml and the loopback platforms of
the tests (`tests/fakes`), so WeChat's channel is on. Beside it runs a
second Rasa with the same model whose only channel is stock Rasa 3.6's
socket.io channel (`socketio:` in its credentials), sharing the stack's
action server and bridge. Three figures:

1. **A web socket's idle cost**: our widget open in headless Chromium,
   greeted, then left alone; DevTools' network events count the HTTP
   requests and websocket frames a minute. Baseline: the same widget
   against stock Rasa's channel, whose broken upgrade leaves the session
   polling hundreds of times a second.
2. **The widget's time from send to reply on screen** in headless
   Chromium (`tests/integration/widget_page.py`). Baseline: the REST
   channel's round trip for the same messages, so the ratio is what the
   socket, the widget and the browser add to the bot's own time.
3. **WeChat's passive-reply rate**: the share of messages answered in the
   webhook's HTTP response within WeChat's 5 s, for `--followers`
   followers at once (`bench/_wechat_load.py`). Baseline: the same
   conversations over REST by as many customers at once, and the share of
   their answers within the channel's 4.5 s; the ratio says how much of
   the shortfall is WeChat's channel rather than the machine's load.

Exit status: 0 when every figure was measured, 2 when the stack could not
be started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from bench._wechat_load import CONVERSATION, passive_reply_rate
from scripts.stack import LOOPBACK, Ports, Secrets, Stack, free_port
from scripts.supervisor import Supervisor, SupervisorError
from tests.fakes import FakePlatforms, every_fake

STARTUP_TIMEOUT = 240
SETTLE_SECONDS = 6.0
# DevTools events that cost the server something: a request, a frame.
NETWORK_EVENTS = frozenset(
    {"Network.requestWillBeSent", "Network.webSocketFrameSent", "Network.webSocketFrameReceived"}
)
WIDGET_MESSAGES = ["退货运费谁出？", "支持哪些付款方式", "一般几天能到货", "谢谢"]
# The channel answers passively when the bot is ready within this.
PASSIVE_REPLY_SECONDS = 4.5
STOCK_CREDENTIALS = """socketio:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: true
"""


@dataclass(frozen=True)
class BenchConfig:
    followers: int = 50
    idle_seconds: float = 60.0
    think_seconds: tuple[float, float] = (3.0, 8.0)


SMALL = BenchConfig(followers=5, idle_seconds=10.0, think_seconds=(0.5, 1.5))


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 5)


def idle_widget_cost(
    rasa_url: str, workdir: Path, seconds: float, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Requests and frames a minute of an open, idle widget talking to `rasa_url`."""
    from tests.browser import headless_chromium
    from tests.integration.widget_page import WidgetPage, customer_site

    driver = headless_chromium("The widget's idle cost", "--lang=zh-CN", network_log=True)
    try:
        with customer_site(workdir, rasa_url, settings, index="") as site:
            page = WidgetPage(driver)
            page.load(f"{site}/index.html")
            # Stock Rasa never greets (its sessions get no answers), so both
            # are given the same few seconds to connect, greet and upgrade.
            page.find("launcher").click()
            time.sleep(SETTLE_SECONDS)
            greeted = bool(page.texts("bot"))
            driver.get_log("performance")  # what came before the idle minute
            time.sleep(seconds)
            events = [
                json.loads(entry["message"])["message"] for entry in driver.get_log("performance")
            ]
    finally:
        driver.quit()
    counted = [event["method"] for event in events if event["method"] in NETWORK_EVENTS]
    return {
        "greeted": greeted,
        "per_minute": round(len(counted) * 60 / seconds, 1),
        "requests": counted.count("Network.requestWillBeSent"),
        "websocket_frames": len(counted) - counted.count("Network.requestWillBeSent"),
    }


# How stock Rasa's web clients connect (socket.io-client's default order,
# rasa-webchat's): polling first, then the upgrade.
POLLING_FIRST = {"transports": ["polling", "websocket"]}


def measure_idle(our_url: str, stock_url: str, workdir: Path, seconds: float) -> dict[str, Any]:
    ours = idle_widget_cost(our_url, workdir / "idle-ours", seconds)
    stock = idle_widget_cost(stock_url, workdir / "idle-stock", seconds, POLLING_FIRST)
    return {
        "ours": ours,
        "stock": stock,
        "ours_per_minute": ours["per_minute"],
        "stock_per_minute": stock["per_minute"],
        "ratio_to_stock": ratio(ours["per_minute"], stock["per_minute"]),
    }


async def rest_round_trips(rasa_url: str, texts: list[str]) -> list[float]:
    """One REST customer saying `texts` in turn: the seconds of each answer."""
    sender = f"bench-rest-{uuid.uuid4().hex[:10]}"
    timings = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        for text in ["你好", *texts]:
            started = time.monotonic()
            async with http.post(
                f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
            ) as response:
                response.raise_for_status()
                await response.read()
            timings.append(time.monotonic() - started)
    return timings[1:]  # the greeting opens the conversation, as the widget's does


def measure_widget(rasa_url: str, workdir: Path) -> dict[str, Any]:
    from tests.integration.widget_page import reply_seconds_on_screen

    on_screen = reply_seconds_on_screen(rasa_url, WIDGET_MESSAGES, workdir / "site")
    rest = asyncio.run(rest_round_trips(rasa_url, WIDGET_MESSAGES))
    widget_median, rest_median = statistics.median(on_screen), statistics.median(rest)
    return {
        "widget_seconds": [round(value, 3) for value in on_screen],
        "widget_median_seconds": round(widget_median, 3),
        "rest_seconds": [round(value, 3) for value in rest],
        "rest_median_seconds": round(rest_median, 3),
        "ratio_to_rest": ratio(widget_median, rest_median),
    }


async def rest_in_time_rate(
    rasa_url: str, *, customers: int, think_seconds: tuple[float, float]
) -> float:
    """WeChat's load replayed over REST: the share answered within 4.5 s."""
    answered_in_time: list[bool] = []

    async def customer(http: aiohttp.ClientSession) -> None:
        sender = f"bench-rest-{uuid.uuid4().hex[:12]}"
        await asyncio.sleep(random.uniform(0, think_seconds[0]))
        for text in CONVERSATION:
            started = time.monotonic()
            async with http.post(
                f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
            ) as response:
                await response.read()
                ok = response.status == 200
            answered_in_time.append(ok and time.monotonic() - started < PASSIVE_REPLY_SECONDS)
            await asyncio.sleep(random.uniform(*think_seconds))

    connector = aiohttp.TCPConnector(limit=customers)
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=60), connector=connector
    ) as http:
        await asyncio.gather(*(customer(http) for _ in range(customers)))
    return sum(answered_in_time) / len(answered_in_time)


def measure_wechat(rasa_url: str, config: BenchConfig) -> dict[str, Any]:
    wechat = asyncio.run(
        passive_reply_rate(
            rasa_url, users=config.followers, safe=True, think_seconds=config.think_seconds
        )
    )
    rest = asyncio.run(
        rest_in_time_rate(rasa_url, customers=config.followers, think_seconds=config.think_seconds)
    )
    return {
        "followers": config.followers,
        "messages": wechat.messages,
        "passive_rate": round(wechat.rate, 3),
        "late": wechat.late,
        "failed": wechat.failed,
        "p50_seconds": round(wechat.p50_seconds, 3),
        "p95_seconds": round(wechat.p95_seconds, 3),
        "rest_in_time_rate": round(rest, 3),
        "ratio_to_rest": ratio(wechat.rate, rest),
    }


def stock_rasa(stack: Stack, workdir: Path) -> Stack:
    """A sibling Rasa on its own port with stock Rasa's socket.io channel only."""
    credentials = workdir / "stock-credentials.yml"
    credentials.write_text(STOCK_CREDENTIALS, encoding="utf-8")
    return replace(
        stack,
        ports=replace(stack.ports, rasa=free_port()),
        var=workdir / "stock",
        credentials=credentials,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a quick run for the tests")
    parser.add_argument("--followers", type=int, help="WeChat followers at once (50)")
    parser.add_argument("--idle-seconds", type=float, help="idle time per socket (60)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    config = SMALL if args.small else BenchConfig()
    if args.followers:
        config = replace(config, followers=args.followers)
    if args.idle_seconds:
        config = replace(config, idle_seconds=args.idle_seconds)

    fakes = FakePlatforms(every_fake())
    fakes.start()
    with tempfile.TemporaryDirectory(prefix="channels-bench-") as workdir:
        stack = Stack(
            ports=Ports.free(),
            secrets=Secrets.generate(),
            var=Path(workdir),
            rasa_host=LOOPBACK,
            environment={"HANDOFF_DEMO_AGENTS": "false", **fakes.environment},
            log_to_files=True,
        )
        stock = stock_rasa(stack, Path(workdir))
        stack.prepare()
        stock.prepare()
        supervisor, stock_supervisor = Supervisor(stack), Supervisor(stock)
        try:
            print(f"starting the stack and a stock Rasa in {workdir} …", flush=True)
            supervisor.start(stack.services(), STARTUP_TIMEOUT)
            stock_supervisor.start(
                [s for s in stock.services() if s.name == "rasa"], STARTUP_TIMEOUT
            )
            print("measuring idle sockets …", flush=True)
            idle = measure_idle(stack.rasa_url, stock.rasa_url, Path(workdir), config.idle_seconds)
            print("measuring the widget in Chromium …", flush=True)
            widget = measure_widget(stack.rasa_url, Path(workdir))
            print(f"measuring WeChat with {config.followers} followers …", flush=True)
            wechat = measure_wechat(stack.rasa_url, config)
        except SupervisorError as error:
            print(f"the stack failed: {error}", file=sys.stderr)
            return 2
        finally:
            stock_supervisor.stop()
            supervisor.stop()
            fakes.stop()
    result = {"config": asdict(config), "idle": idle, "widget": widget, "wechat": wechat}
    print(
        f"RESULT: idle web socket {idle['ours_per_minute']}/min "
        f"vs stock {idle['stock_per_minute']}/min ({idle['ratio_to_stock']}×); "
        f"widget reply on screen {widget['widget_median_seconds']} s "
        f"vs REST {widget['rest_median_seconds']} s ({widget['ratio_to_rest']}×); "
        f"WeChat passive within 5 s {wechat['passive_rate']:.0%} at {config.followers} followers "
        f"vs REST within 4.5 s {wechat['rest_in_time_rate']:.0%} ({wechat['ratio_to_rest']}×)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
