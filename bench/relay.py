"""Relay latency of the handoff bridge under load: N customers talking live
with M agents through Rasa and the bridge at the same time.

    python -m bench.relay --conversations 200 --agents 10 --messages 5
    python -m bench.relay --small                  # 5 conversations, 2 agents, 2 messages
    python -m bench.relay --database-url postgresql://... --json results.json
    python -m bench.relay --profile production --conversations 1000 --agents 20 --pause 15

The benchmark starts its own stack on free loopback ports in a temporary
directory: the bridge (SQLite unless --database-url), the action server,
Rasa (model models/cloudpick.tar.gz, `make train`) with the callback
channel, and a customer-side server that receives Rasa's callbacks.

`--profile production` starts the production topology instead, as
`make run-prod` does: two Rasa workers, two action-server workers and two
bridge instances sharing one port, on this machine's PostgreSQL, Redis and
RabbitMQ, with databases, keys and queues of the run's own (dropped at
the end). The agents' consoles then land on either bridge instance.

Every conversation asks for a human, an agent claims the offer, then
customer and agent take K turns each. Every message carries a unique id,
so each delivery is matched to its send:

- customer→agent: from just before the customer's POST to Rasa until the
  agent's console websocket receives the message;
- agent→customer: from just before the agent's POST to the bridge until
  the customer's callback server receives it.

Besides the two latencies, the run splits the customer→agent time on the
timestamps the relayed message carries (Rasa's user event, the bridge's
relay time), and reports messages per second over the exchange.

With no --pause, each conversation sends its next message as soon as the
other side has heard the last one: a closed loop, where latency is about
conversations / throughput. `--pause S` makes both sides think for S
seconds on average between turns, as people do, which is the load the
latency target is about. Handoffs are opened 25 at a time
(--handoff-concurrency): all 200 at once stall Rasa long enough for the
action server to drop its connections, which loses handoffs, not messages.

Ctrl-C (or SIGTERM) stops the run cleanly: open tickets are resolved and
the processes stopped. Exit status: 0 when every message arrived exactly
once, 1 when any was lost or duplicated, 2 when the stack could not be set
up or driven, 130 when interrupted.
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
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yaml
from aiohttp import web

from cloudpick_home import PROJECT
from scripts.servers import SharedServers
from scripts.stack import ENDPOINTS_TEMPLATE, LOOPBACK, Ports, Secrets, Stack, Topology
from scripts.supervisor import Supervisor, SupervisorError

MODEL = PROJECT / "models" / "cloudpick.tar.gz"

CUSTOMER_TO_AGENT = "c2a"
AGENT_TO_CUSTOMER = "a2c"
DIRECTIONS = {CUSTOMER_TO_AGENT: "customer→agent", AGENT_TO_CUSTOMER: "agent→customer"}
# The id travels inside the text, which is all both ends are sure to see.
MARK = re.compile(r"\[#((?:c2a|a2c)-\d+-\d+)\]")

# Issue 17's targets: p95 under 50 ms up to 200 live handoffs, under 100 ms
# up to 1,000.
TARGETS_P95_MS = ((200, 50.0), (1000, 100.0))
EMBEDDED, PRODUCTION = "embedded", "production"
# The production profile's size: `make run-prod`'s defaults (Topology.production).
PRODUCTION_WORKERS = 2
MAX_AGENT_CAPACITY = 50  # the bridge's limit on POST /api/agents
ADMIN_PASSWORD = "bench-admin-" + secrets.token_hex(4)
AGENT_PASSWORD = "bench-agent-" + secrets.token_hex(4)
# Sign-ins the bridge answers "busy" (it checks a few passwords at a time).
SIGN_IN_ATTEMPTS = 30
HANDOFF_TEXT = "我要转人工"
STARTUP_TIMEOUT = 300.0
# Late deliveries and duplicates still count if they arrive within this.
SETTLE_SECONDS = 2.0
RESOLVE_CONCURRENCY = 20
LEFTOVER_PAGES = 50  # of the bridge's default page size, 50 tickets
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=120)
LOG_TAIL_CHARS = 3000


class BenchError(Exception):
    """The stack could not be set up or driven; the run measured nothing."""


def target_p95_ms(conversations: int) -> float:
    """The target for this many live handoffs; the last one beyond them."""
    return next(
        (target for size, target in TARGETS_P95_MS if conversations <= size), TARGETS_P95_MS[-1][1]
    )


@dataclass(frozen=True)
class BenchConfig:
    conversations: int
    agents: int
    messages: int
    database_url: str | None = None
    # Rasa's tracker store: "sqlite" as in endpoints.yml, or "memory" to take
    # its cost out of the measurement (the embedded profile only).
    tracker_store: str = "sqlite"
    profile: str = EMBEDDED
    json_path: Path | None = None
    keep_workdir: bool = False
    message_timeout: float = 30.0
    # Mean seconds each side thinks before its next message (uniform in
    # 0..2x); 0 sends as fast as the other side hears.
    pause: float = 0.0
    # Claims come right after the tickets; this counts from the last request.
    handoff_timeout: float = 60.0
    # How many customers ask for a human at the same moment; 0 means all.
    handoff_concurrency: int = 25

    @property
    def capacity(self) -> int:
        return math.ceil(self.conversations / self.agents)


def progress(message: str) -> None:
    print(f"[relay] {message}", file=sys.stderr, flush=True)


def console_session(bridge_url: str) -> aiohttp.ClientSession:
    """The session cookie is set by 127.0.0.1, which aiohttp's default
    cookie jar refuses to store for an IP address."""
    return aiohttp.ClientSession(
        base_url=bridge_url, timeout=HTTP_TIMEOUT, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _unix(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


# --- what was sent and what arrived ---------------------------------------------------


@dataclass
class DirectionStats:
    direction: str
    sent: int
    delivered: int
    lost: int  # never arrived, whether or not the sender was told
    silently_lost: int  # never arrived, and the sender got no error
    refused: int  # the sender got an error
    refused_but_delivered: int  # ... and it arrived all the same
    duplicates: int
    latencies_ms: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": DIRECTIONS[self.direction],
            "sent": self.sent,
            "delivered": self.delivered,
            "lost": self.lost,
            "silently_lost": self.silently_lost,
            "refused": self.refused,
            "refused_but_delivered": self.refused_but_delivered,
            "duplicates": self.duplicates,
            "p50_ms": percentile(self.latencies_ms, 50),
            "p95_ms": percentile(self.latencies_ms, 95),
            "max_ms": max(self.latencies_ms, default=None),
        }


class DeliveryLedger:
    """Every message's send time and every time it arrived, by its id; the
    latency is to the first arrival, later ones are duplicates."""

    def __init__(self) -> None:
        self._sent: dict[str, float] = {}
        self._sent_wall: dict[str, float] = {}
        self._arrivals: dict[str, list[float]] = defaultdict(list)
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._send_errors: set[str] = set()
        self.stray = 0  # marked messages nobody sent in this run
        # Where the time goes, in ms per message: stage name -> samples.
        self.stages: dict[str, list[float]] = defaultdict(list)

    @staticmethod
    def message_id(direction: str, conversation: int, turn: int) -> str:
        return f"{direction}-{conversation}-{turn}"

    def sending(self, message_id: str) -> None:
        self._sent_wall[message_id] = time.time()
        self._sent[message_id] = time.perf_counter()

    def send_failed(self, message_id: str) -> None:
        self._send_errors.add(message_id)

    def arrived(self, text: str) -> str | None:
        """Records the arrival of the message marked in `text`, if any."""
        now = time.perf_counter()
        match = MARK.search(text or "")
        if match is None:
            return None
        message_id = match.group(1)
        if message_id not in self._sent:
            self.stray += 1
            return None
        self._arrivals[message_id].append(now)
        waiter = self._waiters.get(message_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return message_id

    def sent_wall(self, message_id: str) -> float:
        return self._sent_wall[message_id]

    def elapsed_ms(self, message_id: str) -> float:
        return (time.perf_counter() - self._sent[message_id]) * 1000

    def stage(self, name: str, milliseconds: float | None) -> None:
        if milliseconds is not None:
            self.stages[name].append(milliseconds)

    async def wait_for(self, message_id: str, timeout: float) -> bool:
        if self._arrivals.get(message_id):
            return True
        waiter = self._waiters.setdefault(message_id, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return False
        return True

    def stats(self, direction: str) -> DirectionStats:
        ids = [message_id for message_id in self._sent if message_id.startswith(direction)]
        lost = {message_id for message_id in ids if not self._arrivals.get(message_id)}
        refused = {message_id for message_id in ids if message_id in self._send_errors}
        return DirectionStats(
            direction=direction,
            sent=len(ids),
            delivered=len(ids) - len(lost),
            lost=len(lost),
            silently_lost=len(lost - refused),
            refused=len(refused),
            refused_but_delivered=len(refused - lost),
            duplicates=sum(
                max(len(self._arrivals.get(message_id, [])) - 1, 0) for message_id in ids
            ),
            latencies_ms=[
                (self._arrivals[message_id][0] - self._sent[message_id]) * 1000
                for message_id in ids
                if message_id not in lost
            ],
        )


# --- the stack ------------------------------------------------------------------------


class ProcessStack:
    """The launcher's stack (scripts/stack.py), so a benchmark runs the
    processes, ports, secrets and endpoints `make run` (embedded profile) or
    `make run-prod` (production profile) does. Rasa stops first, so its
    broker flushes to the bridge; a production stack's databases, keys and
    queues are dropped after it."""

    def __init__(
        self,
        *,
        workdir: Path,
        credentials: Path,
        profile: str = EMBEDDED,
        tracker_store: str = "sqlite",
        database_url: str | None = None,
        name: str = "relay",
    ) -> None:
        """`name` starts the run's own databases, keys and queues, so another
        benchmark's, running beside it, are never taken for this run's."""
        self.workdir = workdir
        environment = {
            "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::PendingDeprecationWarning",
            # Offers wait for the agents however long the handoff burst takes.
            "HANDOFF_ACCEPT_TIMEOUT_SECONDS": "3600",
            "HANDOFF_DEMO_AGENTS": "false",
        }
        if database_url:
            environment["HANDOFF_DATABASE_URL"] = database_url
        self.servers: SharedServers | None = None
        if profile == PRODUCTION:
            self.servers = SharedServers.from_environment({}).isolated(
                f"{name}{secrets.token_hex(4)}"
            )
            topology = Topology(
                rasa_workers=PRODUCTION_WORKERS,
                action_workers=PRODUCTION_WORKERS,
                bridges=PRODUCTION_WORKERS,
                servers=self.servers,
            )
            template = None  # the topology's: endpoints.production.yml
            self.tracker_store = "postgresql"
        else:
            topology = Topology()
            template = self._endpoints_template(tracker_store)
            self.tracker_store = tracker_store
        self._stack = Stack(
            ports=Ports.free(bridge_instances=topology.bridges if topology.servers else 0),
            secrets=Secrets.generate(),
            var=workdir,
            model=MODEL,
            credentials=credentials,
            topology=topology,
            template=template,
            rasa_host=LOOPBACK,
            environment=environment,
            log_to_files=True,
        )
        self._supervisor = Supervisor(self._stack)
        self.rasa_url, self.bridge_url = self._stack.rasa_url, self._stack.bridge_url
        self.api_token = self._stack.secrets.handoff_api_token
        self.database_url = self._stack.database_url
        self.admin_username = f"bench-admin-{secrets.token_hex(3)}"

    def _endpoints_template(self, tracker_store: str) -> Path:
        """endpoints.yml as it is, or without its tracker store (Rasa's
        default then keeps conversations in memory)."""
        if tracker_store == "sqlite":
            return ENDPOINTS_TEMPLATE
        endpoints = yaml.safe_load(ENDPOINTS_TEMPLATE.read_text(encoding="utf-8"))
        endpoints.pop("tracker_store", None)
        template = self.workdir / "endpoints.template.yml"
        template.write_text(yaml.safe_dump(endpoints, allow_unicode=True))
        return template

    def create_admin(self) -> None:
        """Also migrates the bridge's database before the bridge starts."""
        self._stack.prepare()
        try:
            self._stack.create_agent(self.admin_username, role="admin", password=ADMIN_PASSWORD)
        except subprocess.CalledProcessError as error:
            raise BenchError(f"create-agent failed:\n{error.stderr[-LOG_TAIL_CHARS:]}") from error

    def start(self) -> None:
        """Blocks until every process answers."""
        try:
            self._supervisor.start(self._stack.services(), STARTUP_TIMEOUT)
        except SupervisorError as error:
            raise BenchError(str(error)) from error

    def pids(self) -> dict[str, int]:
        return {name: self._supervisor.process(name).pid for name in self.names()}

    def check_alive(self) -> None:
        for name in self.names():
            process = self._supervisor.process(name)
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str) -> str:
        path = self.log(name)
        return path.read_text(errors="replace")[-LOG_TAIL_CHARS:] if path.exists() else ""

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def stop(self) -> None:
        """Blocking on purpose: it also runs after the event loop is gone.
        Safe to call twice; the shared servers' share is dropped once."""
        self._supervisor.stop()
        servers, self.servers = self.servers, None
        if servers is not None:
            try:
                servers.discard()
            except Exception as error:  # psycopg2's, redis's or aio_pika's: figures stand
                progress(f"could not drop the run's databases, keys and queues: {error!r}")

    def names(self) -> list[str]:
        return [service.name for service in self._stack.services()]

    async def resolve_leftovers(self, prefix: str) -> None:
        """Resolves every live ticket whose conversation starts with `prefix`
        (with the API token, whoever holds it), paging through the live
        tickets, newest first, until none is left."""
        headers = {"Authorization": f"Bearer {self.api_token}"}
        async with aiohttp.ClientSession(
            base_url=self.bridge_url, headers=headers, timeout=HTTP_TIMEOUT
        ) as service:
            for _ in range(LEFTOVER_PAGES):
                async with service.get("/api/tickets", params={"live": "true"}) as response:
                    if response.status != 200:
                        return
                    live = (await response.json())["tickets"]
                ours = [t["id"] for t in live if t["conversation_id"].startswith(prefix)]
                if not ours:
                    return
                for ticket_id in ours:
                    async with service.patch(
                        f"/api/tickets/{ticket_id}/status", json={"status": "resolved"}
                    ) as response:
                        await response.read()

    async def create_agents(
        self,
        *,
        prefix: str,
        count: int,
        capacity: int,
        ledger: DeliveryLedger,
        on_claimed: Callable[[dict[str, Any], ConsoleAgent], None],
    ) -> list[ConsoleAgent]:
        """`count` agent accounts, made by the admin through the API; their
        consoles are not open yet."""
        agents = []
        async with console_session(self.bridge_url) as admin:
            async with admin.post(
                "/api/session",
                json={"username": self.admin_username, "password": ADMIN_PASSWORD},
            ) as response:
                if response.status != 200:
                    raise BenchError(f"admin could not sign in: {await response.text()}")
            for number in range(count):
                username = f"{prefix}agent{number}"
                async with admin.post(
                    "/api/agents",
                    json={"username": username, "password": AGENT_PASSWORD, "capacity": capacity},
                ) as response:
                    if response.status != 201:
                        raise BenchError(f"creating {username}: {await response.text()}")
                agents.append(
                    ConsoleAgent(
                        bridge_url=self.bridge_url,
                        username=username,
                        ledger=ledger,
                        on_claimed=on_claimed,
                    )
                )
        return agents


