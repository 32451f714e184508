"""What abuse costs honest customers: their latency with and without attackers.

    python -m bench.abuse                      # 8 customers, 60 s a phase, A/B/A/B
    python -m bench.abuse --small              # 2 customers, 8 s a phase, A/B
    python -m bench.abuse --json results.json

The benchmark starts its own stack on free loopback ports in a temporary
directory, through the launcher (`scripts/stack.py`), with the trained model
(`make train`) and the default credentials.yml, so every channel limit is
the one `make run` has.

Honest customers hold short conversations over the REST channel (a greeting,
an order look-up, an FAQ question, thanks), one message at a time with a
short pause, each conversation under a new sender id. Every phase measures
the round trip of each of their messages.

- Phase A: the honest customers alone.
- Phase B: the same, while
  - one sender floods Rasa with 100,000-character Chinese messages
    (`--flood-rate`, 50 a second; `--flood-chars` sets their length);
  - sign-ins with wrong passwords hammer the bridge (`--login-rate`, 50 a
    second);
  - malformed bodies go to both (`--junk-rate`, 20 a second: deep JSON
    nesting, invalid UTF-8, a lone surrogate in the sender, a 10 MB body).

The attackers run in a process of their own and send at those rates whether
or not they are answered (an open loop, up to 64 requests in flight each), as
clients on other machines would. They still share this machine's cores with
the stack, so an unbounded flood would mostly measure the attacking client's
own CPU use.

Phases alternate A/B/A/B (`--rounds`), since the machines are shared and
absolute timings drift. The result is the ratio of the honest customers' p95
under abuse to their p95 alone; the goal is at most 1.5. Exit status: 0 when
the goal is met and no honest message failed, 1 otherwise, 2 when the stack
could not be started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from scripts.stack import LOOPBACK, Ports, Secrets, Stack
from scripts.supervisor import Supervisor, SupervisorError

TARGET_RATIO = 1.5
STARTUP_TIMEOUT = 240
HONEST_SCRIPT = ("你好", "帮我查下订单 241108302211", "退货运费谁出？", "谢谢")
HONEST_PAUSE_SECONDS = 0.5
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120)
MAX_IN_FLIGHT = 64
LONG_MESSAGE_PHRASE = "我的订单一直没有到，请帮我查一下物流信息。"  # 20 characters
FLOODER = "flooder"
MALFORMED_BODIES: tuple[tuple[str, bytes], ...] = (
    ("deep nesting", b"[" * 100_000),
    ("invalid UTF-8", b'{"sender": "x", "message": "\xff\xfe"}'),
    ("lone surrogate sender", b'{"sender": "x\\ud800", "message": "hi"}'),
    ("10 MB body", b'{"sender": "x", "message": "' + b"a" * 10_000_000 + b'"}'),
)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


@dataclass
class PhaseResult:
    name: str
    abused: bool
    honest_messages: int = 0
    honest_failures: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    # What the attackers got back, by kind and HTTP status ("error" when the
    # connection failed): shows each limit answering, and any 5xx.
    abuse_answers: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchConfig:
    customers: int
    phase_seconds: float
    rounds: int
    # Requests a second of each kind of abuse.
    flood_rate: float
    flood_chars: int
    login_rate: float
    junk_rate: float


class AbuseBench:
    def __init__(self, *, rasa_url: str, bridge_url: str, config: BenchConfig) -> None:
        self.rasa_url = rasa_url
        self.bridge_url = bridge_url
        self.config = config
        self._attacker_process = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn")
        )

    async def run(self) -> list[PhaseResult]:
        phases = []
        with self._attacker_process:
            async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
                await self._warm_up(session)
                for round_number in range(1, self.config.rounds + 1):
                    for abused in (False, True):
                        name = f"{'B' if abused else 'A'}{round_number}"
                        phases.append(await self._phase(session, name, abused=abused))
                        print(_phase_line(phases[-1]), flush=True)
        return phases

    async def _warm_up(self, session: aiohttp.ClientSession) -> None:
        """Rasa's first messages load lazily built parts; keep them out of phase A."""
        for text in HONEST_SCRIPT:
            await self._say(session, f"warm-up-{secrets.token_hex(4)}", text)

    async def _phase(
        self, session: aiohttp.ClientSession, name: str, *, abused: bool
    ) -> PhaseResult:
        result = PhaseResult(name, abused)
        latencies: list[float] = []
        seconds = self.config.phase_seconds
        deadline = time.monotonic() + seconds
        honest = asyncio.gather(
            *(
                self._honest_customer(session, deadline, latencies, result)
                for _ in range(self.config.customers)
            )
        )
        if abused:
            # The attackers run in their own process, as they would on their own
            # machines: their work must not delay this process's measurements.
            attacking = asyncio.get_running_loop().run_in_executor(
                self._attacker_process,
                attack,
                Attackers(self.rasa_url, self.bridge_url, self.config),
                seconds,
            )
            _, result.abuse_answers = await asyncio.gather(honest, attacking)
        else:
            await honest
        result.honest_messages = len(latencies) + result.honest_failures
        result.p50_ms = percentile(latencies, 50)
        result.p95_ms = percentile(latencies, 95)
        return result

    async def _honest_customer(
        self,
        session: aiohttp.ClientSession,
        deadline: float,
        latencies: list[float],
        result: PhaseResult,
    ) -> None:
        while time.monotonic() < deadline:
            sender = f"honest-{secrets.token_hex(6)}"
            for text in HONEST_SCRIPT:
                if time.monotonic() >= deadline:
                    return
                started = time.perf_counter()
                answered = await self._say(session, sender, text)
                if answered:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    result.honest_failures += 1
                await asyncio.sleep(random.uniform(0, 2 * HONEST_PAUSE_SECONDS))

    async def _say(self, session: aiohttp.ClientSession, sender: str, text: str) -> bool:
        """True when the bot answered with at least one message."""
        try:
            async with session.post(
                f"{self.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
            ) as response:
                return response.status == 200 and bool(await response.json())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False


