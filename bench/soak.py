"""Soak test of the production topology: many customers for a long time,
and what the processes' memory, the errors and the lost messages do.

    python -m bench.soak                              # 50 customers, 30 minutes
    python -m bench.soak --customers 50 --minutes 5 --json soak.json
    python -m bench.soak --customers 8 --minutes 1 --pause 1   # the test's run

The stack is `make run-prod`'s (two Rasa workers, two action-server workers,
two bridge instances on this machine's PostgreSQL, Redis and RabbitMQ, with
databases, keys and queues of the run's own), on free loopback ports, with
the project's own credentials.yml, started by bench/relay.py's
`ProcessStack`.

Each of the N customers is a browser tab or an app that opens conversation
after conversation until the time is up, every conversation a new visitor,
thinking `--pause` seconds on average (uniform in 0..2x) before each
message. One customer in ten asks for a human in each of its
conversations, over the web widget's socket.io: an agent (bench/relay.py's
`ConsoleAgent`: console websocket and API) claims it, customer and agent
exchange messages, the agent resolves it, and the customer answers the
satisfaction survey. The others ask the bot about orders, the FAQ or
nothing much, in Chinese or English, half of them over REST and half over
socket.io.

Nothing may be lost: every customer message gets a bot answer (REST: a
non-empty reply; socket.io: a `bot_uttered`) or reaches the agent's
console, and every agent reply reaches the customer. Messages in a handoff
carry an id (bench/relay.py's `DeliveryLedger`), so duplicates show too.

The report (JSON on stdout, and in --json) holds each process's resident
memory (Rasa's workers, the action server's, each bridge instance; at the
start, every minute and at the end), errors by kind (what the customers and
agents met, and ERROR lines in each process's log), messages lost by kind,
and latencies (p50/p95) of bot answers per channel and of both relay
directions. Progress goes to stderr.

Exit status: 0 when nothing was lost or duplicated, 1 when something was,
2 when the stack could not start (or could not be driven), 130 when
interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from bench._customers import WEBSOCKET_OPTIONS
from bench._memory import tree_resident_mb
from bench.relay import (
    AGENT_TO_CUSTOMER,
    CUSTOMER_TO_AGENT,
    MAX_AGENT_CAPACITY,
    MODEL,
    PRODUCTION,
    BenchError,
    ConsoleAgent,
    DeliveryLedger,
    ProcessStack,
    percentile,
    run_cancellable,
)
from cloudpick_home import PROJECT

# One customer in this many asks for a human.
HANDOFF_EVERY = 10
SAMPLE_SECONDS = 60.0
ANSWER_TIMEOUT = 30.0  # a bot answer or a relayed message later than this is lost
HANDOFF_TIMEOUT = 60.0  # from asking for a human to the agent's claim
DRAIN_TIMEOUT = 120.0  # conversations under way when the time is up may finish
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=ANSWER_TIMEOUT)
LOG_ERROR = re.compile(r"\bERROR\b|\bCRITICAL\b|^Traceback")
LOG_SAMPLES = 5

REST, WIDGET = "rest", "socketio"
# The fallbacks' words (domain.yml): answered, but not understood.
NOT_UNDERSTOOD = ("没有理解", "没有完全理解", "didn't understand")

# What customers say to the bot, in conversations of a few messages; written
# for this benchmark (orders, the FAQ, chit-chat; Chinese and English).
BOT_SCRIPTS: list[tuple[str, list[str]]] = [
    ("zh", ["你好", "我的订单什么时候发货", "订单号是 202612030417", "好的，谢谢"]),
    ("zh", ["在吗", "我买的耳机还没收到，能查一下物流吗", "单号 202611280093", "多久能到"]),
    ("zh", ["退货要怎么操作", "运费谁来出", "退款多久到账"]),
    ("zh", ["可以开发票吗", "支持货到付款吗", "明白了"]),
    ("zh", ["你是机器人吗", "今天心情不太好", "哈哈你挺有意思", "拜拜"]),
    ("en", ["hi there", "where is my order?", "the order number is 202612010552", "thanks!"]),
    ("en", ["how do I return an item", "who pays for the return shipping", "ok got it"]),
    ("en", ["do you ship to Hong Kong?", "how long does delivery take", "great"]),
    ("en", ["hello", "are you a real person?", "you're funny", "bye"]),
]
HANDOFF_OPENING = ["你好，我想问一下订单", "我的快递三天没有更新了"]
HANDOFF_REQUEST = "我要转人工"
CUSTOMER_LINES = [
    "快递单号是 SF1402638857，一直显示在转运中",
    "我下周要出差，能不能改个收货地址",
    "如果这周到不了我想退款",
]
AGENT_LINES = [
    "您好，我这边帮您联系快递催一下",
    "可以的，请把新地址发给我",
    "好的，到不了的话我直接帮您办理退款",
]
SURVEY_COMMENT = "没有了，谢谢"


def progress(message: str) -> None:
    print(f"[soak] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class SoakConfig:
    customers: int = 50
    minutes: float = 30.0
    pause: float = 3.0  # mean seconds a customer thinks before each message
    turns: int = 3  # messages each way once an agent has the conversation
    agents: int = 2
    json_path: Path | None = None
    keep_workdir: bool = False

    @property
    def handoff_customers(self) -> int:
        return math.ceil(self.customers / HANDOFF_EVERY)

    @property
    def capacity(self) -> int:
        """Room for every handoff customer's conversation, and one to spare
        for a ticket not yet closed when its customer starts the next."""
        return min(math.ceil(self.handoff_customers / self.agents) + 1, MAX_AGENT_CAPACITY)


@dataclass
class Tally:
    """What the customers and agents saw: answers, errors and losses."""

    # Seconds from a customer's message to the bot's answer, per channel.
    answer_seconds: dict[str, list[float]] = field(default_factory=lambda: {REST: [], WIDGET: []})
    sent: Counter[str] = field(default_factory=Counter)  # per channel
    errors: Counter[str] = field(default_factory=Counter)  # by kind
    lost: Counter[str] = field(default_factory=Counter)  # by kind
    conversations: Counter[str] = field(default_factory=Counter)  # finished, by kind
    not_understood: int = 0  # answered, with the fallback

    def answered(self, channel: str, seconds: float, texts: list[str]) -> None:
        self.answer_seconds[channel].append(seconds)
        self.not_understood += any(marker in t for t in texts for marker in NOT_UNDERSTOOD)

    def unanswered(self, channel: str, kind: str) -> None:
        self.errors[kind] += 1
        self.lost[f"{channel}: no bot answer"] += 1


class WidgetCustomer:
    """The web widget's side of socket.io (python-socketio's client, as in
    bench/_customers.py), keeping every `bot_uttered` so a turn can wait for
    its answer: with the Redis manager the acknowledgement may overtake the
    bot's messages, so a turn waits for the message, not the ack."""

    def __init__(self, http: aiohttp.ClientSession, url: str, ledger: DeliveryLedger) -> None:
        self._url = url
        self._ledger = ledger
        self._client = socketio.AsyncClient(
            reconnection=False, http_session=http, websocket_extra_options=WEBSOCKET_OPTIONS
        )
        self._client.on("bot_uttered", self._bot_uttered)
        self._client.on("session_confirm", self._confirmed)
        self._client.on("message_rejected", self._rejected)
        self._arrived = asyncio.Condition()
        self.messages: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.token: str | None = None

    async def _bot_uttered(self, data: Any) -> None:
        message = data if isinstance(data, dict) else {"text": str(data)}
        self._ledger.arrived(message.get("text") or "")
        async with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()

    async def _confirmed(self, data: Any) -> None:
        async with self._arrived:
            self.token = data.get("session_id") if isinstance(data, dict) else None
            self._arrived.notify_all()

    async def _rejected(self, data: Any) -> None:
        code = ((data or {}).get("error") or {}).get("code", "unknown")
        async with self._arrived:
            self.rejected.append(code)
            self._arrived.notify_all()

    async def open(self, language: str) -> None:
        """Connects and takes a new session; the greeting follows."""
        await self._client.connect(self._url, transports=["websocket"], wait_timeout=30)
        await self._client.emit(
            "session_request", {"session_id": None, "customData": {"language": language}}
        )
        await self.wait(lambda message: True, since=0)
        await self._wait_for(lambda: self.token is not None)

    async def send(self, text: str) -> None:
        """Emits the message and waits for the server to take it."""
        await self._client.call(
            "user_uttered", {"message": text, "session_id": self.token}, timeout=ANSWER_TIMEOUT
        )

    async def wait(
        self, where: Callable[[dict[str, Any]], bool], *, since: int
    ) -> dict[str, Any] | None:
        """The first bot message from index `since` on that matches `where`;
        None when none came within the answer timeout."""
        found: list[dict[str, Any]] = []

        def match() -> bool:
            found[:] = [m for m in self.messages[since:] if where(m)][:1]
            return bool(found)

        return found[0] if await self._wait_for(match) else None

    async def _wait_for(self, predicate: Callable[[], bool]) -> bool:
        async with self._arrived:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait_for(predicate), ANSWER_TIMEOUT)
        return predicate()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.eio.disconnect(abort=True)