class CustomerSide:
    """The customers, on Rasa's callback channel: they post to its webhook,
    and Rasa posts every bot message (agents' replies included) to this
    server."""

    def __init__(self, *, ledger: DeliveryLedger) -> None:
        self._ledger = ledger
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/bot"
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._rasa_url = ""
        self.other_messages = 0  # the bot's and the bridge's own texts

    async def start(self, rasa_url: str) -> None:
        app = web.Application()
        app.router.add_post("/bot", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()
        self._rasa_url = rasa_url
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=HTTP_TIMEOUT
        )

    async def _receive(self, request: web.Request) -> web.Response:
        message = await request.json()
        if self._ledger.arrived(message.get("text") or "") is None:
            self.other_messages += 1
        return web.Response(text="ok")

    async def say(self, conversation_id: str, text: str) -> float:
        """Returns how long Rasa took to answer the webhook, in ms."""
        assert self._session is not None
        started = time.perf_counter()
        async with self._session.post(
            f"{self._rasa_url}/webhooks/callback/webhook",
            json={"sender": conversation_id, "message": text},
        ) as response:
            await response.read()
            if response.status != 200:
                raise BenchError(f"Rasa answered {response.status} to {conversation_id}")
        return (time.perf_counter() - started) * 1000

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._socket.close()