@dataclass(frozen=True)
class Attackers:
    """The abusive clients of one phase. Picklable: they run in another process."""

    rasa_url: str
    bridge_url: str
    config: BenchConfig

    @property
    def _long_message(self) -> str:
        repeats = self.config.flood_chars // len(LONG_MESSAGE_PHRASE) + 1
        return (LONG_MESSAGE_PHRASE * repeats)[: self.config.flood_chars]

    async def run(self, seconds: float) -> dict[str, dict[str, int]]:
        """What the attackers got back, by kind and HTTP status."""
        answers: dict[str, Counter[str]] = {}
        deadline = time.monotonic() + seconds
        config = self.config
        attacks = (
            (f"{config.flood_chars:,}-char flood", self._flood, config.flood_rate),
            ("bad login", self._bad_login, config.login_rate),
            ("malformed body", self._malformed, config.junk_rate),
        )
        await asyncio.gather(
            *(
                self._attack(deadline, answers, kind, send, rate)
                for kind, send, rate in attacks
                if rate > 0  # 0 leaves that kind out, to see what each costs
            )
        )
        return {kind: dict(counts) for kind, counts in answers.items()}

    async def _attack(
        self,
        deadline: float,
        answers: dict[str, Counter[str]],
        kind: str,
        send: Callable[[aiohttp.ClientSession], Awaitable[int | str]],
        rate: float,
    ) -> None:
        """Sends `rate` requests a second whether or not earlier ones were
        answered (an open loop, as a flood is), with its own connections, as a
        separate client has; at most MAX_IN_FLIGHT wait at once."""
        counts = answers.setdefault(kind, Counter())
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def one(session: aiohttp.ClientSession) -> None:
            try:
                counts[str(await send(session))] += 1
            except (aiohttp.ClientError, TimeoutError):
                counts["error"] += 1
            finally:
                in_flight.release()

        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
            tasks = set()
            next_at = time.monotonic()
            while next_at < deadline:
                await asyncio.sleep(max(next_at - time.monotonic(), 0))
                await in_flight.acquire()
                task = asyncio.create_task(one(session))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += 1 / rate
            await asyncio.gather(*tasks)

    async def _flood(self, session: aiohttp.ClientSession) -> int:
        async with session.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": FLOODER, "message": self._long_message},
        ) as response:
            await response.read()
            return response.status

    async def _bad_login(self, session: aiohttp.ClientSession) -> int:
        async with session.post(
            f"{self.bridge_url}/api/session",
            json={"username": "admin", "password": secrets.token_hex(8)},
            headers={"Origin": self.bridge_url},
        ) as response:
            await response.read()
            return response.status

    async def _malformed(self, session: aiohttp.ClientSession) -> str:
        _, body = random.choice(MALFORMED_BODIES)
        target = random.choice(
            (f"{self.rasa_url}/webhooks/rest/webhook", f"{self.bridge_url}/api/session")
        )
        async with session.post(
            target,
            data=body,
            headers={"Content-Type": "application/json", "Origin": self.bridge_url},
        ) as response:
            await response.read()
            return str(response.status)