def unmarked(message: dict[str, Any]) -> bool:
    """The bot's own words, not a relayed agent reply."""
    return "[#" not in (message.get("text") or "")


def survey(message: dict[str, Any]) -> bool:
    return any(reply.get("payload") == "5" for reply in message.get("quick_replies") or [])


class Soak:
    """Drives one run: start, load for the time asked, drain, report, stop."""

    def __init__(self, config: SoakConfig, *, workdir: Path) -> None:
        self._config = config
        self._ledger = DeliveryLedger()
        self._stack = ProcessStack(
            workdir=workdir,
            credentials=PROJECT / "credentials.yml",
            profile=PRODUCTION,
            name="soak",
        )
        self._tally = Tally()
        self._run_id = secrets.token_hex(3)
        self._visitors = count()
        self._agents: list[ConsoleAgent] = []
        self._claims: dict[int, asyncio.Future[ConsoleAgent]] = {}
        self._memory: list[dict[str, Any]] = []
        self._started = 0.0

    @property
    def stack(self) -> ProcessStack:
        return self._stack

    async def run(self) -> dict[str, Any]:
        try:
            return await self._run()
        finally:
            with contextlib.suppress(Exception):
                await self._stack.resolve_leftovers(self._prefix)
            for agent in self._agents:
                with contextlib.suppress(Exception):
                    await agent.close()
            await asyncio.to_thread(self._stack.stop)

    @property
    def _prefix(self) -> str:
        return f"soak-{self._run_id}-"

    async def _run(self) -> dict[str, Any]:
        if not MODEL.exists():
            raise BenchError(f"{MODEL} is missing: run `make train` first.")
        started = time.perf_counter()
        await asyncio.to_thread(self._stack.create_admin)
        await asyncio.to_thread(self._stack.start)
        startup_seconds = time.perf_counter() - started
        progress(f"stack up in {startup_seconds:.0f} s, in {self._stack.workdir}")
        self._agents = await self._stack.create_agents(
            prefix=self._prefix,
            count=self._config.agents,
            capacity=self._config.capacity,
            ledger=self._ledger,
            on_claimed=self._claimed,
        )
        await asyncio.gather(*(agent.connect() for agent in self._agents))

        self._started = time.monotonic()
        deadline = self._started + self._config.minutes * 60
        self._sample_memory()
        sampler = asyncio.create_task(self._sample_every_minute())
        async with aiohttp.ClientSession(
            timeout=HTTP_TIMEOUT, connector=aiohttp.TCPConnector(limit=0)
        ) as http:
            customers = [
                asyncio.create_task(self._customer(slot, http, deadline))
                for slot in range(self._config.customers)
            ]
            await asyncio.wait(customers, timeout=deadline - time.monotonic() + DRAIN_TIMEOUT)
            for customer in customers:
                if not customer.done():
                    self._tally.errors["conversation still running after the drain"] += 1
                    customer.cancel()
            outcomes = await asyncio.gather(*customers, return_exceptions=True)
        # What no visitor expects is the benchmark's own bug: it says so.
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        sampler.cancel()
        self._sample_memory()
        return self._report(startup_seconds, time.monotonic() - self._started)

    # --- agents -------------------------------------------------------------------------

    def _claimed(self, ticket: dict[str, Any], agent: ConsoleAgent) -> None:
        self._claim(ticket["id"]).set_result(agent)

    def _claim(self, ticket_id: int) -> asyncio.Future[ConsoleAgent]:
        return self._claims.setdefault(ticket_id, asyncio.get_running_loop().create_future())

    # --- customers ----------------------------------------------------------------------

    async def _customer(self, slot: int, http: aiohttp.ClientSession, deadline: float) -> None:
        """Visitor after visitor until the time is up; a visitor that fails
        unexpectedly is an error of its own kind, and the next one comes."""
        while time.monotonic() < deadline:
            visitor = next(self._visitors)
            if slot % HANDOFF_EVERY == 0:
                kind, talk = "handoff", self._handoff_visitor(visitor, http)
            elif slot % 2:
                kind, talk = REST, self._rest_visitor(visitor, http)
            else:
                kind, talk = WIDGET, self._widget_visitor(visitor, http)
            try:
                await talk
                self._tally.conversations[kind] += 1
            except (aiohttp.ClientError, socketio.exceptions.SocketIOError, TimeoutError) as error:
                self._tally.errors[f"{kind} visitor: {type(error).__name__}"] += 1

    async def _think(self) -> None:
        await asyncio.sleep(random.uniform(0, 2 * self._config.pause))

    async def _rest_visitor(self, visitor: int, http: aiohttp.ClientSession) -> None:
        sender = f"{self._prefix}{visitor}"
        _, script = random.choice(BOT_SCRIPTS)
        for text in script:
            await self._think()
            self._tally.sent[REST] += 1
            started = time.monotonic()
            try:
                async with http.post(
                    f"{self._stack.rasa_url}/webhooks/rest/webhook",
                    json={"sender": sender, "message": text},
                ) as response:
                    if response.status != 200:
                        self._tally.unanswered(REST, f"rest: HTTP {response.status}")
                        continue
                    answer = await response.json()
            except (aiohttp.ClientError, TimeoutError) as error:
                self._tally.unanswered(REST, f"rest: {type(error).__name__}")
                continue
            if not answer:
                self._tally.unanswered(REST, "rest: empty answer")
                continue
            texts = [message.get("text") or "" for message in answer]
            self._tally.answered(REST, time.monotonic() - started, texts)

    async def _widget_visitor(self, visitor: int, http: aiohttp.ClientSession) -> None:
        language, script = random.choice(BOT_SCRIPTS)
        customer = await self._open_widget(http, language)
        if customer is None:
            return
        try:
            for text in script:
                await self._say_to_bot(customer, text)
        finally:
            await customer.close()

    async def _open_widget(
        self, http: aiohttp.ClientSession, language: str
    ) -> WidgetCustomer | None:
        customer = WidgetCustomer(http, self._stack.rasa_url, self._ledger)
        try:
            await customer.open(language)
        except (socketio.exceptions.SocketIOError, TimeoutError) as error:
            self._tally.errors[f"socketio: could not open ({type(error).__name__})"] += 1
            await customer.close()
            return None
        if customer.token is None or not customer.messages:
            self._tally.errors["socketio: no session or no greeting"] += 1
        return customer

    async def _say_to_bot(
        self,
        customer: WidgetCustomer,
        text: str,
        where: Callable[[dict[str, Any]], bool] = unmarked,
    ) -> dict[str, Any] | None:
        """One turn with the bot: the first bot message after it, matching
        `where`, is its answer."""
        await self._think()
        self._tally.sent[WIDGET] += 1
        since, rejected = len(customer.messages), len(customer.rejected)
        started = time.monotonic()
        try:
            await customer.send(text)
        except (socketio.exceptions.SocketIOError, TimeoutError) as error:
            self._tally.errors[f"socketio: no acknowledgement ({type(error).__name__})"] += 1
        answer = await customer.wait(where, since=since)
        if answer is None:
            refusals = customer.rejected[rejected:]
            kind = f"socketio: refused ({refusals[0]})" if refusals else "socketio: no answer"
            self._tally.unanswered(WIDGET, kind)
            return None
        self._tally.answered(WIDGET, time.monotonic() - started, [answer.get("text") or ""])
        return answer

    async def _handoff_visitor(self, visitor: int, http: aiohttp.ClientSession) -> None:
        """Bot, human, back to the bot and the survey, on the widget."""
        customer = await self._open_widget(http, "zh")
        if customer is None:
            return
        try:
            for text in HANDOFF_OPENING:
                await self._say_to_bot(customer, text)
            queued = await self._say_to_bot(customer, HANDOFF_REQUEST, where=_ticket_of)
            if queued is None:
                self._tally.lost["handoff: never queued"] += 1
                return
            ticket_id = queued["metadata"]["handoff"]["ticket_id"]
            try:
                agent = await asyncio.wait_for(
                    asyncio.shield(self._claim(ticket_id)), HANDOFF_TIMEOUT
                )
            except TimeoutError:
                self._tally.lost["handoff: never claimed"] += 1
                return
            await self._exchange(customer, visitor, ticket_id, agent)
            since = len(customer.messages)
            await agent.resolve(ticket_id)
            if await customer.wait(survey, since=since) is None:
                self._tally.lost["handoff: no survey after resolve"] += 1
                return
            await self._say_to_bot(customer, random.choice("12345"))
            await self._say_to_bot(customer, SURVEY_COMMENT)
        finally:
            await customer.close()

    async def _exchange(
        self, customer: WidgetCustomer, visitor: int, ticket_id: int, agent: ConsoleAgent
    ) -> None:
        """Turns each way, every message marked for the ledger and waited for."""
        for turn in range(self._config.turns):
            said = self._ledger.message_id(CUSTOMER_TO_AGENT, visitor, turn)
            await self._think()
            self._ledger.sending(said)
            try:
                await customer.send(f"{CUSTOMER_LINES[turn % len(CUSTOMER_LINES)]} [#{said}]")
            except (socketio.exceptions.SocketIOError, TimeoutError) as error:
                self._ledger.send_failed(said)
                self._tally.errors[f"socketio: no acknowledgement ({type(error).__name__})"] += 1
            await self._ledger.wait_for(said, ANSWER_TIMEOUT)

            replied = self._ledger.message_id(AGENT_TO_CUSTOMER, visitor, turn)
            await self._think()
            self._ledger.sending(replied)
            try:
                await agent.reply(ticket_id, f"{AGENT_LINES[turn % len(AGENT_LINES)]} [#{replied}]")
            except (aiohttp.ClientError, TimeoutError, BenchError) as error:
                self._ledger.send_failed(replied)
                self._tally.errors[f"agent reply refused ({type(error).__name__})"] += 1
            await self._ledger.wait_for(replied, ANSWER_TIMEOUT)

    # --- memory -------------------------------------------------------------------------

    async def _sample_every_minute(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_SECONDS)
            self._sample_memory()

    def _sample_memory(self) -> None:
        """Each process's resident MiB, named by service (Rasa's and the
        action server's workers are the launched process's children)."""
        processes: dict[str, float] = {}
        for service, pid in self._stack.pids().items():
            tree = tree_resident_mb(pid)
            if not tree:  # the benchmark restarts nothing: what follows fails
                self._tally.errors[f"process exited: {service}"] += 1
            for number, (child, megabytes) in enumerate(tree.items()):
                role = "main" if number == 0 else f"worker {number}"
                processes[f"{service} {role} (pid {child})"] = megabytes
        minute = (time.monotonic() - self._started) / 60
        self._memory.append({"minute": round(minute, 2), "rss_mb": processes})
        done = sum(self._tally.sent.values())
        progress(
            f"minute {minute:.1f}: {done} bot messages sent, "
            f"{sum(self._tally.lost.values())} lost, {sum(self._tally.errors.values())} errors; "
            f"RSS {sum(processes.values()):.0f} MiB in {len(processes)} processes"
        )

    # --- report -------------------------------------------------------------------------

    def _report(self, startup_seconds: float, load_seconds: float) -> dict[str, Any]:
        relay = {
            name: self._ledger.stats(direction).to_dict()
            for name, direction in (
                ("customer_to_agent", CUSTOMER_TO_AGENT),
                ("agent_to_customer", AGENT_TO_CUSTOMER),
            )
        }
        lost = Counter(self._tally.lost)
        for stats in relay.values():
            lost[f"relay {stats['direction']}"] += stats["lost"]
        duplicates = sum(stats["duplicates"] for stats in relay.values())
        errors = Counter(self._tally.errors)
        for agent in self._agents:
            for error in agent.errors:
                errors[f"agent: {error.split(':')[0]}"] += 1
        logs = self._log_errors()
        for service, found in logs.items():
            errors[f"log ERROR lines: {service}"] += found["lines"]
        return {
            "profile": PRODUCTION,
            "customers": self._config.customers,
            "handoff_customers": self._config.handoff_customers,
            "agents": self._config.agents,
            "minutes": self._config.minutes,
            "pause_seconds": self._config.pause,
            "startup_seconds": round(startup_seconds, 1),
            "load_seconds": round(load_seconds, 1),
            "conversations": dict(self._tally.conversations),
            "messages": {
                "to_bot": dict(self._tally.sent),
                "answered_by_bot": {c: len(s) for c, s in self._tally.answer_seconds.items()},
                "not_understood": self._tally.not_understood,
                "customer_to_agent": relay["customer_to_agent"]["sent"],
                "agent_to_customer": relay["agent_to_customer"]["sent"],
            },
            "latency_ms": {
                **{
                    f"bot answer ({channel})": _quantiles([s * 1000 for s in seconds])
                    for channel, seconds in self._tally.answer_seconds.items()
                },
                **{
                    stats["direction"]: {"p50": stats["p50_ms"], "p95": stats["p95_ms"]}
                    for stats in relay.values()
                },
            },
            "lost": {kind: number for kind, number in lost.items() if number},
            "lost_total": sum(lost.values()),
            "duplicates": duplicates,
            "errors": {kind: number for kind, number in errors.items() if number},
            "log_error_samples": {
                s: found["samples"] for s, found in logs.items() if found["lines"]
            },
            "memory": _memory_growth(self._memory),
            "memory_samples": self._memory,
        }

    def _log_errors(self) -> dict[str, dict[str, Any]]:
        """ERROR lines (and tracebacks) in each process's log, with the
        first few distinct ones."""
        found: dict[str, dict[str, Any]] = {}
        for service in self._stack.names():
            path = self._stack.log(service)
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            errors = [line for line in lines if LOG_ERROR.search(line)]
            samples = list(dict.fromkeys(line[:300] for line in errors))[:LOG_SAMPLES]
            found[service] = {"lines": len(errors), "samples": samples}
        return found