@dataclass
class Handoff:
    """One conversation in an agent's hands."""

    index: int
    conversation_id: str
    ticket_id: int
    agent: ConsoleAgent


class ConsoleAgent:
    """What the agent console does, without the page: signed in, online on
    the websocket, claiming every conversation offered to it."""

    def __init__(
        self,
        *,
        bridge_url: str,
        username: str,
        ledger: DeliveryLedger,
        on_claimed: Callable[[dict[str, Any], ConsoleAgent], None],
    ) -> None:
        self.username = username
        self.id: int | None = None
        self._bridge_url = bridge_url
        self._ledger = ledger
        self._on_claimed = on_claimed
        self._http: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._online = asyncio.Event()
        self._claims: set[asyncio.Task] = set()
        self._closing = False
        self.errors: list[str] = []

    async def connect(self) -> None:
        self._http = console_session(self._bridge_url)
        for _ in range(SIGN_IN_ATTEMPTS):
            async with self._http.post(
                "/api/session", json={"username": self.username, "password": AGENT_PASSWORD}
            ) as response:
                if response.status == 503:  # busy checking other sign-ins: as told, retry
                    await asyncio.sleep(float(response.headers.get("Retry-After") or 1))
                    continue
                if response.status != 200:
                    raise BenchError(f"{self.username} could not sign in: {await response.text()}")
                self.id = (await response.json())["agent"]["id"]
                break
        else:
            raise BenchError(f"{self.username} could not sign in: the bridge stayed busy")
        self._socket = await self._http.ws_connect("/console/ws")
        self._reader = asyncio.create_task(self._read())
        await self._socket.send_json({"action": "presence", "presence": "online"})
        await asyncio.wait_for(self._online.wait(), 30)

    async def _read(self) -> None:
        assert self._socket is not None
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            self._on_event(event["event"], event.get("data") or {})
        if not self._closing:
            # Whatever the bridge sends from now on is lost to this agent.
            self.errors.append(f"{self.username}'s websocket closed: {self._socket.close_code}")

    def _on_event(self, name: str, data: dict[str, Any]) -> None:
        match name:
            case "message.customer":
                message_id = self._ledger.arrived(data.get("text") or "")
                if message_id is not None:
                    self._record_stages(message_id, data)
            case "ticket.offered" if data.get("agent_id") == self.id:
                task = asyncio.create_task(self._claim(data["ticket"]))
                self._claims.add(task)
                task.add_done_callback(self._claims.discard)
            case "agent.presence_changed" if (data.get("agent") or {}).get("id") == self.id:
                self._online.set()

    def _record_stages(self, message_id: str, data: dict[str, Any]) -> None:
        """Splits the latency on the timestamps the message carries: Rasa's
        event time (after NLU) and the bridge's relay time."""
        received = time.time()
        sent = self._ledger.sent_wall(message_id)
        logged = data.get("sent_at")
        relayed = _unix(data.get("at"))
        if logged is not None:
            self._ledger.stage(
                "c2a: Rasa receives + parses (to user event)", (logged - sent) * 1000
            )
        if logged is not None and relayed is not None:
            self._ledger.stage(
                "c2a: tracker save + broker + bridge relay", (relayed - logged) * 1000
            )
        if relayed is not None:
            self._ledger.stage("c2a: bridge websocket to agent", (received - relayed) * 1000)

    async def _claim(self, ticket: dict[str, Any]) -> None:
        assert self._http is not None
        async with self._http.post(f"/api/tickets/{ticket['id']}/claim") as response:
            if response.status != 200:
                self.errors.append(f"claim {ticket['id']}: {await response.text()}")
                return
        self._on_claimed(ticket, self)

    async def reply(self, ticket_id: int, text: str) -> float:
        """Returns how long the bridge took to answer, in ms."""
        assert self._http is not None
        started = time.perf_counter()
        # Each reply carries an id, as the console sends it, so the bridge
        # records it for retries.
        reply = {"text": text, "client_message_id": secrets.token_hex(16)}
        async with self._http.post(f"/api/tickets/{ticket_id}/messages", json=reply) as response:
            body = await response.text()
            if response.status != 201:
                raise BenchError(f"reply on ticket {ticket_id}: {response.status} {body[:300]}")
        return (time.perf_counter() - started) * 1000

    async def resolve(self, ticket_id: int) -> None:
        assert self._http is not None
        async with self._http.patch(
            f"/api/tickets/{ticket_id}/status", json={"status": "resolved"}
        ) as response:
            if response.status != 200:
                self.errors.append(f"resolve {ticket_id}: {await response.text()}")

    async def close(self) -> None:
        self._closing = True
        for task in [*self._claims, *([self._reader] if self._reader else [])]:
            task.cancel()
        if self._socket is not None:
            await self._socket.close()
        if self._http is not None:
            await self._http.close()


