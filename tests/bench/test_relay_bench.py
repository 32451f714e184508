"""The relay benchmark drives the whole stack at a tiny size and finds every
message delivered exactly once; its ledger tells losses from duplicates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.relay import AGENT_TO_CUSTOMER, CUSTOMER_TO_AGENT, DeliveryLedger, percentile
from tests.conftest import PROJECT

pytestmark = pytest.mark.integration


def test_relay_benchmark_delivers_every_message_exactly_once(trained_model: Path, tmp_path):
    results = tmp_path / "relay.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.relay", "--small", "--json", str(results)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # --small: 5 conversations, 2 agents, 2 messages each way per conversation.
    assert "RESULT: all 20 messages delivered exactly once" in run.stdout, run.stdout
    report = json.loads(results.read_text())
    assert (report["conversations"], report["agents"], report["messages"]) == (5, 2, 2)
    assert report["exactly_once"] is True
    for direction in report["directions"]:
        assert (direction["sent"], direction["delivered"]) == (10, 10), direction
        assert (direction["lost"], direction["duplicates"]) == (0, 0), direction
        assert 0 < direction["p50_ms"] <= direction["p95_ms"], direction
    assert report["messages_per_second"] > 0


async def test_the_ledger_tells_losses_duplicates_and_refusals_apart():
    ledger = DeliveryLedger()
    ids = [ledger.message_id(CUSTOMER_TO_AGENT, conversation, 0) for conversation in range(4)]
    for message_id in ids:
        ledger.sending(message_id)
    ledger.send_failed(ids[2])
    ledger.send_failed(ids[3])
    ledger.arrived(f"hello [#{ids[0]}]")
    ledger.arrived(f"hello [#{ids[0]}]")  # a duplicate
    ledger.arrived(f"refused, yet here [#{ids[3]}]")
    ledger.arrived("the bot's own words")
    ledger.arrived(f"[#{ledger.message_id(CUSTOMER_TO_AGENT, 99, 0)}]")  # never sent
    assert await ledger.wait_for(ids[0], timeout=0.01)
    assert not await ledger.wait_for(ids[1], timeout=0.01)

    stats = ledger.stats(CUSTOMER_TO_AGENT)
    assert (stats.sent, stats.delivered, stats.lost, stats.duplicates) == (4, 2, 2, 1)
    assert (stats.silently_lost, stats.refused, stats.refused_but_delivered) == (1, 2, 1)
    assert len(stats.latencies_ms) == 2
    assert ledger.stray == 1
    assert ledger.stats(AGENT_TO_CUSTOMER).sent == 0
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.5
    assert percentile([], 95) is None