def _ticket_of(message: dict[str, Any]) -> bool:
    return bool(((message.get("metadata") or {}).get("handoff") or {}).get("ticket_id"))


def _quantiles(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


def _memory_growth(samples: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per process: resident MiB at the start, at the end, the most, and the
    growth; a process that was not there at both ends has no growth."""
    names = list(dict.fromkeys(name for sample in samples for name in sample["rss_mb"]))
    growth = {}
    for name in names:
        values = [sample["rss_mb"].get(name) for sample in samples]
        start, end = values[0], values[-1]
        growth[name] = {
            "start_mb": start,
            "end_mb": end,
            "max_mb": max((v for v in values if v is not None), default=None),
            "growth_mb": round(end - start, 1) if start is not None and end is not None else None,
        }
    return growth


def render(report: dict[str, Any]) -> str:
    """The figures a person reads first, for stderr."""
    lines = [
        f"Soak, production profile: {report['customers']} customers "
        f"({report['handoff_customers']} asking for a human), {report['minutes']:g} min, "
        f"{report['pause_seconds']:g} s mean pause; conversations {report['conversations']}",
        f"messages to the bot {report['messages']['to_bot']}, answered "
        f"{report['messages']['answered_by_bot']}; relayed customer→agent "
        f"{report['messages']['customer_to_agent']}, agent→customer "
        f"{report['messages']['agent_to_customer']}",
    ]
    for name, figures in report["latency_ms"].items():
        lines.append(f"  {name:<28} p50 {_ms(figures['p50'])} ms, p95 {_ms(figures['p95'])} ms")
    lines.append("memory (RSS MiB: start → end, max):")
    for name, figures in report["memory"].items():
        lines.append(
            f"  {name:<40} {_ms(figures['start_mb'])} → {_ms(figures['end_mb'])} "
            f"(max {_ms(figures['max_mb'])}, growth {_ms(figures['growth_mb'])})"
        )
    lines.append(f"errors: {report['errors'] or 'none'}")
    if report["lost_total"] or report["duplicates"]:
        lines.append(
            f"RESULT: FAILED: {report['lost_total']} lost {report['lost']}, "
            f"{report['duplicates']} duplicated"
        )
    else:
        lines.append("RESULT: nothing lost, nothing duplicated")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# --- command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> SoakConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=50, help="concurrent customers")
    parser.add_argument("--minutes", type=float, default=30.0, help="how long they keep coming")
    parser.add_argument(
        "--pause", type=float, default=3.0, help="mean seconds a customer thinks per message"
    )
    parser.add_argument(
        "--turns", type=int, default=3, help="messages each way in a conversation with an agent"
    )
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep the processes' logs afterwards"
    )
    args = parser.parse_args(argv)
    if min(args.customers, args.agents, args.turns) < 1 or args.minutes <= 0 or args.pause < 0:
        parser.error("--customers, --agents, --turns and --minutes must be positive")
    config = SoakConfig(
        customers=args.customers,
        minutes=args.minutes,
        pause=args.pause,
        turns=args.turns,
        agents=args.agents,
        json_path=args.json,
        keep_workdir=args.keep_workdir,
    )
    if config.capacity >= MAX_AGENT_CAPACITY:
        parser.error("too many handoff customers per agent: use more --agents")
    return config


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="soak-bench-"))
    soak = Soak(config, workdir=workdir)
    failed = True
    try:
        report = asyncio.run(run_cancellable(soak.run()))
        failed = bool(report["lost_total"] or report["duplicates"])
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the stack is stopped", file=sys.stderr)
        return 130
    finally:
        soak.stack.stop()  # a no-op unless the loop died before stopping it
        if config.keep_workdir or failed:
            print(f"logs: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(render(report), file=sys.stderr)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