# --- the run ----------------------------------------------------------------------------


@dataclass
class BenchReport:
    config: BenchConfig
    database: str
    tracker_store: str
    directions: list[DirectionStats]
    exchange_seconds: float
    phases: dict[str, float]
    stages: dict[str, list[float]]
    stray: int
    other_customer_messages: int
    errors: list[str] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(stats.delivered for stats in self.directions)

    @property
    def messages_per_second(self) -> float:
        return self.delivered / self.exchange_seconds if self.exchange_seconds > 0 else 0.0

    @property
    def exactly_once(self) -> bool:
        return all(stats.lost == 0 and stats.duplicates == 0 for stats in self.directions)

    @property
    def target_p95_ms(self) -> float:
        return target_p95_ms(self.config.conversations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.config.profile,
            "conversations": self.config.conversations,
            "agents": self.config.agents,
            "messages": self.config.messages,
            "database": self.database,
            "tracker_store": self.tracker_store,
            "target_p95_ms": self.target_p95_ms,
            "pause_seconds": self.config.pause,
            "directions": [stats.to_dict() for stats in self.directions],
            "messages_per_second": self.messages_per_second,
            "exchange_seconds": self.exchange_seconds,
            "phases_seconds": self.phases,
            "stages_ms": {
                name: {"p50": percentile(values, 50), "p95": percentile(values, 95)}
                for name, values in self.stages.items()
            },
            "stray_messages": self.stray,
            "other_customer_messages": self.other_customer_messages,
            "exactly_once": self.exactly_once,
            "errors": self.errors,
        }

    def render(self) -> str:
        config = self.config
        lines = [
            f"Relay benchmark, {config.profile} profile: {config.conversations} conversations, "
            f"{config.agents} agents (capacity {config.capacity}), {config.messages} messages "
            f"each way per conversation, bridge on {self.database}, Rasa tracker store "
            f"{self.tracker_store}"
            + (f", {config.pause:g} s mean pause between turns" if config.pause else ""),
            "",
            f"{'direction':<16}{'sent':>6}{'delivered':>10}{'lost':>6}{'silent':>7}"
            f"{'refused':>8}{'dup':>5}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}",
        ]
        for stats in self.directions:
            row = stats.to_dict()
            lines.append(
                f"{DIRECTIONS[stats.direction]:<16}{stats.sent:>6}{stats.delivered:>10}"
                f"{stats.lost:>6}{stats.silently_lost:>7}{stats.refused:>8}{stats.duplicates:>5}"
                f"{_ms(row['p50_ms']):>10}{_ms(row['p95_ms']):>10}{_ms(row['max_ms']):>10}"
            )
        arrived_anyway = sum(stats.refused_but_delivered for stats in self.directions)
        lines += [
            "lost: never arrived (silent: and the sender got no error); "
            f"refused: the sender got an error ({arrived_anyway} of those arrived anyway)",
            "",
            f"throughput: {self.delivered} messages in {self.exchange_seconds:.1f} s = "
            f"{self.messages_per_second:.1f} msg/s",
            "phases: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items()),
            "",
            f"{'where the time goes':<48}{'p50 ms':>10}{'p95 ms':>10}",
        ]
        for name, values in self.stages.items():
            lines.append(
                f"{name:<48}{_ms(percentile(values, 50)):>10}{_ms(percentile(values, 95)):>10}"
            )
        misses = [
            DIRECTIONS[stats.direction]
            for stats in self.directions
            if (percentile(stats.latencies_ms, 95) or math.inf) >= self.target_p95_ms
        ]
        lines.append("")
        lines.append(
            f"target p95 < {self.target_p95_ms:.0f} ms: "
            + ("met" if not misses else "missed (" + ", ".join(misses) + ")")
        )
        if self.stray:
            lines.append(f"messages with an unknown id: {self.stray}")
        lines += [f"error: {error}" for error in self.errors[:20]]
        total = sum(stats.sent for stats in self.directions)
        if self.exactly_once:
            lines.append(f"RESULT: all {total} messages delivered exactly once")
        else:
            lost = sum(stats.lost for stats in self.directions)
            duplicates = sum(stats.duplicates for stats in self.directions)
            lines.append(f"RESULT: FAILED: {lost} of {total} lost, {duplicates} duplicated")
        return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