def attack(attackers: Attackers, seconds: float) -> dict[str, dict[str, int]]:
    """The attacker process's entry point."""
    return asyncio.run(attackers.run(seconds))


def summary(phases: list[PhaseResult]) -> dict[str, Any]:
    """Each abused phase against the quiet phase just before it, and overall."""
    ratios = []
    for quiet, abused in zip(phases[::2], phases[1::2], strict=True):
        if quiet.p95_ms and abused.p95_ms:
            ratios.append(abused.p95_ms / quiet.p95_ms)
    server_errors = sum(
        count
        for phase in phases
        for counts in phase.abuse_answers.values()
        for status, count in counts.items()
        if status.startswith("5")
    )
    worst = max(ratios) if ratios else None
    honest_failures = sum(phase.honest_failures for phase in phases)
    return {
        "p95_ratios": ratios,
        "worst_p95_ratio": worst,
        "target_ratio": TARGET_RATIO,
        "honest_failures": honest_failures,
        "abuse_server_errors": server_errors,
        "goal_met": worst is not None and worst <= TARGET_RATIO and honest_failures == 0,
    }


def _phase_line(phase: PhaseResult) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    answers = "; ".join(
        f"{kind}: " + ", ".join(f"{status}×{count}" for status, count in sorted(counts.items()))
        for kind, counts in phase.abuse_answers.items()
    )
    return (
        f"phase {phase.name} ({'abuse' if phase.abused else 'quiet'}): "
        f"{phase.honest_messages} honest messages, {phase.honest_failures} failed, "
        f"p50 {ms(phase.p50_ms)}, p95 {ms(phase.p95_ms)}" + (f" | {answers}" if answers else "")
    )


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=8)
    parser.add_argument("--phase-seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=2, help="A/B pairs")
    parser.add_argument("--flood-rate", type=float, default=50, help="long messages a second")
    parser.add_argument(
        "--flood-chars", type=int, default=100_000, help="length of the flood's messages"
    )
    parser.add_argument("--login-rate", type=float, default=50, help="bad sign-ins a second")
    parser.add_argument("--junk-rate", type=float, default=20, help="malformed bodies a second")
    parser.add_argument("--small", action="store_true", help="2 customers, 8 s phases, 1 round")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.small:
        args.customers, args.phase_seconds, args.rounds = 2, 8, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    config = BenchConfig(
        customers=args.customers,
        phase_seconds=args.phase_seconds,
        rounds=args.rounds,
        flood_rate=args.flood_rate,
        flood_chars=args.flood_chars,
        login_rate=args.login_rate,
        junk_rate=args.junk_rate,
    )
    with tempfile.TemporaryDirectory(prefix="abuse-bench-") as workdir:
        stack = Stack(
            ports=Ports.free(),
            secrets=Secrets.generate(),
            var=Path(workdir),
            rasa_host=LOOPBACK,
            environment={"HANDOFF_DEMO_AGENTS": "true"},
            log_to_files=True,
        )
        stack.prepare()
        supervisor = Supervisor(stack)
        try:
            print(f"starting the stack in {workdir} …", flush=True)
            supervisor.start(stack.services(), STARTUP_TIMEOUT)
            bench = AbuseBench(rasa_url=stack.rasa_url, bridge_url=stack.bridge_url, config=config)
            phases = asyncio.run(bench.run())
            # Nothing restarts a process during the run: one that died is a finding.
            died = [
                s.name for s in stack.services() if supervisor.process(s.name).poll() is not None
            ]
        except SupervisorError as error:
            print(f"the stack failed: {error}", file=sys.stderr)
            return 2
        finally:
            supervisor.stop()
    result = {**summary(phases), "processes_died": died}
    result["goal_met"] = result["goal_met"] and not died
    worst = result["worst_p95_ratio"]
    print(
        f"RESULT: honest p95 under abuse is {worst:.2f}× the quiet p95 (goal ≤ {TARGET_RATIO}×); "
        f"{result['honest_failures']} honest messages failed; "
        f"{result['abuse_server_errors']} abusive requests got a 5xx; "
        f"processes that died: {', '.join(died) or 'none'}"
        if worst is not None
        else "RESULT: no honest message was answered"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"config": asdict(config), "phases": [asdict(p) for p in phases], **result},
                indent=2,
                ensure_ascii=False,
            )
        )
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
