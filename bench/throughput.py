"""Messages a second and reply times under concurrent customers, against
stock Rasa measured in the same run.

    python -m bench.throughput                    # 20 customers, 500 messages a figure
    python -m bench.throughput --small            # 4 customers, 24 messages a figure
    python -m bench.throughput --setups stock,embedded --json out.json

Three setups, each started through the launcher's own parts
(`scripts/stack.py`, `scripts/supervisor.py`) on free loopback ports in a
temporary directory:

1. **stock** — stock Rasa 3.6 with its own assistant, the
   `rasa init --no-prompt` moodbot (trained once per Rasa version and kept,
   `bench/_moodbot.py`), Rasa's own REST and socket.io channels, in-memory
   stores, no action server: the baseline;
2. **embedded** — our assistant as `make run` starts it (models/, the
   SQLite tracker store, the action server, the bridge and its broker);
3. **production** — our assistant on the launcher's production profile
   (PostgreSQL, Redis, RabbitMQ; databases, keys and queues of the run's
   own, dropped afterwards) with two Rasa processes (Sanic workers).

Customers (`bench/_customers.py`) each hold one conversation after another,
every conversation a new customer, over REST and over the web widget's
socket.io (websocket transport), on two sets of messages: the moodbot's
own, and customers' questions to our shop (orders, FAQ, Chinese and
English). For each channel and set, the setups take turns (A/B/A/B, over
`--rounds` rounds), so a change in the machine's load falls on all of them.
Stock Rasa's socket.io channel runs without session persistence (with it,
Rasa 3.6 never joins the session's room and its answers are lost), and its
customers poll: its websocket transport fails to open (engine.io's Sanic
driver on Sanic 21.12), so polling is what a widget gets from it.

Also per setup: the resident memory of each Rasa process after start-up
and after the load, and the start-up time, from launching Rasa until the
server answers (Rasa loads the model before it listens), to within the
launcher's one-second poll; for our stacks also the whole stack's.

Exit status: 0 when every setup asked for was measured, 2 when a stack
could not be started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench._customers import Channel, Conversation, Sample, run_customers
from bench._memory import tree_resident_mb
from bench._moodbot import MoodbotError, moodbot_model
from scripts.servers import SharedServers
from scripts.stack import LOOPBACK, Ports, Secrets, Stack, Topology
from scripts.supervisor import Supervisor, SupervisorError

STARTUP_TIMEOUT = 300.0
PRODUCTION_RASA_WORKERS = 2
BASELINE = "stock"
# Rasa's own channels, as `rasa init` writes them, for the stock baseline.
STOCK_CREDENTIALS = """rest:
socketio:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: false
"""
# No tracker store, lock store or broker: Rasa's in-memory defaults.
STOCK_ENDPOINTS = "# The stock baseline: Rasa's in-memory defaults.\n"

# The moodbot's own kind of conversation (its intents: greet, mood_great,
# mood_unhappy, affirm, deny, bot_challenge, goodbye).
MOODBOT_MESSAGES: list[Conversation] = [
    ["hello", "I am feeling very good", "bye"],
    ["hi there", "I'm sad", "yes", "goodbye"],
    ["hey", "not very good today", "no", "see you"],
    ["good morning", "are you a bot?", "amazing", "bye bye"],
]
# Customers of our shop: orders (the demo orders), FAQ, products, zh and en.
CUSTOMER_MESSAGES: list[Conversation] = [
    ["你好", "帮我查一下订单 241108302211", "大概什么时候能送到", "好的谢谢"],
    ["where is my order 241112781203", "which courier is bringing it", "thanks"],
    ["退货的运费是谁承担？", "可以用花呗分期付款吗", "明白了"],
    ["hi", "do you deliver to Hong Kong?", "how long does a refund take", "ok bye"],
    ["声浪Pro降噪耳机有货吗", "保修多久", "谢谢"],
    ["我的订单 241106117845 能退货吗", "算了", "再见"],
    ["can I pay with Alipay", "do members get free shipping", "thank you"],
]
MESSAGE_SETS = {"moodbot": MOODBOT_MESSAGES, "customers": CUSTOMER_MESSAGES}
WARM_UP_MESSAGES = 8


class BenchError(Exception):
    """A setup could not be started; nothing was measured on it."""


@dataclass(frozen=True)
class BenchConfig:
    customers: int = 20
    messages: int = 500  # per setup, channel and set of messages
    rounds: int = 2
    setups: tuple[str, ...] = ("stock", "embedded", "production")


SMALL = BenchConfig(customers=4, messages=24)


@dataclass
class Running:
    """A started setup: where its Rasa answers and what it cost to start."""

    name: str
    rasa_url: str
    supervisor: Supervisor
    rasa_services: list[str]
    rasa_seconds: float
    stack_seconds: float | None = None
    # socket.io's transport for this setup's widget customers.
    transport: str = "websocket"
    memory: dict[str, list[float]] = field(default_factory=dict)
    # Called once the processes have stopped: what the setup leaves on shared servers.
    cleanup: Callable[[], None] | None = None

    @property
    def rasa_pids(self) -> list[int]:
        return [self.supervisor.process(name).pid for name in self.rasa_services]

    def record_memory(self, moment: str) -> None:
        self.memory[moment] = [
            size for pid in self.rasa_pids for size in tree_resident_mb(pid).values()
        ]

    def stop(self) -> None:
        self.supervisor.stop()
        if self.cleanup is not None:
            self.cleanup()


def start_stack(name: str, stack: Stack, only: set[str] | None = None) -> Running:
    """Starts `stack`'s services (those named in `only`), timing Rasa's own start."""
    try:
        stack.prepare()
    except Exception as error:  # whatever stops it (a server down, a file) ends the setup
        raise BenchError(f"{name}: could not prepare the stack: {error}") from error
    supervisor = Supervisor(stack)
    services = [s for s in stack.services() if only is None or s.name in only]
    before_rasa = [s for s in services if not s.name.startswith("rasa")]
    rasa = [s for s in services if s.name.startswith("rasa")]
    running = Running(name, stack.rasa_url, supervisor, [s.name for s in rasa], 0.0)
    try:
        started = time.monotonic()
        supervisor.start(before_rasa, STARTUP_TIMEOUT)
        rasa_started = time.monotonic()
        supervisor.start(rasa, STARTUP_TIMEOUT)
        done = time.monotonic()
    except SupervisorError as error:
        supervisor.stop()
        raise BenchError(f"{name}: {error}") from error
    running.rasa_seconds = round(done - rasa_started, 1)
    if before_rasa:
        running.stack_seconds = round(done - started, 1)
    return running


def stock_setup(workdir: Path) -> Running:
    var = workdir / "stock"
    var.mkdir()
    (var / "credentials.yml").write_text(STOCK_CREDENTIALS, encoding="utf-8")
    (var / "endpoints-template.yml").write_text(STOCK_ENDPOINTS, encoding="utf-8")
    try:
        model = moodbot_model()
    except MoodbotError as error:
        raise BenchError(f"stock: {error}") from error
    stack = replace(
        our_stack(var),
        model=model,
        credentials=var / "credentials.yml",
        template=var / "endpoints-template.yml",
    )
    running = start_stack("stock", stack, only={"rasa"})
    running.transport = "polling"
    return running


def our_stack(var: Path, topology: Topology | None = None) -> Stack:
    """Our stack on free ports; the launcher's default topology unless given."""
    topology = topology or Topology()
    return Stack(
        ports=Ports.free(bridge_instances=topology.bridges if topology.servers else 0),
        secrets=Secrets.generate(),
        var=var,
        topology=topology,
        rasa_host=LOOPBACK,
        environment={"HANDOFF_DEMO_AGENTS": "false"},
        log_to_files=True,
    )