class RelayBenchmark:
    """Drives one run: set up, hand off, talk, resolve, tear down."""

    def __init__(self, config: BenchConfig, *, workdir: Path) -> None:
        self._config = config
        self._ledger = DeliveryLedger()
        self._customers = CustomerSide(ledger=self._ledger)
        credentials = workdir / "credentials.yml"
        credentials.write_text(f'callback:\n  url: "{self._customers.url}"\n')
        self._stack = ProcessStack(
            workdir=workdir,
            credentials=credentials,
            profile=config.profile,
            tracker_store=config.tracker_store,
            database_url=config.database_url,
        )
        self._agents: list[ConsoleAgent] = []
        self._handoffs: dict[str, Handoff] = {}
        self._all_claimed = asyncio.Event()
        self._phases: dict[str, float] = {}
        self._errors: list[str] = []
        self._run_id = secrets.token_hex(3)

    @property
    def stack(self) -> ProcessStack:
        return self._stack

    async def run(self) -> BenchReport:
        try:
            return await self._run()
        finally:
            await self._tear_down()

    async def _run(self) -> BenchReport:
        if not MODEL.exists():
            raise BenchError(f"{MODEL} is missing: run `make train` first.")
        if self._config.capacity > MAX_AGENT_CAPACITY:
            raise BenchError(
                f"{self._config.capacity} conversations per agent is over the bridge's "
                f"limit of {MAX_AGENT_CAPACITY}: use more agents."
            )
        with self._phase("startup"):
            await asyncio.to_thread(self._stack.create_admin)
            await self._customers.start(self._stack.rasa_url)
            await asyncio.to_thread(self._stack.start)
            pids = ", ".join(f"{name} {pid}" for name, pid in self._stack.pids().items())
            progress(f"stack in {self._stack.workdir}: pids {pids}")
        with self._phase("agents"):
            await self._create_agents()
            await asyncio.gather(*(agent.connect() for agent in self._agents))
        with self._phase("handoff"):
            await self._hand_off()
        started = time.perf_counter()
        with self._phase("exchange"):
            await asyncio.gather(*(self._talk(handoff) for handoff in self._handoffs.values()))
        exchange_seconds = time.perf_counter() - started
        await asyncio.sleep(SETTLE_SECONDS)
        self._stack.check_alive()
        with self._phase("resolve"):
            await self._resolve()
        return BenchReport(
            config=self._config,
            database=self._stack.database_url.split(":", 1)[0],
            tracker_store=self._stack.tracker_store,
            directions=[
                self._ledger.stats(CUSTOMER_TO_AGENT),
                self._ledger.stats(AGENT_TO_CUSTOMER),
            ],
            exchange_seconds=exchange_seconds,
            phases=self._phases,
            stages=dict(self._ledger.stages),
            stray=self._ledger.stray,
            other_customer_messages=self._customers.other_messages,
            errors=[*self._errors, *(e for agent in self._agents for e in agent.errors)],
        )

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        """Times the phase and says on stderr how far the run is."""
        started = time.perf_counter()
        progress(f"{name}...")
        yield
        self._phases[name] = time.perf_counter() - started
        progress(f"{name} done in {self._phases[name]:.1f} s")

    async def _create_agents(self) -> None:
        self._agents = await self._stack.create_agents(
            prefix=f"bench-{self._run_id}-",
            count=self._config.agents,
            capacity=self._config.capacity,
            ledger=self._ledger,
            on_claimed=self._claimed,
        )

    def _conversation_id(self, index: int) -> str:
        return f"bench-{self._run_id}-customer{index}"

    async def _hand_off(self) -> None:
        """The customers ask for a human, `handoff_concurrency` at a time;
        the agents claim what the bridge offers them."""
        limit = self._config.handoff_concurrency or self._config.conversations
        gate = asyncio.Semaphore(limit)

        async def ask(index: int) -> None:
            async with gate:
                await self._customers.say(self._conversation_id(index), HANDOFF_TEXT)

        replies = await asyncio.gather(
            *(ask(index) for index in range(self._config.conversations)), return_exceptions=True
        )
        failures = [reply for reply in replies if isinstance(reply, BaseException)]
        if failures:
            raise BenchError(f"{len(failures)} handoff requests failed, first: {failures[0]!r}")
        try:
            await asyncio.wait_for(self._all_claimed.wait(), self._config.handoff_timeout)
        except TimeoutError:
            errors = [error for agent in self._agents for error in agent.errors]
            raise BenchError(
                f"only {len(self._handoffs)} of {self._config.conversations} conversations "
                f"reached an agent; see rasa.log and actions.log. {errors[:3]}"
            ) from None

    def _claimed(self, ticket: dict[str, Any], agent: ConsoleAgent) -> None:
        conversation_id = ticket["conversation_id"]
        prefix = self._conversation_id(0)[: -len("0")]
        if not conversation_id.startswith(prefix):
            return
        index = int(conversation_id.removeprefix(prefix))
        self._handoffs[conversation_id] = Handoff(index, conversation_id, ticket["id"], agent)
        if len(self._handoffs) == self._config.conversations:
            self._all_claimed.set()

    async def _talk(self, handoff: Handoff) -> None:
        """K turns each way, each waiting for the other side to hear it, as
        a conversation goes; a message not heard in time counts as lost."""
        for turn in range(self._config.messages):
            message_id = self._ledger.message_id(CUSTOMER_TO_AGENT, handoff.index, turn)
            await self._deliver(
                message_id,
                "c2a: Rasa webhook answered",
                lambda text: self._customers.say(handoff.conversation_id, text),
                f"我的订单还没到，能帮我查一下吗 [#{message_id}]",
            )
            message_id = self._ledger.message_id(AGENT_TO_CUSTOMER, handoff.index, turn)
            await self._deliver(
                message_id,
                "a2c: bridge answered the agent's POST",
                lambda text: handoff.agent.reply(handoff.ticket_id, text),
                f"您好，我这就为您查询 [#{message_id}]",
            )

    async def _deliver(
        self,
        message_id: str,
        stage: str,
        send: Callable[[str], Awaitable[float]],
        text: str,
    ) -> None:
        """Sends after the thinking pause, if any, then waits until the other
        side has the message or the timeout passes."""
        if self._config.pause > 0:
            await asyncio.sleep(random.uniform(0, 2 * self._config.pause))
        self._ledger.sending(message_id)
        try:
            self._ledger.stage(stage, await send(text))
        except (aiohttp.ClientError, TimeoutError, BenchError) as error:
            self._ledger.send_failed(message_id)
            self._errors.append(f"{message_id}: {error!r}")
        await self._ledger.wait_for(message_id, self._config.message_timeout)

    async def _resolve(self) -> None:
        gate = asyncio.Semaphore(RESOLVE_CONCURRENCY)

        async def resolve(handoff: Handoff) -> None:
            async with gate:
                await handoff.agent.resolve(handoff.ticket_id)

        await asyncio.gather(*(resolve(handoff) for handoff in self._handoffs.values()))

    async def _tear_down(self) -> None:
        """Every ticket still live is resolved (with the API token, whoever
        holds it) before the processes stop."""
        with contextlib.suppress(Exception):
            await self._stack.resolve_leftovers(f"bench-{self._run_id}-")
        for agent in self._agents:
            with contextlib.suppress(Exception):
                await agent.close()
        await asyncio.to_thread(self._stack.stop)
        await self._customers.stop()


