"""Times the analytics report on a synthetic tracker store and ticket DB.

    python -m bench.analytics --events 1000000 --incremental-events 10000

Generates conversations until the tracker store holds about --events events
(mixed channels and languages, FAQ questions, fallbacks, handoffs with
agent replies, CSAT), runs a full report, appends about
--incremental-events more events and runs the report again (incremental).
Each report runs in its own process, so its peak memory is measured alone.
The baseline, measured in the same run, is the least any Python reader
must do: select every event row and parse its JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from analytics.synthetic import generate
from cloudpick_home import PROJECT

EVENTS_PER_CONVERSATION = 22  # about what the generator writes on average
START = datetime(2026, 10, 26)


def run_report(workdir: Path, tracker: Path, tickets: Path, out: str) -> tuple[float, float, float]:
    """Wall-clock seconds, CPU seconds and peak RSS (MB) of one report in a
    child process. CPU time shows the cost when other work shares the cores.

    `os.wait4` gives that one child's resource usage; RUSAGE_CHILDREN would
    keep the largest peak of every child so far.
    """
    started = time.perf_counter()
    report = subprocess.Popen(
        [
            sys.executable, "-m", "analytics", "report", "--since", "2026-10-26",
            "--until", "2026-11-22", "--out", str(workdir / out),
            "--tracker-url", f"sqlite:///{tracker}", "--tickets-url", f"sqlite:///{tickets}",
            "--state", str(workdir / "state.db"), "--quiet", "--timezone", "UTC",
        ],
        cwd=PROJECT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(report.pid, 0)
    elapsed = time.perf_counter() - started
    report.returncode = os.waitstatus_to_exitcode(status)
    if report.returncode:
        raise subprocess.CalledProcessError(report.returncode, report.args)
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def baseline(tracker: Path) -> float:
    """Select and json-parse every event: the floor for any reader."""
    import sqlite3

    import ujson

    started = time.perf_counter()
    connection = sqlite3.connect(tracker)
    for (data,) in connection.execute("SELECT data FROM events"):
        ujson.loads(data)
    connection.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--incremental-events", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--workdir", type=Path, help="keep the data here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    workdir.mkdir(parents=True, exist_ok=True)
    tracker, tickets = workdir / "tracker.db", workdir / "handoff.db"
    for path in (tracker, tickets, workdir / "state.db"):
        path.unlink(missing_ok=True)

    conversations = max(args.events // EVENTS_PER_CONVERSATION, 1)
    started = time.perf_counter()
    first = generate(tracker, f"sqlite:///{tickets}", conversations, start=START, days=28)
    print(f"generated {first.events:,} events, {first.conversations:,} conversations, "
          f"{first.tickets:,} tickets in {time.perf_counter() - started:.1f} s")  # fmt: skip
    floor = baseline(tracker)
    full_seconds, full_cpu, full_peak = run_report(workdir, tracker, tickets, "full")

    more = max(args.incremental_events // EVENTS_PER_CONVERSATION, 1)
    added = generate(tracker, None, more, start=START, days=28, seed=11, first_sender=conversations)
    incremental_seconds, incremental_cpu, incremental_peak = run_report(
        workdir, tracker, tickets, "incremental"
    )

    figures = {
        "events": first.events,
        "conversations": first.conversations,
        "tickets": first.tickets,
        "full_report_seconds": round(full_seconds, 2),
        "full_report_cpu_seconds": round(full_cpu, 2),
        "full_report_peak_rss_mb": round(full_peak),
        "baseline_select_and_parse_seconds": round(floor, 2),
        "full_vs_baseline": round(full_seconds / floor, 2),
        "incremental_events": added.events,
        "incremental_report_seconds": round(incremental_seconds, 2),
        "incremental_report_cpu_seconds": round(incremental_cpu, 2),
        "incremental_report_peak_rss_mb": round(incremental_peak),
        "incremental_vs_full": round(incremental_seconds / full_seconds, 3),
    }
    width = max(map(len, figures))
    for name, value in figures.items():
        print(
            f"{name:<{width}}  {value:,}" if isinstance(value, int) else f"{name:<{width}}  {value}"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