def embedded_setup(workdir: Path) -> Running:
    var = workdir / "embedded"
    return start_stack("embedded", our_stack(var))


def production_setup(workdir: Path) -> Running:
    """The launcher's production profile (the machine's PostgreSQL, Redis
    and RabbitMQ, with databases, keys and queues of this run's own) with
    two Rasa processes."""
    servers = SharedServers.from_environment().isolated(f"bench{uuid.uuid4().hex[:8]}")
    topology = replace(Topology.production(), rasa_workers=PRODUCTION_RASA_WORKERS, servers=servers)
    try:
        running = start_stack("production", our_stack(workdir / "production", topology=topology))
    except BenchError:
        servers.discard()
        raise
    running.cleanup = servers.discard
    return running


SETUPS: dict[str, Callable[[Path], Running]] = {
    "stock": stock_setup,
    "embedded": embedded_setup,
    "production": production_setup,
}


def percentiles(latencies: list[float]) -> dict[str, float | None]:
    if len(latencies) < 2:
        only = round(latencies[0] * 1000, 1) if latencies else None
        return {"p50_ms": only, "p95_ms": only, "p99_ms": only}
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {f"p{p}_ms": round(cuts[p - 1] * 1000, 1) for p in (50, 95, 99)}


def summary(sample: Sample) -> dict[str, Any]:
    return {
        "messages": sample.messages,
        "answered": sample.answered,
        "failed": sample.failed,
        "seconds": round(sample.seconds, 2),
        "messages_per_second": round(sample.messages / sample.seconds, 2)
        if sample.seconds
        else None,
        **percentiles(sample.latencies),
    }


def ratio(value: float | None, baseline: float | None) -> float | None:
    return round(value / baseline, 3) if value is not None and baseline else None