# --- command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", "-n", type=int, default=200)
    parser.add_argument("--agents", "-m", type=int, default=10)
    parser.add_argument("--messages", "-k", type=int, default=5, help="per direction")
    parser.add_argument(
        "--small", action="store_true", help="5 conversations, 2 agents, 2 messages (a smoke run)"
    )
    parser.add_argument(
        "--profile",
        choices=[EMBEDDED, PRODUCTION],
        default=EMBEDDED,
        help="embedded: one process each, SQLite (make run); production: "
        f"{PRODUCTION_WORKERS} Rasa workers and {PRODUCTION_WORKERS} bridge instances on "
        "PostgreSQL, Redis and RabbitMQ (make run-prod)",
    )
    parser.add_argument("--database-url", help="the bridge's database; a temporary SQLite file")
    parser.add_argument(
        "--tracker-store",
        choices=["sqlite", "memory"],
        default="sqlite",
        help="Rasa's tracker store: SQLite as in endpoints.yml, or in memory",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--message-timeout", type=float, default=30.0, help="seconds")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="mean seconds each side waits before its next message (default 0: no pause)",
    )
    parser.add_argument(
        "--handoff-concurrency",
        type=int,
        default=25,
        help="customers asking for a human at the same moment (0: all at once)",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep the logs and databases afterwards"
    )
    args = parser.parse_args(argv)
    if args.small:
        args.conversations, args.agents, args.messages = 5, 2, 2
    if min(args.conversations, args.agents, args.messages) < 1:
        parser.error("--conversations, --agents and --messages must be at least 1")
    if args.profile == PRODUCTION and (args.database_url or args.tracker_store != "sqlite"):
        parser.error("--database-url and --tracker-store are the embedded profile's")
    return BenchConfig(
        conversations=args.conversations,
        agents=args.agents,
        messages=args.messages,
        database_url=args.database_url,
        tracker_store=args.tracker_store,
        profile=args.profile,
        json_path=args.json,
        keep_workdir=args.keep_workdir,
        message_timeout=args.message_timeout,
        pause=args.pause,
        handoff_concurrency=args.handoff_concurrency,
    )


T = TypeVar("T")


async def run_cancellable(run: Awaitable[T]) -> T:
    """Awaits a benchmark's run; SIGTERM stops it the way Ctrl-C does: cleanly."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await run
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    benchmark = RelayBenchmark(config, workdir=workdir)
    failed = True
    try:
        report = asyncio.run(run_cancellable(benchmark.run()))
        failed = not report.exactly_once
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the stack is stopped", file=sys.stderr)
        return 130
    finally:
        benchmark.stack.stop()  # a no-op unless the loop died before stopping it
        if config.keep_workdir or failed:
            print(f"logs and databases: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report.render())
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    return 0 if report.exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