def with_ratios(figures: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each setup's figures plus their ratios to the baseline's."""
    baseline = figures.get(BASELINE)
    if baseline is None:
        return figures
    keys = ("messages_per_second", "p50_ms", "p95_ms", "p99_ms")
    return {
        name: {**values, "ratio_to_stock": {k: ratio(values[k], baseline[k]) for k in keys}}
        for name, values in figures.items()
    }


def measure(running: list[Running], config: BenchConfig) -> dict[str, Any]:
    """Each channel and set of messages, the setups taking turns round by round."""
    for setup in running:  # the first answers load what Rasa loads lazily
        for channel in Channel:
            asyncio.run(
                run_customers(
                    channel,
                    setup.rasa_url,
                    scripts=CUSTOMER_MESSAGES,
                    messages=WARM_UP_MESSAGES,
                    customers=2,
                    transport=setup.transport,
                )
            )
    results: dict[str, Any] = {}
    per_round = max(config.messages // config.rounds, 1)
    for set_name, scripts in MESSAGE_SETS.items():
        for channel in Channel:
            samples = {setup.name: Sample() for setup in running}
            for round_number in range(config.rounds):
                for setup in running:
                    print(
                        f"{set_name} over {channel}: round {round_number + 1}, {setup.name} …",
                        flush=True,
                    )
                    samples[setup.name].add(
                        asyncio.run(
                            run_customers(
                                channel,
                                setup.rasa_url,
                                scripts=scripts,
                                messages=per_round,
                                customers=config.customers,
                                transport=setup.transport,
                            )
                        )
                    )
            figures = {name: summary(sample) for name, sample in samples.items()}
            results.setdefault(set_name, {})[str(channel)] = with_ratios(figures)
    return results


def load_average() -> list[float]:
    return [float(value) for value in Path("/proc/loadavg").read_text().split()[:3]]


def report_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for set_name, channels in result["throughput"].items():
        for channel, setups in channels.items():
            for name, figures in setups.items():
                ratios = figures.get("ratio_to_stock") or {}
                rate = figures["messages_per_second"]
                lines.append(
                    f"{set_name:9} {channel:8} {name:10} "
                    f"{rate} msg/s (×{ratios.get('messages_per_second')}) "
                    f"p50 {figures['p50_ms']} ms (×{ratios.get('p50_ms')}) "
                    f"p95 {figures['p95_ms']} ms p99 {figures['p99_ms']} ms "
                    f"answered {figures['answered']}/{figures['messages']}"
                )
    for name, setup in result["setups"].items():
        lines.append(
            f"{name:10} start-up: Rasa {setup['rasa_seconds']} s, "
            f"stack {setup['stack_seconds']} s; "
            f"Rasa RSS MiB after start {setup['memory'].get('started')}, "
            f"after load {setup['memory'].get('loaded')}"
        )
    return lines


def parse_arguments(argv: list[str] | None) -> tuple[BenchConfig, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a quick run for the tests")
    parser.add_argument("--customers", type=int, help="customers at once (20)")
    parser.add_argument("--messages", type=int, help="messages per setup, channel and set (500)")
    parser.add_argument("--rounds", type=int, help="turns each setup takes (2)")
    parser.add_argument(
        "--setups", help=f"comma-separated, from {','.join(SETUPS)} (all); stock is the baseline"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    config = SMALL if args.small else BenchConfig()
    for key in ("customers", "messages", "rounds"):
        if getattr(args, key):
            config = replace(config, **{key: getattr(args, key)})
    if args.setups:
        setups = tuple(name.strip() for name in args.setups.split(","))
        unknown = set(setups) - set(SETUPS)
        if unknown:
            parser.error(f"unknown setups: {', '.join(sorted(unknown))}")
        config = replace(config, setups=setups)
    return config, args.json


def main(argv: list[str] | None = None) -> int:
    config, json_path = parse_arguments(argv)
    running: list[Running] = []
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="throughput-bench-") as workdir:
        try:
            for name in config.setups:
                print(f"starting {name} …", flush=True)
                setup = SETUPS[name](Path(workdir))
                setup.record_memory("started")
                running.append(setup)
            throughput = measure(running, config)
            for setup in running:
                setup.record_memory("loaded")
        except BenchError as error:
            print(f"a stack could not start: {error}", file=sys.stderr)
            return 2
        finally:
            for setup in reversed(running):
                setup.stop()
    result = {
        "config": asdict(config),
        "load_average": {"before": load_before, "after": load_average()},
        "setups": {
            setup.name: {
                "rasa_seconds": setup.rasa_seconds,
                "stack_seconds": setup.stack_seconds,
                "memory": setup.memory,
            }
            for setup in running
        },
        "throughput": throughput,
    }
    print("\n".join(["RESULT:", *report_lines(result)]))
    if json_path:
        json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
